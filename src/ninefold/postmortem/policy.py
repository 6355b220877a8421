"""When an incident needs a postmortem (pure).

An incident needs one when it resolves and either its severity is in ``severities`` (by
default the severities of rank 1 and 2: SEV1 and SEV2, or the two worst levels the catalog
defines) or it consumed at least ``budget_threshold`` (20 % by default) of the error
budget of any SLO of its affected services over its started → resolved window. Otherwise a
postmortem is optional and made on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_RANK = 2
DEFAULT_BUDGET_THRESHOLD = 0.2


@dataclass(frozen=True, slots=True)
class PostmortemPolicy:
    """What makes a postmortem required, and which Markdown template drafts use."""

    severities: tuple[str, ...] | None = None
    """Severity names that always get one; None: those of rank ≤ ``DEFAULT_MAX_RANK``."""
    budget_threshold: float = DEFAULT_BUDGET_THRESHOLD
    template_path: Path | None = None


def required_reason(
    severity: str,
    consumed: Mapping[str, float | None],
    policy: PostmortemPolicy,
    *,
    rank: int | None = None,
) -> str | None:
    """Why a postmortem is required (``None``: it is optional).

    ``consumed`` maps SLO names to the fraction of their error budget the incident consumed
    (``None`` for no data); ``rank`` is the severity's rank (1 is the worst), used when the
    policy names no severities. Severity names compare case-insensitively.
    """
    if policy.severities is None:
        always = rank is not None and rank <= DEFAULT_MAX_RANK
    else:
        always = severity.lower() in {s.lower() for s in policy.severities}
    if always:
        return f"severity {severity} always gets a postmortem"
    worst = max(
        ((name, f) for name, f in consumed.items() if f is not None),
        key=lambda item: item[1],
        default=None,
    )
    if worst is not None and worst[1] >= policy.budget_threshold:
        return (
            f"consumed {worst[1]:.1%} of the error budget of SLO {worst[0]} "
            f"(threshold {policy.budget_threshold:.0%})"
        )
    return None
