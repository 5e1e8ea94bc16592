"""Sampled gradient checks: of a whole compiled network (the analytic gradients of every parameter
and of every node's input against central differences in float64, on a small batch, in training
mode with the dropout masks held fixed: every forward draws them from the same seeded generator),
and of one kernel (`check_kernel_sampled`, the debugger's node check).

Each array is probed (five-point central differences) at its largest-gradient entries, some random entries and two random
directions; the error is norm-wise over the probes, max|analytic - numeric| / max|value|, as in
runtime/gradcheck.py, so entries tiny in both gradients do not dominate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .gradcheck import _as64, rel_error
from .model import Model
from .ops.base import Ctx, Kernel

TOLERANCE = 1e-6
# Below this, a gradient is indistinguishable from zero by central differences in float64 (their
# round-off is about 1e-16 * |loss| / h): such an array passes when both gradients are below it,
# e.g. a dense bias right before batchnorm, whose gradient is exactly zero.
ZERO_FLOOR = 1e-7


@dataclass(frozen=True)
class Probe:
    """One checked array: a parameter (`dense1.W`) or a node's input (`relu1 <- dense1`)."""

    kind: str     # 'param' or 'input'
    name: str
    probes: int
    error: float
    zero: bool  # both gradients are below ZERO_FLOOR: checked as zero


def check_network(plan, x: np.ndarray, y: np.ndarray, seed: int = 0, entries: int = 12,
                  h: float = 1e-5, directions: int = 2) -> list[Probe]:
    """Probe every parameter and node input of `plan` on the batch (x, y) at `entries` entries
    and along `directions` random directions each; float64 throughout."""
    model = Model(plan, seed=seed, dtype=np.float64)
    x = np.asarray(x, np.float64)
    buffers = {k: v.copy() for k, v in model.buffers.items()}
    # an op drawing from the rng (dropout) makes every forward rerun from the start, so that the
    # same draws meet the same nodes
    stochastic = any(s.kernel.stochastic for s in model.steps)

    def loss(override: tuple[int, np.ndarray] | None = None, start: int = 0) -> float:
        for k, v in buffers.items():
            model.buffers[k][...] = v
        rng = np.random.default_rng([seed, 99])
        for step in model.steps[start:]:
            model.forward_step(step, x, True, rng)
            if override is not None and step.index == override[0]:
                model.outputs[step.index] = override[1]
        return model.loss(y)

    loss()
    model.backward()
    grads = {k: v.copy() for k, v in model.grads.items()}
    node_grads = [None if g is None else g.copy() for g in model.grad_outputs]
    base_outputs = [None if o is None else o.copy() for o in model.outputs]
    rng = np.random.default_rng([seed, 98])
    results = []
    for name, w in model.params.items():
        g = grads.get(name, np.zeros_like(w))

        def f(delta, w=w):
            w += delta
            value = loss()
            w -= delta
            return value
        results.append(Probe("param", name, *probe(f, g, rng, entries, h, directions)))
    for step in model.steps:
        for j in step.inputs:
            producer = model.steps[j]
            if not producer.inputs or node_grads[j] is None:
                continue  # the network's input takes no gradient
            start = 0 if stochastic else j + 1
            if start:  # recompute only downstream, from the unperturbed upstream outputs
                model.outputs = [o.copy() if o is not None else None for o in base_outputs]

            def f(delta, j=j, start=start):
                if start:
                    model.outputs[j] = base_outputs[j] + delta
                    return loss(start=start)
                return loss(override=(j, base_outputs[j] + delta))
            results.append(Probe("input", f"{step.name} <- {producer.name}",
                                 *probe(f, node_grads[j], rng, entries, h, directions)))
    return results


def _derivative(f, step: np.ndarray, h: float) -> float:
    """The derivative of f along `step` (of size h) by the five-point stencil, error O(h^4): the
    truncation error of plain central differences is too large for small gradients (a softmax
    before cross_entropy) at an h small enough to stay off ReLU kinks."""
    return (8 * (f(step) - f(-step)) - (f(2 * step) - f(-2 * step))) / (12 * h)


def probe(f, g: np.ndarray, rng: np.random.Generator, entries: int, h: float,
           directions: int = 2) -> tuple[int, float, bool]:
    """Central differences of f along chosen entries and directions, against the analytic g."""
    flat = np.abs(g).ravel()
    k = min(entries, flat.size)
    top = np.argsort(flat)[-max(1, k // 2):]
    rest = rng.choice(flat.size, size=min(k - len(top), flat.size), replace=False) if k > len(top) else []
    picks = np.unique(np.concatenate([top, np.asarray(rest, dtype=top.dtype)]))
    analytic, numeric = [], []
    for i in picks:
        e = np.zeros_like(g)
        e.flat[i] = h
        analytic.append(g.flat[i])
        numeric.append(_derivative(f, e, h))
    for _ in range(directions):
        v = rng.standard_normal(g.shape)
        v /= np.linalg.norm(v) or 1.0
        analytic.append(float(np.vdot(g, v)))
        numeric.append(_derivative(f, h * v, h))
    a, n = np.array(analytic), np.array(numeric)
    if max(np.abs(a).max(), np.abs(n).max()) < ZERO_FLOOR:
        return len(a), 0.0, True
    return len(a), rel_error(a, n), False


def check_kernel_sampled(kernel: Kernel, xs: list[np.ndarray], state: Mapping[str, np.ndarray],
                         seed: int = 0, entries: int = 12, directions: int = 2) -> dict[str, float]:
    """Like check_kernel in training mode, but each array is probed at `entries` entries (its
    largest gradients and random ones) and along `directions` random directions, so the cost does
    not grow with the array's size (a 4096 x 4096 weight checks in about a second)."""
    xs64 = [_as64(x) for x in xs]
    state64 = {k: _as64(v) for k, v in state.items()}
    ctx = Ctx()
    y = kernel.forward(ctx, xs64, {k: v.copy() for k, v in state64.items()}, True, np.random.default_rng(seed))
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dxs, dparams = kernel.backward(ctx, dy.copy(), {k: v.copy() for k, v in state64.items()})

    def scalar() -> float:
        st = {k: v.copy() for k, v in state64.items()}
        out = kernel.forward(Ctx(), xs64, st, True, np.random.default_rng(seed))
        return float(np.vdot(out, dy))

    rng = np.random.default_rng([seed, 97])
    arrays = [(f"x{i}", xs64[i], dxs[i]) for i in range(len(xs64))]
    arrays += [(k, state64[k], dparams[k]) for k in kernel.param_shapes()]
    result = {}
    for name, arr, grad in arrays:
        if grad is None:
            continue

        def f(delta, arr=arr):
            arr += delta
            value = scalar()
            arr -= delta
            return value
        _, error, _ = probe(f, np.asarray(grad, np.float64), rng, entries, 1e-5, directions)
        result[name] = error
    return result
