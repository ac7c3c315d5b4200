"""The score over time as inline SVG: no chart library, nothing loaded."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_trainloop.report.escape import escape as _e
from pytest_trainloop.report.history import HistoryPoint

__all__ = ["chart"]

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 960, 260, 48, 110, 16, 36


def chart(points: Sequence[HistoryPoint], baseline: int | None, current: int | None) -> str:
    suites = sorted({name for p in points for name in p.suites})
    series: list[tuple[str, str, list[float | None]]] = [
        ("overall", "#111", [p.overall for p in points])
    ]
    series += [
        (name, _PALETTE[k % len(_PALETTE)], [p.suites.get(name) for p in points])
        for k, name in enumerate(suites)
    ]
    values = [v for _, _, ys in series for v in ys if v is not None]
    if len(points) < 2 or not values:
        return (
            '<p class="muted">The chart needs two runs or more: this folder holds no earlier '
            "complete run.</p>"
        )
    low = max(0.0, math.floor((min(values) - 0.02) * 10) / 10)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + plot_w * i / (len(points) - 1)

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - (v - low) / (1 - low))

    out = [
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        'aria-label="score over time" xmlns="http://www.w3.org/2000/svg">'
    ]
    for k in range(round((1 - low) / 0.1) + 1):
        at = y(low + k * 0.1)
        out.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{at:.1f}" y2="{at:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{at + 4:.1f}" class="axis" text-anchor="end">'
            f"{low + k * 0.1:.1f}</text>"
        )
    for i, anchor in ((0, "start"), (len(points) - 1, "end")):
        when = points[i].timestamp[:16].replace("T", " ")
        out.append(
            f'<text x="{x(i):.1f}" y="{_H - 12}" class="axis" text-anchor="{anchor}">'
            f"{_e(when)}</text>"
        )
    for mark, word in ((baseline, "baseline"), (current, "this run")):
        if mark is not None:
            out.append(
                f'<line x1="{x(mark):.1f}" x2="{x(mark):.1f}" y1="{_TOP}" y2="{_H - _BOTTOM}" '
                f'class="mark"/><text x="{x(mark) - 4:.1f}" y="{_H - _BOTTOM - 6}" '
                f'class="axis" text-anchor="end">'
                f"{word}</text>"
            )
    for n, (name, colour, ys) in enumerate(series):
        kind, radius = ("overall", 3.5) if n == 0 else ("suite", 2.5)
        path, pen, last = [], "M", None
        for i, v in enumerate(ys):
            if v is None:
                pen = "M"  # a run without this suite: the line breaks
                continue
            path.append(f"{pen}{x(i):.1f},{y(v):.1f}")
            pen, last = "L", v
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{radius}" fill="{colour}">'
                f"<title>{_e(name)} {v:.3f} at {_e(points[i].timestamp)}</title></circle>"
            )
        out.append(f'<path d="{" ".join(path)}" class="line {kind}" stroke="{colour}"/>')
        if last is not None:
            out.append(
                f'<text x="{_W - _RIGHT + 8}" y="{y(last) + 4:.1f}" class="legend" '
                f'fill="{colour}">{_e(name)}</text>'
            )
    out.append("</svg>")
    return "".join(out)
