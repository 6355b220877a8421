"""Sloth-compatible rule export: structure, promtool validity, and evaluation with promtool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
from ruamel.yaml import YAML
from typer.testing import CliRunner

from ninefold.catalog.spec import SLOSpec
from ninefold.cli import rules as rules_cli
from ninefold.cli.rules import dump_yaml
from ninefold.slo import promrules
from tests.prom import binary, promtool_check_rules

RATIO_BAD = {"ratio": {"bad": 'app_requests_total{code="500"}', "total": "app_requests_total"}}
RATIO_GOOD = {"ratio": {"good": 'app_requests_total{code="200"}', "total": "app_requests_total"}}
RATIO_TPL = {
    "ratio": {
        "bad": 'sum(rate(app_requests_total{code=~"5.."}[{{.window}}]))',
        "total": "sum(rate(app_requests_total[{{.window}}]))",
    }
}
LATENCY = {
    "latency": {"histogram": "app_latency_seconds", "threshold": 0.25, "selector": 'job="x"'}
}
AVAILABILITY = {"availability": {"probe": 'probe_success{job="blackbox"}'}}
WINDOWS: dict[str, dict[str, Any]] = {
    "30d": {"rolling": "30d"},
    "28d": {"rolling": "28d"},
    "7d": {"rolling": "7d"},
    "1d": {"rolling": "1d"},
    "month": {"calendar": "month", "timezone": "Europe/Berlin"},
    "quarter": {"calendar": "quarter"},
    "week": {"calendar": "week"},
}


def spec(name: str, sli: dict[str, Any], **extra: Any) -> SLOSpec:
    data = {"name": name, "service": "shop", "objective": 0.99, "source": "prometheus", "sli": sli}
    return SLOSpec.model_validate({**data, **extra})


def groups_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in doc["groups"]}


def factors(expr: str) -> list[float]:
    return [float(f) for f in re.findall(r"> \(([0-9.e+-]+) \*", expr)]


def test_groups_records_and_labels_mirror_sloth() -> None:
    out = promrules.export([("shop", spec("errors", RATIO_BAD, labels={"team": "payments"}))])
    groups = groups_by_name(out.files["shop"])
    assert set(groups) == {
        "sloth-slo-sli-recordings-shop-errors",
        "sloth-slo-meta-recordings-shop-errors",
        "sloth-slo-alerts-shop-errors",
    }
    sli = groups["sloth-slo-sli-recordings-shop-errors"]["rules"]
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    assert [r["record"] for r in sli] == [f"slo:sli_error:ratio_rate{w}" for w in windows]
    for rule, window in zip(sli, windows, strict=True):
        assert rule["labels"] == {
            "team": "payments",
            "sloth_id": "shop-errors",
            "sloth_service": "shop",
            "sloth_slo": "errors",
            "sloth_window": window,
        }
    meta = {r["record"]: r for r in groups["sloth-slo-meta-recordings-shop-errors"]["rules"]}
    assert set(meta) == {
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    }
    assert meta["slo:time_period:days"]["expr"] == "vector(30)"
    assert "slo:sli_error:ratio_rate30d" in meta["slo:period_burn_rate:ratio"]["expr"]
    assert meta["sloth_slo_info"]["labels"]["sloth_objective"] == "99"
    alerts = groups["sloth-slo-alerts-shop-errors"]["rules"]
    severities = [a["labels"].get("sloth_severity") for a in alerts if "for" not in a]
    assert severities == ["page", "ticket"]


def test_period_is_event_weighted_not_an_average_of_5m_ratios() -> None:
    out = promrules.export([("shop", spec("errors", RATIO_BAD))])
    sli = out.files["shop"]["groups"][0]["rules"]
    period = sli[-1]["expr"]
    assert "slo:sli_error:ratio_rate5m" not in period
    assert "sum_over_time" not in period
    assert "app_requests_total" in period
    assert "[30d]" in period


def test_burn_factors_for_30_days_are_the_sre_workbook_ones() -> None:
    out = promrules.export([("shop", spec("errors", RATIO_BAD))])
    alerts = out.files["shop"]["groups"][2]["rules"]
    assert factors(alerts[0]["expr"]) == [14.4, 14.4, 6.0, 6.0]
    assert factors(alerts[1]["expr"]) == [3.0, 3.0, 1.0, 1.0]
    assert "0.01" in alerts[0]["expr"]


@pytest.mark.parametrize(("window", "days"), [("28d", 28), ("7d", 7), ("quarter", 90)])
def test_other_periods_keep_the_budget_fractions(window: str, days: int) -> None:
    out = promrules.export([("shop", spec("errors", RATIO_BAD, window=WINDOWS[window]))])
    alerts = out.files["shop"]["groups"][2]["rules"]
    hours = days * 24
    expected_page = [0.02 * hours / 1, 0.05 * hours / 6]
    expected_ticket = [0.10 * hours / 24, 0.10 * hours / 72]
    got_page = factors(alerts[0]["expr"])[::2]
    got_ticket = factors(alerts[1]["expr"])[::2]
    assert got_page == pytest.approx(expected_page, rel=1e-9)
    assert got_ticket == pytest.approx(expected_ticket, rel=1e-9)
    meta = {r["record"]: r for r in out.files["shop"]["groups"][1]["rules"]}
    assert meta["slo:time_period:days"]["expr"] == f"vector({days})"


def test_period_equal_to_a_burn_window_is_not_recorded_twice() -> None:
    out = promrules.export([("shop", spec("errors", RATIO_BAD, window=WINDOWS["1d"]))])
    records = [r["record"] for r in out.files["shop"]["groups"][0]["rules"]]
    assert len(records) == len(set(records)) == 7


def test_push_slos_are_skipped_with_a_note_and_files_are_per_service() -> None:
    push = SLOSpec.model_validate(
        {"name": "pushed", "service": "shop", "objective": 0.9, "sli": {"ratio": {}}}
    )
    other = spec("lat", LATENCY).model_copy(update={"service": "search"})
    out = promrules.export([("shop", push), ("shop", spec("errors", RATIO_BAD)), ("search", other)])
    assert sorted(out.files) == ["search", "shop"]
    assert any("pushed" in note and "push" in note for note in out.notes)
    names = [g["name"] for g in out.files["shop"]["groups"]]
    assert all("pushed" not in n for n in names)


def test_disabled_alerting_drops_the_alert_group() -> None:
    quiet = spec("errors", RATIO_BAD, alerting={"page": False, "ticket": False})
    names = [g["name"] for g in promrules.export([("shop", quiet)]).files["shop"]["groups"]]
    assert not any(n.startswith("sloth-slo-alerts-") for n in names)


def test_alert_names_are_valid_prometheus_names() -> None:
    name = promrules.alert_name("checkout-api", spec("p99.latency", LATENCY))
    assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name)


@pytest.mark.prometheus
@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_promtool_accepts_rules_for_every_sli_kind(window: str, tmp_path: Path) -> None:
    kinds = {
        "bad": RATIO_BAD,
        "good": RATIO_GOOD,
        "tpl": RATIO_TPL,
        "lat": LATENCY,
        "avail": AVAILABILITY,
    }
    slos = [
        ("shop", spec(name, sli, window=WINDOWS[window], labels={"tier": "1", "bad-key": "x"}))
        for name, sli in kinds.items()
    ]
    slos.append(("shop", spec("ts", RATIO_BAD, window=WINDOWS[window], budgeting="timeslices")))
    out = promrules.export(slos)
    path = tmp_path / "shop.rules.yml"
    path.write_text(dump_yaml(out.files["shop"]), encoding="utf-8")
    result = promtool_check_rules(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert any("bad-key" in note for note in out.notes)


def promtool_test(tmp_path: Path, doc: dict[str, Any], tests: list[dict[str, Any]]) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(dump_yaml(doc), encoding="utf-8")
    unit = tmp_path / "test.yml"
    yaml = YAML()
    with unit.open("w", encoding="utf-8") as fh:
        yaml.dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests}, fh)
    result = subprocess.run(
        [binary("promtool"), "test", "rules", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def close_to(expr: str, value: float, tol: float = 1e-9) -> dict[str, Any]:
    """A promql_expr_test asserting that ``expr`` has one sample within ``tol`` of ``value``."""
    return {"expr": f"count(abs({expr} - {value!r}) < {tol})", "exp_samples": [{"value": 1}]}


@pytest.mark.prometheus
def test_promtool_evaluates_event_weighted_period_and_alerts(tmp_path: Path) -> None:
    """Busy hour at 1% errors, then a quiet hour at 100%: the period ratio weights by events."""
    doc = promrules.export([("shop", spec("errors", RATIO_BAD))]).files["shop"]
    # 1m samples: hour 1 adds 200 requests, 1 of them failed, per minute; hour 2 adds 1 failed.
    bad = "0+1x60 61+1x60"
    good = "0+199x60 11940+0x60"
    sel = '{sloth_id="shop-errors"}'
    expected_period = (60 + 60) / (60 * 200 + 60)
    ids = {"sloth_id": "shop-errors", "sloth_service": "shop", "sloth_slo": "errors"}

    def fired(severity: str, window: str) -> dict[str, Any]:
        return {
            "exp_labels": {**ids, "sloth_window": window, "sloth_severity": severity},
            "exp_annotations": {
                "summary": "shop errors SLO error budget burn rate is over expected.",
                "title": f"({severity}) shop errors SLO error budget burn rate is too fast.",
            },
        }

    tests = [
        {
            "interval": "1m",
            "input_series": [
                {"series": 'app_requests_total{code="500"}', "values": bad},
                {"series": 'app_requests_total{code="200"}', "values": good},
            ],
            "promql_expr_test": [
                {
                    "eval_time": "120m",
                    **close_to(f"slo:sli_error:ratio_rate30d{sel}", expected_period),
                },
                {"eval_time": "120m", **close_to(f"slo:sli_error:ratio_rate5m{sel}", 1.0)},
                {"eval_time": "55m", **close_to(f"slo:sli_error:ratio_rate30m{sel}", 1 / 200)},
                {
                    # The meta group reads the SLI group's output and Prometheus may evaluate
                    # the two groups in either order, so the burn rate at 120m is built from the
                    # period ratio at 120m or at 119m (119 bad of 12,059).
                    "eval_time": "120m",
                    "expr": (
                        f"count(abs(slo:period_burn_rate:ratio{sel} - {expected_period / 0.01!r})"
                        f" < 1e-6 or abs(slo:period_burn_rate:ratio{sel} - {119 / 12059 / 0.01!r})"
                        " < 1e-6)"
                    ),
                    "exp_samples": [{"value": 1}],
                },
            ],
            "alert_rule_test": [
                {"eval_time": "50m", "alertname": "ShopErrorsSLOBurn", "exp_alerts": []},
                {
                    # 100% errors for the last hour pages; over 6h/3d only 0.995% of all events
                    # failed (below the 1% budget), so no ticket
                    "eval_time": "120m",
                    "alertname": "ShopErrorsSLOBurn",
                    "exp_alerts": [fired("page", "5m")],
                },
            ],
        },
        {
            # zero traffic: no ratio at all (not NaN); missing 500 series counts as zero errors
            "interval": "1m",
            "input_series": [
                {"series": 'app_requests_total{code="200"}', "values": "5+0x30 5+10x30"}
            ],
            "promql_expr_test": [
                {"eval_time": "20m", "expr": f"slo:sli_error:ratio_rate5m{sel}", "exp_samples": []},
                {"eval_time": "50m", **close_to(f"slo:sli_error:ratio_rate5m{sel}", 0.0)},
            ],
        },
    ]
    promtool_test(tmp_path, doc, tests)


def test_cli_writes_one_file_per_service(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "org.yaml").write_text(
        """
teams:
  - name: payments
services:
  - name: shop
    owner: payments
slos:
  - name: errors
    service: shop
    objective: 0.999
    source: prometheus
    sli:
      ratio:
        bad: 'app_requests_total{code="500"}'
        total: app_requests_total
  - name: pushed
    service: shop
    objective: 0.99
    sli:
      ratio: {}
""",
        encoding="utf-8",
    )
    app = typer.Typer()
    rules_cli.register(app)

    @app.command()
    def noop() -> None:
        """Keep typer in multi-command mode."""

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["rules", "prometheus", str(catalog), "--out", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["shop.rules.yml"]
    loaded = YAML(typ="safe").load((out / "shop.rules.yml").read_text())
    assert next(g["name"] for g in loaded["groups"]) == "sloth-slo-sli-recordings-shop-errors"


def test_cli_reports_catalog_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("slos:\n  - name: x\n    nonsense: 1\n", encoding="utf-8")
    app = typer.Typer()
    rules_cli.register(app)

    @app.command()
    def noop() -> None:
        """Keep typer in multi-command mode."""

    result = CliRunner().invoke(app, ["rules", "prometheus", str(tmp_path), "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "bad.yaml" in result.output
