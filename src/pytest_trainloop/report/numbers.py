"""How the page writes numbers and draws an interval: fixed text, never from an event."""

from __future__ import annotations

import math
from collections.abc import Iterable

__all__ = ["Scale", "interval_text", "p_text", "score_text", "signed_text"]


def score_text(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:.3f}"


def interval_text(interval: tuple[float, float] | None) -> str:
    return "" if interval is None else f"{interval[0]:.3f}&ndash;{interval[1]:.3f}"


def signed_text(value: float | None) -> str:
    return "&ndash;" if value is None else f"{value:+.3f}"


def p_text(value: float | None) -> str:
    if value is None:
        return "&ndash;"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


# --- the interval bar --------------------------------------------------------------------------


class Scale:
    """The range the page's interval bars share, so bars of different rows compare."""

    def __init__(self, lows: Iterable[float]) -> None:
        lowest = min(lows, default=0.0)
        self.low = max(0.0, min(0.9, math.floor(lowest * 10) / 10))

    def at(self, value: float) -> float:
        return max(0.0, min(100.0, (value - self.low) / (1 - self.low) * 100))

    def bar(
        self, score: float | None, interval: tuple[float, float] | None, bound: float | None
    ) -> str:
        if score is None or interval is None:
            return ""
        left, right = self.at(interval[0]), self.at(interval[1])
        parts = [
            f'<span class="ci" style="left:{left:.1f}%;width:{max(right - left, 0.5):.1f}%">'
            "</span>",
            f'<span class="pt" style="left:{self.at(score):.1f}%"></span>',
        ]
        if bound is not None:
            parts.append(f'<span class="bd" style="left:{self.at(bound):.1f}%"></span>')
        return f'<span class="bar" aria-hidden="true">{"".join(parts)}</span>'
