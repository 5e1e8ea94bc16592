"""Pooling and reshaping of images: maxpool, avgpool, globalpool, flatten.

maxpool / avgpool are PyTorch's max_pool2d / avg_pool2d with kernel K, stride s (default K), no
padding and floor mode: x (B, C, H, W) -> (B, C, (H - K) // s + 1, (W - K) // s + 1). Nothing
copies a window: for each of the K*K window offsets, the elements every window holds at that offset
are one strided view of x, so forward is K*K - 1 element-wise maxima (or adds) of views, and
backward writes (or, for overlapping windows, adds) one view per offset (K*K element-wise ops, no
loop over pixels or examples). Outputs and input gradients keep their input's memory layout, so a
channels-last image (a conv's output) stays channels-last.

Ties in max pooling: the FIRST maximal element of a window in row-major order takes the whole
gradient, as PyTorch's CPU kernel does (it replaces the running max only on a strictly greater
value, or on a NaN: a window holding NaNs outputs NaN and its LAST NaN takes the gradient).
Where windows overlap (s < K), an element chosen by several windows sums their gradients.
"""
from __future__ import annotations

import numpy as np

from .base import Kernel, register, require_image
from .forms import TorchForm
from .conv import out_size, window_error


def _pool_shape(op: str, attrs, in_shape):
    require_image(op, in_shape)
    c, h, w = in_shape
    k, s = attrs["size"], attrs["stride"] or attrs["size"]
    oh, ow = out_size(h, k, s, (0, 0)), out_size(w, k, s, (0, 0))
    if oh < 1 or ow < 1:
        raise window_error(op, in_shape, k, (0, 0), (oh, ow), f"use {op} with a size of at most {min(h, w)}")
    return (c, oh, ow)


class _Shape(Kernel):
    """The facts every pooling and reshaping op shares."""

    category = "shape"
    penalized = ()
    mode_dependent = False


class _Pool(_Shape):
    """Shared window geometry of maxpool and avgpool."""

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        return _pool_shape(cls.op, attrs, in_shapes[0])

    @property
    def _k_s(self) -> tuple[int, int]:
        k = self.attrs["size"]
        return k, self.attrs["stride"] or k

    def _at(self, a: np.ndarray, p: int, q: int) -> np.ndarray:
        """The (B, C, Ho, Wo) strided view of a (B, C, H, W) holding each window's element at
        offset (p, q): no copy, and in a's memory layout (channels-last stays channels-last)."""
        _, s = self._k_s
        _, oh, ow = self.out_shape
        return a[:, :, p:p + s * (oh - 1) + 1:s, q:q + s * (ow - 1) + 1:s]

    def _offsets(self):
        """The window offsets (p, q) in row-major order."""
        k, _ = self._k_s
        return [(p, q) for p in range(k) for q in range(k)]

    def _scatter(self, per_offset, x: np.ndarray, dtype) -> np.ndarray:
        """dx (B, C, H, W), in x's memory layout, = the sum over window offsets (p, q) of
        per_offset(p, q), a (B, C, Ho, Wo) array, added at the pixels that offset reads;
        per_offset(p, q, out=view) writes it into that view instead (windows that do not overlap)."""
        k, s = self._k_s
        _, oh, ow = self.out_shape
        # NOTE: *_like keeps x's strides order; windows that tile x exactly write every pixel
        tiled = s == k and (oh * k, ow * k) == x.shape[2:]
        dx = np.empty_like(x, dtype=dtype) if tiled else np.zeros_like(x, dtype=dtype)
        for p, q in self._offsets():
            target = self._at(dx, p, q)
            if s >= k:  # windows do not overlap: each pixel is written once
                per_offset(p, q, out=target)
            else:
                target += per_offset(p, q)
        return dx


@register
class MaxPool(_Pool):
    """Max over K x K windows: x (B, C, H, W) -> (B, C, Ho, Wo); first maximum takes the gradient."""

    op = "maxpool"

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        (p0, q0), *rest = self._offsets()
        y = self._at(x, p0, q0).copy(order="K")
        for p, q in rest:  # K*K - 1 element-wise maxima of strided views: no window copy
            np.maximum(y, self._at(x, p, q), out=y)
        ctx.x, ctx.y = x, y  # both are kept by the executor anyway: no extra memory
        return y

    def backward(self, ctx, dy, state):
        x, y = ctx.x, ctx.y
        taken = np.zeros_like(y, dtype=bool)  # in y's layout, like the masks it meets
        nan_hits = self._last_nans(x, y)

        def first_max(p, q, out=None):
            hit = self._at(x, p, q) == y
            if nan_hits:
                hit |= nan_hits[p, q]
            hit &= ~taken  # ties: only the first maximal offset (row-major) of a window
            np.logical_or(taken, hit, out=taken)
            return np.multiply(dy, hit, out=out)

        return [self._scatter(first_max, x, dy.dtype)], {}

    def _last_nans(self, x: np.ndarray, y: np.ndarray) -> dict:
        """{(p, q): mask of the windows whose gradient goes to their element at (p, q) because it
        is the window's last NaN}, or {} when no window holds a NaN.

        NOTE: np.maximum propagates NaN, so such a window's maximum is NaN and equals none of
        its elements; PyTorch's CPU kernel sends its gradient to the last NaN (row-major)."""
        nan = np.isnan(y)
        if not nan.any():
            return {}
        hits = {}
        for p, q in reversed(self._offsets()):
            hit = nan & np.isnan(self._at(x, p, q))
            nan &= ~hit  # a window's later NaN was seen first: the earlier ones get nothing
            hits[p, q] = hit
        return hits

    def torch_form(self):
        k, s = self._k_s
        return TorchForm(f"nn.MaxPool2d({k}, stride={s})")  # the same tie rule on the CPU

    def onnx_form(self, g, xs, state):
        k, s = self._k_s
        return g.node("MaxPool", xs, kernel_shape=[k, k], strides=[s, s])


