"""The loss along two directions in parameter space (Goodfellow et al.'s and Li et al.'s plots):
L(theta + a d1 + b d2) on a grid of (a, b), in evaluation mode on a fixed set of examples.

Directions are either two coordinates of named parameters (`dense1.W[0,0]`: a unit step moves
that weight by 1) or random Gaussian directions with Li et al.'s filter normalization: each
filter of a weight (a unit's incoming weights: a dense W's column, a conv W's output channel) is scaled to the norm
of the same filter of the trained weights, and the parameters `regularize` does not penalize
(biases, normalization scales and shifts) get no component, as in their paper.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..spec.diagnostics import NetcError

EVAL_BATCH = 1024
_COORD = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<index>[0-9,\s]+)\]$")


class DirectionError(NetcError, ValueError):
    """A --params coordinate that names no parameter or an index outside its shape."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


@dataclass(frozen=True)
class Landscape:
    """The loss on a grid: `loss[j, i]` at theta + alphas[i] d1 + betas[j] d2; `center` is the
    loss at theta itself; labels name the directions."""

    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    center: float
    labels: tuple[str, str]


def coordinate_direction(model, spec: str) -> dict[str, np.ndarray]:
    """The unit direction along one coordinate, `NODE.PARAM[i,j]`; DirectionError if there is no
    such parameter (with the closest names) or the index does not fit its shape."""
    m = _COORD.match(spec.strip())
    if not m:
        raise DirectionError(f"--params {spec}: expected a parameter and an index, like dense1.W[0,0]")
    name = m["name"].strip()
    if name not in model.params:
        import difflib
        same_case = [k for k in model.params if k.lower() == name.lower()]
        close = same_case or difflib.get_close_matches(name, list(model.params), n=1)
        raise DirectionError(f"--params {spec}: there is no parameter '{name}'",
                             f"did you mean '{close[0]}'?" if close else
                             "parameters: " + ", ".join(list(model.params)[:8]))
    shape = model.params[name].shape
    index = tuple(int(v) for v in m["index"].split(","))
    if len(index) != len(shape) or any(not 0 <= i < n for i, n in zip(index, shape)):
        raise DirectionError(f"--params {spec}: {name} has shape ({', '.join(map(str, shape))}), "
                             f"so {len(shape)} indices from 0 to {tuple(n - 1 for n in shape)}")
    d = {k: np.zeros_like(v) for k, v in model.params.items()}
    d[name][index] = 1.0
    return d


def random_direction(model, rng: np.random.Generator, penalized: set[str]) -> dict[str, np.ndarray]:
    """A Gaussian direction, filter-normalized on the penalized weights, zero elsewhere."""
    d = {}
    for k, w in model.params.items():
        if k not in penalized:
            d[k] = np.zeros_like(w)
            continue
        g = rng.standard_normal(w.shape).astype(w.dtype)
        if w.ndim == 1:
            g *= np.linalg.norm(w) / max(np.linalg.norm(g), 1e-30)
        else:  # one filter per unit: a dense W (in, out) has a unit per column, a conv W
            # (out, in, k, k) a unit per leading index
            axes = tuple(range(w.ndim - 1)) if w.ndim == 2 else tuple(range(1, w.ndim))
            g *= np.sqrt((w * w).sum(axis=axes, keepdims=True)) / np.maximum(np.sqrt((g * g).sum(axis=axes, keepdims=True)), 1e-30)
        d[k] = g
    return d


def loss_grid(model, x: np.ndarray, y: np.ndarray, d1: dict, d2: dict, alphas: np.ndarray,
              betas: np.ndarray, labels=("d1", "d2")) -> Landscape:
    """Evaluate the data loss (no weight penalty) at every grid point, evaluation mode; the
    parameters are restored afterwards, whatever happens."""
    saved = {k: v.copy() for k, v in model.params.items()}
    x = np.asarray(x, dtype=model.dtype)

    def loss_here() -> float:
        total = 0.0
        for i in range(0, len(x), EVAL_BATCH):
            model.forward(x[i:i + EVAL_BATCH], training=False)
            total += model.loss(y[i:i + EVAL_BATCH]) * len(x[i:i + EVAL_BATCH])
        return total / len(x)

    try:
        center = loss_here()
        out = np.empty((len(betas), len(alphas)))
        for j, b in enumerate(betas):
            for i, a in enumerate(alphas):
                for k, w in model.params.items():
                    w[...] = saved[k] + a * d1[k] + b * d2[k]
                out[j, i] = loss_here()
    finally:
        for k, w in model.params.items():
            w[...] = saved[k]
    return Landscape(np.asarray(alphas), np.asarray(betas), out, center, tuple(labels))


def divergences_of_logit(p: float, z: np.ndarray) -> dict[str, np.ndarray]:
    """The notes' 'L2 or KL' figure: for a target probability p, the L2 divergence (y - p)^2 and
    the KL divergence p log(p/y) + (1-p) log((1-p)/(1-y)) of a sigmoid output y = sigmoid(z),
    as functions of z (KL is convex in z, L2 is not)."""
    y = 1.0 / (1.0 + np.exp(-z))
    y = np.clip(y, 1e-15, 1 - 1e-15)

    def xlogx(a, b):
        return 0.0 if a == 0 else a * np.log(a / b)
    kl = xlogx(p, y) + xlogx(1 - p, 1 - y)
    return {"y": y, "l2": (y - p) ** 2, "kl": np.asarray(kl, dtype=np.float64)}
