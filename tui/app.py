"""`netc debug`: the Textual app. It lays the widgets out, turns keys into Session calls, steps in a
timer (so `continue` never freezes the screen), runs the slow checks in worker threads, and hands
each widget what it shows. Layout and colours are in debugger.tcss.
"""
from __future__ import annotations

import gc
import time

from textual import events
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from .actions import Actions
from .check_view import CheckView
from .history_view import HistoryView
from .keys import bindings
from .layout import PANES, SIZE_CLASSES, size_class, too_small
from .loss_view import LossData, LossView
from .modes_view import ModesView
from .node_stats import NodeView, StatsView
from .nodes import GraphState, NodeList
from .overview_view import OverviewData, OverviewView
from .panes import KeyFooter, TabBar, TooSmall, WarningsView
from .session import Session, Stopped
from .source_view import SourceFocus, SourceView
from .status import MessageLine, StatusBar, StatusState


VIEW_TITLES = {"stats": "selected node", "history": "history", "modes": "compare modes",
               "check": "gradient check", "overview": "all layers", "warnings": "lint warnings"}
# every view but the node's says, in its title, how to get back to the node and to pick one: the
# init_* files open on the overview, and nothing else on screen says it at 80 columns
BACK_HINT = " · s node view · ↑↓ select"
TAB_NAMES = {"stats": "node", "history": "history", "modes": "modes", "check": "grad check",
             "overview": "all layers", "warnings": "warnings"}


class DebuggerScreen(Screen):
    """The main screen: it tells the app its size, which picks the layout (layout.py)."""

    def on_resize(self, event: events.Resize) -> None:
        self.app.fit(event.size.width, event.size.height)


