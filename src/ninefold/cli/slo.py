"""SLO commands: slo list/status, gate, rules."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the SLO commands to ``app``."""
