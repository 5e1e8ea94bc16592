"""The loss per iteration, raw (faint) and as a moving average (bright), as a braille line plot.

Attributes down: the app sets `curve`, the stepper's LossCurve (the average is the runtime's).
"""
from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from .fmt import num
from .lines import Lines
from .plot import Series, line_plot


class LossView(Lines):
    """A plot of the loss over the iterations, with the newest raw and averaged values in the title."""

    COMPONENT_CLASSES = {"loss--raw", "loss--average"}
    curve = reactive(None, always_update=True, repaint=False)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._shown = None

    def watch_curve(self, curve) -> None:
        if curve is None or curve is self._shown:
            return
        self._shown = curve
        self.border_title = f"loss per iteration: raw ⠒ and moving average over {curve.window} ━"
        self.border_subtitle = (f"iteration {curve.iterations[-1] + 1}: {num(curve.raw[-1])} · average "
                                f"{num(curve.average[-1])}" if curve.raw else "")
        self._draw()

    def on_resize(self) -> None:
        super().on_resize()
        self._draw()

    def _draw(self) -> None:
        curve = self.curve
        if curve is None or not curve.raw:
            self.show(Text("the loss appears after the first forward pass (press n, i or c)", style="dim"))
            return
        xs = [i + 1 for i in curve.iterations]
        raw = self.get_component_rich_style("loss--raw", partial=True)
        avg = self.get_component_rich_style("loss--average", partial=True)
        self.show(line_plot(self.content_size.width, self.content_size.height,
                            [Series(xs, list(curve.raw), raw), Series(xs, list(curve.average), avg)]).split("\n"))