class DebuggerApp(Actions, App):
    """Steps a Session and shows it; `tick` is the run timer's period, `budget` the stepping time
    per tick (the rest of the tick is left for repainting and keys)."""

    CSS_PATH = "debugger.tcss"
    TITLE = "netc debug"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = bindings()

    def __init__(self, session: Session, tick: float = 0.05, budget: float = 0.035,
                 settle_gc: bool = False, overview: bool = False) -> None:
        super().__init__()
        self.session = session
        self.settle_gc = settle_gc
        self.tick, self.budget = tick, budget
        self.selected: str | None = None    # a row the user picked; None: follow the run
        self.running: str | None = None     # the kind of run in progress (see Session.stop_reason)
        self.more_iterations = 0            # `i` pressed again while an iteration runs: go on
        self.busy: str | None = None        # a check running in a worker thread
        self.view = "overview" if overview else "stats"
        self.pane = "detail"                # the panel beside the graph in the tabbed layout
        self.size_class = "wide"
        self.shared_axis, self.activations_only = True, False
        self._batches: dict[int, int] = {}

    def get_default_screen(self) -> Screen:
        return DebuggerScreen(id="_default")

    def compose(self) -> ComposeResult:
        s = self.session
        ops = [self._op_hint(st) for st in s.steps] + ["", ""]
        yield TooSmall(id="too-small")
        yield TabBar(id="tabs")
        with Horizontal(id="main"):
            yield NodeList(s.rows, ops, id="graph")
            with Vertical(id="center"):
                with ContentSwitcher(initial=self.view, id="detail"):
                    yield StatsView(id="stats")
                    yield OverviewView(id="overview")
                    yield HistoryView(id="history")
                    yield ModesView(id="modes")
                    yield CheckView(id="check")
                    yield WarningsView(id="warnings")
                yield LossView(id="loss")
            yield SourceView(s.net.source.text, id="source")
        yield MessageLine(id="message")
        yield StatusBar(id="status")
        yield KeyFooter()

    @staticmethod
    def _op_hint(step) -> str:
        """The op after the name, unless the name already says it (dense1, hidden1.relu1)."""
        return "" if step.name.rpartition(".")[2].startswith(step.op) else step.op

    def on_mount(self) -> None:
        s = self.session
        self.query_one("#graph").border_title = "graph"
        self.query_one("#graph").border_subtitle = "▼fwd ▲bwd ●break"
        self.query_one("#detail").border_title = self.detail_title(self.view)
        self.query_one("#source").border_title = s.net.source.name
        self.query_one(WarningsView).warnings = tuple(w.render(s.net.source) for w in s.net.warnings)
        self.timer = self.set_interval(self.tick, self._tick, pause=True)
        self.query_one(NodeList).focus()
        hint = "n steps one node, i one iteration, c continues; o all layers; ? every key"
        n = len(s.net.warnings)
        warn = f" · {n} lint warning{'s' if n != 1 else ''}: w shows {'them' if n != 1 else 'it'}" if n else ""
        self.say(hint + warn)
        self.set_pane(self.pane)
        self.repaint()
        if self.settle_gc:
            self.set_timer(0.3, self._settle)

    def _settle(self) -> None:
        """Move everything built at start-up out of the garbage collector's way.

        NOTE: a full collection over the start-up heap (the compiler's, Textual's) takes 100-200 ms,
        a visible stall in the middle of stepping; frozen objects are not scanned again."""
        gc.collect()
        gc.freeze()

    # --- what the widgets show -----------------------------------------------------------------

    def say(self, text: str, alarm: bool = False) -> None:
        self.query_one(MessageLine).message = (text, alarm)

    def current_row(self) -> str | None:
        snap = self.session.snapshot
        return self.session.row_of(snap) if snap is not None else None

    def selected_row(self) -> str:
        return self.selected or self.current_row() or self.session.rows[0]

    # --- layout --------------------------------------------------------------------------------

    def fit(self, width: int, height: int) -> None:
        """Pick the layout for a terminal of width x height (called on every resize)."""
        cls = size_class(width, height)
        self.size_class = cls
        for name in SIZE_CLASSES:
            self.screen.set_class(name == cls, f"-{name}")
        self.query_one(TooSmall).text = too_small(width, height) if cls == "tiny" else ""

    def set_pane(self, pane: str) -> None:
        """Show `pane` ('detail', 'source' or 'loss') beside the graph in the tabbed layout."""
        self.pane = pane
        for name in PANES:
            self.screen.set_class(name == pane, f"-pane-{name}")
        self.query_one(TabBar).state = (pane, TAB_NAMES[self.view])

    def on_tab_bar_chosen(self, message: TabBar.Chosen) -> None:
        self.set_pane(message.pane)
        self.repaint()

    def repaint(self) -> None:
        """Hand every widget its part of the session's state."""
        s, snap = self.session, self.session.snapshot
        current, row = self.current_row(), self.selected_row()
        ov = s.overview()
        flags = tuple(r.flags for r in ov.rows)
        self.query_one(NodeList).state = GraphState(current, snap and snap.phase, snap and snap.index,
                                                    tuple(s.marks(n) for n in s.names), row, flags)
        if self.view == "overview":
            shown = s.overview(self.activations_only) if self.activations_only else ov
            self.query_one(OverviewView).data = OverviewData(shown, self.shared_axis, self.activations_only,
                                                             snap.iteration if snap else None)
        elif self.view == "stats":
            self.query_one(StatsView).view = NodeView(row, s.step_of(row), s.latest.get(row), s.last_update,
                                                      row == current, self.selected is None)
        elif self.view == "history":
            self.query_one(HistoryView).history = (row, tuple(s.stepper.history.get(row, ())))
        span, calls = s.span_of(current) if current else (None, ())
        self.query_one(SourceView).focus = SourceFocus(span, calls, s.span_of(row)[0] if row != current else None,
                                                       bool(snap and snap.nonfinite))
        self.query_one(LossView).data = LossData(s.stepper.loss_curve(), tuple(s.trainer.position.history),
                                                 s.trainer.classification, self._per_epoch())
        self.query_one(StatusBar).state = self._status()

    def _status(self) -> StatusState:
        s, snap = self.session, self.session.snapshot
        pos = s.trainer.position
        epoch = snap.epoch if snap else pos.epoch
        if epoch not in self._batches:
            self._batches[epoch] = s.batches_per_epoch(epoch)
        losses = s.stepper.losses
        kept = s.stepper.saved_iterations()
        return StatusState(s.iteration, epoch, s.trainer.settings.epochs, snap.batch if snap else None,
                           self._batches[epoch], snap.phase if snap else None,
                           snap.node if snap else None, "train vs eval" if self.view == "modes" else "train",
                           losses[-1][1] if losses else None, snap.lr if snap else s.trainer.current_lr(),
                           self.running, len(s.breakpoints), (kept[0], kept[-1]) if kept else None, s.finished)

    def _per_epoch(self) -> int:
        if 0 not in self._batches:
            self._batches[0] = self.session.batches_per_epoch(0)
        return self._batches[0]

    @staticmethod
    def detail_title(view: str) -> str:
        """The detail panel's title: what it shows, and for every view but the node's, the keys
        back to the node (s) and to another node (↑↓)."""
        return VIEW_TITLES[view] + ("" if view == "stats" else BACK_HINT)

    def show(self, view: str) -> None:
        self.view = view
        self.query_one(ContentSwitcher).current = view
        self.query_one("#detail").border_title = self.detail_title(view)
        self.set_pane("detail")
        self.repaint()

    # --- running -------------------------------------------------------------------------------

    def _blocked(self) -> bool:
        if self.busy:
            self.notify(f"wait: the {self.busy} is running", severity="warning")
            return True
        return False

    def start(self, kind: str) -> None:
        """Begin a run of `kind`: 'node' at once, the others in the timer."""
        if kind == "iteration" and self.running == "iteration":
            self.more_iterations += 1  # each press is one more iteration, not a restart
            return
        self.more_iterations = 0
        if self._blocked():
            return
        self.pause()
        if self.session.stuck or self.session.finished:
            why = Stopped("stuck", self.session.stuck_message()) if self.session.stuck else \
                Stopped("finished", self.session.end_message())
            self.say(why.message, why.alarm)
            return
        self.say("")
        if kind == "node":
            self._stopped(self.session.stop_reason("node", self.session.step()))
            self.repaint()
            return
        self.running = kind
        self.timer.resume()
        self.repaint()

    def pause(self) -> None:
        self.running = None
        self.timer.pause()

    def _tick(self) -> None:
        kind, why = self.running, None
        if kind is None:
            return
        deadline = time.perf_counter() + self.budget
        while why is None and time.perf_counter() < deadline:
            why = self.session.stop_reason(kind, self.session.step())
            if why is not None and why.kind == "done" and kind == "iteration" and self.more_iterations:
                self.more_iterations -= 1
                why = None
        if why is not None:
            self.pause()
            self._stopped(why)
        self.repaint()

    def _stopped(self, why: Stopped | None) -> None:
        if why is None or why.kind == "done":
            return
        self.pause()
        if why.kind in ("breakpoint", "nonfinite", "stuck"):
            self.selected = None  # show the node it stopped at
        self.say(why.message, why.alarm)
