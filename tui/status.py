"""The status bar (where the run is) and the message line (what just happened).

Attributes down: the app sets `StatusBar.state` and `MessageLine.message`.
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from .fmt import num
from .lines import Lines


@dataclass(frozen=True)
class StatusState:
    iteration: int = 0
    epoch: int = 0
    epochs: int = 0
    batch: int | None = None
    batches: int = 0
    phase: str | None = None
    node: str | None = None
    mode: str = "train"
    loss: float | None = None
    lr: float | None = None
    running: str | None = None     # what a run is doing ('continue', 'iteration', ...), None if paused
    breakpoints: int = 0
    kept: tuple[int, int] | None = None
    finished: bool = False


class StatusBar(Lines):
    """iteration · epoch · batch · phase · node · mode · loss · lr · run state · breakpoints · kept."""

    state: reactive[StatusState] = reactive(StatusState, repaint=False)

    def watch_state(self, s: StatusState) -> None:
        bold, dim, sep = "bold", "dim", (" │ ", "dim")
        state = "finished" if s.finished else (f"running: {s.running}" if s.running else "paused")
        parts = [(f" {state} ", "reverse bold"), " ",
                 ("iter ", dim), (str(s.iteration + 1), bold), (" · epoch ", dim), (f"{s.epoch + 1}/{s.epochs}", bold),
                 (" · batch ", dim), (f"{s.batch + 1}/{s.batches}" if s.batch is not None else "–", bold), sep,
                 (s.phase or "not started", bold), (f" {s.node}" if s.node else "", ""), sep,
                 ("mode ", dim), (s.mode, bold), sep,
                 ("loss ", dim), (num(s.loss), bold), sep, ("lr ", dim), (num(s.lr), bold), sep,
                 (str(s.breakpoints), bold), (" breakpoint" + ("" if s.breakpoints == 1 else "s"), dim)]
        if s.kept:
            parts += [sep, ("saved ", dim), (f"{s.kept[0] + 1}–{s.kept[1] + 1}", bold)]
        self.show(Text.assemble(*parts, no_wrap=True))


class MessageLine(Lines):
    """One line: the last thing that happened; red for a NaN/Inf or a stuck run."""

    message: reactive[tuple[str, bool]] = reactive(lambda: ("", False), repaint=False)

    IDLE = "n: one node · i: to the end of the iteration · c: continue · b: breakpoint · ?: every key"

    def on_mount(self) -> None:
        self.watch_message(self.message)

    def watch_message(self, value: tuple[str, bool]) -> None:
        text, alarm = value
        self.set_class(alarm, "-alarm")
        self.show(Text(text, no_wrap=True) if text else Text(self.IDLE, style="dim"))
