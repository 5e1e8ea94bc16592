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

from .fmt import num, short
from .layout import shorten_names
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
        width = self.room()
        rows, names, gap = self._fit(c, width)
        out = [Text(line, style="bold") for line in
               textwrap.wrap(f"training vs evaluation mode, batch of iteration {c.iteration + 1}", width)]
        out += [Text(""), *(Text(line, style="dim") for line in self._head(rows, names, gap))]
        for m, name, cells in zip(c.rows, names, rows):
            line = (" " * gap).join(cells)
            out.append(Text.assemble(("≠ " if m.differs else "= ", "bold" if m.differs else "dim"),
                                     (name + " " * gap + line, "bold" if m.mode_dependent else ("" if m.differs else "dim"))))
        note = ("≠: the outputs differ between the modes (same batch, same dropout masks). Bold: ops that "
                "act differently in evaluation (batch norm, dropout); the nodes after them differ through "
                "their inputs.")
        if len(rows[0]) == 2:
            note += " The means are left out at this width: a wider terminal shows them."
        return out + [Text("")] + [Text(line, style="dim") for line in textwrap.wrap(note, max(width, 20))]

    def _fit(self, c, width: int) -> tuple[list[list[str]], list[str], int]:
        """The number cells (right-aligned, in pairs: train, eval), the node names (padded) and the
        gap between columns that fit `width`, the first that does of: 4-significant-digit numbers
        (fmt.num), 3 (fmt.short), one space between the columns, the names shortened but told
        apart (layout.shorten_names, down to 12 cells), the means left out (std tells batch norm's
        and dropout's story alone). A number is never cut."""
        nodes = [m.node for m in c.rows]
        full = max(len(n) for n in nodes)
        tries = [(num, ("mean", "std"), 2, full), (short, ("mean", "std"), 2, full),
                 (short, ("mean", "std"), 1, full), (short, ("mean", "std"), 1, 12),
                 (short, ("std",), 1, full), (short, ("std",), 1, 1)]
        for k, (fmt, pairs, gap, least) in enumerate(tries):
            cols = [[fmt(getattr(getattr(m, mode), stat)) for m in c.rows]
                    for stat in pairs for mode in ("train", "eval")]
            widths = [max(len("train"), *(len(x) for x in col)) for col in cols]
            numbers = sum(widths) + gap * len(widths)
            name_w = min(full, width - 2 - numbers)
            if name_w >= min(least, full) or k == len(tries) - 1:
                name_w = max(name_w, 4)
                names = [n.ljust(name_w) for n in shorten_names(nodes, name_w)]
                rows = [[col[i].rjust(w) for col, w in zip(cols, widths)] for i in range(len(nodes))]
                return rows, names, gap
        raise AssertionError("unreachable: the last try always fits")

    @staticmethod
    def _head(rows: list[list[str]], names: list[str], gap: int) -> list[str]:
        """Two header lines: each statistic over its pair of columns, then node, train, eval..."""
        widths, sp = [len(x) for x in rows[0]], " " * gap
        stats = ("mean", "std") if len(widths) == 4 else ("std",)
        top, bottom = " " * (2 + len(names[0])), "  " + "node".ljust(len(names[0]))
        for k, stat in enumerate(stats):
            a, b = widths[2 * k], widths[2 * k + 1]
            top += sp + stat.center(a + gap + b)
            bottom += sp + "train".rjust(a) + sp + "eval".rjust(b)
        return [top.rstrip(), bottom]
