"""All layers at a glance: one row per node with its activation std as a bar on a scale every row
shares, its zero and saturated fractions, the gradient norm at its output, the update/weight
ratio of its largest parameter, its flags, and a one-line histogram (on the axis every row shares,
or on its own). Every figure comes from the runtime's Overview (runtime/overview.py); the columns
are fitted to the panel's width by priority (fit_overview), and the legend names what is left out.

Attributes down: the app sets `data` (an OverviewData).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from ..runtime.overview import FLAGS
from .fmt import MISSING, num, pct, short
from .layout import shorten_names
from .lines import ScrollLines

_EIGHTHS = " ▁▂▃▄▅▆▇█"
_BLOCKS = " ▏▎▍▌▋▊▉█"


@dataclass(frozen=True)
class OverviewData:
    """The runtime's Overview, whether histograms share one axis, whether only the nodes without
    parameters are listed, and the iteration the newest figures are from."""

    overview: object = None
    shared: bool = True
    activations_only: bool = False
    iteration: int | None = None


def bar(fraction: float, width: int) -> str:
    """A horizontal bar `fraction` (0..1) of `width` cells, in eighths of a cell."""
    eighths = round(max(min(fraction, 1.0), 0.0) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_BLOCKS[part] if part else "")).ljust(width)


def sparkline(counts, width: int) -> str:
    """Counts as one line of eighth-block columns, `width` cells (a non-empty bin never shows empty)."""
    if not counts:
        return " " * width
    top = max(counts) or 1
    return "".join(_EIGHTHS[0 if c <= 0 else max(1, round(c / top * 8))] for c in counts)


class OverviewView(ScrollLines):
    """A table of the network's nodes; columns that do not fit are left out whole."""

    COMPONENT_CLASSES = {"overview--bar", "overview--hist", "overview--flag", "overview--head"}
    data: reactive[OverviewData] = reactive(OverviewData, always_update=True, repaint=False)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._key = None

    def watch_data(self, d: OverviewData) -> None:
        width = self.room()
        key = (id(d.overview), d.shared, d.activations_only, width)
        if key != self._key and self.is_mounted:
            self._key = key
            self.show(self._table(d, max(width, 30)))

    def on_resize(self) -> None:
        super().on_resize()
        self._key = None
        self.watch_data(self.data)

    def _table(self, d: OverviewData, width: int) -> list[Text]:
        ov = d.overview
        if ov is None or not any(r.std is not None for r in ov.rows):
            return [Text(line, style="dim") for line in textwrap.wrap(
                "all layers at a glance: the figures appear as the forward pass reaches each node "
                "(n, i or c)", width)]
        style = lambda name: self.get_component_rich_style(name, partial=True)  # noqa: E731
        fit = fit_overview([r.node for r in ov.rows], any(r.saturated_frac is not None for r in ov.rows), width)
        cols = [c for c in COLUMNS if c[0] in fit.columns]
        head = Text("  " + "node".ljust(fit.name_w), style("overview--head"))
        if fit.bar_w:
            head.append(" " + ("std (bar)" if fit.bar_w >= 9 else "bar").ljust(fit.bar_w), style("overview--head"))
        for title, w, _ in cols:
            head.append(" " + title.rjust(w), style("overview--head"))
        if fit.hist_w:
            axis = "shared axis" if d.shared else "own axes"
            title = f"histogram ({axis})" if fit.hist_w >= 23 else axis
            head.append(" " + title.ljust(fit.hist_w), style("overview--head"))
        out = [head]
        for r, name in zip(ov.rows, shorten_names([r.node for r in ov.rows], fit.name_w)):
            flag = next((FLAGS[f][0] for f in r.flags), " ")
            t = Text(no_wrap=True)
            t.append(flag + " ", style("overview--flag"))
            t.append(name.ljust(fit.name_w))
            if fit.bar_w:
                t.append(" " + bar(ov.bar(r), fit.bar_w), style("overview--bar"))
            for _, w, cell in cols:
                t.append(" " + cell(r).rjust(w))
            if fit.hist_w:
                counts = ov.shared_counts(r, fit.hist_w) if d.shared else ov.own_counts(r, fit.hist_w)
                t.append(" " + sparkline(counts, fit.hist_w), style("overview--hist"))
            out.append(t)
        out.append(Text(""))
        notes = []
        if fit.bar_w:
            notes.append(f"bars: std on one scale, full = {num(ov.std_scale)}")
        if fit.hist_w and ov.lo is not None:
            notes.append(f"histograms on one axis, {num(ov.lo)} … {num(ov.hi)} (x: each row its own)" if d.shared
                         else "histograms each on its own range (x: one shared axis)")
        notes.append("a: " + ("all nodes" if d.activations_only else "only nodes without parameters"))
        if "upd/w" in fit.columns:
            notes.append("upd/w: last update / weights (largest parameter)")
        if fit.left_out:
            notes.append(f"left out at this width: {', '.join(fit.left_out)} (a wider terminal shows them"
                         + ("; s shows a node's parameters)" if "upd/w" in fit.left_out else ")"))
        present = [f for f in FLAGS if any(f in r.flags for r in ov.rows)]
        lines = textwrap.wrap(" · ".join(notes), width)
        if present:
            lines += textwrap.wrap("  ".join(f"{FLAGS[f][0]} {FLAGS[f][1].split(':')[0]}" for f in present)
                                   + " (thresholds: ? or docs/debugger.md)", width)
        return out + [Text(line, style="dim") for line in lines]