@register
class AvgPool(_Pool):
    """Mean over K x K windows: x (B, C, H, W) -> (B, C, Ho, Wo)."""

    op = "avgpool"

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        k, _ = self._k_s
        ctx.x = x
        (p0, q0), *rest = self._offsets()
        y = self._at(x, p0, q0).copy(order="K")
        for p, q in rest:  # K*K - 1 adds of strided views: no window copy
            y += self._at(x, p, q)
        y *= x.dtype.type(1.0 / (k * k))
        return y

    def backward(self, ctx, dy, state):
        k, _ = self._k_s
        share = dy * dy.dtype.type(1.0 / (k * k))

        def spread(p, q, out=None):
            if out is None:
                return share
            out[...] = share
            return out

        return [self._scatter(spread, ctx.x, dy.dtype)], {}

    def torch_form(self):
        k, s = self._k_s
        return TorchForm(f"nn.AvgPool2d({k}, stride={s})")  # no padding: nothing to count or not

    def onnx_form(self, g, xs, state):
        k, s = self._k_s
        return g.node("AveragePool", xs, kernel_shape=[k, k], strides=[s, s])


@register
class GlobalPool(_Shape):
    """Mean (kind=avg) or max (kind=max) of each channel over H, W: x (B, C, H, W) -> (B, C).

    PyTorch's adaptive_avg_pool2d / adaptive_max_pool2d to 1x1, flattened; at a tie the first
    maximal pixel (row-major) takes the gradient.
    """

    op = "globalpool"

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        require_image("globalpool", in_shapes[0])
        return (in_shapes[0][0],)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        b, c, h, w = x.shape
        ctx.x_shape = x.shape
        if self.attrs["kind"] == "avg":
            return x.mean(axis=(2, 3), dtype=x.dtype)
        flat = x.reshape(b, c, h * w)
        ctx.idx = flat.argmax(axis=2)
        return np.take_along_axis(flat, ctx.idx[..., None], axis=2)[..., 0]

    def backward(self, ctx, dy, state):
        b, c, h, w = ctx.x_shape
        if self.attrs["kind"] == "avg":
            dx = np.broadcast_to((dy * (1.0 / (h * w)))[:, :, None, None], ctx.x_shape)
            return [dx], {}
        dx = np.zeros((b, c, h * w), dy.dtype)
        np.put_along_axis(dx, ctx.idx[..., None], dy[..., None], axis=2)
        return [dx.reshape(ctx.x_shape)], {}

    def torch_form(self):
        # plain code, no submodule: the pooled (B, C, 1, 1) is flattened on the same line
        return TorchForm(None, call=f"nn.functional.adaptive_{self.attrs['kind']}_pool2d({{0}}, 1).flatten(1)")

    def onnx_form(self, g, xs, state):
        pooled = g.node("GlobalAveragePool" if self.attrs["kind"] == "avg" else "GlobalMaxPool", xs)
        return g.node("Flatten", [pooled], axis=1)


@register
class Flatten(_Shape):
    """Row-major flattening of each example: x (B, C, H, W) -> (B, C*H*W) (PyTorch's flatten(1))."""

    op = "flatten"

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        require_image("flatten", in_shapes[0], hint="the stream is already a vector: remove flatten")
        c, h, w = in_shapes[0]
        return (c * h * w,)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        ctx.x = x  # kept by the executor anyway; backward reads its memory layout
        return x.reshape(x.shape[0], -1)  # a copy when x is channels-last in memory

    def backward(self, ctx, dy, state):
        # NOTE: dx takes x's memory layout (one copy, of the smallest image in a CNN) so the ops
        # before it, which computed channels-last, see a channels-last gradient too.
        dx = np.empty_like(ctx.x, dtype=dy.dtype)
        dx[...] = dy.reshape(ctx.x.shape)
        return [dx], {}

    def torch_form(self):
        return TorchForm(None, call="{0}.flatten(1)")

    def onnx_form(self, g, xs, state):
        return g.node("Flatten", xs, axis=1)
