"""Convolution as GEMMs over im2col patches: x (B, C, H, W) -> (B, N, Ho, Wo).

PyTorch's Conv2d (cross-correlation, no kernel flip): y[b, n, i, j] = b[n] + sum over c, p, q of
W[n, c, p, q] * xpad[b, c, i*s + p, j*s + q]. The input is padded once into a channels-last copy
(B, Hp, Wp, C), viewed, not copied, as patches (`sliding_window_view`), and the patches of a few
examples at a time are gathered into one reused (rows, k*k*C) buffer, columns ordered (p, q, c),
and multiplied by W as an (N, k*k*C) matrix while they are in cache. The output is that
(B*Ho*Wo, N) product seen as (B, N, Ho, Wo): channels-last memory, no transpose (see layout.py).

Backward is analytic: dW = dy^T @ patches, gathering the patches again chunk by chunk (cheaper
than keeping a (B*Ho*Wo, k*k*C) matrix: 115 MiB for a LeNet-size layer; a batch in one chunk
reuses forward's if still in the buffer, see scratch.untouched); db = the column sums of
dy; dx, skipped for the first layer, is for each kernel offset (p, q) one GEMM dy @ W[:, :, p, q]
added onto the padded input gradient at the pixels that offset reads (k*k GEMMs and strided adds
over every example and pixel at once: no loop over pixels or examples).

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
from .layout import column_sums
from .scratch import scratch, untouched

# Patches are gathered this many bytes at a time (a few examples; at least one): big enough for
# GEMMs that run at BLAS speed, small enough to stay in cache between the copy and the GEMM
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

    def workspace(self, batch: int) -> int:
        """The padded channels-last input forward saves for backward (B, Hp, Wp, C), and the
        scratch buffers of one chunk: its patches, and in backward its dy laid out on padded
        rows and one offset's pixel gradients (about _CHUNK_BYTES of float32 each)."""
        c, h, w = self.in_shapes[0]
        top, bottom = padding(self.attrs["pad"], self.attrs["size"])
        return batch * c * (h + top + bottom) * (w + top + bottom) + 3 * (_CHUNK_BYTES // 4)

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

    def _chunks(self, b: int, itemsize: int):
        """(chunk, [(b0, b1), ...]): how many examples' im2col matrix takes about _CHUNK_BYTES
        (at least one; the size of the patch buffer), and the ranges of examples that cover the
        batch of b in such chunks (the last one may be shorter)."""
        _, oh, ow = self.out_shape
        k, c = self.attrs["size"], self.in_shapes[0][0]
        per_example = oh * ow * k * k * c * itemsize
        chunk = max(1, min(b, _CHUNK_BYTES // per_example))
        return chunk, [(b0, min(b, b0 + chunk)) for b0 in range(0, b, chunk)]

    def _cols(self, xp: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The im2col matrix of the padded channels-last images xp (b, Hp, Wp, C), written into
        out (at least b examples' worth): (b*Ho*Wo, k*k*C), rows ordered (b, i, j), columns
        (p, q, c), channels last so the one copy moves runs of C contiguous values."""
        k, s = self.attrs["size"], self.attrs["stride"]
        _, oh, ow = self.out_shape
        b, c = xp.shape[0], xp.shape[3]
        win = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s][:, :oh, :ow]  # (b,Ho,Wo,C,k,k)
        cols = out[:b]
        np.copyto(cols, win.transpose(0, 1, 2, 4, 5, 3))
        return cols.reshape(b * oh * ow, k * k * c)

    @staticmethod
    def _wmat(W: np.ndarray) -> np.ndarray:
        """W (N, C, k, k) as the (N, k*k*C) matrix matching the im2col columns' (p, q, c) order."""
        return W.transpose(0, 2, 3, 1).reshape(W.shape[0], -1)

    def _buffer(self, name: str, chunk: int, dtype, owner: object = None) -> np.ndarray:
        """An uninitialized patch-sized scratch buffer for `chunk` examples: (chunk, Ho, Wo, k, k,
        C), shared by every conv (each uses it only within one call, see scratch)."""
        _, oh, ow = self.out_shape
        k, c = self.attrs["size"], self.in_shapes[0][0]
        return scratch(name, (chunk, oh, ow, k, k, c), dtype, owner)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        b = x.shape[0]
        n, oh, ow = self.out_shape
        xp = self._padded(x)
        wmat_t = self._wmat(state["W"]).T
        y = np.empty((b * oh * ow, n), x.dtype)
        chunk, ranges = self._chunks(b, x.dtype.itemsize)
        # a batch in one chunk leaves all its patches in the buffer: backward can use them if no
        # other conv has used the buffer since (the last conv of a small network)
        ctx.patches = object() if len(ranges) == 1 else None  # a token (see scratch.untouched)
        buf = self._buffer("conv.patches", chunk, x.dtype, ctx.patches)
        for b0, b1 in ranges:  # NOTE: the GEMM reads each chunk's patches while they are in cache
            np.matmul(self._cols(xp[b0:b1], buf), wmat_t, out=y[b0 * oh * ow:b1 * oh * ow])
        if self.attrs.get("bias", True):
            y += state["b"]
        ctx.xp, ctx.x_shape, ctx.im2col_bytes = xp, x.shape, buf.nbytes
        # NOTE: (B, Ho, Wo, N) memory seen as (B, N, Ho, Wo): no transpose copy. Images flow
        # channels-last in memory from here: the element-wise ops keep their input's layout, and
        # the next conv's im2col reads it with contiguous runs of channels.
        return y.reshape(b, oh, ow, n).transpose(0, 3, 1, 2)

    def backward(self, ctx, dy, state):
        W = state["W"]
        n, c, k, _ = W.shape
        b, _, oh, ow = dy.shape
        rows = oh * ow
        dym = dy.transpose(0, 2, 3, 1).reshape(b * rows, n)  # a view when dy is channels-last
        need_dx = getattr(ctx, "need_input_grad", True)
        dxp = np.zeros(ctx.xp.shape, dy.dtype) if need_dx else None
        w_offsets = np.ascontiguousarray(W.transpose(2, 3, 0, 1))  # (k, k, N, C): W at each offset
        dw = np.zeros((n, k * k * c), dy.dtype)  # columns (p, q, c), like the patches
        db = np.zeros(n, dy.dtype)
        chunk, ranges = self._chunks(b, dy.dtype.itemsize)
        kept = untouched("conv.patches", getattr(ctx, "patches", None), (chunk, oh, ow, k, k, c), dy.dtype)
        buf = self._buffer("conv.patches", chunk, dy.dtype) if kept is None else None
        col2im = self._col2im_rows if self._rows_col2im(ctx.xp.shape) else self._col2im
        for b0, b1 in ranges:
            # the patches again, a chunk at a time, rather than a (B*Ho*Wo, k*k*C) matrix kept
            # from forward: the copy costs less than the memory of keeping it (unless forward's
            # one chunk is still in the buffer)
            dyc = dym[b0 * rows:b1 * rows]
            patches = self._cols(ctx.xp[b0:b1], buf) if kept is None else kept.reshape(dyc.shape[0], -1)
            dw += dyc.T @ patches
            db += column_sums(dyc)
            if need_dx:
                col2im(dyc, w_offsets, dxp[b0:b1], chunk)
        grads = {"W": np.ascontiguousarray(dw.reshape(n, k, k, c).transpose(0, 3, 1, 2))}
        if self.attrs.get("bias", True):
            grads["b"] = db
        if not need_dx:
            return [None], grads
        top, _ = padding(self.attrs["pad"], k)
        h, w = ctx.x_shape[2:]
        return [dxp[:, top:top + h, top:top + w].transpose(0, 3, 1, 2)], grads

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

    def _col2im(self, dyc: np.ndarray, w_offsets: np.ndarray, dxp: np.ndarray, chunk: int) -> None:
        """Add the input gradient of a chunk of b examples onto their padded channels-last image
        gradient dxp (b, Hp, Wp, C), in place, from dy as a (b*Ho*Wo, N) matrix: for each kernel
        offset (p, q), one GEMM dy @ W[:, :, p, q] (b*Ho*Wo, C) and one strided add at the
        pixels that offset reads (k*k of each, over every example and pixel at once).

        NOTE: the same sums as the patch gradients dy @ W (b*Ho*Wo, k*k*C) scattered back, but
        each add then moves whole rows of Wo*C contiguous values instead of runs of C, which
        is what made col2im slow for the narrow images of small CNNs."""
        k, s = self.attrs["size"], self.attrs["stride"]
        _, oh, ow = self.out_shape
        b, c = dxp.shape[0], dxp.shape[3]
        out = scratch("conv.pixel_grads", (chunk * oh * ow, c), dyc.dtype)[:b * oh * ow]
        for p in range(k):
            for q in range(k):
                np.matmul(dyc, w_offsets[p, q], out=out)
                dxp[:, p:p + s * (oh - 1) + 1:s, q:q + s * (ow - 1) + 1:s] += out.reshape(b, oh, ow, c)

    def _rows_col2im(self, xp_shape) -> bool:
        """Whether _col2im_rows serves: stride 1, and padded rows at most 1/8 longer than the
        output's (its GEMMs compute that much more)."""
        _, oh, ow = self.out_shape
        return self.attrs["stride"] == 1 and (xp_shape[2] - ow) * 8 <= ow

    def _col2im_rows(self, dyc: np.ndarray, w_offsets: np.ndarray, dxp: np.ndarray, chunk: int) -> None:
        """_col2im for stride 1 with contiguous adds: dy is first laid out on rows as long as the
        padded input's (Wp, zeros past Wo), so that each offset's product, an image of Ho rows of
        Wp pixels, lands on dxp (b, Hp, Wp, C) as one contiguous span per example, shifted by
        p*Wp + q pixels (the zero columns fall on the pixels between rows).

        NOTE: numpy's in-place add on a strided region runs about 3x slower than on a contiguous
        span; the GEMMs grow by Wp / Wo (7% for LeNet's 28x28), so _rows_col2im keeps this to
        images whose padding is small next to their width."""
        k = self.attrs["size"]
        _, oh, ow = self.out_shape
        b, _, wp, c = dxp.shape
        n = dyc.shape[1]
        grid = scratch("conv.dy_rows", (chunk, oh, wp, n), dyc.dtype)[:b]
        grid[:, :, :ow] = dyc.reshape(b, oh, ow, n)
        grid[:, :, ow:] = 0
        out = scratch("conv.pixel_grads", (chunk * oh * wp, c), dyc.dtype)[:b * oh * wp]
        span = (oh * wp - (wp - ow)) * c  # up to the last row's last pixel: stays inside dxp
        flat, spans = dxp.reshape(b, -1), out.reshape(b, -1)[:, :span]
        for p in range(k):
            for q in range(k):
                np.matmul(grid.reshape(b * oh * wp, n), w_offsets[p, q], out=out)
                start = (p * wp + q) * c
                target = flat[:, start:start + span]
                target += spans