# The number columns: title, width, cell. Each is shown whole or left out whole.
COLUMNS = (("std", 6, lambda r: short(r.std)), ("zero", 4, lambda r: pct(r.zero_frac, 0)),
           ("sat", 4, lambda r: pct(r.saturated_frac, 0) if r.saturated_frac is not None else MISSING),
           ("grad", 6, lambda r: short(r.grad_norm)), ("upd/w", 6, lambda r: short(r.update_ratio)))

# What the table keeps as the room shrinks, best first: the histograms (the lesson of the
# initialization files) before the std bars (the std column next to them says it in figures),
# then upd/w, then sat. std, zero and grad always stay.
LAYOUTS = (("bar", "hist", "sat", "upd/w"), ("hist", "sat", "upd/w"), ("bar", "sat", "upd/w"),
           ("sat", "upd/w"), ("sat",), ())
NAME_LEAST = 14     # names are shortened (told apart) down to this before a layout is given up
BAR = (4, 16)       # the std bar's least and largest width
HIST_LEAST = 12


@dataclass(frozen=True)
class OverviewFit:
    """How the overview fits a width: the name column's width, the number columns kept, the bar's
    and the histogram's width (0: left out), and what was left out (named in the legend)."""

    name_w: int
    columns: tuple[str, ...]
    bar_w: int
    hist_w: int
    left_out: tuple[str, ...]


def fit_overview(names: list[str], has_sat: bool, width: int) -> OverviewFit:
    """The first of LAYOUTS that fits `width` cells with the names whole (up to 22 cells), else
    shortened to NAME_LEAST; the sat column is left out without a word when no node has a
    saturation range. The bar takes what is left up to 16 cells, the histograms the rest."""
    full = min(max(len(n) for n in names), 22)
    for layout in LAYOUTS:
        numbers = [c for c in COLUMNS if c[0] not in ("sat", "upd/w") or (c[0] in layout and (c[0] != "sat" or has_sat))]
        fixed = 2 + sum(w + 1 for _, w, _ in numbers)
        least = fixed + ("bar" in layout) * (BAR[0] + 1) + ("hist" in layout) * (HIST_LEAST + 1)
        name_w = min(full, width - least)
        if name_w < min(full, NAME_LEAST) and layout:
            continue
        name_w = max(name_w, 4)
        spare = width - fixed - name_w
        bar_w = min(BAR[1], spare - 1 - ("hist" in layout) * (HIST_LEAST + 1)) if "bar" in layout else 0
        hist_w = spare - (bar_w + 1 if bar_w else 0) - 1 if "hist" in layout else 0
        if not ("hist" in layout) and bar_w:
            bar_w = min(spare - 1, 24)   # no histograms: the bar may take more
        left = tuple(n for n, k in (("histograms", "hist"), ("std bars", "bar"), ("upd/w", "upd/w"))
                     if k not in layout) + (("sat",) if has_sat and "sat" not in layout else ())
        return OverviewFit(name_w, tuple(c[0] for c in numbers), max(bar_w, 0), max(hist_w, 0), left)
    raise AssertionError("unreachable: the last layout always fits")
