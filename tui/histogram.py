"""A histogram drawn with block characters: the runtime's bin counts as bars, its range underneath."""
from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from .lines import Lines
from .plot import axis, bars


class HistogramView(Lines):
    """Shows `hist` (a runtime Histogram: counts and edges), or `empty` when there is none."""

    COMPONENT_CLASSES = {"histogram--bar"}
    hist = reactive(None, always_update=True, repaint=False)
    empty = reactive("no values yet", repaint=False)

    def watch_hist(self) -> None:
        self._draw()

    def watch_empty(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        super().on_resize()
        self._draw()

    def _draw(self) -> None:
        h = self.hist
        width, height = self.content_size.width, self.content_size.height
        if h is None or not h.counts:
            import textwrap
            self.show([Text(line, style="dim") for line in textwrap.wrap(self.empty, max(width, 8))])
            return
        style = self.get_component_rich_style("histogram--bar", partial=True)
        rows = bars(h.counts, width, max(height - 1, 1), style)
        self.show(rows + [axis(h.edges[0], h.edges[-1], width)])
