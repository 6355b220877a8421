"""Small pure SVG charts (bar and line) for reports: no JavaScript, inline in HTML or email.

Every text is XML-escaped; None values leave a gap (line) or no bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_W, _H = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 24, 40


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _scale_max(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    return top if top > 0 else 1.0


def _frame(title: str, body: list[str], width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title, quote=True)}" '
        'font-family="sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>"
        f'<text x="{_LEFT}" y="14" font-size="13" font-weight="bold">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def _axes(labels: Sequence[str], top: float, width: int, height: int) -> list[str]:
    plot_h = height - _TOP - _BOTTOM
    out = [
        f'<line x1="{_LEFT}" y1="{height - _BOTTOM}" x2="{width - _RIGHT}" '
        f'y2="{height - _BOTTOM}" stroke="#888"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{height - _BOTTOM}" stroke="#888"/>',
    ]
    for i in range(5):
        v = top * i / 4
        y = height - _BOTTOM - plot_h * i / 4
        out.append(
            f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>'
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{width - _RIGHT}" y2="{y:.1f}" '
            'stroke="#eee"/>'
        )
    n = max(len(labels), 1)
    step = (width - _LEFT - _RIGHT) / n
    every = max(1, n // 12)
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = _LEFT + step * (i + 0.5)
        out.append(
            f'<text x="{x:.1f}" y="{height - _BOTTOM + 14}" text-anchor="middle">'
            f"{escape(label[:12])}</text>"
        )
    return out


def _legend(names: Sequence[str], height: int) -> list[str]:
    out = []
    x = _LEFT
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        out.append(
            f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{height - 5}">{escape(name[:28])}</text>'
        )
        x += 24 + 7 * min(len(name), 28)
    return out


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    stacked: bool = True,
    width: int = _W,
    height: int = _H,
) -> str:
    """Bars per label; several series are stacked (or side by side with ``stacked=False``)."""
    n = len(labels)
    if stacked:
        totals = [sum((s[1][i] or 0.0) for s in series) for i in range(n)]
    else:
        totals = [v or 0.0 for _, vals in series for v in vals]
    top = _scale_max(totals)
    plot_h = height - _TOP - _BOTTOM
    step = (width - _LEFT - _RIGHT) / max(n, 1)
    bw = step * 0.7
    body = _axes(labels, top, width, height)
    base = [0.0] * n
    for k, (name, values) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        for i, v in enumerate(values):
            if v is None or v <= 0:
                continue
            h = plot_h * v / top
            if stacked:
                x = _LEFT + step * i + (step - bw) / 2
                y = height - _BOTTOM - plot_h * base[i] / top - h
                w = bw
                base[i] += v
            else:
                w = bw / max(len(series), 1)
                x = _LEFT + step * i + (step - bw) / 2 + w * k
                y = height - _BOTTOM - h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(name)} {escape(labels[i])}: {_fmt(v)}'
                "</title></rect>"
            )
    if len(series) > 1 or (series and series[0][0]):
        body += _legend([s[0] for s in series], height)
    return _frame(title, body, width, height)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    width: int = _W,
    height: int = _H,
) -> str:
    """One polyline per series; None values break the line."""
    n = len(labels)
    top = _scale_max([v for _, vals in series for v in vals if v is not None])
    plot_h = height - _TOP - _BOTTOM
    step = (width - _LEFT - _RIGHT) / max(n, 1)
    body = _axes(labels, top, width, height)
    for k, (name, values) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
                continue
            x = _LEFT + step * (i + 0.5)
            y = height - _BOTTOM - plot_h * v / top
            runs[-1].append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(name)} {escape(labels[i])}: {_fmt(v)}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                body.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>'
                )
    body += _legend([s[0] for s in series], height)
    return _frame(title, body, width, height)
