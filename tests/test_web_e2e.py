"""End to end in a real browser: Debian's Chromium driven by Playwright against a live ninefold.

Logs in, finds the burning SLO, acknowledges its alert, declares an incident, posts a public
update and sees it on /status, resolves, edits the postmortem and adds an action item. Writes
screenshots of the main pages to build/screenshots/ on every run.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import SystemClock
from ninefold.db import migrate
from ninefold.db.engine import make_engine, make_session_factory
from tests.live import serve
from tests.web_seed import BURNING_SLO, PASSWORDS, seed

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason="Debian's chromium is not installed"
)


@pytest.fixture
def live_url(tmp_path: Path) -> Iterator[str]:
    """A real ninefold server on a prepared SQLite database."""
    url = f"sqlite:///{tmp_path / 'console.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    seed(make_session_factory(engine), SystemClock().now())
    app = create_app(
        Settings(database_url=url, engine_enabled=False), engine=engine, start_engine=False
    )
    with serve(app) as base:
        yield base
    engine.dispose()


@pytest.fixture
def browser_page(live_url: str) -> Iterator[object]:
    """A headless Chromium page; fails the test on any CSP violation or script error."""
    problems: list[str] = []
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        try:
            yield page
        finally:
            context.close()
            browser.close()
    assert problems == []


def _shot(page: object, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_responder_journey(browser_page: object, live_url: str) -> None:
    page = browser_page  # Playwright's sync Page (untyped here to keep mypy out of tests)
    expect = playwright_api.expect
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)

    # log in (the console sends us to the login page first)
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    _shot(page, "01-login")
    page.fill("#username", "bob")
    page.fill("#password", PASSWORDS["bob"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")
    _shot(page, "02-overview")

    # find the burning SLO; its charts are drawn by uPlot from the JSON endpoint
    page.locator("#h-burn").locator("..").get_by_role("link", name=BURNING_SLO).click()
    expect(page.locator("#chart-budget[data-drawn='1'] canvas")).to_have_count(1)
    expect(page.locator("#chart-sli[data-drawn='1'] canvas")).to_have_count(1)
    expect(page.locator("#chart-burn[data-drawn='1'] canvas")).to_have_count(1)
    _shot(page, "03-slo")

    # acknowledge its alert from the list (htmx swaps the row)
    page.get_by_role("link", name="Firing alerts of this SLO").click()
    row = page.locator("tbody tr", has_text="SLO checkout-success").first
    expect(row).to_be_visible()
    row.get_by_role("button", name=re.compile(r"^Acknowledge alert")).click()
    expect(row).to_contain_text("acked by bob")
    _shot(page, "04-alerts")

    # declare an incident from it
    row.get_by_role("button", name=re.compile(r"^Declare an incident")).click()
    expect(page.locator(".flash.ok")).to_contain_text("declared")
    incident_url = page.url.split("?")[0]

    # a public update, previewed as the status page will show it
    page.fill("#pub-msg", "Checkout is failing for some customers; a fix is rolling out.")
    expect(page.locator("#preview .banner")).to_be_visible()
    _shot(page, "05-incident")
    page.get_by_role("button", name="Post update").click()
    expect(page.locator(".flash.ok")).to_contain_text("Update posted")
    page.goto("/status")
    expect(page.locator("body")).to_contain_text("a fix is rolling out")
    _shot(page, "06-status-page")

    # resolve, then the postmortem (drafted by policy, or on demand)
    page.goto(incident_url)
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".flash.ok")).to_contain_text("resolved")
    draft_button = page.get_by_role("button", name="Draft postmortem")
    if draft_button.count():
        draft_button.click()
    page.get_by_role("link", name=re.compile(r"^Postmortem \(")).click()
    expect(page.locator("h1")).to_contain_text("draft")
    first = page.locator("section textarea").first
    first.fill("Checkout failed for 20% of attempts after v2.14.0; rolled back.")
    page.get_by_role("button", name="Save section").first.click()
    expect(page.locator(".flash.ok")).to_contain_text("Section saved")
    page.fill("#ai-title", "Alert on card-decline ratio")
    page.select_option("#ai-owner", "bob")
    page.get_by_role("button", name="Add action item").click()
    expect(page.locator("#items")).to_contain_text("Alert on card-decline ratio")
    _shot(page, "07-postmortem")

    # the remaining pages, and the overview on a phone
    page.goto("/ui/services/checkout")
    expect(page.locator("svg.deps")).to_be_visible()
    _shot(page, "08-service")
    page.goto("/ui/oncall")
    expect(page.locator("h1")).to_have_text("On-call")
    _shot(page, "09-oncall")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/ui/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the overview scrolls sideways on a phone ({width}px)"
    _shot(page, "10-overview-phone")
    page.goto(incident_url)
    _shot(page, "11-incident-phone")


def test_show_more_adds_a_tiers_rows_in_place(
    browser_page: object, live_url: str, tmp_path: Path
) -> None:
    from ninefold.identity.models import Team
    from tests import factories

    engine = make_engine(f"sqlite:///{tmp_path / 'console.db'}")
    now = SystemClock().now()
    with make_session_factory(engine)() as session, session.begin():
        owner = session.query(Team).order_by(Team.id).first()
        assert owner is not None
        for i in range(130):  # tier 2 then has 132 services: 10 shown, then 100, then 22
            factories.service(session, f"more-{i:03d}", owner, now, tier=2)
    engine.dispose()
    page = browser_page
    expect = playwright_api.expect
    page.goto("/ui/")
    page.fill("#username", "frank")
    page.fill("#password", PASSWORDS["frank"])
    page.click("button[type=submit]")
    rows = page.locator("#tier-2 + .table-wrap tbody tr:not(.more)")
    expect(rows).to_have_count(10)
    page.get_by_role("link", name="Show more (122 of 132 not shown)").click()
    expect(rows).to_have_count(110)
    expect(page).to_have_url(re.compile(r"/ui/$"))  # swapped in place, no navigation
    page.get_by_role("link", name="Show more (22 of 132 not shown)").click()
    expect(rows).to_have_count(132)
    expect(page.locator("#tier-2 + .table-wrap tr.more")).to_have_count(0)
