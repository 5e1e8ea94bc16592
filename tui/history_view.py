"""A node over the iterations, from the stepper's history: the mean of its activations inside the
band from their 15th to their 85th percentile (the course's batch-norm figure), and the norm of
the gradient at its output underneath; for a node with exact zeros (a ReLU), the fraction of
zeros too, where dying units show as a climb towards 100%.

Attributes down: the app sets `history` (node name, tuple of HistoryPoint).
"""
from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive


from .fmt import num, pct
from .lines import Lines
from .plot import Band, Series, line_plot
from .session import LOSS_ROW, UPDATE_ROW


class HistoryView(Lines):
    """Two plots of one node's HistoryPoints, newest last."""

    COMPONENT_CLASSES = {"history--mean", "history--band", "history--grad"}
    history: reactive[tuple] = reactive(lambda: (None, ()), always_update=True, repaint=False)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._key = None

    def watch_history(self, value: tuple) -> None:
        node, points = value
        key = (node, len(points), points[-1] if points else None)
        if key != self._key:
            self._key = key
            self._draw()

    def on_resize(self) -> None:
        super().on_resize()
        self._draw()

    def _draw(self) -> None:
        self.show(self._lines_for(*self.history))

    def _lines_for(self, node, points) -> list[Text]:
        if node in (None, LOSS_ROW, UPDATE_ROW):
            return [Text("select a node to see its history", style="dim")]
        if not points:
            return [Text(f"{node}: no history yet; a point is recorded at each backward pass "
                         "(press i to run an iteration)", style="dim")]
        w, h = self.content_size.width, self.content_size.height
        style = lambda name: self.get_component_rich_style(name, partial=name != "history--band")  # noqa: E731
        xs = [p.iteration + 1 for p in points]
        last = points[-1]
        import textwrap
        summary = (f"{node} over {len(points)} iterations · newest: mean {num(last.mean, last.std)}, "
                   f"15th–85th percentile {num(last.p15)} … {num(last.p85)}, zero {pct(last.zero_frac)}")
        heads = [Text(line, style="bold" if i == 0 else "") for i, line in enumerate(textwrap.wrap(summary, max(w, 20))[:2])]
        h -= len(heads) - 1
        grads = [p.grad_norm for p in points]
        has_grad = any(g is not None for g in grads)
        has_zeros = any(p.zero_frac > 0 for p in points)
        grad_h = max(4, (h - 3) // 3) if has_grad else 0
        zero_h = max(4, (h - 3) // 4) if has_zeros else 0
        mean_h = max(h - 3 - grad_h - zero_h - (1 if has_zeros else 0), 3)
        mean = line_plot(w, mean_h, [Series(xs, [p.mean for p in points], style("history--mean"))],
                         band=Band(xs, [p.p15 for p in points], [p.p85 for p in points], style("history--band")))
        legend = "activations: mean ━ inside the 15th–85th percentile band ░" if w >= 60 else "mean ━, 15–85% band ░"
        parts = [*heads, Text(legend, style="dim"),
                 *mean.split("\n")]
        if has_grad:
            grad = line_plot(w, grad_h, [Series(xs, [g if g is not None else float("nan") for g in grads],
                                                style("history--grad"))])
            parts += [Text("norm of the gradient at the output" if w >= 40 else "gradient norm", style="dim"),
                      *grad.split("\n")]
        if has_zeros:
            zeros = line_plot(w, zero_h, [Series(xs, [p.zero_frac for p in points], style("history--grad"))])
            parts += [Text("fraction of exact zeros (dead ReLUs climb towards 1)" if w >= 55 else "fraction of zeros",
                           style="dim"),
                      *zeros.split("\n")]
        return parts
