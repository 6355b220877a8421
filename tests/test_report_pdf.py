"""The PDF report: the HTML report printed by Chromium headless (Debian package chromium)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ninefold.report import render
from ninefold.report.flows import scorecard
from ninefold.report.pdf import PdfUnavailable, browser, html_to_pdf
from ninefold.report.period import parse_period


@pytest.mark.skipif(browser() is None, reason="chromium is not installed")
def test_pdf_starts_with_the_pdf_header(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        card = scorecard(
            session, period=parse_period("2026-10"), now=datetime(2026, 11, 2, tzinfo=UTC)
        )
    pdf = html_to_pdf(render.to_html(card))
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 1000


def test_pdf_without_chromium_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ninefold.report.pdf.browser", lambda: None)
    with pytest.raises(PdfUnavailable, match="needs Chromium"):
        html_to_pdf("<html></html>")
