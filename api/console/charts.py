"""Charts drawn on the server as SVG: a figure per day as a line (or bars for counts), with
its target as a dashed line. No chart library and no script: the page stays one file and
prints as it shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

WIDTH = 560
HEIGHT = 160
PAD_LEFT = 44
PAD_RIGHT = 8
PAD_TOP = 10
PAD_BOTTOM = 22


@dataclass(frozen=True)
class Point:
    day: date
    value: float | None  # None: no figure that day (nothing to measure)


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "h":
        return f"{value:.1f} h"
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2f}"


def chart(
    points: Sequence[Point],
    *,
    unit: str = "",
    target: float | None = None,
    bars: bool = False,
    label: str = "",
) -> Markup:
    """An SVG of the points in day order. Gaps (None) break the line; the y axis starts
    at 0 and reaches the highest value or the target."""
    values = [p.value for p in points if p.value is not None]
    top = max([*values, target or 0.0, 0.0])
    top = top * 1.1 if top > 0 else 1.0
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    n = max(len(points), 1)
    step = inner_w / n

    def x(i: int) -> float:
        return PAD_LEFT + step * (i + 0.5)

    def y(v: float) -> float:
        return PAD_TOP + inner_h * (1 - v / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{PAD_LEFT}" y1="{y(0):.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{y(0):.1f}" '
        'stroke="#c8ced6"/>',
        f'<text x="{PAD_LEFT - 4}" y="{y(top / 1.1):.1f}" text-anchor="end" font-size="10" '
        f'fill="#5f6b7a">{escape(_fmt(top / 1.1, unit))}</text>',
        f'<text x="{PAD_LEFT - 4}" y="{y(0):.1f}" text-anchor="end" font-size="10" '
        'fill="#5f6b7a">0</text>',
    ]
    if target is not None:
        parts.append(
            f'<line class="target" x1="{PAD_LEFT}" y1="{y(target):.1f}" x2="{WIDTH - PAD_RIGHT}" '
            f'y2="{y(target):.1f}" stroke="#b3261e" stroke-dasharray="4 3"/>'
        )
    if bars:
        width = max(step * 0.7, 1.0)
        for i, p in enumerate(points):
            if p.value is None:
                continue
            parts.append(
                f'<rect x="{x(i) - width / 2:.1f}" y="{y(p.value):.1f}" width="{width:.1f}" '
                f'height="{y(0) - y(p.value):.1f}" fill="#1f5fbf">'
                f"<title>{p.day.isoformat()}: {escape(_fmt(p.value, unit))}</title></rect>"
            )
    else:
        run: list[str] = []
        runs: list[list[str]] = []
        for i, p in enumerate(points):
            if p.value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{x(i):.1f},{y(p.value):.1f}")
        if run:
            runs.append(run)
        for r in runs:
            parts.append(
                f'<polyline fill="none" stroke="#1f5fbf" stroke-width="2" points="{" ".join(r)}"/>'
            )
        for i, p in enumerate(points):
            if p.value is not None:
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(p.value):.1f}" r="2.5" fill="#1f5fbf">'
                    f"<title>{p.day.isoformat()}: {escape(_fmt(p.value, unit))}</title></circle>"
                )
    if points:
        for i in sorted({0, len(points) - 1, len(points) // 2}):
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="10" '
                f'fill="#5f6b7a">{points[i].day.strftime("%m-%d")}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
