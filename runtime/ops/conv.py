"""Convolution as one GEMM over im2col patches: x (B, C, H, W) -> (B, N, Ho, Wo).

PyTorch's Conv2d (cross-correlation, no kernel flip): y[b, n, i, j] = b[n] + sum over c, p, q of
W[n, c, p, q] * xpad[b, c, i*s + p, j*s + q]. The padded image is viewed, not copied, as patches
(`sliding_window_view`), the patches are gathered once into a (B*Ho*Wo, C*k*k) matrix (the
im2col buffer, the one copy) and multiplied by W as a (N, C*k*k) matrix. Backward is the same
GEMM transposed: dW from the saved patches, and dx scattered back (col2im) with one strided add
per kernel offset (k*k adds, no loop over pixels or examples).

`pad=same` pads k - 1 in all, (k - 1) // 2 before and the rest after (PyTorch's padding='same'
for stride 1, asymmetric for even k), so the output is ceil(H / s) x ceil(W / s) at any stride;
`pad=valid` pads nothing; an integer pads that much on every side (PyTorch's padding=int).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..init import init_weights
from .base import Kernel, ShapeError, register, require_image, shape_str
from .forms import TorchForm, init_statements

# The input gradient's patch gradients are computed this many bytes at a time (see _input_grad)
_CHUNK_BYTES = 4 << 20


def padding(pad, k: int) -> tuple[int, int]:
    """(before, after) zero padding of each spatial axis for pad=same|valid|int and kernel size k."""
    if pad == "same":
        return (k - 1) // 2, k - 1 - (k - 1) // 2
    if pad == "valid":
        return 0, 0
    return int(pad), int(pad)


def out_size(n: int, k: int, stride: int, pad: tuple[int, int]) -> int:
    """The output length of a window of size k sliding by `stride` over n padded by pad: floor."""
    return (n + pad[0] + pad[1] - k) // stride + 1


def window_error(op: str, in_shape, k: int, pad: tuple[int, int], out_hw, hint: str) -> ShapeError:
    """A window larger than its (padded) input: name the input shape and what it would produce."""
    c, h, w = in_shape
    padded = f" (padded to {h + sum(pad)}x{w + sum(pad)})" if sum(pad) else ""
    return ShapeError(f"{op} window {k}x{k} is larger than its input {shape_str(in_shape)}{padded}: "
                      f"it would produce {out_hw[0]}x{out_hw[1]} outputs per channel", hint=hint,
                      name_node=True)


@register
class Conv(Kernel):
    """2-D convolution: x (B, C, H, W) -> (B, N, Ho, Wo); W (N, C, k, k), b (N,).

    fan_in = C*k*k and fan_out = N*k*k for the initializers (PyTorch's convention).
    """

    op = "conv"
    params = ("W", "b")
    category = "linear"
    penalized = ("W",)  # the bias is not penalized
    unit_axes = {"W": (1, 2, 3)}  # W (out, in, k, k): an output channel's filter
    mode_dependent = False

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        require_image("conv", in_shapes[0])
        c, h, w = in_shapes[0]
        k, s = attrs["size"], attrs["stride"]
        pad = padding(attrs["pad"], k)
        oh, ow = out_size(h, k, s, pad), out_size(w, k, s, pad)
        if oh < 1 or ow < 1:
            raise window_error("conv", in_shapes[0], k, pad, (oh, ow),
                               "use a smaller size=, or pad=same (the default)")
        return (attrs["channels"], oh, ow)

    def _fans(self):
        c = self.in_shapes[0][0]
        k, n = self.attrs["size"], self.out_shape[0]
        return c * k * k, n * k * k

    def param_shapes(self):
        c, k, n = self.in_shapes[0][0], self.attrs["size"], self.out_shape[0]
        shapes = {"W": (n, c, k, k)}
        if self.attrs.get("bias", True):
            shapes["b"] = (n,)
        return shapes

    def init_state(self, rng, dtype):
        fan_in, fan_out = self._fans()
        shape = self.param_shapes()["W"]
        state = {"W": init_weights(self.attrs["init"], shape, fan_in, fan_out, rng, dtype,
                                   std=self.attrs.get("std", 0.01), value=self.attrs["value"],
                                   gain=self.attrs["gain"])}
        if self.attrs.get("bias", True):
            state["b"] = np.zeros(shape[0], dtype)
        return state

    def fold_affine(self, state, scale, shift):
        """This layer followed by y * scale + shift per output channel: W * scale, b * scale + shift."""
        b = state["b"] * scale if self.attrs.get("bias", True) else 0.0
        return {"W": state["W"] * scale[:, None, None, None], "b": b + shift}

    def _padded(self, x: np.ndarray) -> np.ndarray:
        """x (B, C, H, W), any strides, as a padded channels-last copy (B, H + pad, W + pad, C);
        x itself, seen channels-last, when there is no padding."""
        top, bottom = padding(self.attrs["pad"], self.attrs["size"])
        xh = x.transpose(0, 2, 3, 1)  # a view; contiguous when x came from a conv (see forward)
        if not (top or bottom):
            return xh
        b, h, w, c = xh.shape
        xp = np.empty((b, h + top + bottom, w + top + bottom, c), x.dtype)
        # NOTE: zero only the border: the interior is overwritten by the one copy of x
        xp[:, :top], xp[:, top + h:], xp[:, :, :top], xp[:, :, top + w:] = 0, 0, 0, 0
        xp[:, top:top + h, top:top + w] = xh
        return xp

    def _cols(self, x: np.ndarray) -> np.ndarray:
        """The im2col matrix of x (B, C, H, W): (B*Ho*Wo, k*k*C), rows ordered (b, i, j), columns
        (p, q, c), channels last so the copy moves runs of C contiguous values. The only copy of
        the patches."""
        k, s = self.attrs["size"], self.attrs["stride"]
        _, oh, ow = self.out_shape
        xp = self._padded(x)
        b, c = xp.shape[0], xp.shape[3]
        win = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s][:, :oh, :ow]  # (B,Ho,Wo,C,k,k)
        cols = np.empty((b, oh, ow, k, k, c), x.dtype)
        np.copyto(cols, win.transpose(0, 1, 2, 4, 5, 3))
        return cols.reshape(b * oh * ow, k * k * c)

    @staticmethod
    def _wmat(W: np.ndarray) -> np.ndarray:
        """W (N, C, k, k) as the (N, k*k*C) matrix matching the im2col columns' (p, q, c) order."""
        return W.transpose(0, 2, 3, 1).reshape(W.shape[0], -1)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        b = x.shape[0]
        n, oh, ow = self.out_shape
        cols = self._cols(x)
        y = cols @ self._wmat(state["W"]).T  # (B*Ho*Wo, N)
        if self.attrs.get("bias", True):
            y += state["b"]
        ctx.cols, ctx.x_shape = cols, x.shape
        # NOTE: (B, Ho, Wo, N) memory seen as (B, N, Ho, Wo): no transpose copy. Images flow
        # channels-last in memory from here: the element-wise ops keep their input's layout, and
        # the next conv's im2col reads it with contiguous runs of channels.
        return y.reshape(b, oh, ow, n).transpose(0, 3, 1, 2)

    def backward(self, ctx, dy, state):
        W = state["W"]
        n, c, k, _ = W.shape
        b, _, oh, ow = dy.shape
        dym = dy.transpose(0, 2, 3, 1).reshape(b * oh * ow, n)  # a view when dy is channels-last
        dw = (dym.T @ ctx.cols).reshape(n, k, k, c).transpose(0, 3, 1, 2)
        grads = {"W": np.ascontiguousarray(dw)}
        if self.attrs.get("bias", True):
            grads["b"] = dym.sum(axis=0)
        if not getattr(ctx, "need_input_grad", True):
            return [None], grads
        return [self._input_grad(dym, self._wmat(W), ctx.x_shape)], grads

    def torch_form(self):
        c, n = self.in_shapes[0][0], self.out_shape[0]
        k, s, bias = self.attrs["size"], self.attrs["stride"], self.attrs.get("bias", True)
        before, after = padding(self.attrs["pad"], k)
        fan_in, fan_out = self._fans()
        init = init_statements(self.attrs["init"], "{self}.weight", fan_in, fan_out, self.attrs.get("std", 0.01))
        module = f"nn.Conv2d({c}, {n}, {k}, stride={s}, padding={before if before == after else 0}" \
                 f"{'' if bias else ', bias=False'})"
        # pad=same with an even size pads one more after than before: Conv2d pads symmetrically
        # (and padding='same' refuses a stride), so the uneven padding is an explicit F.pad
        call = "{self}({0})" if before == after else \
            f"{{self}}(nn.functional.pad({{0}}, ({before}, {after}, {before}, {after})))"
        return TorchForm(module, call=call, init=init + (("nn.init.zeros_({self}.bias)",) if bias else ()),
                         names={"W": "weight", "b": "bias"} if bias else {"W": "weight"})

    def onnx_form(self, g, xs, state):
        k, s = self.attrs["size"], self.attrs["stride"]
        before, after = padding(self.attrs["pad"], k)
        inputs = [xs[0], g.const("W", state["W"])]
        if self.attrs.get("bias", True):
            inputs.append(g.const("b", state["b"]))
        return g.node("Conv", inputs, kernel_shape=[k, k], strides=[s, s], pads=[before, before, after, after])

    def _input_grad(self, dym: np.ndarray, wmat: np.ndarray, x_shape) -> np.ndarray:
        """dx (B, C, H, W), channels-last in memory, from dy as a (B*Ho*Wo, N) matrix: the patch
        gradients dym @ W scattered back (col2im) with one strided add per kernel offset.

        NOTE: done a few examples at a time, so each chunk's patch gradients (a (rows, k*k*C)
        matrix) stay in cache between the GEMM that writes them and the k*k adds that read them,
        and the whole (B*Ho*Wo, k*k*C) matrix is never held at once."""
        b, c, h, w = x_shape
        k, s = self.attrs["size"], self.attrs["stride"]
        top, bottom = padding(self.attrs["pad"], k)
        _, oh, ow = self.out_shape
        dxp = np.zeros((b, h + top + bottom, w + top + bottom, c), dym.dtype)
        per_example = oh * ow * k * k * c * dym.dtype.itemsize
        chunk = max(1, _CHUNK_BYTES // per_example)
        for b0 in range(0, b, chunk):
            b1 = min(b, b0 + chunk)
            d6 = (dym[b0 * oh * ow:b1 * oh * ow] @ wmat).reshape(b1 - b0, oh, ow, k, k, c)
            part = dxp[b0:b1]
            for p in range(k):  # k*k strided adds, each over the chunk's examples and pixels
                for q in range(k):
                    part[:, p:p + s * (oh - 1) + 1:s, q:q + s * (ow - 1) + 1:s] += d6[:, :, :, p, q]
        return dxp[:, top:top + h, top:top + w].transpose(0, 3, 1, 2)
