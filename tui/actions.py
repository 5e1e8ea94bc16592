"""What each key does (the table is keys.py): the DebuggerApp's actions, as a mixin so the app
module keeps to layout, repainting and the run loop."""
from __future__ import annotations

from .check_view import CheckResult, CheckView
from .modes_view import ModesResult, ModesView
from .nodes import NodeList
from .screens import BreakpointScreen, HelpScreen
from .session import LOSS_ROW, UPDATE_ROW


class Actions:
    """Key handlers of DebuggerApp (which provides session, start, pause, repaint, say, show...)."""

    # --- stepping ------------------------------------------------------------------------------

    def action_step(self) -> None:
        self.start("node")

    def action_iteration(self) -> None:
        self.start("iteration")

    def action_continue(self) -> None:
        if self.running == "continue":
            self.pause()
            self.say("paused")
            self.repaint()
        else:
            self.start("continue")

    def action_forward(self) -> None:
        self.start("next")

    def action_back(self) -> None:
        if self._blocked():
            return
        self.pause()
        problem = self.session.back()
        if problem:
            self.say(problem)
        else:
            self.session.step()  # land on the iteration's first pause, its input
            self.say(f"back at iteration {self.session.iteration + 1}: its saved state is restored, so "
                     "stepping on replays it exactly")
        self.repaint()

    def action_restart(self) -> None:
        if self._blocked():
            return
        self.pause()
        problem = self.session.restart()
        self.selected = None
        self.say(problem or "restarted: the weights, the optimizer and the data order are as at the start")
        self.repaint()

    # --- selection and breakpoints -------------------------------------------------------------

    def on_node_list_picked(self, message: NodeList.Picked) -> None:
        self.selected = message.row
        self.repaint()

    def action_follow(self) -> None:
        self.selected = None
        if self.view != "stats":
            self.show("stats")
        self.repaint()

    def _selected_node(self, what: str) -> str | None:
        row = self.selected_row()
        if row in (LOSS_ROW, UPDATE_ROW):
            self.say(f"{what} needs a node: select one with ↑ ↓")
            return None
        return row

    def action_toggle_break(self) -> None:
        node = self._selected_node("a breakpoint")
        if node is None:
            return
        on = self.session.toggle_plain(node)
        self.say(f"breakpoint {'set on' if on else 'removed from'} {node}" +
                 (": c runs to its forward pass" if on else ""))
        self.repaint()

    def action_conditional_break(self) -> None:
        current = [str(b) for b in self.session.breakpoints]
        self.push_screen(BreakpointScreen(self.session.names, current), self._breakpoint_entered)

    def _breakpoint_entered(self, text: str | None) -> None:
        if not text:
            return
        bp, added = self.session.toggle_text(text)
        self.say(f"breakpoint {bp} {'set' if added else 'removed'}" +
                 (f" (checked after the {bp.phase} pass of each matching node)" if added else ""))
        self.repaint()

    # --- views ---------------------------------------------------------------------------------

    def action_stats(self) -> None:
        self.show("stats")

    def action_history(self) -> None:
        self.show("history")

    def action_overview(self) -> None:
        self.show("overview")

    def action_shared_axis(self) -> None:
        self.shared_axis = not self.shared_axis
        self.say("overview histograms: " + ("one axis shared by every row" if self.shared_axis
                                            else "each row on its own range"))
        self.show("overview")

    def action_activations_only(self) -> None:
        self.activations_only = not self.activations_only
        self.say("overview: " + ("only the nodes without parameters (their histograms share a narrower axis)"
                                 if self.activations_only else "every node"))
        self.show("overview")

    def action_warnings(self) -> None:
        self.show("warnings")

    def action_pane(self, pane: str) -> None:
        if pane == "channels" and self.view != "stats":  # the channels are part of the node panel
            self.show("stats")
        self.set_pane(pane)
        if self.size_class != "tabbed":
            self.say("every panel is on screen (an image node's channels below its statistics): "
                     "1 2 3 4 choose one in a smaller terminal")
        self.repaint()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_modes(self) -> None:
        if self._blocked():
            return
        self.pause()
        s = self.session
        view = self.query_one(ModesView)
        view.result = ModesResult(running=True)
        self.show("modes")

        def done(result, error):
            view.result = ModesResult(result, error=error)
        self.numerics("mode comparison", s.stepper.compare_modes, done)

    def action_gradcheck(self) -> None:
        node = self._selected_node("the gradient check")
        if node is None or self._blocked():
            return
        self.pause()
        view = self.query_one(CheckView)
        iteration = self.session.iteration
        view.result = CheckResult(node, running=True, iteration=iteration)
        self.show("check")

        def done(result, error):
            view.result = CheckResult(node, result, iteration, error=error)
        self.numerics("gradient check", lambda: self.session.stepper.check_node(node), done)

    def numerics(self, what: str, work, done) -> None:
        """Run `work` in a thread (the screen stays live); then `done(result, error)` on the app's
        thread. Stepping waits until it is over (both read the model's arrays)."""
        self.busy = what

        def finish(result, error):
            self.busy = None
            done(result, error)
            self.repaint()

        def thread():
            try:
                result, error = work(), None
            except Exception as e:  # shown to the user: the check failed, the session goes on
                result, error = None, f"the {what} failed: {type(e).__name__}: {e}"
            self.call_from_thread(finish, result, error)

        self.run_worker(thread, thread=True, group="numerics", exit_on_error=False)
