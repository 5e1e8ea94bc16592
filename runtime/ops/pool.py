"""Pooling and reshaping of images: maxpool, avgpool, globalpool, flatten.

maxpool / avgpool are PyTorch's max_pool2d / avg_pool2d with kernel K, stride s (default K), no
padding and floor mode: x (B, C, H, W) -> (B, C, (H - K) // s + 1, (W - K) // s + 1). Windows are
strided views (`sliding_window_view`); backward scatters with one strided add per window offset
(K*K adds, no loop over pixels or examples).

Ties in max pooling: the FIRST maximal element of a window in row-major order takes the whole
gradient, as PyTorch's CPU kernel does (it replaces the running max only on a strictly greater
value). Where windows overlap (s < K), an element chosen by several windows sums their gradients.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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

    def _windows(self, x: np.ndarray) -> np.ndarray:
        """Strided view of x's windows: (B, C, Ho, Wo, K, K); no copy."""
        k, s = self._k_s
        _, oh, ow = self.out_shape
        return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s][:, :, :oh, :ow]

    def _scatter(self, per_offset, x_shape, dtype) -> np.ndarray:
        """dx (B, C, H, W) = the sum over window offsets (p, q) of per_offset(p, q), a
        (B, C, Ho, Wo) array, added at the pixels that offset reads."""
        k, s = self._k_s
        _, oh, ow = self.out_shape
        dx = np.zeros(x_shape, dtype)
        for p in range(k):
            for q in range(k):
                dx[:, :, p:p + s * (oh - 1) + 1:s, q:q + s * (ow - 1) + 1:s] += per_offset(p, q)
        return dx


@register
class MaxPool(_Pool):
    """Max over K x K windows: x (B, C, H, W) -> (B, C, Ho, Wo); first maximum takes the gradient."""

    op = "maxpool"

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        k, _ = self._k_s
        win = self._windows(x)
        flat = win.reshape(win.shape[:4] + (k * k,))  # the one copy: (B, C, Ho, Wo, K*K)
        idx = flat.argmax(axis=-1)  # NOTE: argmax returns the first maximum (PyTorch's tie rule)
        ctx.idx, ctx.x_shape = idx, x.shape
        return np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]

    def backward(self, ctx, dy, state):
        k, _ = self._k_s
        idx = ctx.idx
        return [self._scatter(lambda p, q: dy * (idx == p * k + q), ctx.x_shape, dy.dtype)], {}

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
        ctx.x_shape = x.shape
        return self._windows(x).mean(axis=(4, 5), dtype=x.dtype)

    def backward(self, ctx, dy, state):
        k, _ = self._k_s
        share = dy * (1.0 / (k * k))
        return [self._scatter(lambda p, q: share, ctx.x_shape, dy.dtype)], {}

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
        ctx.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, ctx, dy, state):
        return [dy.reshape(ctx.x_shape)], {}

    def torch_form(self):
        return TorchForm(None, call="{0}.flatten(1)")

    def onnx_form(self, g, xs, state):
        return g.node("Flatten", xs, axis=1)
