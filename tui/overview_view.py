"""All layers at a glance: one row per node with its activation std as a bar on a scale every row
shares, its zero and saturated fractions, the gradient norm at its output, the update/weight
ratio of its largest parameter, its flags, and a one-line histogram (on the axis every row shares,
or on its own). Every figure comes from the runtime's Overview (runtime/overview.py).

Attributes down: the app sets `data` (an OverviewData).
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from ..runtime.overview import FLAGS
from .fmt import MISSING, num, pct, short
from .layout import ellipsize
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
        width = self.scrollable_content_region.width
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
            return [Text("all layers at a glance: the figures appear as the forward pass reaches each "
                         "node (n, i or c)", style="dim")]
        style = lambda name: self.get_component_rich_style(name, partial=True)  # noqa: E731
        name_w = min(max(len(r.node) for r in ov.rows), 22 if width >= 76 else 14)
        cols = [("std", 6, lambda r: short(r.std)), ("zero", 4, lambda r: pct(r.zero_frac, 0)),
                ("sat", 4, lambda r: pct(r.saturated_frac, 0) if r.saturated_frac is not None else MISSING),
                ("grad", 6, lambda r: short(r.grad_norm)), ("upd/w", 6, lambda r: short(r.update_ratio))]
        fixed = 3 + name_w + sum(w + 1 for _, w, _ in cols)   # flag, name, spaces, number columns
        bar_w = max(min(width - fixed, 16), 0)
        hist_w = width - fixed - bar_w - 2
        if hist_w < 12:       # no room for histograms: give the bar what is left
            bar_w, hist_w = max(min(width - fixed, 24), 0), 0
        while bar_w < 4 and cols:    # very narrow: leave out columns from the right, whole
            bar_w += cols.pop()[1] + 1
        head = Text("  " + "node".ljust(name_w) + " " + "std (bar)".ljust(bar_w)[:bar_w], style("overview--head"))
        for title, w, _ in cols:
            head.append(" " + title.rjust(w), style("overview--head"))
        if hist_w:
            axis = "shared axis" if d.shared else "own axes"
            title = f"histogram ({axis})" if hist_w >= 23 else axis
            head.append("  " + title.ljust(hist_w), style("overview--head"))
        out = [head]
        for r in ov.rows:
            flag = next((FLAGS[f][0] for f in r.flags), " ")
            t = Text(no_wrap=True)
            t.append(flag + " ", style("overview--flag"))
            t.append(ellipsize(r.node, name_w).ljust(name_w) + " ")
            t.append(bar(ov.bar(r), bar_w), style("overview--bar"))
            for _, w, cell in cols:
                t.append(" " + cell(r).rjust(w))
            if hist_w:
                counts = ov.shared_counts(r, hist_w) if d.shared else ov.own_counts(r, hist_w)
                t.append("  " + sparkline(counts, hist_w), style("overview--hist"))
            out.append(t)
        out.append(Text(""))
        scale = f"bars: std on one scale, full = {num(ov.std_scale)}"
        if hist_w and ov.lo is not None:
            scale += (f" · histograms over {num(ov.lo)} … {num(ov.hi)}" if d.shared
                      else " · each histogram over its own range")
        notes = [scale, "x: shared/own histogram axis · a: " +
                 ("all nodes" if d.activations_only else "only nodes without parameters") +
                 " · upd/w: last update / weights of its largest parameter"]
        present = [f for f in FLAGS if any(f in r.flags for r in ov.rows)]
        if present:
            notes.append("  ".join(f"{FLAGS[f][0]} {FLAGS[f][1].split(':')[0]}" for f in present)
                         + " (thresholds: ? or docs/debugger.md)")
        import textwrap
        for note in notes:
            out += [Text(line, style="dim") for line in textwrap.wrap(note, width)]
        return out

