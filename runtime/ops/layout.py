"""Images in channels-last memory: a (B, C, H, W) array whose memory is laid out (B, H, W, C).

A conv computes its output as a (B*Ho*Wo, N) matrix and returns it seen as (B, N, Ho, Wo)
without a transpose copy, and the element-wise ops keep their input's layout, so the images of a
CNN are channels-last in memory. Per-channel ops (batchnorm) then see such an image as a matrix
of B*H*W rows by C columns, a view, and run their vector code on it.
"""
from __future__ import annotations

import numpy as np


def channel_rows(x: np.ndarray) -> np.ndarray | None:
    """The (B*H*W, C) matrix view of an image x (B, C, H, W) that is channels-last in memory, or
    None when x is not (then a view is impossible)."""
    t = x.transpose(0, 2, 3, 1)
    if not t.flags.c_contiguous:
        return None
    return t.reshape(-1, x.shape[1])


def to_rows(x: np.ndarray) -> np.ndarray:
    """x (B, C, H, W) as its (B*H*W, C) matrix: a view when channels-last, else a copy."""
    rows = channel_rows(x)
    if rows is None:
        rows = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, x.shape[1])
    return rows


def from_rows(m: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The (B*H*W, C) matrix m seen as the (B, C, H, W) image of `shape`: a view (channels-last)."""
    b, c, h, w = shape
    return m.reshape(b, h, w, c).transpose(0, 3, 1, 2)


def column_sums(m: np.ndarray) -> np.ndarray:
    """m (R, C) summed over its rows: (C,).

    NOTE: m.sum(axis=0) adds one row at a time, which is several times slower than a BLAS
    matrix-vector product on the tall, narrow matrices of images (B*H*W rows, C columns); on the
    short, wide ones of vector networks (a batch of rows) it is as fast, and kept, so their
    float rounding stays what it was."""
    if m.shape[0] < 8 * m.shape[1]:
        return m.sum(axis=0)
    return np.ones(m.shape[0], m.dtype) @ m
