"""The help screen (every key, from the one table in keys.py) and the breakpoint editor."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..runtime.overview import FLAGS
from .keys import MOVE_KEYS, help_rows

LEGEND = (("▼ / ▲", "the current node, in its forward (▼) or backward (▲) pass"),
          ("▶", "the loss, or the parameter update"),
          ("●  ◆", "a breakpoint on the node; a conditional breakpoint that applies to it"),
          ("faint", "nodes not reached yet in this iteration"),
          *((symbol, text) for symbol, text in FLAGS.values()))


class HelpBox(VerticalScroll):
    """The help's scrolled box: its bottom border says when more is below (a thin scrollbar alone
    does not read as one)."""

    def on_resize(self) -> None:
        self.call_after_refresh(self._mark)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._mark()

    def _mark(self) -> None:
        more = self.scroll_y < self.max_scroll_y
        self.border_subtitle = "↓ more below: scroll (↓ pgdn) · esc closes" if more else "esc closes"


class HelpScreen(ModalScreen[None]):
    """The keys and what the marks mean; any of esc, q, ? closes it."""

    BINDINGS = [("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for shown, text in help_rows():
            keys.add_row(shown, text)
        for shown, text in MOVE_KEYS:
            keys.add_row(shown, text)
        marks = Table.grid(padding=(0, 2))
        marks.add_column(style="bold", no_wrap=True)
        marks.add_column()
        for shown, text in LEGEND:
            marks.add_row(shown, text)
        with HelpBox(id="help-box") as box:
            box.border_title = "netc debug: keys"
            box.border_subtitle = "esc closes"
            yield Static(Text("Training, one node at a time: each node's forward pass from the input "
                              "down, the loss, each node's backward pass back up, then the update of "
                              "the parameters. That is one iteration.\n"), id="help-intro")
            yield Static(keys, id="help-keys")
            yield Static(Text("\nmarks in the graph", style="bold"))
            yield Static(marks)

    def action_dismiss(self) -> None:
        self.dismiss(None)


class BreakpointScreen(ModalScreen[str | None]):
    """An input for `NODE` or `NODE:STAT OP NUMBER`; checked on enter against the node names.
    Dismisses with the text (the app adds it, or removes it if it is already set), or None."""

    BINDINGS = [("escape", "cancel", "cancel")]

    def __init__(self, nodes: list[str], current: list[str]) -> None:
        super().__init__()
        self.nodes, self.current = nodes, current

    def compose(self) -> ComposeResult:
        from netc.runtime.breakpoints import BACKWARD_STATS, FORWARD_STATS
        with Vertical(id="break-box") as box:
            box.border_title = "breakpoint"
            box.border_subtitle = "enter adds · an existing one removes it · esc cancels"
            yield Static(Text.assemble(
                "NODE or NODE:CONDITION, e.g. ", ("dense1:grad_norm>10", "bold"), ", ",
                ("hidden1.relu1:zero_frac>0.9", "bold"), ", ", ("*:var<1e-8", "bold"),
                f"\nforward statistics: {', '.join(FORWARD_STATS)}"
                f"\nbackward statistics: {', '.join(BACKWARD_STATS)}"))
            yield Input(placeholder="node:condition", id="break-input")
            yield Static("", id="break-error")
            listed = ", ".join(self.current) if self.current else "none"
            yield Static(Text(f"set: {listed}", style="dim"), id="break-list")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from netc.runtime.breakpoints import BreakpointError, parse_breakpoint
        text = event.value.strip()
        if not text:
            self.dismiss(None)
            return
        try:
            parse_breakpoint(text, self.nodes)
        except BreakpointError as e:
            self.query_one("#break-error", Static).update(Text(str(e), style="bold red"))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
