"""The same batch through training mode and evaluation mode, side by side per node: where the
runtime's statistics differ, the row is marked; the nodes whose op acts differently in evaluation
(the op table's `mode_dependent` fact: batch or running statistics, dropping or not) are bold.

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
    """`stats`: {node: (train ActivationStats, eval ActivationStats)} from Stepper.compare_modes,
    for `iteration`; `mode_nodes`: the nodes whose op acts differently in evaluation; `running`:
    being computed; `error`: what went wrong."""

    stats: dict | None = None
    mode_nodes: frozenset = frozenset()
    iteration: int = 0
    running: bool = False
    error: str | None = None


class ModesView(ScrollLines):
    """One row per node: ≠ where the modes differ, the node, its mean and std in each mode."""

    result: reactive[ModesResult] = reactive(ModesResult, always_update=True, repaint=False)

    def watch_result(self, r: ModesResult) -> None:
        if r.running:
            self.show([Text("running the batch through both modes…", style="dim")])
        elif r.error:
            self.show([Text(r.error, style="bold red")])
        elif not r.stats:
            self.show([Text("press m to compare training and evaluation mode on the current batch", style="dim")])
        else:
            self.show(self._rows(r))

    def _rows(self, r: ModesResult) -> list[Text]:
        rows = [(node, num(tr.mean), num(ev.mean), num(tr.std), num(ev.std)) for node, (tr, ev) in r.stats.items()]
        head = ("node", "mean train", "eval", "std train", "eval")
        widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

        def cells(row) -> str:
            return " ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        out = [Text(f"training vs evaluation mode on the batch of iteration {r.iteration + 1}", style="bold"),
               Text(""), Text("  " + cells(head), style="dim")]
        for row in rows:
            differs = row[1] != row[2] or row[3] != row[4]
            mode_op = row[0] in r.mode_nodes
            out.append(Text.assemble(("≠ " if differs else "= ", "bold" if differs else "dim"),
                                     (cells(row), "bold" if mode_op else ("" if differs else "dim"))))
        note = ("Same batch, same dropout masks. ≠: the two modes print different numbers. Bold: the "
                "nodes whose op acts differently in evaluation (batch normalization, dropout); the nodes "
                "after them differ because their inputs do.")
        width = max(self.scrollable_content_region.width, 40)
        return out + [Text("")] + [Text(line, style="dim") for line in textwrap.wrap(note, width)]
