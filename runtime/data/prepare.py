"""Preparing loaded examples for training: seeded random streams, the train/validation split,
input scaling with training-split statistics, and minibatches."""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from .errors import DataError

# One independent random stream per purpose, all derived from the run's seed.
_STREAMS = {"generate": 0, "split": 1}


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """A Generator for `purpose` ('generate' or 'split') derived from `seed`: the same seed gives
    the same stream, and the purposes never share draws."""
    # NOTE: SeedSequence takes non-negative integers only; modulo 2**64 keeps negative seeds
    # usable and distinct while leaving every ordinary seed unchanged.
    return np.random.default_rng([int(seed) % 2**64, _STREAMS[purpose]])


def split_indices(n: int, fraction: float, shuffle: bool,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, validation) for a split of n examples.

    The order is a permutation seeded by `seed` when `shuffle`, else 0..n-1; the first
    round(fraction * n) rows train and the rest validate (possibly none). DataError
    (statement 'split') when fraction is not in (0, 1] or leaves no training example.
    """
    is_number = isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
    if not is_number or not 0 < fraction <= 1:
        raise DataError(f"split {fraction!r} must be a fraction in (0, 1]", statement="split",
                        hint="split 0.8 trains on 80% of the examples and validates on the rest")
    n_train = int(round(fraction * n))
    if n_train == 0:
        raise DataError(f"split {fraction} of {n} examples leaves no training examples",
                        statement="split", hint="use a larger fraction or more examples")
    order = rng_for(seed, "split").permutation(n) if shuffle else np.arange(n)
    return order[:n_train], order[n_train:]


def fit_scaling(kind: str | None, x_train: np.ndarray) -> dict | None:
    """Statistics for scaling inputs, from the training split x_train (N, D) only.

    'standardize' -> {"kind", "mean": (D,), "std": (D,)}: the std is the divisor actually used,
    1 for constant features. 'minmax' -> {"kind", "lo": (D,), "hi": (D,)}. None -> None.
    """
    if kind is None:
        return None
    if kind == "standardize":
        mean = x_train.mean(axis=0)
        # NOTE: the mean of N equal values is not always that value in floating point (1e30 * N
        # rounds), which would leave a constant column at a residue like 2.8e14 instead of 0;
        # an exactly constant column is centred on its own value.
        exact = np.ptp(x_train, axis=0) == 0
        mean = np.where(exact, x_train[0], mean) if len(x_train) else mean
        std = x_train.std(axis=0)
        # NOTE: a constant column's std is 0 up to rounding (about 1e-17 * |mean|); dividing by
        # that rounding noise would blow it up, so such columns keep std 1 and are only centred.
        constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
        return {"kind": "standardize", "mean": mean, "std": np.where(constant, 1.0, std)}
    if kind == "minmax":
        return {"kind": "minmax", "lo": x_train.min(axis=0), "hi": x_train.max(axis=0)}
    raise ValueError(f"unknown scaling {kind!r}")


def fit_target_scaling(y_train: np.ndarray) -> dict:
    """`standardize target`: the regression target's statistics on the training split,
    {"mean": (K,), "std": (K,)} for targets (N,) (K = 1) or (N, K); a constant column keeps std 1
    (it is only centred), as fit_scaling does for inputs."""
    y = np.asarray(y_train, np.float64).reshape(len(y_train), -1)
    mean, std = y.mean(axis=0), y.std(axis=0)
    constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
    return {"mean": mean, "std": np.where(constant, 1.0, std)}


def scale_target(scaling: dict, y: np.ndarray) -> np.ndarray:
    """Targets (N,) or (N, K) in standardized units: (y - mean) / std, float64, same shape."""
    y = np.asarray(y, np.float64)
    mean, std = scaling["mean"], scaling["std"]
    return (y - mean[0]) / std[0] if y.ndim == 1 else (y - mean) / std


def unscale_target(scaling: dict, y: np.ndarray) -> np.ndarray:
    """The inverse of scale_target: standardized values (N,), (N, 1) or (N, K) back in the
    target's own units, float64, same shape."""
    y = np.asarray(y, np.float64)
    mean, std = scaling["mean"], scaling["std"]
    if y.ndim == 1 or (y.shape[1] == 1 and len(mean) == 1):
        return y * std[0] + mean[0]
    return y * std + mean


def apply_scaling(scaling: dict | None, x: np.ndarray) -> np.ndarray:
    """x (M, D) scaled with statistics from `fit_scaling`, as a new (M, D) float64 array.

    minmax maps the training range to [0, 1] (other splits may fall outside) and a feature that
    is constant in training to 0 everywhere.
    """
    if scaling is None:
        return np.array(x, dtype=np.float64)
    if scaling["kind"] == "standardize":
        return (x - scaling["mean"]) / scaling["std"]
    lo, span = scaling["lo"], scaling["hi"] - scaling["lo"]
    constant = span == 0
    return np.where(constant, 0.0, (x - lo) / np.where(constant, 1.0, span))


def iter_batches(x: np.ndarray, y: np.ndarray, batch: int,
                 rng: np.random.Generator | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Minibatches (xb (B, D), yb (B,) or (B, K)) covering every example exactly once.

    With `rng`, the examples are permuted afresh on each call; without, they come in order.
    Every batch has `batch` rows except possibly the last, which holds the remainder.
    """
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be a whole number >= 1, got {batch!r}")
    n = len(x)
    assert len(y) == n, (x.shape, y.shape)
    order = rng.permutation(n) if rng is not None else None
    for b in range(math.ceil(n / batch)):
        rows = slice(b * batch, (b + 1) * batch)
        if order is None:
            yield x[rows], y[rows]
        else:
            yield x[order[rows]], y[order[rows]]
