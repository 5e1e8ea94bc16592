"""The graph's nodes in execution order, then the loss and the update: where the run is (and in
which phase), which nodes have breakpoints, and which one is selected.

Attributes down: the app sets `state`. Messages up: moving the selection (keys or a click) posts
`NodeList.Picked`.
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive

from ..runtime.overview import FLAGS
from .layout import ellipsize
from .lines import ScrollLines
from .session import LOSS_ROW, UPDATE_ROW

PHASE_MARK = {"forward": "▼", "backward": "▲", "loss": "▶", "update": "▶"}
PHASE_WORD = {"forward": "fwd", "backward": "bwd", "loss": "", "update": ""}


@dataclass(frozen=True)
class GraphState:
    """What the list shows: the current row and phase, breakpoint marks, the selected row."""

    current: str | None = None
    phase: str | None = None
    current_index: int | None = None
    marks: tuple[tuple[bool, bool], ...] = ()   # per node: (plain breakpoint, conditional breakpoint)
    selected: str | None = None
    flags: tuple[tuple[str, ...], ...] = ()     # per node: the runtime's flags (runtime/overview.py)


class NodeList(ScrollLines, can_focus=True):
    """One row per node (name, and the op when the name does not say it), then loss and update."""

    COMPONENT_CLASSES = {"nodes--forward", "nodes--backward", "nodes--step", "nodes--pending",
                         "nodes--break", "nodes--cond", "nodes--op", "nodes--cursor", "nodes--flag",
                         "nodes--legend"}
    BINDINGS = [Binding("up,k", "move(-1)", show=False), Binding("down,j", "move(1)", show=False),
                Binding("home", "move(-1000000)", show=False), Binding("end", "move(1000000)", show=False),
                Binding("pageup", "page(-1)", show=False), Binding("pagedown", "page(1)", show=False)]
    state: reactive[GraphState] = reactive(GraphState, always_update=True, repaint=False)

    class Picked(Message):
        """The user moved the selection to `row`."""

        def __init__(self, row: str) -> None:
            super().__init__()
            self.row = row

    def __init__(self, rows: list[str], ops: list[str], **kw) -> None:
        super().__init__(**kw)
        self.rows, self.ops = rows, ops
        self.cursor = 0

    def on_mount(self) -> None:
        self._draw(self.state)

    def watch_state(self, state: GraphState) -> None:
        if state.selected in self.rows:
            self.cursor = self.rows.index(state.selected)
        if self.is_mounted:
            self._draw(state)
            self.scroll_to_region(self._row_region(self.cursor), animate=False)

    def on_resize(self) -> None:
        super().on_resize()
        self._draw(self.state)   # names are fitted to the width

    def on_focus(self) -> None:
        self._draw(self.state)

    def on_blur(self) -> None:
        self._draw(self.state)

    # --- moving the selection --------------------------------------------------------------------

    def action_move(self, by: int) -> None:
        self._pick(min(max(self.cursor + by, 0), len(self.rows) - 1))

    def action_page(self, pages: int) -> None:
        self.action_move(pages * max(self.scrollable_content_region.height - 1, 1))

    def on_click(self, event: events.Click) -> None:
        row = event.y + self.scroll_offset.y
        if 0 <= row < len(self.rows):
            self._pick(row)

    def _pick(self, i: int) -> None:
        self.cursor = i
        self.post_message(self.Picked(self.rows[i]))

    def _row_region(self, i: int):
        from textual.geometry import Region
        return Region(0, i, 1, 1)

    # --- drawing -------------------------------------------------------------------------------

    def _draw(self, s: GraphState) -> None:
        style = {name: self.get_component_rich_style(name, partial=True) for name in self.COMPONENT_CLASSES}
        width = max(self.scrollable_content_region.width, 1)
        lines = [self._label(i, s, style, width) for i in range(len(self.rows))]
        present = [f for f in FLAGS if any(f in fl for fl in s.flags)]
        if present:  # the legend of the flags on screen, under the nodes
            lines.append(Text(""))
            lines += [Text(f"{FLAGS[f][0]} {FLAGS[f][1].split(':')[0]}", style["nodes--legend"], no_wrap=True)
                      for f in present]
        self.show(lines, width)

    def _label(self, i: int, s: GraphState, style: dict, width: int) -> Text:
        row = self.rows[i]
        plain, cond = s.marks[i] if i < len(s.marks) else (False, False)
        t = Text(no_wrap=True)
        t.append("●" if plain else ("◆" if cond else " "), style["nodes--break" if plain else "nodes--cond"])
        current = row == s.current
        phase = style["nodes--backward" if s.phase == "backward" else
                      "nodes--step" if s.phase in ("loss", "update") else "nodes--forward"]
        t.append(PHASE_MARK.get(s.phase, " ") if current else " ", phase if current else "")
        flags = s.flags[i] if i < len(s.flags) else ()
        t.append(FLAGS[flags[0]][0] if flags else " ", style["nodes--flag"])
        t.append(" ")
        name = ellipsize({LOSS_ROW: "loss", UPDATE_ROW: "update"}.get(row, row), max(width - 4, 4))
        t.append(name, phase if current else ("" if self._has_run(i, s) else style["nodes--pending"]))
        room = width - t.cell_len
        if current and PHASE_WORD.get(s.phase) and room > len(PHASE_WORD[s.phase]):
            t.append(f" {PHASE_WORD[s.phase]}", phase)
        elif self.ops[i] and not current and room > len(self.ops[i]):
            t.append(f" {self.ops[i]}", style["nodes--op"])
        if i == self.cursor:
            t.pad_right(max(width - t.cell_len, 0))
            t.stylize(style["nodes--cursor"])
        return t

    def _has_run(self, i: int, s: GraphState) -> bool:
        """Whether row i has run in the iteration on screen (the others are drawn faint)."""
        if s.phase is None:
            return False
        if s.phase == "forward":
            return i <= (s.current_index or 0)
        if s.phase in ("loss", "backward"):
            return i < len(self.rows) - 1
        return True
