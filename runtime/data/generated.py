"""Generated data sets, drawn from a seeded NumPy Generator so a seed gives identical arrays.

Every set but gaussian has two features; labels are int64 class indices; `n` is the total
number of examples before the split, and the examples come in a shuffled order.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from ...spec.settings import source
from .errors import DataError
from .raw import Raw


def _shuffled(name: str, x: np.ndarray, y: np.ndarray, classes: int,
              rng: np.random.Generator) -> Raw:
    order = rng.permutation(len(x))
    return Raw(name, x[order], y[order].astype(np.int64), feature_names=("x1", "x2"),
               classes=classes)


def _counts(n: int, classes: int) -> list[int]:
    """n split as evenly as possible over the classes (earlier classes get the remainder)."""
    return [n // classes + (k < n % classes) for k in range(classes)]


def moons(n: int, noise: float, rng: np.random.Generator) -> Raw:
    """Two interleaving half circles: x (n, 2), y (n,) in {0, 1}; noise is the standard
    deviation of the Gaussian jitter added to each coordinate."""
    n0, n1 = _counts(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([outer, inner]) + rng.normal(0.0, noise, (n, 2))
    y = np.repeat([0, 1], [n0, n1])
    return _shuffled("moons", x, y, 2, rng)


def spirals(n: int, noise: float, classes: int, rng: np.random.Generator) -> Raw:
    """`classes` interleaved spiral arms (the cs231n toy set): x (n, 2) within about the unit
    disc, y (n,) in [0, classes); noise is the jitter's standard deviation per coordinate."""
    xs, ys = [], []
    for k, m in enumerate(_counts(n, classes)):
        radius = np.linspace(0.05, 1.0, m)
        angle = 2 * np.pi * k / classes + 4.0 * radius
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(m, k))
    x = np.concatenate(xs) + rng.normal(0.0, noise, (n, 2))
    return _shuffled("spirals", x, np.concatenate(ys), classes, rng)


def blobs(n: int, noise: float, classes: int, rng: np.random.Generator) -> Raw:
    """Gaussian blobs around `classes` centres evenly spaced on a circle (neighbouring centres at
    least 5 apart, radius at least 4): x (n, 2), y (n,) in [0, classes); noise is each blob's
    standard deviation."""
    radius = 0.0 if classes == 1 else max(4.0, 5.0 / (2 * math.sin(math.pi / classes)))
    angles = 2 * np.pi * np.arange(classes) / classes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    y = np.repeat(np.arange(classes), _counts(n, classes))
    x = centres[y] + rng.normal(0.0, noise, (n, 2))
    return _shuffled("blobs", x, y, classes, rng)


def xor(n: int, noise: float, rng: np.random.Generator) -> Raw:
    """Points uniform in the square [-1, 1]^2, label 1 where exactly one coordinate is positive:
    x (n, 2), y (n,) in {0, 1}; the jitter (std `noise`) is added after labelling."""
    clean = rng.uniform(-1.0, 1.0, (n, 2))
    y = ((clean[:, 0] > 0) != (clean[:, 1] > 0)).astype(np.int64)
    x = clean + rng.normal(0.0, noise, (n, 2))
    return Raw("xor", x, y, feature_names=("x1", "x2"), classes=2)


def gaussian(n: int, features: int, classes: int, rng: np.random.Generator) -> Raw:
    """Standard normal inputs x (n, features) with labels y (n,) uniform in [0, classes),
    independent of x (for activation-statistics experiments, not for learning)."""
    x = rng.standard_normal((n, features))
    y = rng.integers(0, classes, n).astype(np.int64)
    return Raw("gaussian", x, y, classes=classes)


def _whole(params: dict, key: str, minimum: int = 1) -> int:
    value = params[key]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DataError(f"{key}={value!r} must be a whole number >= {minimum}", param=key)
    return int(value)


def _noise(params: dict) -> float:
    value = params["noise"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise DataError(f"noise={value!r} must be a finite number >= 0", param="noise")
    return float(value)


def _make_moons(p: dict, rng: np.random.Generator, default_classes: int | None) -> Raw:
    return moons(_whole(p, "n"), _noise(p), rng)


def _make_spirals(p: dict, rng: np.random.Generator, default_classes: int | None) -> Raw:
    return spirals(_whole(p, "n"), _noise(p), _whole(p, "classes", 2), rng)


def _make_blobs(p: dict, rng: np.random.Generator, default_classes: int | None) -> Raw:
    return blobs(_whole(p, "n"), _noise(p), _whole(p, "classes", 2), rng)


def _make_xor(p: dict, rng: np.random.Generator, default_classes: int | None) -> Raw:
    return xor(_whole(p, "n"), _noise(p), rng)


def _make_gaussian(p: dict, rng: np.random.Generator, default_classes: int | None) -> Raw:
    if p["classes"] is None:
        p = {**p, "classes": default_classes or 2}
    return gaussian(_whole(p, "n"), _whole(p, "features"), _whole(p, "classes"), rng)


Maker = Callable[[dict, np.random.Generator, "int | None"], Raw]
# kind -> maker of (params, rng, default_classes) -> Raw; the parameters' defaults are the schema's
GENERATED: dict[str, Maker] = {"moons": _make_moons, "spirals": _make_spirals, "blobs": _make_blobs,
                               "xor": _make_xor, "gaussian": _make_gaussian}


def generate(kind: str, params: Mapping[str, Any], rng: np.random.Generator,
             default_classes: int | None = None) -> Raw:
    """The generated set `kind` with `params` (missing keys take the schema's defaults, those of
    `source KIND` in spec/schema.py).

    For gaussian, classes=None means `default_classes` (the network's output width), or 2.
    DataError (statement 'source', param named) for a count below its minimum or a bad noise.
    """
    given = {k: v for k, v in params.items() if k != "kind"}
    return GENERATED[kind]({**source(kind).params, **given}, rng, default_classes)
