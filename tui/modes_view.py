"""The same batch through training mode and evaluation mode, side by side per node, as the
runtime's Stepper.compare_modes found it: the rows whose outputs differ are marked, and the nodes
whose op acts differently in evaluation (the op table's fact) are bold.

Attributes down: the app sets `result` (a ModesResult).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from .fmt import num
from .lines import ScrollLines


@dataclass(frozen=True)
class ModesResult:
    """`comparison`: the runtime's ModeComparison (None before one is asked for); `running`: being
    computed; `error`: what went wrong."""

    comparison: object = None
    running: bool = False
    error: str | None = None


class ModesView(ScrollLines):
    """One row per node: ≠ where the modes differ, the node, its mean and std in each mode."""

    result: reactive[ModesResult] = reactive(ModesResult, always_update=True, repaint=False)

    def on_resize(self) -> None:
        super().on_resize()
        self.watch_result(self.result)

    def watch_result(self, r: ModesResult) -> None:
        if r.running:
            self.show([Text("running the batch through both modes…", style="dim")])
        elif r.error:
            self.show([Text(r.error, style="bold red")])
        elif r.comparison is None:
            self.show([Text("press m to compare training and evaluation mode on the current batch", style="dim")])
        else:
            self.show(self._rows(r))

    def _rows(self, r: ModesResult) -> list[Text]:
        c = r.comparison
        rows = [(m.node, num(m.train.mean), num(m.eval.mean), num(m.train.std), num(m.eval.std)) for m in c.rows]
        head = ("node", "mean train", "eval", "std train", "eval")
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

        def cells(row) -> str:
            return " ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        out = [Text(f"training vs evaluation mode on the batch of iteration {c.iteration + 1}", style="bold"),
               Text(""), Text("  " + cells(head), style="dim")]
        for m, row in zip(c.rows, rows):
            out.append(Text.assemble(("≠ " if m.differs else "= ", "bold" if m.differs else "dim"),
                                     (cells(row), "bold" if m.mode_dependent else ("" if m.differs else "dim"))))
        note = ("Same batch, same dropout masks. ≠: the node's outputs differ between the modes. Bold: the "
                "nodes whose op acts differently in evaluation (batch normalization, dropout); the nodes "
                "after them differ because their inputs do.")
        width = max(self.scrollable_content_region.width, 40)
        return out + [Text("")] + [Text(line, style="dim") for line in textwrap.wrap(note, width)]
