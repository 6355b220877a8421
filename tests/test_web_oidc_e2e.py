"""Single sign-on in a real browser: Chromium clicks "Sign in with …", goes through the test
provider and lands in the console (redirects, the SameSite=Lax flow cookie and the CSP included).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ninefold.app import create_app
from ninefold.core.clock import SystemClock
from ninefold.db import migrate
from ninefold.db.engine import make_engine
from tests.live import serve
from tests.oidc_provider import running
from tests.test_web_e2e import CHROMIUM, SHOTS
from tests.test_web_oidc import oidc_settings

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason="Debian's chromium is not installed"
)


@pytest.fixture
def live_url(tmp_path: Path) -> Iterator[str]:
    """A real ninefold server with single sign-on at a real test provider."""
    url = f"sqlite:///{tmp_path / 'console.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with running(SystemClock().now) as provider:
        app = create_app(oidc_settings(url, provider.issuer), engine=engine, start_engine=False)
        with serve(app) as base:
            app.state.oidc.redirect_uri = f"{base}/ui/login/oidc/callback"
            yield base
    engine.dispose()


def test_sign_in_with_the_provider_button(live_url: str) -> None:
    problems: list[str] = []
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        context = browser.new_context(base_url=live_url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: (
                problems.append(f"{msg.text} {msg.location.get('url')}")
                if msg.type == "error" and "/favicon.ico" not in str(msg.location.get("url"))
                else None
            ),
        )
        try:
            page.goto("/ui/oncall")
            assert page.url.startswith(f"{live_url}/ui/login?next=")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "oidc-login.png"))
            page.get_by_role("link", name="Sign in with Example ID").click()
            page.wait_for_url(f"{live_url}/ui/oncall")
            assert page.get_by_text("Carol Ops").is_visible()
            assert page.locator(".badge.role").inner_text() == "admin"
            page.screenshot(path=str(SHOTS / "oidc-signed-in.png"), full_page=True)
            cookies = {c["name"]: c for c in context.cookies()}
            assert cookies["nf_session"]["httpOnly"]
            assert "nf_oidc" not in cookies
        finally:
            context.close()
            browser.close()
    assert problems == []
