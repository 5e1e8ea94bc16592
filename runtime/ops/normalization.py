"""Normalization ops: batchnorm and layernorm, on vectors (B, D) and images (B, C, H, W).

Both normalize u = (x - mean) / sqrt(var + eps) with the biased variance and, when affine, return
gamma * u + beta. Their backward passes are the closed form of the course notes: with g = gamma
* dy (the gradient with respect to u), over the axes the statistics were taken on (n entries),

    dx = (1 / sqrt(var + eps)) * (g - mean(g) - u * mean(g * u)),

which is the gradient through the mean and the variance, not only through the centring.

On images, batchnorm is PyTorch's BatchNorm2d (statistics per channel over the batch and H, W,
n = B*H*W) and layernorm is GroupNorm(1, C) (each example over C, H, W; gamma and beta per
channel); see `groupnorm.py` for the per-example family.
"""
from __future__ import annotations

import numpy as np

from .base import Kernel, RuntimeSpecError, register
from .forms import TorchForm
from .groupnorm import group_backward, group_forward, onnx_group_norm, per_channel
from .layout import channel_rows, column_sums, from_rows, to_rows


def _affine_state(d: int, dtype) -> dict[str, np.ndarray]:
    return {"gamma": np.ones(d, dtype), "beta": np.zeros(d, dtype)}


def _scale_shift(u: np.ndarray, state: dict, attrs: dict) -> np.ndarray:
    """gamma * u + beta (a new array) when the op is affine, else u itself: (B, D) -> (B, D), or
    (B, C, H, W) -> (B, C, H, W) with gamma and beta per channel."""
    if not attrs["affine"]:
        return u
    y = u * per_channel(state["gamma"], u.ndim)
    y += per_channel(state["beta"], u.ndim)
    return y


def _affine_grads(dy: np.ndarray, u: np.ndarray) -> dict[str, np.ndarray]:
    """dgamma and dbeta per unit (vectors) or per channel (images, summed over B, H, W)."""
    if dy.ndim == 2:
        return {"gamma": np.einsum("ij,ij->j", dy, u), "beta": column_sums(dy)}
    return {"gamma": np.einsum("bchw,bchw->c", dy, u), "beta": dy.sum(axis=(0, 2, 3))}


