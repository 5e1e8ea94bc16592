"""The debugger's stepper: training run one node at a time.

It pauses after each node's forward, after the loss, after each node's backward (in reverse
order) and after the parameter update, and yields an immutable Snapshot each time. It keeps a
bounded history of per-node statistics (for plots over iterations) and of whole training states
(to go back to an earlier iteration and replay it exactly: same batch, same dropout masks, same
batch-norm state). The TUI and `netc stats` are views of it; it imports nothing from Textual.

Memory bounds: `history` iterations of per-node scalars (default 2,000), and as many saved
training states as fit in `state_budget` bytes (default 64 MiB; a state is the parameters,
buffers and optimizer moments), at least none: a model too big for the budget cannot step back.
"""
from __future__ import annotations

import copy
import math
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .schedules import penalty
from .netcheck import check_kernel_sampled
from .stats import (ActivationStats, GradientStats, ParamStats, activation_stats, gradient_stats,
                    param_stats)
from .train import Position, Trainer

PHASES = ("forward", "loss", "backward", "update")


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
class HistoryPoint:
    """One iteration of a node's history: activation summary in forward, gradient norm in backward."""

    iteration: int
    mean: float
    std: float
    p15: float
    p85: float
    zero_frac: float
    grad_norm: float | None


class Stepper:
    """Steps a Trainer's run node by node; `next()` returns the next Snapshot (None when done)."""

    def __init__(self, trainer: Trainer, history: int = 2000, state_budget: int = 64 * 2**20):
        self.trainer = trainer
        self.model = trainer.model
        self.history_len = history
        self.history: dict[str, deque[HistoryPoint]] = {s.name: deque(maxlen=history) for s in self.model.steps}
        self.losses: deque[tuple[int, float]] = deque(maxlen=history)
        state_bytes = sum(v.nbytes for v in self.model.state_dict().values()) * 3 + 1
        self.saved: deque = deque(maxlen=max(0, state_budget // state_bytes))
        # the start of the run, for restart (a model too big to copy is re-initialized instead)
        self._initial = self.model.state_dict() if self.saved.maxlen else None
        self.last: Snapshot | None = None
        self._forward_stats: dict[str, ActivationStats] = {}
        self._gen: Iterator[Snapshot] | None = None
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
        return self.trainer.finished(self.trainer.settings["epochs"])

    def _here(self) -> tuple[int, int, int]:
        """(iteration, epoch, batch) of the last pause, or of the next iteration before any."""
        if self.last is not None:
            return self.last.iteration, self.last.epoch, self.last.batch
        pos = self.trainer.position
        return pos.iteration, pos.epoch, pos.batch

    def _iterations(self) -> Iterator[Snapshot]:
        while not self.finished():
            yield from self._iteration()

    def _iteration(self) -> Iterator[Snapshot]:
        t, m, pos = self.trainer, self.model, self.trainer.position
        chunks = t.batches(pos.epoch)
        if self.saved.maxlen:
            self.saved.append((pos.iteration, copy.deepcopy(pos), m.state_dict(),
                               copy.deepcopy(t.optimizer.state), t.optimizer.steps))
        k = pos.batch
        idx = chunks[k]
        xb = t.data.x_train[idx]
        yb = t.data.y_train[idx]
        lr = t.current_lr()
        here = dict(iteration=pos.iteration, epoch=pos.epoch, batch=k, lr=lr)
        rng = t.dropout_rng(pos.iteration)
        x = np.asarray(xb, m.dtype)
        m.training = True
        self._forward_stats = {}
        for step in m.steps:
            out = m.forward_step(step, x, True, rng)
            act = activation_stats(out, step.kernel.saturation_bounds())
            self._forward_stats[step.name] = act
            yield Snapshot(phase="forward", node=step.name, index=step.index, shape=out.shape,
                           activation=act, gradient=None,
                           params=self._node_params(step), loss=None, nonfinite=not act.finite, **here)
        loss = m.loss(yb) + penalty(m.weights, t.settings["regularize"])
        self.losses.append((pos.iteration, loss))
        bad = not math.isfinite(loss)
        # the run cannot go on past a non-finite loss: the UI names the node; goto/restart resume
        self.halted = bad
        yield Snapshot(phase="loss", node=None, index=None, shape=None, activation=None, gradient=None, params=(),
                       loss=loss, nonfinite=bad, **here)
        if bad:
            return
        m.start_backward()
        for step in reversed(m.steps):
            g = m.grad_outputs[step.index]
            grad = gradient_stats(g) if g is not None else None
            m.backward_step(step)
            act = self._forward_stats[step.name]
            self.history[step.name].append(HistoryPoint(pos.iteration, act.mean, act.std, act.p15, act.p85,
                                                        act.zero_frac, grad.norm if grad else None))
            yield Snapshot(phase="backward", node=step.name, index=step.index,
                           shape=m.outputs[step.index].shape, activation=act, gradient=grad,
                           params=self._node_params(step, grads=True), loss=loss,
                           nonfinite=grad is not None and not grad.finite, **here)
        before = {k2: v.copy() for k2, v in m.params.items()}
        grads = dict(m.grads)
        t.update(m.grads, lr)
        params = tuple(param_stats(n, w, grads.get(n), before[n]) for n, w in m.params.items())
        nonfinite = not all(np.isfinite(w).all() for w in m.params.values())
        yield Snapshot(phase="update", node=None, index=None, shape=None, activation=None, gradient=None,
                       params=params,
                       loss=loss, nonfinite=nonfinite, **here)
        t.record_batch(loss, yb, k)
        if pos.batch >= len(chunks):
            t.end_epoch(lr, 0.0)

    def _node_params(self, step, grads: bool = False) -> tuple[ParamStats, ...]:
        m = self.model
        return tuple(param_stats(f"{step.name}.{k}", v, m.grads.get(f"{step.name}.{k}") if grads else None)
                     for k, v in m.state[step.index].items() if k in step.kernel.param_shapes())

    # --- time travel -------------------------------------------------------------------------

    def saved_iterations(self) -> list[int]:
        """The iterations whose starting state is kept (so `goto` can go there)."""
        return [s[0] for s in self.saved]

    def goto(self, iteration: int) -> bool:
        """Go back to the start of a saved iteration; the next `next()` replays it exactly.

        Returns False if that iteration's state is no longer (or was never) kept.
        """
        for it, pos, state, opt_state, opt_steps in self.saved:
            if it == iteration:
                t = self.trainer
                t.position = copy.deepcopy(pos)
                self.model.load_state_dict(state)
                t.optimizer.state = copy.deepcopy(opt_state)
                t.optimizer.steps = opt_steps
                while self.saved and self.saved[-1][0] >= iteration:
                    self.saved.pop()
                for h in self.history.values():
                    while h and h[-1].iteration >= iteration:
                        h.pop()
                while self.losses and self.losses[-1][0] >= iteration:
                    self.losses.pop()
                self._gen = None
                self.halted = False
                return True
        return False

    def restart(self) -> None:
        """Back to the start of the run: the initial weights (as given, or re-initialized from
        the seed), a fresh optimizer and position, empty histories."""
        t = self.trainer
        if self._initial is not None:
            self.model.load_state_dict(self._initial)
        else:
            self.model.reinitialize()
        t.optimizer.state, t.optimizer.steps = {}, 0
        t.position = Position()
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

    def compare_modes(self) -> dict[str, tuple[ActivationStats, ActivationStats]]:
        """Each node's statistics on the current batch in training and in evaluation mode, without
        changing any state (running statistics are restored, the dropout masks are the iteration's)."""
        x, _ = self.current_batch()
        with self._untouched() as m:
            buffers = {k: v.copy() for k, v in m.buffers.items()}
            m.forward(x, training=True, rng=self._iteration_rng())
            train = {s.name: activation_stats(m.outputs[s.index], s.kernel.saturation_bounds())
                     for s in m.steps}
            for k, v in buffers.items():  # evaluation sees the running statistics as they were
                m.buffers[k][...] = v
            m.forward(x, training=False)
            evals = {s.name: activation_stats(m.outputs[s.index], s.kernel.saturation_bounds())
                     for s in m.steps}
        return {name: (train[name], evals[name]) for name in train}

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
