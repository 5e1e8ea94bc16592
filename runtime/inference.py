"""Forward passes in a mixed mode, for what the course does after training:

- Monte Carlo dropout (Gal and Ghahramani): the ops that draw random masks (`stochastic` in the op
  table) stay in training mode while everything else, batch norm included, is in evaluation
  mode; the average of many such passes is the prediction, their spread its uncertainty.
- Batch-norm recalibration (Ioffe and Szegedy's algorithm 2, the notes' final pass): the running
  statistics recomputed as population statistics over the whole training set: the average of the
  minibatch means and of the minibatch variances times B/(B-1), with every stochastic op off.

Which nodes are which is read from the op table (`stochastic`, `batch_stats`): no op is named here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

EVAL_BATCH = 1024


def forward_with(model, x: np.ndarray, training_of: Callable, rng: np.random.Generator) -> np.ndarray:
    """One forward pass with each step in the mode `training_of(step)` chooses; the last output."""
    x = np.asarray(x, dtype=model.dtype)
    for step in model.steps:
        model.forward_step(step, x, bool(training_of(step)), rng)
    return model.outputs[-1]


def stochastic_nodes(model) -> list[str]:
    """The nodes that draw random masks in training (dropout and its kin)."""
    return [s.name for s in model.steps if getattr(s.kernel, "stochastic", False) is True]


def batch_stat_nodes(model) -> list[str]:
    """The nodes that normalize with batch statistics and keep running ones (batch norm)."""
    return [s.name for s in model.steps if getattr(s.kernel, "batch_stats", False) is True]


@dataclass(frozen=True)
class MCResult:
    """Monte Carlo dropout over `passes` passes: the mean of the per-pass outputs (probabilities for
    a classification loss, raw outputs otherwise) and their standard deviation across passes."""

    passes: int
    mean: np.ndarray  # (N, K)
    std: np.ndarray  # (N, K)


def mc_predict(model, x: np.ndarray, passes: int, rng: np.random.Generator, probabilities) -> MCResult:
    """Average `passes` stochastic forward passes (dropout on, batch norm in evaluation mode).
    `probabilities` maps a batch of outputs to what is averaged (softmax for classification, the
    identity for regression). Accumulates sums, so memory does not grow with `passes`."""
    total = sq = None
    for _ in range(passes):
        outs = []
        for i in range(0, len(x), EVAL_BATCH):
            out = forward_with(model, x[i:i + EVAL_BATCH], lambda s: getattr(s.kernel, "stochastic", False) is True, rng)
            outs.append(np.asarray(probabilities(out), dtype=np.float64))
        p = np.concatenate(outs)
        total = p.copy() if total is None else total + p
        sq = p * p if sq is None else sq + p * p
    mean = total / passes
    var = np.maximum(sq / passes - mean * mean, 0.0)
    return MCResult(passes, mean, np.sqrt(var))


def recalibrate(model, x: np.ndarray, batch: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Replace every batch-statistics node's running mean and variance by population statistics of
    the training inputs `x` (minibatches of `batch`, the last one dropped if smaller than 2): the
    mean of the batch means and the mean of the unbiased batch variances. Earlier batch-norm
    nodes normalize with their batch statistics during the pass (as in training), stochastic ones
    are off. Returns the old (mean, var) of each node, by name."""
    nodes = {s.index for s in model.steps if getattr(s.kernel, "batch_stats", False) is True}
    old = {}
    saved_attrs = {}
    for s in model.steps:
        if s.index in nodes:
            st = model.state[s.index]
            old[s.name] = (st["running_mean"].copy(), st["running_var"].copy())
            saved_attrs[s.index] = dict(s.kernel.attrs)
            # the kernel's own cumulative average (stats=average) does the averaging, from zero
            s.kernel.attrs["stats"] = "average"
            st["num_batches"][...] = 0
    try:
        rng = np.random.default_rng(0)  # unused: no stochastic node runs in training mode
        n = len(x) - len(x) % batch if len(x) % batch == 1 else len(x)
        for i in range(0, n, batch):
            forward_with(model, x[i:i + batch], lambda s: s.index in nodes, rng)
    finally:
        for s in model.steps:
            if s.index in saved_attrs:
                s.kernel.attrs.clear()
                s.kernel.attrs.update(saved_attrs[s.index])
    return old
