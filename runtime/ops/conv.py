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

    def _cols(self, x: np.ndarray) -> np.ndarray:
        """The im2col matrix of x (B, C, H, W): (B*Ho*Wo, C*k*k), rows ordered (b, i, j), columns
        (c, p, q) like W's flattening. The only copy of the patches."""
        k, s = self.attrs["size"], self.attrs["stride"]
        (top, bottom) = padding(self.attrs["pad"], k)
        if top or bottom:
            x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (top, bottom)))
        _, oh, ow = self.out_shape
        win = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s][:, :, :oh, :ow]
        b, c = x.shape[:2]
        return win.transpose(0, 2, 3, 1, 4, 5).reshape(b * oh * ow, c * k * k)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        b = x.shape[0]
        n, oh, ow = self.out_shape
        cols = self._cols(x)
        W = state["W"]
        y = cols @ W.reshape(n, -1).T  # (B*Ho*Wo, N)
        if self.attrs.get("bias", True):
            y += state["b"]
        ctx.cols, ctx.x_shape = cols, x.shape
        # NOTE: (B, Ho, Wo, N) memory seen as (B, N, Ho, Wo): no transpose copy; later ops and the
        # next conv's im2col accept any strides.
        return y.reshape(b, oh, ow, n).transpose(0, 3, 1, 2)

    def backward(self, ctx, dy, state):
        W = state["W"]
        n, c, k, _ = W.shape
        b, _, oh, ow = dy.shape
        dym = dy.transpose(0, 2, 3, 1).reshape(b * oh * ow, n)  # a view when dy came from forward
        grads = {"W": (dym.T @ ctx.cols).reshape(W.shape)}
        if self.attrs.get("bias", True):
            grads["b"] = dym.sum(axis=0)
        if not getattr(ctx, "need_input_grad", True):
            return [None], grads
        return [self._col2im(dym @ W.reshape(n, -1), ctx.x_shape)], grads

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

    def _col2im(self, dcols: np.ndarray, x_shape) -> np.ndarray:
        """Scatter-add patch gradients (B*Ho*Wo, C*k*k) back onto the image: (B, C, H, W)."""
        b, c, h, w = x_shape
        k, s = self.attrs["size"], self.attrs["stride"]
        top, bottom = padding(self.attrs["pad"], k)
        _, oh, ow = self.out_shape
        d6 = dcols.reshape(b, oh, ow, c, k, k)
        dxp = np.zeros((b, c, h + top + bottom, w + top + bottom), dcols.dtype)
        for p in range(k):  # k*k strided adds, each over every example and pixel at once
            for q in range(k):
                dxp[:, :, p:p + s * (oh - 1) + 1:s, q:q + s * (ow - 1) + 1:s] += \
                    d6[:, :, :, :, p, q].transpose(0, 3, 1, 2)
        return dxp[:, :, top:top + h, top:top + w] if (top or bottom) else dxp
