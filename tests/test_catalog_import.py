"""Importers (Backstage, OpenSLO, Sloth) and the catalog CLI commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ninefold.catalog.importers import ImportFailed, to_yaml
from ninefold.catalog.importers.backstage import import_backstage
from ninefold.catalog.importers.openslo import import_openslo
from ninefold.catalog.importers.sloth import import_sloth
from ninefold.catalog.validate import validate_directory
from ninefold.cli.main import app

IMPORTS = Path(__file__).parent.parent / "examples" / "imports"
ACME = Path(__file__).parent.parent / "examples" / "acme"


def write(tmp_path: Path, config: dict[str, object]) -> Path:
    out = tmp_path / "imported"
    out.mkdir(exist_ok=True)
    (out / "catalog.yaml").write_text(to_yaml(config))
    return out


def test_backstage_sample_imports_and_validates(tmp_path: Path) -> None:
    warnings: list[str] = []
    text = (IMPORTS / "backstage-catalog-info.yaml").read_text()
    config = import_backstage(text, warnings=warnings)
    catalog = validate_directory(write(tmp_path, config))
    services = {s.spec.name: s.spec for s in catalog.services}
    web = services["web-shop"]
    assert web.owner == "team-storefront"
    assert web.tier == 1
    assert web.system == "shop"
    assert web.lifecycle == "production"
    assert web.depends_on == ["cart-api"]
    assert web.links.repository == "https://github.com/shop/web-shop"
    assert web.links.dashboard == "https://grafana.shop.example/d/web-shop"
    assert web.links.runbook == "https://runbooks.shop.example/web-shop"
    assert services["cart-api"].tier == 0
    assert services["shipping-quotes"].tier == 2
    teams = {t.spec.name: t.spec for t in catalog.teams}
    assert [m.user for m in teams["team-storefront"].members] == ["jdoe", "asmith"]
    assert teams["team-storefront"].contact.email == "storefront@shop.example"
    assert any("Resource 'shop-db'" in w and "skipped" in w for w in warnings)
    assert any("resource" in w and "dropped" in w for w in warnings)


def test_backstage_user_owner_is_a_clear_error() -> None:
    doc = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n"
        "spec: {type: service, lifecycle: production, owner: 'user:jdoe'}\n"
    )
    with pytest.raises(ImportFailed, match=r"document 1 \(Component 'x'\): spec.owner 'user:jdoe'"):
        import_backstage(doc, source="c.yaml")


def test_openslo_sample_imports_and_validates(tmp_path: Path) -> None:
    text = (IMPORTS / "openslo-search.yaml").read_text()
    config = import_openslo(text, owner="search")
    catalog = validate_directory(write(tmp_path, config))
    slos = {s.spec.name: s.spec for s in catalog.slos}
    avail = slos["search-availability"]
    assert avail.source == "prometheus"
    assert avail.objective == 0.995
    assert avail.window.model_dump() == {"rolling": "28d"}
    assert avail.sli.ratio is not None
    assert avail.sli.ratio.good == 'http_requests_total{job="search-api",code!~"5.."}'
    assert (avail.alerting.page, avail.alerting.ticket) == (False, True)
    latency = slos["search-latency"]
    assert latency.sli.latency is not None
    assert latency.sli.latency.histogram == "http_request_duration_seconds"
    assert latency.sli.latency.threshold == 0.3
    assert latency.sli.latency.selector == 'job="search-api"'
    assert latency.window.model_dump() == {"calendar": "month", "timezone": "Europe/Berlin"}
    assert latency.objective == 0.99
    minutes = slos["search-good-minutes"]
    assert minutes.budgeting == "timeslices"
    assert minutes.timeslice is not None
    assert (minutes.timeslice.length, minutes.timeslice.target) == ("1m", 0.99)
    assert catalog.services[0].spec.owner == "search"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("type: Prometheus", "type: Datadog"), "metricSource type 'Datadog' is not supported"),
        (("budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices"), "RatioTimeslices"),
        (("indicatorRef: search-success", "indicatorRef: nope"), "no SLI with that name"),
        (("apiVersion: openslo/v1", "apiVersion: openslo/v2alpha"), "only openslo/v1"),
        (("duration: 28d", "duration: 1Y"), "'1Y' is not supported for a rolling window"),
    ],
)
def test_openslo_unsupported_features_name_document_and_field(
    change: tuple[str, str], message: str
) -> None:
    text = (IMPORTS / "openslo-search.yaml").read_text().replace(*change, 1)
    with pytest.raises(ImportFailed, match=message) as info:
        import_openslo(text, source="o.yaml")
    assert info.value.message.startswith("o.yaml document ")


def test_sloth_sample_imports_and_validates(tmp_path: Path) -> None:
    warnings: list[str] = []
    config = import_sloth((IMPORTS / "sloth-checkout.yaml").read_text(), warnings=warnings)
    catalog = validate_directory(write(tmp_path, config))
    slos = {s.spec.name: s.spec for s in catalog.slos}
    avail = slos["checkout-requests-availability"]
    assert avail.objective == 0.999
    assert avail.sli.ratio is not None
    assert avail.sli.ratio.bad == (
        'sum(rate(http_requests_total{job="checkout",code=~"(5..|429)"}[{{.window}}]))'
    )
    assert avail.alerting.page_labels == {"category": "availability", "severity": "critical"}
    latency = slos["checkout-requests-latency"]
    assert (latency.alerting.page, latency.alerting.ticket) == (False, True)
    assert latency.sli.ratio is not None
    assert latency.sli.ratio.bad is not None
    assert "{{.window}}" in latency.sli.ratio.bad
    raw = slos["checkout-payment-errors"]
    assert (raw.alerting.page, raw.alerting.ticket) == (False, False)
    assert raw.sli.ratio is not None
    assert raw.sli.ratio.bad is not None
    assert raw.sli.ratio.bad.startswith("sum(rate(payment_failures_total")
    assert catalog.services[0].spec.owner == "payments"
    assert any("raw SLI" in w for w in warnings)


def test_sloth_plugin_and_bad_objective_are_clear_errors() -> None:
    plugin = (
        'version: "prometheus/v1"\nservice: s\nslos:\n  - name: a\n    objective: 99\n'
        "    sli: {plugin: {id: x}}\n"
    )
    with pytest.raises(ImportFailed, match=r"slos\[0\]: sli.plugin is not supported"):
        import_sloth(plugin)
    with pytest.raises(ImportFailed, match="objective must be a percentage"):
        import_sloth(plugin.replace("objective: 99", "objective: 120"))
    with pytest.raises(ImportFailed, match="YAML syntax error"):
        import_sloth("version: [\n")


def test_cli_validate_exit_codes() -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(ACME)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    assert "12 SLOs" in ok.output
    bad = runner.invoke(app, ["validate", str(Path(__file__).parent / "data/catalog/invalid")])
    assert bad.exit_code == 1
    assert "services.yaml:3:12: team 'ghosts' is not defined" in bad.output
    assert "Traceback" not in bad.output


def test_cli_import_writes_yaml_that_validates(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cat"
    out.mkdir()
    for fmt, name in (
        ("backstage", "backstage-catalog-info.yaml"),
        ("sloth", "sloth-checkout.yaml"),
    ):
        result = runner.invoke(
            app, ["import", fmt, str(IMPORTS / name), "-o", str(out / f"{fmt}.yaml")]
        )
        assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [\n")
    failed = runner.invoke(app, ["import", "openslo", str(broken)])
    assert failed.exit_code == 1
    assert "YAML syntax error" in failed.output
    assert "Traceback" not in failed.output
    missing = runner.invoke(app, ["import", "sloth", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    assert "cannot read" in missing.output


def test_cli_apply_dry_run_apply_and_export(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    runner = CliRunner()
    dry = runner.invoke(app, ["apply", str(ACME), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would change: 40 create, 0 update, 0 delete" in dry.output
    first = runner.invoke(app, ["apply", str(ACME)])
    assert "changed: 40 create, 0 update, 0 delete" in first.output
    again = runner.invoke(app, ["apply", str(ACME)])
    assert "no changes" in again.output
    exported = tmp_path / "export"
    exported.mkdir()
    result = runner.invoke(app, ["export", "-o", str(exported / "all.yaml")])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["validate", str(exported)]).exit_code == 0
    invalid = runner.invoke(app, ["apply", str(Path(__file__).parent / "data/catalog/invalid")])
    assert invalid.exit_code == 1
    assert "nothing applied" in invalid.output
