"""Catalog use cases (filled in by the catalog-as-code work)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session


@dataclass
class Diff:
    """What an apply changed (or would change)."""

    changes: list[tuple[str, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """A one-line count of creates, updates and deletes."""
        counts = {
            op: sum(1 for c in self.changes if c[0] == op) for op in ("create", "update", "delete")
        }
        return ", ".join(f"{n} {op}" for op, n in counts.items())


def apply_directory(session: Session, directory: Path, *, dry_run: bool) -> Diff:
    """Apply a catalog directory (placeholder until catalog-as-code lands)."""
    raise NotImplementedError
