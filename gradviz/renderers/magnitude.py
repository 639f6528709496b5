"""Colour and width by magnitude: where gradients (or values) are large, small, or broken.

Norms span many orders of magnitude (1e-11 next to 1 in a deep sigmoid net),
so the scale is logarithmic, from the smallest to the largest finite norm in the
picture. The palette is sequential from pale yellow to dark red (after
ColorBrewer's YlOrRd), readable by people with red-green colour blindness and
in grey; black text stays legible on every step. Non-finite norms get a colour
of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["EDGE_PALETTE", "HEAT_MUTED", "HEAT_TEXT", "MISSING", "NONFINITE", "PALETTE", "LogScale"]

PALETTE = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc6a45")
EDGE_PALETTE = ("#bdbdbd", "#fdae6b", "#fd8d3c", "#e6550d", "#c2410c", "#8c2d04")
"""Edges need darker steps than node fills to show on a white page."""
NONFINITE = "#c2a5cf"
EDGE_NONFINITE = "#7b3294"
MISSING = "#f3f4f6"
HEAT_TEXT = "#111827"
HEAT_MUTED = "#374151"
"""Text on a heat-map fill, whatever the theme: every fill above is light."""


@dataclass(frozen=True)
class LogScale:
    """Maps a norm to a colour and an edge width, on a log scale over the picture's norms."""

    low: float
    high: float

    @classmethod
    def over(cls, norms: Iterable[float | None]) -> LogScale | None:
        finite = [n for n in norms if n is not None and math.isfinite(n) and n > 0]
        if not finite:
            return None
        return cls(math.log10(min(finite)), math.log10(max(finite)))

    def position(self, norm: float) -> float:
        """0 at the smallest norm, 1 at the largest (0 for zero)."""
        if norm <= 0:
            return 0.0
        span = self.high - self.low
        if span <= 0:
            return 1.0
        return min(max((math.log10(norm) - self.low) / span, 0.0), 1.0)

    def color(self, norm: float | None) -> str:
        if norm is None:
            return MISSING
        if not math.isfinite(norm):
            return NONFINITE
        return PALETTE[min(int(self.position(norm) * len(PALETTE)), len(PALETTE) - 1)]

    def edge_color(self, norm: float | None) -> str:
        if norm is None:
            return EDGE_PALETTE[0]
        if not math.isfinite(norm):
            return EDGE_NONFINITE
        return EDGE_PALETTE[
            min(int(self.position(norm) * len(EDGE_PALETTE)), len(EDGE_PALETTE) - 1)
        ]

    def width(self, norm: float | None) -> float:
        if norm is None:
            return 1.0
        if not math.isfinite(norm):
            return 4.0
        return round(0.6 + 3.4 * self.position(norm), 2)

    def ticks(self) -> tuple[str, str]:
        return (f"{10**self.low:.2g}", f"{10**self.high:.2g}")
