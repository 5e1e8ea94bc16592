"""The debugger's state apart from the screen: the stepper, the breakpoints, the newest snapshot of
every node, and why a run stopped. It imports nothing from Textual (the app drives it) and does no
numerics: every number it hands on comes from the runtime's snapshots.

    session = open_session("examples/digits.net", breaks=["dense1:grad_norm>10"])
    snap = session.step()                        # one pause of the runtime's Stepper
    why = session.stop_reason("continue", snap)  # None: keep going
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOSS_ROW, UPDATE_ROW = ":loss", ":update"   # the two pauses that belong to no node (':' is never in a name)
RUN_KINDS = ("node", "iteration", "next", "continue")


@dataclass(frozen=True)
class Stopped:
    """Why a run paused: `kind` is 'breakpoint', 'nonfinite', 'finished', 'stuck' or 'done'
    (the run reached what was asked); `message` is shown to the user."""

    kind: str
    message: str = ""

    @property
    def alarm(self) -> bool:
        return self.kind in ("nonfinite", "stuck")


class Session:
    """One debugging session over a Stepper (see runtime/stepper.py)."""

    def __init__(self, net, stepper, breakpoints=()):
        self.net = net
        self.stepper = stepper
        self.trainer = stepper.trainer
        self.model = stepper.model
        self.steps = self.model.steps
        self.names = [s.name for s in self.steps]
        self.rows = self.names + [LOSS_ROW, UPDATE_ROW]
        self.breakpoints = list(breakpoints)
        self._reset(iteration=self.trainer.position.iteration)

    def _reset(self, iteration: int) -> None:
        self.snapshot = None        # the current pause (None: the iteration `pending` has not started)
        self.pending = iteration
        self.latest = {}            # row -> the newest snapshot taken there
        self.gradients = {}         # node -> the newest gradient statistics seen at its output
        self._overview = None       # (key, Overview): the last one computed
        self.last_update = None     # the newest update snapshot (it has the update ratios)
        self.stuck = False          # the loss went non-finite: this iteration cannot be finished
        self.finished = False
        self._previous_finite = True

    # --- stepping ------------------------------------------------------------------------------

    def step(self):
        """One pause forward; None (and `finished`) when the run is over."""
        if self.stuck:
            return None
        previous = self.snapshot
        with np.errstate(all="ignore"):  # a NaN is reported by the snapshot, not by a warning
            snap = self.stepper.next()
        if snap is None:
            self.finished = True
            return None
        self.snapshot = snap
        self.latest[self.row_of(snap)] = snap
        if snap.gradient is not None:
            self.gradients[snap.node] = snap.gradient
        if snap.phase == "update":
            self.last_update = snap
        if snap.phase == "loss" and snap.nonfinite:
            self.stuck = True
        self._previous_finite = previous is None or not previous.nonfinite
        return snap

    def stop_reason(self, kind: str, snap) -> Stopped | None:
        """Whether a run of `kind` (one of RUN_KINDS) must pause after it reached `snap`."""
        if snap is None:
            return Stopped("stuck", self.stuck_message()) if self.stuck else Stopped("finished", self.end_message())
        if snap.nonfinite and (self._previous_finite or self.stuck):
            return Stopped("nonfinite", self.nonfinite_message(snap))
        if kind == "node" or (kind == "iteration" and snap.phase == "update"):
            return Stopped("done")
        if kind == "next" and snap.phase == "forward" and snap.index == 0:
            return Stopped("done")
        if kind == "continue" and snap.node is not None:
            stats = snap.stats
            for bp in self.breakpoints:
                if bp.hit(snap.node, snap.phase, stats):
                    return Stopped("breakpoint", self.breakpoint_message(bp, snap))
        return None

    @property
    def iteration(self) -> int:
        """The iteration on screen: the current pause's, or the one about to start."""
        return self.snapshot.iteration if self.snapshot is not None else self.pending

    # --- time travel ---------------------------------------------------------------------------

    def back(self) -> str | None:
        """Go to the start of the previous iteration; an explanation if it is not kept."""
        target = max(self.iteration - 1, 0)
        if not self.stepper.saved.maxlen:
            return ("this model is too large to keep earlier iterations (their states exceed the "
                    "debugger's 64 MiB budget): r restarts the run")
        if not self.stepper.saved_iterations():
            return "nothing to go back to yet"
        if not self.stepper.goto(target):
            kept = self.stepper.saved_iterations()
            return (f"iteration {target + 1} is no longer kept" + (f" (kept: {kept[0] + 1}–{kept[-1] + 1})"
                                                                   if kept else ""))
        self._reset(target)
        return None

    def restart(self) -> str | None:
        """Back to the start of the run: the initial weights, a fresh optimizer, iteration 1."""
        self.stepper.restart()
        self._reset(0)
        return None

    # --- breakpoints ---------------------------------------------------------------------------

    def toggle_plain(self, node: str) -> bool:
        """Toggle the unconditional breakpoint on `node`; True if it is now set."""
        from netc.runtime.breakpoints import Breakpoint
        plain = [b for b in self.breakpoints if b.stat is None and b.pattern == node]
        if plain:
            self.breakpoints.remove(plain[0])
            return False
        self.breakpoints.append(Breakpoint(node))
        return True

    def toggle_text(self, text: str):
        """Add the breakpoint `text` (or remove it if it is set); BreakpointError if unreadable.
        Returns (breakpoint, added)."""
        from netc.runtime.breakpoints import parse_breakpoint
        bp = parse_breakpoint(text, self.names)
        if bp in self.breakpoints:
            self.breakpoints.remove(bp)
            return bp, False
        self.breakpoints.append(bp)
        return bp, True

    def marks(self, node: str) -> tuple[bool, bool]:
        """(a plain breakpoint on node, a conditional breakpoint that applies to it)."""
        plain = any(b.stat is None and b.matches(node) for b in self.breakpoints)
        cond = any(b.stat is not None and b.matches(node) for b in self.breakpoints)
        return plain, cond

    def overview(self, only_activations: bool = False):
        """The runtime's all-layers overview (runtime/overview.py) of the newest statistics of every
        node; `only_activations`: the nodes without learned parameters after the input (their
        histograms then share a narrower axis). Recomputed only when a snapshot changed."""
        from netc.runtime.overview import overview
        key = (id(self.snapshot), len(self.latest), only_activations)
        if self._overview is None or self._overview[0] != key:
            steps = [s for s in self.steps if not only_activations or
                     (s.inputs and not s.kernel.param_shapes())]
            forward = {row: snap.activation for row, snap in self.latest.items() if snap.activation is not None}
            self._overview = (key, overview(steps, forward, self.gradients, self.last_update, all_steps=self.steps))
        return self._overview[1]

    # --- where things are ----------------------------------------------------------------------

    def row_of(self, snap) -> str:
        return snap.node if snap.node is not None else (LOSS_ROW if snap.phase == "loss" else UPDATE_ROW)

    def span_of(self, row: str):
        """(span, calls) of the statement that made `row`: a node, or the loss/optimizer setting."""
        if row == LOSS_ROW:
            return self.net.spec.train_spans.get("loss"), ()
        if row == UPDATE_ROW:
            return self.net.spec.train_spans.get("optimizer"), ()
        step = self.steps[self.names.index(row)]
        return step.span, step.calls

    def step_of(self, row: str):
        return self.steps[self.names.index(row)] if row in self.names else None

    def batches_per_epoch(self, epoch: int) -> int:
        return len(self.trainer.batches(epoch))

    # --- messages ------------------------------------------------------------------------------

    def _at(self, row: str) -> str:
        span, calls = self.span_of(row)
        if span is None:
            return ""
        text = self.net.source.line_text(span.line).strip()
        via = f" (called at line {calls[0].line})" if calls else ""
        return f" — {self.net.source.name} line {span.line}{via}: {text}"

    def nonfinite_message(self, snap) -> str:
        it = f"iteration {snap.iteration + 1}"
        if snap.phase == "forward":
            return f"NaN/Inf in the output of {snap.node} (forward, {it}){self._at(snap.node)}"
        if snap.phase == "backward":
            return f"NaN/Inf in the gradient at {snap.node} (backward, {it}){self._at(snap.node)}"
        if snap.phase == "loss":
            return f"the loss is {snap.loss} at {it}{self._at(LOSS_ROW)}; the run cannot go on"
        bad = [p.name for p in snap.params if not (math.isfinite(p.mean) and math.isfinite(p.std))]
        node = bad[0].rpartition(".")[0] if bad else None
        where = self._at(node) if node in self.names else self._at(UPDATE_ROW)
        return f"the update made {', '.join(bad) or 'parameters'} NaN/Inf ({it}){where}"

    def stuck_message(self) -> str:
        return "the loss is not finite: the run cannot go on from here. [ goes back an iteration, r restarts"

    def breakpoint_message(self, bp, snap) -> str:
        value = f": {bp.stat} = {snap.stats.get(bp.stat):.4g}" if bp.stat else ""
        return f"breakpoint {bp} at {snap.node} ({snap.phase}, iteration {snap.iteration + 1}){value}"

    def end_message(self) -> str:
        pos = self.trainer.position
        early = ", stopped early" if pos.stopped_early else ""
        return f"training finished: {pos.epoch} epochs, {pos.iteration} iterations{early}. r restarts"


