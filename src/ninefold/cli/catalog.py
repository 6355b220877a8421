"""Catalog commands: validate, apply, import, export."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the catalog commands to ``app``."""
