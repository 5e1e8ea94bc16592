"""Float64 central-difference gradient checks of kernels, losses and any scalar function.

The error measure everywhere is the norm-wise relative error

    rel_error(a, n) = max|a - n| / max(max|a|, max|n|, tiny),

so an entry that is tiny in both gradients cannot blow the ratio up, and a result below ~1e-6
means the analytic gradient is right (central differences in float64 with h = 1e-6 are accurate
to ~1e-9 for smooth functions of O(1) values).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from .ops.base import Ctx, Kernel

TINY = 1e-30


def rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """max|a - n| / max(max|a|, max|n|, tiny) for two arrays of one shape; 0.0 when both are empty.

    Raises ValueError when the shapes differ (an analytic gradient of the wrong shape is a bug).
    """
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if a.shape != n.shape:
        raise ValueError(f"gradient shape {a.shape} differs from the checked array's {n.shape}")
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(n))), TINY)
    return float(np.max(np.abs(a - n))) / scale


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h e_i) - f(x - h e_i)) / 2h for every entry of x.

    f takes no argument and reads x, which is perturbed in place and restored entry by entry
    (x must be a float64 array that f sees). Returns an array of x's shape.
    """
    if not x.flags.c_contiguous or not x.flags.writeable:
        raise ValueError("numeric_grad perturbs x in place: it must be a writeable C-contiguous array")
    grad = np.zeros(x.shape, np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2.0 * h)
    return grad


def _as64(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return np.array(a, np.float64) if a.dtype.kind == "f" else a.copy()


def check_kernel(kernel: Kernel, xs: list[np.ndarray], state: Mapping[str, np.ndarray],
                 training: bool = True, seed: int = 0, h: float = 1e-6,
                 dy: np.ndarray | None = None) -> dict[str, float]:
    """Gradient-check one kernel in float64 at the inputs xs (each (B, in_width)) and state.

    The checked scalar is sum(forward(xs) * dy) + kernel.penalty(ctx) for a fixed dy (random
    normal from `seed` unless given), so backward(dy) must equal its gradient (the penalty is 0
    but for ops that add one to the loss). Every forward (the analytic one and each
    perturbed one) gets a fresh copy of `state` (batchnorm's running statistics change in
    training) and a fresh `np.random.default_rng(seed)` (dropout draws the same mask each time).

    Returns the worst relative error per checked array: "x0", "x1", ... for the inputs and the
    parameter names of `kernel.param_shapes()`. The caller's arrays are not modified.
    """
    xs64 = [_as64(x) for x in xs]
    state64 = {k: _as64(v) for k, v in state.items()}

    def run(inputs, st):
        ctx = Ctx()
        st = {k: v.copy() for k, v in st.items()}
        y = kernel.forward(ctx, inputs, st, training, np.random.default_rng(seed))
        return ctx, y, st

    ctx, y, st_after = run(xs64, state64)
    if dy is None:
        dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dy = np.asarray(dy, np.float64)
    dxs, dparams = kernel.backward(ctx, dy.copy(), st_after)
    if len(dxs) != len(xs64):
        raise ValueError(f"{kernel.op}: backward returned {len(dxs)} input gradients "
                         f"for {len(xs64)} inputs")
    missing = set(kernel.param_shapes()) ^ set(dparams)
    if missing:
        raise ValueError(f"{kernel.op}: parameter gradients {sorted(dparams)} do not match the "
                         f"parameters {sorted(kernel.param_shapes())}")

    def objective() -> float:
        ctx, y, _ = run(xs64, state64)
        # an op that adds a penalty to the loss (activity regularization) backpropagates it too
        return float(np.sum(y * dy)) + kernel.penalty(ctx)

    errors = {}
    for i, x in enumerate(xs64):
        errors[f"x{i}"] = rel_error(dxs[i], numeric_grad(objective, x, h))
    for name in kernel.param_shapes():
        errors[name] = rel_error(dparams[name], numeric_grad(objective, state64[name], h))
    return errors


def check_loss(loss: Any, out: np.ndarray, target: np.ndarray, h: float = 1e-6) -> float:
    """Gradient-check a loss (an object with forward(out, target) -> float and backward()) in
    float64 at `out` (B, N): the relative error of backward() against central differences."""
    out64 = _as64(out)
    loss.forward(out64.copy(), target)
    analytic = loss.backward()
    numeric = numeric_grad(lambda: loss.forward(out64, target), out64, h)
    return rel_error(analytic, numeric)
