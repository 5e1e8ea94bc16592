"""Data augmentation (the data section's `augment`): random changes to one training batch.

    x = augment_batch(x, (C, H, W), {"shift": 1, "flip": "none", "cutout": 3, "noise": 0.0}, rng)

Only the trainer calls it, on training batches: validation, `netc eval` and every evaluation pass
see the examples as they are. All draws come from `rng`, which the trainer derives from the run's
seed and the iteration, so a fixed seed reproduces every batch and each epoch draws anew.

The steps, in this order, each one draw per example, vectorized over the batch (no Python loop
over examples or pixels):

- flip=horizontal: mirror left-right (W reversed) with probability 1/2;
- shift=N: translate by (dy, dx), each uniform in -N..N, filling with 0 (content moved out is lost);
- cutout=N: zero one N x N square (all channels) whose centre pixel is uniform over the image, so
  the square may be cut by the border (DeVries and Taylor 2017);
- noise=S: add N(0, S^2) to every value.

The zero of shift and cutout is the zero of the network's input, after `standardize` or `minmax`
(with standardize it is the training mean of each pixel, not black).
"""
from __future__ import annotations

import numpy as np

from ...spec.settings import Augment


def augment_batch(x: np.ndarray, shape: tuple[int, ...], settings: Augment,
                  rng: np.random.Generator) -> np.ndarray:
    """A new array: the batch `x` (B, *shape), or flat rows (B, prod(shape)), augmented as
    `settings` says (netc.spec.settings.Augment: shift, flip, cutout, noise), in x's dtype and per-example `shape`.

    `shape` is the model's input shape: (C, H, W) for images; a vector shape (D,) accepts only
    `noise` (the compiler refuses the other keys on vectors first, so ValueError here).
    """
    dtype = x.dtype
    x = np.asarray(x).reshape((len(x),) + tuple(shape))
    if len(shape) != 3 and (settings.shift or settings.flip != "none" or settings.cutout):
        raise ValueError(f"shift, flip and cutout need images (C, H, W), not examples of shape {shape}")
    if settings.flip == "horizontal":
        x = flip(x, rng)
    if settings.shift:
        x = shift(x, settings.shift, rng)
    if settings.cutout:
        x = cutout(x, settings.cutout, rng)
    if settings.noise:
        x = x + settings.noise * rng.standard_normal(x.shape)
    return np.array(x, dtype=dtype)  # a copy even when nothing was drawn: the caller owns it


def flip(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(B, C, H, W): each image mirrored left-right with probability 1/2 (one draw per example)."""
    mirror = rng.random(len(x)) < 0.5
    return np.where(mirror[:, None, None, None], x[..., ::-1], x)


def shift(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(B, C, H, W): each image translated by (dy, dx), each uniform in -n..n (one draw per
    example), zero fill: out[b, :, i, j] = x[b, :, i - dy, j - dx] where that is inside."""
    b, c, h, w = x.shape
    dy, dx = rng.integers(-n, n + 1, size=(2, b))
    padded = np.zeros((b, c, h + 2 * n, w + 2 * n), dtype=x.dtype)
    padded[:, :, n:n + h, n:n + w] = x
    rows = (n - dy)[:, None] + np.arange(h)  # (B, H): the padded row each output row reads
    cols = (n - dx)[:, None] + np.arange(w)  # (B, W)
    return padded[np.arange(b)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def cutout(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(B, C, H, W): in each image, the n x n square with rows top..top+n-1 and columns
    left..left+n-1 set to 0 in every channel, where top = cy - n//2 and left = cx - n//2 for a
    centre (cy, cx) uniform over the image's pixels (one draw per example); the part of the square
    outside the image is dropped."""
    b, _, h, w = x.shape
    top = rng.integers(0, h, size=b) - n // 2
    left = rng.integers(0, w, size=b) - n // 2
    r, c = np.arange(h), np.arange(w)
    in_rows = (r >= top[:, None]) & (r < top[:, None] + n)   # (B, H)
    in_cols = (c >= left[:, None]) & (c < left[:, None] + n)  # (B, W)
    square = in_rows[:, :, None] & in_cols[:, None, :]        # (B, H, W)
    return np.where(square[:, None], x.dtype.type(0), x)