def open_session(path: str, weights: str | None = None, breaks=(), seed: int | None = None,
                 epochs: int | None = None, sets=(), dtype=np.float32) -> Session:
    """Compile, load the data and the weights, parse the breakpoints: a Session ready to step, in
    `dtype` (float32 as `netc debug` runs; the snapshot tests use float64, whose figures no CPU
    rounds differently at the digits shown).

    Every user mistake raises a NetcError (exit 2) before any screen is drawn.
    """
    from netc import prepare as run
    from netc.runtime.breakpoints import BreakpointError, parse_breakpoint
    from netc.spec.diagnostics import NetcError
    from netc.runtime.stepper import Stepper
    from netc.runtime.train import Trainer

    net, train, data, dataset = run.prepare(path, list(sets), epochs, seed, weights=weights)
    model = run.build_model(net, train, dtype, weights=weights)  # a bad checkpoint: a message, exit 2
    names = [s.name for s in model.steps]
    points = []
    for text in breaks:
        try:
            points.append(parse_breakpoint(text, names))
        except BreakpointError as e:
            # the hint lists what was wrong: the nodes for a node, the statistics for a statistic
            raise NetcError(f"--break: {e.message}", hint=e.hint or f"nodes: {', '.join(names)}") from None
    trainer = Trainer(model, run.cast_dataset(dataset, dtype), train, shuffle=data.shuffle)
    return Session(net, Stepper(trainer), points)
