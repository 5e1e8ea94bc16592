"""An image node's channels: example 1's feature maps as small heatmaps, one per channel, as many
as fit the panel (it says how many are hidden), each with its channel's mean and variance over
(batch, H, W), and the node's per-channel and per-(example, channel) ranges. Every figure comes
from the runtime's ChannelStats (runtime/stats.py); this module only places and colours them.

A heatmap cell is a half block '▀': its foreground is the upper pixel, its background the lower
one, so an 8x8 map takes 8 columns and 4 rows. Maps larger than MAX_MAP pixels are averaged down
in blocks (display only). One colour scale is shared by every map of the node, so channels can be
compared: blue below zero, orange above, dark at zero, full colour from the runtime's map_scale
(a high percentile of |value|) on.

Attributes down: the app (through StatsView) sets `channels` (a ChannelStats, or None).
"""
from __future__ import annotations

import math
import textwrap
from functools import lru_cache

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive

from .fmt import short
from .lines import ScrollLines

MAX_MAP = 16      # the largest heatmap, in pixels per side
LEGEND = 5        # the width of the row labels: "mean ", "var  "
LEVELS = 12       # colour steps on each side of zero
_ZERO = (28, 28, 36)
_POS = (255, 150, 40)
_NEG = (60, 140, 255)


@lru_cache(maxsize=None)
def _colour(level: int) -> str:
    """The colour of `level` in -LEVELS..LEVELS (0: zero)."""
    end = _POS if level >= 0 else _NEG
    t = abs(level) / LEVELS
    r, g, b = (round(z + (e - z) * t) for z, e in zip(_ZERO, end))
    return f"#{r:02x}{g:02x}{b:02x}"


@lru_cache(maxsize=None)
def _cell(upper: int, lower: int | None) -> Style:
    return Style(color=_colour(upper), bgcolor=None if lower is None else _colour(lower))


def levels(maps: np.ndarray, top: float) -> np.ndarray:
    """Each pixel's colour level in -LEVELS..LEVELS on the scale shared by the maps, symmetric
    about zero: full colour at |value| >= top (beyond it, clipped); non-finite pixels at zero."""
    if not math.isfinite(top) or top <= 0:
        return np.zeros(maps.shape, np.int64)
    with np.errstate(all="ignore"):
        q = np.rint(np.nan_to_num(maps / top, nan=0.0, posinf=1.0, neginf=-1.0) * LEVELS)
    return np.clip(q, -LEVELS, LEVELS).astype(np.int64)


