"""Weight initializers by name (the `init=` of dense and maxout).

Each scheme draws from the generator it is given, so a seeded run is reproducible, and returns an
array of the requested dtype (drawn in that dtype: float32 weights are never built in float64).

| name    | distribution                          |
|---------|---------------------------------------|
| he      | N(0, 2 / fan_in)                      |
| lecun   | N(0, 1 / fan_in)                      |
| xavier  | N(0, 2 / (fan_in + fan_out))          |
| normal  | N(0, std^2)                           |
| uniform | U(-1/sqrt(fan_in), 1/sqrt(fan_in))    |
| zeros   | 0                                     |
| constant| every weight = value                  |
| orthogonal | gain x a uniformly random (Haar) matrix with orthonormal rows or columns |

Orthogonal follows torch.nn.init.orthogonal_ on torch's layout of the weight (output units
first): the weight is viewed as a (units, fan-in) matrix, a standard normal matrix of that shape
(transposed when it is wide) is QR-factored and Q's columns take the signs of R's diagonal (what
makes Q uniformly distributed), so the rows (units <= fan-in) or the columns are orthonormal:
W W^T = gain^2 I or W^T W = gain^2 I.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

INITIALIZERS = ("he", "xavier", "lecun", "normal", "uniform", "zeros", "constant", "orthogonal")


def init_std(name: str, fan_in: int, fan_out: int, std: float = 0.01) -> float:
    """The standard deviation the scheme `name` gives a weight (uniform: 1/sqrt(3 fan_in)).

    Raises ValueError for an unknown name, listing the valid ones.
    """
    if name == "he":
        return math.sqrt(2.0 / fan_in)
    if name == "lecun":
        return math.sqrt(1.0 / fan_in)
    if name == "xavier":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if name == "normal":
        return float(std)
    if name == "uniform":
        return 1.0 / math.sqrt(3.0 * fan_in)  # the std of U(-a, a) is a / sqrt(3)
    if name in ("zeros", "constant"):
        return 0.0  # no spread: every weight is the same
    if name == "orthogonal":
        return 1.0 / math.sqrt(max(fan_in, fan_out))  # times gain: E[w^2] = 1 / max(rows, cols)
    raise ValueError(f"unknown initializer '{name}'; valid: {', '.join(INITIALIZERS)}")


def init_weights(name: str, shape: tuple[int, ...], fan_in: int, fan_out: int,
                 rng: np.random.Generator, dtype: Any = np.float64, std: float = 0.01,
                 value: float = 0.0, gain: float = 1.0) -> np.ndarray:
    """An array of `shape` drawn by the scheme `name` with the given fans, in `dtype`.

    Dense: shape (D, N), fan_in D, fan_out N. Maxout: shape (k, D, N) with the same fans, so each
    of its k maps is initialized as a dense layer would be. Conv: shape (N, C, k, k). `value` is
    init=constant's value, `gain` init=orthogonal's scale. Raises ValueError for an unknown name.
    """
    dtype = np.dtype(dtype)
    scale = init_std(name, fan_in, fan_out, std)
    if name == "zeros":
        return np.zeros(shape, dtype)
    if name == "constant":
        return np.full(shape, value, dtype)
    if name == "orthogonal":
        return _orthogonal_weights(shape, rng, gain).astype(dtype)
    # NOTE: Generator.random / standard_normal draw float32 directly only for float32 and float64;
    # other float types are drawn in float64 and cast.
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    if name == "uniform":
        a = 1.0 / math.sqrt(fan_in)
        w = rng.random(shape, dtype=draw_dtype)  # U[0, 1)
        w *= 2.0 * a
        w -= a
    else:
        w = rng.standard_normal(shape, dtype=draw_dtype)
        w *= scale
    return w.astype(dtype, copy=False)


def orthogonal(rows: int, cols: int, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """A (rows, cols) float64 matrix drawn as torch.nn.init.orthogonal_ draws one: gain times a
    Haar-distributed matrix whose rows (rows <= cols) or columns are orthonormal."""
    a = rng.standard_normal((rows, cols) if rows >= cols else (cols, rows))
    q, r = np.linalg.qr(a)  # a tall matrix: q (tall, short) has orthonormal columns
    q *= np.where(np.diag(r) < 0, -1.0, 1.0)  # sign fix: without it q is not uniformly distributed
    return gain * (q if rows >= cols else q.T)


def _orthogonal_weights(shape: tuple[int, ...], rng: np.random.Generator, gain: float) -> np.ndarray:
    """init=orthogonal for netc's weight layouts, each viewed as torch's (units, fan-in) matrix:
    dense (D, N) is the transpose of an (N, D) draw, maxout (k, D, N) k such draws, conv
    (N, C, k, k) an (N, C*k*k) draw reshaped."""
    if len(shape) == 2:
        return orthogonal(shape[1], shape[0], rng, gain).T
    if len(shape) == 3:
        return np.stack([orthogonal(shape[2], shape[1], rng, gain).T for _ in range(shape[0])])
    return orthogonal(shape[0], int(np.prod(shape[1:])), rng, gain).reshape(shape)
