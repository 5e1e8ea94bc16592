"""The gradient check of the selected node: its analytic backward against central differences in
float64 on the current batch, as the runtime's Stepper.check_node reports it (the worst relative
error per input and per parameter).

Attributes down: the app sets `result` (a CheckResult).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from .fmt import num
from .lines import ScrollLines

# The bounds runtime/gradcheck.py gives: below ~1e-6 the analytic gradient is right.
GOOD, DOUBTFUL = 1e-6, 1e-3


@dataclass(frozen=True)
class CheckResult:
    """`errors`: {'x0': rel_err, 'W': rel_err, ...} for `node` at `iteration`."""

    node: str | None = None
    errors: dict | None = None
    iteration: int = 0
    running: bool = False
    error: str | None = None


def _what(key: str) -> str:
    if key.startswith("x") and key[1:].isdigit():
        return "input" if key == "x0" else f"input {int(key[1:]) + 1}"
    return f"parameter {key}"


def verdict(err: float) -> tuple[str, str]:
    """The word and style for one relative error."""
    if err != err or err > DOUBTFUL:
        return "✗ differs", "bold red"
    if err > GOOD:
        return "~ close", "yellow"
    return "✓ agrees", "green"


class CheckView(ScrollLines):
    """One row per checked gradient: what, relative error, verdict."""

    result: reactive[CheckResult] = reactive(CheckResult, always_update=True, repaint=False)

    def on_resize(self) -> None:
        super().on_resize()
        self.watch_result(self.result)

    def watch_result(self, r: CheckResult) -> None:
        if r.running:
            self.show([Text(f"checking {r.node}: central differences in float64 on the current batch…",
                            style="dim")])
        elif r.error:
            self.show([Text(r.error, style="bold red")])
        elif r.errors is None:
            self.show([Text("press g to check the selected node's backward pass against finite differences",
                            style="dim")])
        else:
            self.show(self._rows(r))

    def _rows(self, r: CheckResult) -> list[Text]:
        out = [Text(f"gradient check of {r.node} (iteration {r.iteration + 1})", style="bold"), Text(""),
               Text(f"{'gradient of the loss w.r.t.':<30}{'relative error':>15}", style="dim")]
        for key, err in r.errors.items():
            word, style = verdict(err)
            out.append(Text.assemble(f"{_what(key):<30}{num(err):>15}   ", (word, style)))
        if not r.errors:
            out.append(Text("nothing to check: the node has no input gradient and no parameters", style="dim"))
        note = ("relative error = max|analytic − numeric| / max(|analytic|, |numeric|), central differences "
                f"in float64 on up to 16 examples of the current batch. Below {GOOD:g} the backward pass is "
                f"right; above {DOUBTFUL:g} it is wrong.")
        width = max(self.scrollable_content_region.width, 40)
        return out + [Text("")] + [Text(line, style="dim") for line in textwrap.wrap(note, width)]
