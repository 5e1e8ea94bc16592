"""A source's examples as loaded, before splitting and scaling, and the label rules they share."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Raw:
    """What every source loader returns.

    x: (N, D) float64 inputs. y: (N,) int64 class indices, (N,) float64 targets, or (N, K)
    float64 targets. `classes` is a declared class count (generated sets) that overrides the
    count derived from the labels; `path` is the resolved file the examples came from.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...] | None = None
    classes: int | None = None
    class_names: tuple[str, ...] | None = None
    path: str | None = None
    label_column: str | None = None  # a CSV's label column, for messages: "column 5 ('species'), ..."
    label_names: tuple[str, ...] | None = None  # string labels, mapped to 0..K-1 in this order
    # the shape one example had in the file when it was not a flat row ((1, 8, 8) for an .npz of
    # (N, 1, 8, 8), (28, 28) for IDX images): x holds it flattened; for messages ("input 1 8 8")
    example_shape: tuple[int, ...] | None = None

    def __post_init__(self):
        assert self.x.ndim == 2 and self.x.dtype == np.float64, (self.x.shape, self.x.dtype)
        assert self.y.ndim in (1, 2) and len(self.y) == len(self.x), (self.y.shape, self.x.shape)
        assert self.y.dtype in (np.int64, np.float64), self.y.dtype

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def features(self) -> int:
        return self.x.shape[1]


def to_labels(y: np.ndarray) -> np.ndarray:
    """Normalise a label array: (N,) or (N, 1) -> (N,); (N, K>1) stays (N, K) float64.

    Integer or boolean labels that are all >= 0 become int64 class indices; anything else
    (real numbers, negative integers) becomes float64 regression targets.
    """
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    counts = y.dtype.kind == "b" or (y.dtype.kind in "iu" and (y.size == 0 or y.min() >= 0))
    if y.ndim == 1 and counts:
        return y.astype(np.int64)
    return y.astype(np.float64)


def first_nonfinite(a: np.ndarray) -> tuple[int, ...] | None:
    """The index of the first NaN or infinity of a float array in row-major order, or None."""
    if a.dtype.kind != "f":
        return None
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.argwhere(bad)[0])


def count_classes(*label_arrays: np.ndarray | None) -> int | None:
    """max label + 1 over integer label arrays (None entries skipped), or None for real targets."""
    arrays = [y for y in label_arrays if y is not None]
    if not arrays or any(y.dtype != np.int64 for y in arrays):
        return None
    return int(max((y.max() for y in arrays if y.size), default=-1) + 1)
