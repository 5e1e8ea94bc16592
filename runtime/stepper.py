"""The debugger's stepper: the trainer's iteration engine (Trainer.iteration), paused at every
phase and seen through statistics.

It pauses after each node's forward, after the loss, after each node's backward (in reverse
order) and after the parameter update, and returns an immutable Snapshot each time. It keeps a
bounded history of per-node statistics (for plots over iterations), the loss curve with its
moving average, and whole training states (runtime/state.py's capture, to go back to an earlier
iteration and replay it exactly: same batch, same dropout masks, same batch-norm state, same
best weights). Everything the debugger shows is computed here or in runtime/stats.py; the TUI
and `netc stats` are views of it; it imports nothing from Textual.

Memory bounds: `history` iterations of per-node scalars (default 2,000), and as many saved
training states as fit in `state_budget` bytes (default 64 MiB; a state is every array the
declaration holds: parameters, buffers, optimizer moments, best weights), at least none: a model
too big for the budget cannot step back.
"""
from __future__ import annotations

from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .netcheck import check_kernel_sampled
from . import state as trainstate
from .state import capture, restore, state_bytes
from .stats import (ActivationStats, GradientStats, ParamStats, activation_stats, gradient_stats,
                    moving_average, param_stats)
from .train import BACKWARD, FORWARD, LOSS, PHASES, UPDATE, Trainer

LOSS_WINDOW = 20  # iterations in the loss curve's moving average


@dataclass(frozen=True)
class Snapshot:
    """Where the stepper paused and what it saw there."""

    iteration: int                 # 0-based global iteration
    epoch: int                     # 0-based epoch
    batch: int                     # 0-based batch index within the epoch
    phase: str                     # one of PHASES
    node: str | None               # the node of a forward or backward pause
    index: int | None              # its position in the plan
    shape: tuple[int, ...] | None    # the node's output shape on this batch, (B, width)
    activation: ActivationStats | None
    gradient: GradientStats | None  # of the loss with respect to the node's output
    params: tuple[ParamStats, ...]  # the node's parameters (all parameters at the update)
    loss: float | None             # the iteration's loss, once computed
    lr: float
    nonfinite: bool                # a NaN or Inf appeared at this pause
    penalty: float = 0.0           # the weight penalty included in `loss`

    @property
    def stats(self) -> dict:
        """The flat statistics a breakpoint condition reads."""
        d = {}
        if self.activation is not None:
            a = self.activation
            d.update(mean=a.mean, var=a.var, std=a.std, min=a.min, max=a.max, zero_frac=a.zero_frac,
                     saturated_frac=a.saturated_frac)
        if self.gradient is not None:
            d.update(grad_mean=self.gradient.mean, grad_var=self.gradient.var, grad_norm=self.gradient.norm)
        return d


@dataclass(frozen=True)
class LossCurve:
    """The loss per kept iteration (0-based `iterations`), raw and as a trailing moving average
    over `window` iterations (`average[i]` averages up to `window` raw values ending at i)."""

    iterations: tuple[int, ...]
    raw: tuple[float, ...]
    average: tuple[float, ...]
    window: int


@dataclass(frozen=True)
class HistoryPoint:
    """One iteration of a node's history: activation summary in forward, gradient norm in backward."""

    iteration: int
    mean: float
    std: float
    p15: float
    p85: float
    zero_frac: float
    grad_norm: float | None


@dataclass(frozen=True)
class ModeRow:
    """One node on the same batch in both modes: `differs` when its outputs differ beyond float
    rounding; `source` when it differs although its inputs do not (the difference starts there);
    `mode_dependent`, the op's own fact: it acts differently in evaluation (batch-norm's running
    statistics, dropout passing everything)."""

    node: str
    op: str
    train: ActivationStats
    eval: ActivationStats
    differs: bool
    source: bool
    mode_dependent: bool


@dataclass(frozen=True)
class ModeComparison:
    """Stepper.compare_modes's answer for the batch of 0-based `iteration`, a row per node in plan
    order; `comparison[node]` is that node's row."""

    iteration: int
    rows: tuple[ModeRow, ...]

    def __getitem__(self, node: str) -> ModeRow:
        for row in self.rows:
            if row.node == node:
                return row
        raise KeyError(node)


