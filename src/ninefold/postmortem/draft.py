"""Postmortem drafts as pure functions: response times, template rendering, sections, Markdown.

A draft is rendered from a Jinja2 Markdown template (the default ships as
``templates/postmortem.md.j2``) with plain values, then split into sections at every ``## ``
heading; each section is edited on its own and the export joins them again.

Response times (all from named incident timestamps; missing stamps give "—"):

* time to detect = detected − started
* time to acknowledge = acknowledged − detected
* time to mitigate = mitigated − detected
* time to resolve = resolved − detected
* impact duration = resolved − started
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined, TemplateError

#: (label, from stamp, to stamp): the response times a draft shows, in order.
TIMINGS = (
    ("Time to detect", "started_at", "detected_at"),
    ("Time to acknowledge", "detected_at", "acknowledged_at"),
    ("Time to mitigate", "detected_at", "mitigated_at"),
    ("Time to resolve", "detected_at", "resolved_at"),
    ("Impact duration", "started_at", "resolved_at"),
)

#: Words and phrases that usually blame a person; the check only warns.
BLAME_PATTERNS = (
    "blame",
    "careless",
    "carelessness",
    "negligent",
    "negligence",
    "incompetent",
    "stupid",
    "lazy",
    "sloppy",
    "human error",
    "should have known",
    "should have",
    "their fault",
    "his fault",
    "her fault",
    "screwed up",
    "messed up",
    "his mistake",
    "her mistake",
    "their mistake",
)

# Markdown, not HTML: nothing here is rendered into a web page unescaped.
_ENV = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)  # noqa: S701
_HEADING = re.compile(r"^## +(.+?)\s*$")


class TemplateProblem(ValueError):
    """The template does not render; the message says where."""


@dataclass(frozen=True, slots=True)
class Section:
    """One section of a postmortem: a stable key, its heading and its Markdown body."""

    key: str
    heading: str
    body: str


def default_template() -> str:
    """The template shipped with ninefold."""
    return (resources.files("ninefold.postmortem") / "templates" / "postmortem.md.j2").read_text(
        encoding="utf-8"
    )


def human(delta: timedelta | None) -> str:
    """A duration such as ``1h 05m`` or ``42s``; ``—`` when unknown."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s" if secs else f"{sign}{minutes}m"
    return f"{sign}{secs}s"


def timings(stamps: Mapping[str, datetime | None]) -> list[dict[str, Any]]:
    """The response times of :data:`TIMINGS` (seconds, or None when a stamp is missing)."""
    out = []
    for label, start, end in TIMINGS:
        a, b = stamps.get(start), stamps.get(end)
        delta = b - a if a is not None and b is not None else None
        out.append(
            {
                "label": label,
                "span": f"{start.removesuffix('_at')} → {end.removesuffix('_at')}",
                "seconds": None if delta is None else delta.total_seconds(),
                "value": human(delta),
            }
        )
    return out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _num(value: float) -> str:
    # float error must not turn a budget of 1,200 into "1,200.00"
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-6 else f"{value:,.2f}"


def template_values(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Template values from incident facts (plain data, see ``flows.incident_facts``)."""
    incident = dict(facts["incident"])
    stamps = {k: incident.get(k) for k in ("started_at", "detected_at", "acknowledged_at")}
    stamps |= {k: incident.get(k) for k in ("mitigated_at", "resolved_at")}
    budgets = []
    for b in facts.get("budgets", []):
        frac = b.get("consumed_fraction")
        budgets.append(
            {
                **b,
                "objective_pct": _pct(b["objective"]),
                "consumed_pct": "no data" if frac is None else f"{frac:.1%} of the error budget",
                "bad_text": None if b.get("bad") is None else _num(b["bad"]),
                "budget_text": None if b.get("budget") is None else _num(b["budget"]),
            }
        )
    end = stamps["resolved_at"]
    return {
        "incident": {**incident, **{k: _iso(v) for k, v in stamps.items()}},
        "services": list(facts.get("services", [])),
        "duration": human(end - stamps["started_at"]) if end and stamps["started_at"] else "—",
        "budgets": budgets,
        "alerts": facts.get("alerts", 0),
        "pages": facts.get("pages", 0),
        "key_moments": [
            {**m, "at": _iso(m["at"]) if isinstance(m["at"], datetime) else m["at"]}
            for m in facts.get("key_moments", [])
        ],
        "timings": timings(stamps),
        "action_items": list(facts.get("action_items", [])),
        "repeats": list(facts.get("repeats", [])),
        "reason": facts.get("reason"),
    }


def _pct(value: float) -> str:
    text = f"{value * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def render(template: str, values: Mapping[str, Any]) -> str:
    """Render a Markdown template; TemplateProblem names the line of a broken one."""
    try:
        return _ENV.from_string(template).render(**values)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise TemplateProblem(f"postmortem template{where}: {exc}") from None


def slug(heading: str) -> str:
    """The section key of a heading: lower case words joined by underscores."""
    return "_".join(re.findall(r"[a-z0-9]+", heading.lower())) or "section"


def split_sections(markdown: str) -> list[Section]:
    """Split Markdown at ``## `` headings; text before the first heading becomes ``preamble``."""
    sections: list[Section] = []
    heading, key, lines = "", "preamble", []  # type: tuple[str, str, list[str]]
    seen: set[str] = set()

    def close() -> None:
        body = "\n".join(lines).strip()
        if heading or body:
            sections.append(Section(key, heading, body))

    for line in markdown.splitlines():
        m = _HEADING.match(line)
        if m is None:
            lines.append(line)
            continue
        close()
        heading = m.group(1)
        key = base = slug(heading)
        n = 2
        while key in seen:
            key, n = f"{base}_{n}", n + 1
        seen.add(key)
        lines = []
    close()
    return sections


def to_markdown(
    *, title: str, status: str, meta: Sequence[tuple[str, str]], sections: Sequence[Section]
) -> str:
    """The whole postmortem as one Markdown document."""
    out = [f"# Postmortem: {title}", ""]
    out += [f"- **{name}:** {value}" for name, value in (("Status", status), *meta)]
    for s in sections:
        out.append("")
        if s.heading:
            out += [f"## {s.heading}", ""]
        out.append(s.body)
    return "\n".join(out).rstrip() + "\n"


def blame_findings(sections: Sequence[Section]) -> list[str]:
    """Phrases that may blame a person, as ``section: "phrase"`` (a nudge, never a block)."""
    found = []
    for s in sections:
        text = s.body.lower()
        for phrase in BLAME_PATTERNS:
            if re.search(rf"\b{re.escape(phrase)}\b", text):
                found.append(f'{s.key}: "{phrase}"')
    return found
