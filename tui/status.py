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
        self._draw()

    def on_resize(self) -> None:
        super().on_resize()
        self._draw()

    def _draw(self) -> None:
        """The groups that fit the width, in order of importance (never one cut in the middle)."""
        s = self.state
        bold, dim = "bold", "dim"
        state = "finished" if s.finished else (f"running: {s.running}" if s.running else "paused")
        groups = [  # (priority: lower is kept longer, parts)
            (0, [(f" {state} ", "reverse bold"), (" ", "")]),
            (0, [("iter ", dim), (str(s.iteration + 1), bold)]),
            (2, [(" · epoch ", dim), (f"{s.epoch + 1}/{s.epochs}", bold)]),
            (4, [(" · batch ", dim), (f"{s.batch + 1}/{s.batches}" if s.batch is not None else "–", bold)]),
            (1, [(" │ ", dim), (s.phase or "not started", bold), (f" {s.node}" if s.node else "", "")]),
            (5, [(" │ ", dim), ("mode ", dim), (s.mode, bold)]),
            (1, [(" │ ", dim), ("loss ", dim), (num(s.loss), bold)]),
            (3, [(" │ ", dim), ("lr ", dim), (num(s.lr), bold)]),
            (6, [(" │ ", dim), (str(s.breakpoints), bold),
                 (" breakpoint" + ("" if s.breakpoints == 1 else "s"), dim)]),
        ]
        if s.kept:
            groups.append((7, [(" │ ", dim), ("saved ", dim), (f"{s.kept[0] + 1}–{s.kept[1] + 1}", bold)]))
        width = self.content_size.width or 200
        shown = list(groups)
        while len(shown) > 2 and sum(len(p) for _, parts in shown for p, _ in parts) > width:
            worst = max(range(len(shown)), key=lambda i: (shown[i][0], i))
            shown.pop(worst)
        self.show(Text.assemble(*(p for _, parts in shown for p in parts), no_wrap=True))


MAX_LINES = 3


class MessageLine(Lines):
    """One line: the last thing that happened; red for a NaN/Inf or a stuck run."""

    message: reactive[tuple[str, bool]] = reactive(lambda: ("", False), repaint=False)

    IDLE = "n: one node · i: to the end of the iteration · c: continue · b: breakpoint · ?: every key"

    def on_mount(self) -> None:
        self.watch_message(self.message)

    def watch_message(self, value: tuple[str, bool]) -> None:
        text, alarm = value
        self.set_class(alarm, "-alarm")
        width = self.content_size.width or 200
        if not text:
            self.styles.height = 1
            self.show(Text(self.IDLE if len(self.IDLE) <= width else "n · i · c · b · ? every key", style="dim"))
            return
        import textwrap
        lines = textwrap.wrap(text, width)[:MAX_LINES] or [""]
        self.styles.height = len(lines)  # a long message (a NaN's place) takes up to 3 lines
        self.show([Text(line, no_wrap=True) for line in lines])

    def on_resize(self) -> None:
        super().on_resize()
        self.watch_message(self.message)