def _differ(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two outputs of one node differ by more than the rounding of their dtype allows."""
    if a.shape != b.shape:
        return True
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(all="ignore"):
        scale = float(np.max(np.abs(a64))) if a64.size else 0.0
        tol = 64 * np.finfo(np.result_type(a.dtype, np.float32)).eps
        return not np.allclose(a64, b64, rtol=tol, atol=tol * scale, equal_nan=True)


class Stepper:
    """Pauses on a Trainer's iteration engine node by node; `next()` returns the next Snapshot
    (None when done). `training=False` runs the batches in evaluation mode (`netc stats --mode
    eval`), which its driver stops before any update."""

    def __init__(self, trainer: Trainer, history: int = 2000, state_budget: int = 64 * 2**20,
                 training: bool = True):
        self.trainer = trainer
        self.model = trainer.model
        self.training = training
        self.history_len = history
        self.history: dict[str, deque[HistoryPoint]] = {s.name: deque(maxlen=history) for s in self.model.steps}
        self.losses: deque[tuple[int, float]] = deque(maxlen=history)
        self.saved: deque[tuple[int, dict]] = deque(maxlen=max(0, state_budget // (state_bytes(trainer) + 1)))
        # the start of the run, for restart (a model too big to copy is re-initialized instead)
        self._initial = capture(trainer) if self.saved.maxlen else None
        self._fresh = {p.name: p.kind.copy(p.get(trainer)) for p in trainstate.PARTS
                       if p.name not in ("model", "best")} if not self.saved.maxlen else None
        self.last: Snapshot | None = None
        self._forward_stats: dict[str, ActivationStats] = {}
        self._gen: Iterator[Snapshot] | None = None
        self._curve: tuple | None = None
        self.halted = False  # a non-finite loss stopped the run; goto or restart resumes it

    # --- stepping ---------------------------------------------------------------------------

    def next(self) -> Snapshot | None:
        """Advance to the next pause; None when the run's epochs are over, or after a non-finite
        loss (the run cannot go on: go back with `goto` or `restart`)."""
        if self.halted:
            return None
        if self._gen is None:
            self._gen = self._iterations()
        self.last = next(self._gen, None)
        return self.last

    def finished(self) -> bool:
        """Whether every epoch has run (or early stopping ended the run)."""
        return self.trainer.finished(self.trainer.settings.epochs)

    def _here(self) -> tuple[int, int, int]:
        """(iteration, epoch, batch) of the last pause, or of the next iteration before any."""
        if self.last is not None:
            return self.last.iteration, self.last.epoch, self.last.batch
        pos = self.trainer.position
        return pos.iteration, pos.epoch, pos.batch

    def _iterations(self) -> Iterator[Snapshot]:
        while not self.finished() and not self.halted:
            if self.saved.maxlen:
                self.saved.append((self.trainer.position.iteration, capture(self.trainer)))
            yield from self._iteration()

    def _iteration(self) -> Iterator[Snapshot]:
        """The engine's phases of one iteration, as snapshots with statistics."""
        m = self.model
        self._forward_stats = {}
        for ph in self.trainer.iteration(training=self.training, watch=True):
            b = ph.batch
            here = dict(iteration=b.iteration, epoch=b.epoch, batch=b.index, lr=b.lr)
            if ph.kind == FORWARD:
                step = ph.step
                out = m.outputs[step.index]
                act = activation_stats(out, step.kernel.saturation_bounds())
                self._forward_stats[step.name] = act
                yield Snapshot(phase="forward", node=step.name, index=step.index, shape=out.shape,
                               activation=act, gradient=None,
                               params=self._node_params(step), loss=None, nonfinite=not act.finite, **here)
            elif ph.kind == LOSS:
                self.losses.append((b.iteration, ph.loss))
                # the run cannot go on past a non-finite loss: the UI names the node; goto/restart resume
                self.halted = not ph.finite
                yield Snapshot(phase="loss", node=None, index=None, shape=None, activation=None, gradient=None,
                               params=(), loss=ph.loss, nonfinite=not ph.finite, penalty=ph.penalty, **here)
            elif ph.kind == BACKWARD:
                step = ph.step
                g = m.grad_outputs[step.index]
                grad = gradient_stats(g) if g is not None else None
                act = self._forward_stats[step.name]
                self.history[step.name].append(HistoryPoint(b.iteration, act.mean, act.std, act.p15, act.p85,
                                                            act.zero_frac, grad.norm if grad else None))
                yield Snapshot(phase="backward", node=step.name, index=step.index,
                               shape=m.outputs[step.index].shape, activation=act, gradient=grad,
                               params=self._node_params(step, grads=True), loss=ph.loss,
                               nonfinite=grad is not None and not grad.finite, **here)
            elif ph.kind == UPDATE:
                params = tuple(param_stats(n, w, m.grads.get(n), ph.before[n]) for n, w in m.params.items())
                nonfinite = not all(np.isfinite(w).all() for w in m.params.values())
                yield Snapshot(phase="update", node=None, index=None, shape=None, activation=None, gradient=None,
                               params=params, loss=ph.loss, nonfinite=nonfinite, **here)

    def _node_params(self, step, grads: bool = False) -> tuple[ParamStats, ...]:
        m = self.model
        return tuple(param_stats(f"{step.name}.{k}", v, m.grads.get(f"{step.name}.{k}") if grads else None)
                     for k, v in m.state[step.index].items() if k in step.kernel.param_shapes())

    # --- the loss curve ------------------------------------------------------------------------

    def loss_curve(self, window: int = LOSS_WINDOW) -> LossCurve:
        """The kept losses per iteration with their trailing moving average over `window`."""
        key = (len(self.losses), self.losses[0] if self.losses else None,
               self.losses[-1] if self.losses else None, window)
        if self._curve is None or self._curve[0] != key:
            its = tuple(i for i, _ in self.losses)
            raw = tuple(l for _, l in self.losses)
            self._curve = (key, LossCurve(its, raw, tuple(moving_average(raw, window)) if raw else (), window))
        return self._curve[1]

    # --- time travel -------------------------------------------------------------------------

    def saved_iterations(self) -> list[int]:
        """The iterations whose starting state is kept (so `goto` can go there)."""
        return [s[0] for s in self.saved]

    def goto(self, iteration: int) -> bool:
        """Go back to the start of a saved iteration: the trainer's whole state as it was (see
        runtime/state.py: weights, buffers, optimizer, best weights, position, seed); the next
        `next()` replays it exactly.

        Returns False if that iteration's state is no longer (or was never) kept.
        """
        for it, state in self.saved:
            if it == iteration:
                restore(self.trainer, state)
                while self.saved and self.saved[-1][0] >= iteration:
                    self.saved.pop()
                for h in self.history.values():
                    while h and h[-1].iteration >= iteration:
                        h.pop()
                while self.losses and self.losses[-1][0] >= iteration:
                    self.losses.pop()
                self._gen, self.last, self.halted = None, None, False
                return True
        return False

    def restart(self) -> None:
        """Back to the start of the run: the trainer's state as the stepper found it (a model too
        big to copy is re-initialized from the seed instead), empty histories."""
        t = self.trainer
        if self._initial is not None:
            restore(t, self._initial)
        else:
            self.model.reinitialize()
            for p in trainstate.PARTS:
                if p.name in self._fresh:
                    p.set(t, p.kind.copy(self._fresh[p.name]))
            t.best_state = None
        self.saved.clear()
        for h in self.history.values():
            h.clear()
        self.losses.clear()
        self._gen, self.last, self.halted = None, None, False

    # --- views of the current batch -----------------------------------------------------------

    def current_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """The batch of the iteration of the last pause (or of the next iteration before any)."""
        t = self.trainer
        _, epoch, batch = self._here()
        chunks = t.batches(epoch)
        idx = chunks[min(batch, len(chunks) - 1)]
        return np.asarray(t.data.x_train[idx], self.model.dtype), t.data.y_train[idx]

    def _iteration_rng(self) -> np.random.Generator:
        """The dropout generator of the last pause's iteration (its masks, exactly)."""
        return self.trainer.dropout_rng(self._here()[0])

    @contextmanager
    def _untouched(self):
        """Extra passes on the model whose buffers, outputs and saved contexts are put back after."""
        m = self.model
        buffers = {k: v.copy() for k, v in m.buffers.items()}
        outputs, ctxs = list(m.outputs), list(m.ctxs)
        try:
            yield m
        finally:
            for k, v in buffers.items():
                m.buffers[k][...] = v
            m.outputs, m.ctxs = outputs, ctxs

    def compare_modes(self) -> ModeComparison:
        """Each node's statistics on the current batch in training and in evaluation mode, and
        where they differ, without changing any state (running statistics are restored, the
        dropout masks are the iteration's)."""
        x, _ = self.current_batch()
        with self._untouched() as m:
            buffers = {k: v.copy() for k, v in m.buffers.items()}
            m.forward(x, training=True, rng=self._iteration_rng())
            train = [np.array(o, copy=True) for o in m.outputs]
            for k, v in buffers.items():  # evaluation sees the running statistics as they were
                m.buffers[k][...] = v
            m.forward(x, training=False)
            evals = list(m.outputs)
        differs: list[bool] = []
        rows = []
        for s in m.steps:
            d = _differ(train[s.index], evals[s.index])
            differs.append(d)
            rows.append(ModeRow(s.name, s.op, activation_stats(train[s.index], s.kernel.saturation_bounds()),
                                activation_stats(evals[s.index], s.kernel.saturation_bounds()), d,
                                d and not any(differs[j] for j in s.inputs), bool(s.kernel.mode_dependent)))
        return ModeComparison(self._here()[0], tuple(rows))

    def check_node(self, node: str) -> dict[str, float]:
        """The selected node's analytic backward against central differences in float64 on the
        current batch (its inputs recomputed with this iteration's dropout masks, the first 16
        examples), probed at a few entries and directions so its cost does not grow with the
        layer: the worst relative error per input and per parameter."""
        step = self.model.steps[self.model.plan.index(node)]
        x, _ = self.current_batch()
        with self._untouched() as m:
            m.forward(x, training=True, rng=self._iteration_rng())
            xs = [np.asarray(m.outputs[j][:16], np.float64) for j in step.inputs] if step.inputs \
                else [np.asarray(x[:16], np.float64)]
        state = {k: np.array(v, np.float64) for k, v in self.model.state[step.index].items()}
        return check_kernel_sampled(step.kernel, xs, state, seed=self._here()[0], entries=6)