def shrink(maps: np.ndarray, most: int = MAX_MAP) -> np.ndarray:
    """(C, H, W) maps averaged in k x k blocks so that no side exceeds `most` (edges padded)."""
    _, h, w = maps.shape
    k = max(1, math.ceil(max(h, w) / most))
    if k == 1:
        return maps
    ph, pw = -h % k, -w % k
    padded = np.pad(maps.astype(np.float64), ((0, 0), (0, ph), (0, pw)), mode="edge")
    c, hh, ww = padded.shape
    return padded.reshape(c, hh // k, k, ww // k, k).mean(axis=(2, 4))


def heat_rows(level: np.ndarray) -> list[list[Style]]:
    """A map's levels (H, W) as rows of half-block cell styles, ceil(H/2) rows of W cells."""
    h, w = level.shape
    rows = []
    for y in range(0, h, 2):
        lower = level[y + 1] if y + 1 < h else None
        rows.append([_cell(int(level[y, x]), None if lower is None else int(lower[x])) for x in range(w)])
    return rows


def layout(channels: int, kept: int, map_w: int, map_h: int, width: int, height: int,
           head: int) -> tuple[int, int, int]:
    """(tiles per row, rows of tiles, tile width) for `width` x `height` cells with `head` lines
    above the tiles; at least one row of tiles even when it does not fit (the panel scrolls)."""
    tile = max(map_w, 6)
    per_row = max(1, (width - LEGEND + 1) // (tile + 1))
    block = 1 + math.ceil(map_h / 2) + 2         # channel numbers, the map, mean and var
    rows = max(1, (height - head) // block)
    rows = min(rows, math.ceil(min(channels, kept) / per_row))
    return per_row, rows, tile


class ChannelsView(ScrollLines):
    """Heatmaps of an image node's channels with their statistics."""

    COMPONENT_CLASSES = {"channels--head"}
    channels = reactive(None, always_update=True, repaint=False)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._key = None
        self.empty = "not an image node: channels are shown for outputs (B, C, H, W)"

    def watch_channels(self, cs) -> None:
        region = self.scrollable_content_region
        key = (id(cs), region.width, region.height, self.empty)
        if key != self._key and self.is_mounted:
            self._key = key
            self.show(self.lines(cs, max(region.width, 20), max(region.height, 4)))

    def on_resize(self) -> None:
        super().on_resize()
        self._key = None
        self.watch_channels(self.channels)

    def lines(self, cs, width: int, height: int) -> list[Text]:
        """The panel's lines for ChannelStats `cs` in width x height cells (the colour scale goes
        in the border's subtitle)."""
        if cs is None:
            self.border_title, self.border_subtitle = "channels", ""
            return [Text(line, style="dim") for line in textwrap.wrap(self.empty, width)]
        dim = self.get_component_rich_style("channels--head", partial=True) if self.is_mounted else "dim"
        sm = cs.summary()

        # a mean within the runtime's rounding floor is noise: ≈0 (fmt.short)
        noise = {"channel_mean": cs.mean_noise, "example_mean": cs.example_mean_noise}

        def rng(key):
            lo, hi = (short(v, noise=noise.get(key)) for v in sm[key])
            return lo if lo == hi else f"{lo}…{hi}"
        # over (B,H,W) each channel; over (H,W) each example's copy of each channel
        summary = (f"per channel (B,H,W): mean {rng('channel_mean')}, var {rng('channel_var')} · "
                   f"per example (H,W): mean {rng('example_mean')}, var {rng('example_var')}")
        head = [Text(line, style=dim) for line in textwrap.wrap(summary, width)]
        maps = shrink(cs.maps)
        kept, (map_h, map_w) = len(maps), maps.shape[1:]
        per_row, rows, tile = layout(cs.channels, kept, map_w, map_h, width, height, len(head))
        shown = min(per_row * rows, kept)
        hidden = cs.channels - shown
        note = f"channels of example 1: {shown} of {cs.channels}" + (f", {hidden} hidden" if hidden else "")
        lo, hi, top = *cs.map_range, cs.map_scale
        scale = (f"-{short(top)} blue … 0 … {short(top)} orange" if lo < 0 < hi else
                 f"0 dark … {short(top if hi > 0 else -top)} {'orange' if hi > 0 else 'blue'}")
        if top < max(-lo, hi):
            scale += f" (and beyond, to {short(lo if -lo > hi else hi)})"
        # on the borders: no row taken from the maps
        self.border_title, self.border_subtitle = note, scale
        out = head
        level = levels(maps[:shown], top)
        for start in range(0, shown, per_row):
            chans = range(start, min(start + per_row, shown))
            label = Text("ch".ljust(LEGEND), style=dim)
            for c in chans:
                label.append(str(c).ljust(tile + 1), style=dim)
            out.append(label)
            pixel_rows = [heat_rows(level[c]) for c in chans]
            for y in range(math.ceil(map_h / 2)):
                t = Text(" " * LEGEND, no_wrap=True)
                for cells in pixel_rows:
                    for st in cells[y]:
                        t.append("▀", st)
                    t.append(" " * (tile + 1 - map_w))
                out.append(t)
            for name, values in (("mean", cs.mean), ("var", cs.var)):
                t = Text(name.ljust(LEGEND), style=dim, no_wrap=True)
                for c in chans:
                    t.append(short(float(values[c]), noise=cs.mean_noise if name == "mean" else None)
                             .rjust(tile) + " ")
                out.append(t)
        for t in out:
            t.rstrip()  # the gap after the last tile
        return out