@register
class BatchNorm(Kernel):
    """Batch normalization over the batch axis: x (B, D) -> (B, D), or per channel over the batch
    and H, W: x (B, C, H, W) -> (B, C, H, W) (BatchNorm2d).

    Params gamma, beta (D,) or (C,) when affine. Buffers running_mean, running_var (D,) or (C,)
    and num_batches () (int64: training batches seen, PyTorch's num_batches_tracked). Training
    normalizes with the batch statistics (n = B, or B*H*W values per channel) and updates the
    buffers in place, the variance entering unbiased (times n / (n - 1)); evaluation uses the
    running ones.
    """

    op = "batchnorm"
    params = ("gamma", "beta")
    buffers = ("running_mean", "running_var", "num_batches")
    category = "normalization"
    penalized = ()
    mode_dependent = True
    min_batch = 2  # the batch variance of one example is 0
    batch_stats = True

    def param_shapes(self):
        d = self.in_widths[0]
        return {"gamma": (d,), "beta": (d,)} if self.attrs["affine"] else {}

    def buffer_shapes(self):
        d = self.in_widths[0]
        return {"running_mean": (d,), "running_var": (d,), "num_batches": ()}

    def init_state(self, rng, dtype):
        d = self.in_widths[0]
        state = _affine_state(d, dtype) if self.attrs["affine"] else {}
        state["running_mean"] = np.zeros(d, dtype)
        state["running_var"] = np.ones(d, dtype)
        state["num_batches"] = np.zeros((), np.int64)
        return state

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        rows = channel_rows(x) if x.ndim == 4 else None
        ctx.rows = rows is not None
        if ctx.rows:  # a channels-last image: the vector code on its (B*H*W, C) rows, no copy
            return from_rows(self._forward(ctx, rows, state, training, image=True), x.shape)
        return self._forward(ctx, x, state, training, image=x.ndim == 4)

    def _forward(self, ctx, x, state, training, image: bool):
        eps = float(self.attrs["eps"])
        ctx.training = training
        nd = x.ndim
        if not training:
            inv = 1.0 / np.sqrt(state["running_var"] + eps)
            u = x - per_channel(state["running_mean"], nd)
            u *= per_channel(inv, nd)
        else:
            n = x.shape[0] if nd == 2 else x.shape[0] * x.shape[2] * x.shape[3]
            if n < 2:
                what = "values per channel (batch x H x W)" if image else "examples per batch"
                raise RuntimeSpecError(
                    f"batchnorm needs at least 2 {what} in training mode (got {n})",
                    hint="use a larger batch (or drop the last incomplete batch), or layernorm")
            if nd == 2:
                mu = column_sums(x)  # NOTE: sum and scale: ndarray.mean's bookkeeping costs more
                mu *= 1.0 / n        # than the reduction itself at the course's batch sizes
                u = x - mu
                var = np.einsum("ij,ij->j", u, u)
            else:
                mu = x.mean(axis=(0, 2, 3))
                u = x - per_channel(mu, nd)
                var = np.einsum("bchw,bchw->c", u, u)
            var *= 1.0 / n  # biased batch variance
            inv = 1.0 / np.sqrt(var + eps)
            u *= per_channel(inv, nd)
            self._update_running(state, mu, var, n)
        ctx.u, ctx.inv = u, inv
        return _scale_shift(u, state, self.attrs)

    def _update_running(self, state, mu, var, n):
        """Moving statistics, in place: EMA with `momentum`, or the cumulative average (stats=
        average, PyTorch's momentum=None); the variance enters unbiased (times n / (n - 1))."""
        state["num_batches"] += 1
        if self.attrs["stats"] == "average":
            f = 1.0 / float(state["num_batches"])
        else:
            f = float(self.attrs["momentum"])
        rm, rv = state["running_mean"], state["running_var"]
        rm *= 1.0 - f
        rm += f * mu
        rv *= 1.0 - f
        rv += (f * n / (n - 1)) * var

    def backward(self, ctx, dy, state):
        if ctx.rows:  # forward ran on the image's (B*H*W, C) rows: so does backward
            dxs, grads = self._backward(ctx, to_rows(dy), state)
            return [from_rows(dxs[0], dy.shape)], grads
        return self._backward(ctx, dy, state)

    def _backward(self, ctx, dy, state):
        u, inv = ctx.u, ctx.inv
        affine = self.attrs["affine"]
        sums = _affine_grads(dy, u)
        dgamma, dbeta = sums["gamma"], sums["beta"]
        nd = dy.ndim
        scale = per_channel(inv * state["gamma"] if affine else inv, nd)
        if ctx.training:
            # dx = gamma inv (dy - mean(dy) - u mean(dy u)); sums reused from dbeta, dgamma.
            # NOTE: a batch of identical rows has var = 0 and u = 0, so this stays finite:
            # gamma / sqrt(eps) * (dy - mean(dy)), zero when the rows' upstream gradients agree.
            n = dy.size // dgamma.size  # B, or B*H*W per channel
            dx = u * per_channel(dgamma / n, nd)
            dx += per_channel(dbeta / n, nd)
            np.subtract(dy, dx, out=dx)
            dx *= scale
        else:
            dx = dy * scale  # running statistics are constants: only the affine scaling remains
        return [dx], (sums if affine else {})

    def eval_affine(self, state):
        """The evaluation-mode map as a per-unit (per-channel) scale and shift: (scale, shift)."""
        inv = 1.0 / np.sqrt(state["running_var"] + float(self.attrs["eps"]))
        scale = inv * state["gamma"] if self.attrs["affine"] else inv
        shift = -state["running_mean"] * scale
        if self.attrs["affine"]:
            shift = shift + state["beta"]
        return scale, shift

    def torch_form(self):
        a = self.attrs
        # stats=average is PyTorch's momentum=None (the cumulative average of the batch statistics)
        momentum = None if a.get("stats", "ema") == "average" else float(a["momentum"])
        affine = a.get("affine", True)
        names = {"running_mean": "running_mean", "running_var": "running_var",
                 "num_batches": "num_batches_tracked"}
        if affine:
            names.update(gamma="weight", beta="bias")
        # per channel on images (BatchNorm2d), per feature on vectors (BatchNorm1d)
        kind = "BatchNorm2d" if len(self.in_shapes[0]) == 3 else "BatchNorm1d"
        return TorchForm(f"nn.{kind}({self.in_widths[0]}, eps={float(a['eps'])!r}, "
                         f"momentum={momentum!r}{'' if affine else ', affine=False'})", names=names)

    def onnx_form(self, g, xs, state):
        gamma, beta = _onnx_affine(self, state)
        return g.node("BatchNormalization", [xs[0], g.const("gamma", gamma), g.const("beta", beta),
                                             g.const("running_mean", state["running_mean"]),
                                             g.const("running_var", state["running_var"])],
                      epsilon=float(self.attrs["eps"]))


