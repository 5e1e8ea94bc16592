"""The loss per iteration, raw (faint) and as a moving average (bright), as a braille line plot.

Attributes down: the app sets `losses`, the stepper's (iteration, loss) pairs.
"""
from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from ..runtime.stats import moving_average
from .fmt import num
from .lines import Lines
from .plot import Series, line_plot

WINDOW = 20


class LossView(Lines):
    """A plot of the loss over the iterations, with the newest raw and averaged values in the title."""

    COMPONENT_CLASSES = {"loss--raw", "loss--average"}
    losses: reactive[tuple] = reactive(tuple, always_update=True, repaint=False)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._key = None
        self._avg: list[float] = []

    def watch_losses(self, losses: tuple) -> None:
        key = (len(losses), losses[-1] if losses else None, losses[0] if losses else None)
        if key == self._key:
            return
        self._key = key
        self._avg = moving_average([l for _, l in losses]) if losses else []
        self.border_title = f"loss per iteration: raw ⠒ and moving average over {WINDOW} ━"
        self.border_subtitle = (f"iteration {losses[-1][0] + 1}: {num(losses[-1][1])} · average {num(self._avg[-1])}"
                                if losses else "")
        self._draw()

    def on_resize(self) -> None:
        super().on_resize()
        self._draw()

    def _draw(self) -> None:
        losses = self.losses
        if not losses:
            self.show(Text("the loss appears after the first forward pass (press n, i or c)", style="dim"))
            return
        xs = [i + 1 for i, _ in losses]
        raw = self.get_component_rich_style("loss--raw", partial=True)
        avg = self.get_component_rich_style("loss--average", partial=True)
        self.show(line_plot(self.content_size.width, self.content_size.height,
                            [Series(xs, [l for _, l in losses], raw), Series(xs, self._avg, avg)]).split("\n"))
