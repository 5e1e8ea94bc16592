"""Text plots: lines drawn with braille dots (2×4 per cell), bands as shaded cells, histograms as
bars of eighth blocks. Rendering only: the numbers are the runtime's, this module places them.

    text = line_plot(60, 6, [Series(xs, ys, "bold cyan")], band=Band(xs, lo, hi, "on #203040"))
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from rich.style import Style
from rich.text import Text

from .fmt import num

# Bit of the braille dot at (column, row) inside a cell, row 0 at the top.
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
_EIGHTHS = " ▁▂▃▄▅▆▇█"
LABEL_WIDTH = 9


@dataclass(frozen=True)
class Series:
    """A line through (xs[i], ys[i]) in `style` (only the points with `points`); later series are
    drawn over earlier ones."""

    xs: Sequence[float]
    ys: Sequence[float]
    style: str | Style
    points: bool = False


@dataclass(frozen=True)
class Band:
    """The cells between lo[i] and hi[i] at xs[i], shaded in `style`."""

    xs: Sequence[float]
    lo: Sequence[float]
    hi: Sequence[float]
    style: str | Style


def _style(s: str | Style) -> Style:
    return Style.parse(s) if isinstance(s, str) else s


def _finite(values) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


class _Canvas:
    def __init__(self, width: int, height: int, x_range, y_range):
        self.w, self.h = width, height
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.bits = [[0] * width for _ in range(height)]
        self.ink: list[list[str | Style | None]] = [[None] * width for _ in range(height)]
        self.shade: list[list[str | Style | None]] = [[None] * width for _ in range(height)]

    def dot_x(self, x: float) -> int:
        span = self.x1 - self.x0
        return 0 if span <= 0 else round((x - self.x0) / span * (2 * self.w - 1))

    def dot_y(self, y: float) -> int:
        span = self.y1 - self.y0
        rows = 4 * self.h - 1
        return rows // 2 if span <= 0 else rows - round((y - self.y0) / span * rows)

    def dot(self, dx: int, dy: int, style: str | Style) -> None:
        cx, cy = dx // 2, dy // 4
        if 0 <= cx < self.w and 0 <= cy < self.h:
            self.bits[cy][cx] |= _DOTS[dy % 4][dx % 2]
            self.ink[cy][cx] = style

    def line(self, xs, ys, style: str | Style, points: bool = False) -> None:
        prev = None
        for x, y in zip(xs, ys):
            if y is None or not math.isfinite(y):
                prev = None
                continue
            p = (self.dot_x(x), self.dot_y(y))
            if points:  # a 2x2 dot, visible among the line's single dots
                for dx in (0, 1):
                    for dy in (0, 1):
                        self.dot(p[0] - p[0] % 2 + dx, min(p[1] + dy, 4 * self.h - 1), style)
            elif prev is None:
                self.dot(*p, style)
            else:  # join the dots: one per step along the longer axis
                n = max(abs(p[0] - prev[0]), abs(p[1] - prev[1]), 1)
                for k in range(1, n + 1):
                    self.dot(prev[0] + round((p[0] - prev[0]) * k / n), prev[1] + round((p[1] - prev[1]) * k / n),
                             style)
            prev = p

    def band(self, band: Band) -> None:
        """Shade every cell column between lo and hi, interpolating between the given points."""
        pts = [(self.dot_x(x) // 2, lo, hi) for x, lo, hi in zip(band.xs, band.lo, band.hi)
               if math.isfinite(lo) and math.isfinite(hi)]
        for (c0, lo0, hi0), (c1, lo1, hi1) in zip(pts, pts[1:] or pts):
            for cx in range(c0, max(c1, c0 + 1) if c1 > c0 else c0 + 1):
                f = (cx - c0) / (c1 - c0) if c1 > c0 else 0.0
                self._shade_column(cx, lo0 + f * (lo1 - lo0), hi0 + f * (hi1 - hi0), band.style)
        if pts:
            self._shade_column(pts[-1][0], pts[-1][1], pts[-1][2], band.style)

    def _shade_column(self, cx: int, lo: float, hi: float, style) -> None:
        if not 0 <= cx < self.w:
            return
        top, bottom = self.dot_y(hi) // 4, self.dot_y(lo) // 4
        for cy in range(max(top, 0), min(bottom, self.h - 1) + 1):
            self.shade[cy][cx] = style

    def rows(self) -> list[Text]:
        out = []
        for cy in range(self.h):
            t = Text()
            for cx in range(self.w):
                b = self.bits[cy][cx]
                styles = [_style(s) for s in (self.shade[cy][cx], self.ink[cy][cx] if b else None) if s]
                t.append(chr(0x2800 + b) if b else " ", Style.combine(styles) if styles else None)
            out.append(t)
        return out


def line_plot(width: int, height: int, series: Sequence[Series], band: Band | None = None,
              axis_style: str = "dim") -> Text:
    """A plot `width`×`height` cells, y labels on the left and the x range underneath."""
    ys = [y for s in series for y in _finite(s.ys)] + (_finite(band.lo) + _finite(band.hi) if band else [])
    xs = [x for s in series for x in s.xs] + (list(band.xs) if band else [])
    if not ys or not xs or width <= LABEL_WIDTH + 4 or height < 2:
        return Text("no data yet", style=axis_style)
    plot_w, plot_h = width - LABEL_WIDTH - 1, height - 1
    canvas = _Canvas(plot_w, plot_h, (min(xs), max(xs)), (min(ys), max(ys)))
    if band:
        canvas.band(band)
    for s in series:
        canvas.line(s.xs, s.ys, s.style, s.points)
    out = Text()
    for i, row in enumerate(canvas.rows()):
        label = num(max(ys)) if i == 0 else (num(min(ys)) if i == plot_h - 1 else "")
        out.append(label.rjust(LABEL_WIDTH) + "┤" if label else " " * LABEL_WIDTH + "│", axis_style)
        out.append_text(row)
        out.append("\n")
    lo, hi = f"{min(xs):g}", f"{max(xs):g}"
    out.append(" " * LABEL_WIDTH + "└" + lo + hi.rjust(max(plot_w - len(lo), len(hi) + 1)), axis_style)
    return out


def bars(counts: Sequence[int], width: int, height: int, style: str | Style = "") -> list[Text]:
    """Vertical bars for `counts` (a histogram's) across `width` cells, `height` rows of eighth blocks.

    A bin spans one or more cells when there are fewer bins than cells; adjacent bins share a
    cell when there are more. A non-empty bin is never drawn empty."""
    n = len(counts)
    if not n or width <= 0 or height <= 0:
        return [Text("") for _ in range(max(height, 0))]
    cells = [sum(counts[x * n // width:max((x + 1) * n // width, x * n // width + 1)]) for x in range(width)]
    top = max(cells) or 1
    levels = [0 if c == 0 else max(1, round(c / top * height * 8)) for c in cells]
    rows = []
    for r in range(height):
        floor = (height - 1 - r) * 8
        rows.append(Text("".join(_EIGHTHS[min(max(lv - floor, 0), 8)] for lv in levels), style))
    return rows


def axis(lo: float, hi: float, width: int, style: str = "dim") -> Text:
    """`lo` at the left and `hi` at the right of `width` cells, with 0 marked in between; when both
    do not fit, only what fits whole (never a number cut short)."""
    left, right = num(lo), num(hi)
    if len(left) + len(right) + 1 > width:
        return Text(left if len(left) <= width else "", style)
    line = list(left + " " * (width - len(left) - len(right)) + right)
    if lo < 0 < hi and width > len(left) + len(right) + 3:
        at = round(-lo / (hi - lo) * (width - 1))
        if len(left) < at < width - len(right) - 1:
            line[at] = "0"
    return Text("".join(line), style)
