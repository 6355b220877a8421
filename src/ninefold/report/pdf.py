"""PDF from the HTML report with Chromium headless (Debian package ``chromium``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ninefold.errors import NinefoldError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class PdfUnavailable(NinefoldError):
    """No headless browser to print the HTML report with."""


def browser() -> str | None:
    """Path of the first Chromium-like browser on PATH."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(html: str, *, timeout: float = 120.0) -> bytes:
    """Print ``html`` to PDF with ``chromium --headless --print-to-pdf``."""
    exe = browser()
    if exe is None:
        raise PdfUnavailable(
            "--format pdf needs Chromium: install it (apt-get install chromium) or use "
            "--format html and print that"
        )
    with tempfile.TemporaryDirectory(prefix="ninefold-pdf-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html, encoding="utf-8")
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not out.exists():
            raise NinefoldError(
                f"chromium failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-500:]}"
            )
        return out.read_bytes()