@register
class LayerNorm(Kernel):
    """Layer normalization of each example over its features: x (B, D) -> (B, D); on images over
    C, H, W: x (B, C, H, W) -> (B, C, H, W), PyTorch's GroupNorm(1, C).

    Params gamma, beta (D,) or (C,) when affine. Same in training and evaluation.
    """

    op = "layernorm"
    params = ("gamma", "beta")
    category = "normalization"
    penalized = ()
    mode_dependent = False
    batch_stats = False

    def param_shapes(self):
        d = self.in_widths[0]
        return {"gamma": (d,), "beta": (d,)} if self.attrs["affine"] else {}

    def init_state(self, rng, dtype):
        return _affine_state(self.in_widths[0], dtype) if self.attrs["affine"] else {}

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        if x.ndim == 4:
            ctx.u, ctx.inv = group_forward(x, 1, float(self.attrs["eps"]))
            return _scale_shift(ctx.u, state, self.attrs)
        d = x.shape[1]
        u = x - x.mean(axis=1, keepdims=True)
        var = np.einsum("ij,ij->i", u, u)
        var *= 1.0 / d  # biased variance of each example
        var += float(self.attrs["eps"])
        inv = 1.0 / np.sqrt(var, out=var)
        inv = inv[:, None]
        u *= inv
        ctx.u, ctx.inv = u, inv
        return _scale_shift(u, state, self.attrs)

    def backward(self, ctx, dy, state):
        u, inv = ctx.u, ctx.inv
        affine = self.attrs["affine"]
        if dy.ndim == 4:
            g = dy * per_channel(state["gamma"], 4) if affine else dy
            return [group_backward(g, u, inv)], (_affine_grads(dy, u) if affine else {})
        g = dy * state["gamma"] if affine else dy  # gradient with respect to u
        d = dy.shape[1]
        # dx = inv (g - mean(g) - u mean(g u)), means over each example's features
        dx = u * (np.einsum("ij,ij->i", g, u)[:, None] * (1.0 / d))
        dx += g.mean(axis=1, keepdims=True)
        np.subtract(g, dx, out=dx)
        dx *= inv
        grads = {}
        if affine:
            grads = {"gamma": np.einsum("ij,ij->j", dy, u), "beta": dy.sum(axis=0)}
        return [dx], grads

    def torch_form(self):
        affine = self.attrs.get("affine", True)
        if len(self.in_shapes[0]) == 3:  # on images: over C, H, W with gamma, beta per channel
            return TorchForm(f"nn.GroupNorm(1, {self.in_widths[0]}, eps={float(self.attrs['eps'])!r}"
                             f"{'' if affine else ', affine=False'})",
                             names={"gamma": "weight", "beta": "bias"} if affine else {})
        return TorchForm(f"nn.LayerNorm({self.in_widths[0]}, eps={float(self.attrs['eps'])!r}"
                         f"{'' if affine else ', elementwise_affine=False'})",
                         names={"gamma": "weight", "beta": "bias"} if affine else {})

    def onnx_form(self, g, xs, state):
        if len(self.in_shapes[0]) == 3:
            affine = self.attrs.get("affine", True)
            return onnx_group_norm(g, xs[0], self.in_shapes[0], 1, float(self.attrs["eps"]),
                                   state["gamma"] if affine else None, state["beta"] if affine else None)
        gamma, beta = _onnx_affine(self, state)
        return g.node("LayerNormalization", [xs[0], g.const("gamma", gamma), g.const("beta", beta)],
                      axis=-1, epsilon=float(self.attrs["eps"]))


def _onnx_affine(kernel: Kernel, state) -> tuple[np.ndarray, np.ndarray]:
    """gamma and beta for ONNX's normalization nodes, which always scale and shift: ones and zeros
    when the op is not affine."""
    if kernel.attrs.get("affine", True):
        return state["gamma"], state["beta"]
    dtype = state["running_mean"].dtype if "running_mean" in state else np.float32
    d = kernel.in_widths[0]
    return np.ones(d, dtype), np.zeros(d, dtype)
