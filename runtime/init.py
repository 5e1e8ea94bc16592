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
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

INITIALIZERS = ("he", "xavier", "lecun", "normal", "uniform", "zeros")


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
    if name == "zeros":
        return 0.0
    raise ValueError(f"unknown initializer '{name}'; valid: {', '.join(INITIALIZERS)}")


def init_weights(name: str, shape: tuple[int, ...], fan_in: int, fan_out: int,
                 rng: np.random.Generator, dtype: Any = np.float64, std: float = 0.01) -> np.ndarray:
    """An array of `shape` drawn by the scheme `name` with the given fans, in `dtype`.

    Dense: shape (D, N), fan_in D, fan_out N. Maxout: shape (k, D, N) with the same fans, so each
    of its k maps is initialized as a dense layer would be. Raises ValueError for an unknown name.
    """
    dtype = np.dtype(dtype)
    scale = init_std(name, fan_in, fan_out, std)
    if name == "zeros":
        return np.zeros(shape, dtype)
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
