"""Per-example normalization of images over groups of channels: instancenorm and groupnorm.

Group normalization (Wu and He 2018) splits the C channels of each example into G groups of C/G
and normalizes each group over its channels and H, W: u = (x - mean) / sqrt(var + eps) with the
biased variance, then gamma * u + beta with gamma and beta per channel. G = 1 is layernorm on
images (PyTorch's GroupNorm(1, C)); G = C is instancenorm (InstanceNorm2d(affine=True), which
keeps no running statistics, so training and evaluation agree). The backward is the same closed
form as layernorm's, per group: dx = inv * (g - mean(g) - u * mean(g * u)), g = gamma * dy.
"""
from __future__ import annotations

import numpy as np

from .base import Kernel, ShapeError, register, require_image
from .forms import TorchForm


def per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-channel vector (C,) shaped to broadcast against (B, C) or (B, C, H, W) arrays."""
    return v if ndim == 2 else v.reshape(-1, 1, 1)


def group_forward(x: np.ndarray, groups: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(u, inv): x (B, C, ...) normalized per example over groups of C/G channels (and every
    trailing axis), u of x's shape, inv = 1 / sqrt(var + eps) of shape (B, G, 1)."""
    b = x.shape[0]
    xg = x.reshape(b, groups, -1)  # a copy when x is not contiguous: u is a new array either way
    u = xg - xg.mean(axis=2, keepdims=True)
    var = np.einsum("bgm,bgm->bg", u, u)[..., None]
    var *= 1.0 / u.shape[2]  # biased variance of each group
    var += eps
    inv = 1.0 / np.sqrt(var, out=var)
    u *= inv
    return u.reshape(x.shape), inv


def group_backward(g: np.ndarray, u: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """dx from g (the gradient with respect to u, x's shape), u and inv of `group_forward`."""
    b, groups = inv.shape[:2]
    gg, ug = g.reshape(b, groups, -1), u.reshape(b, groups, -1)
    m = gg.shape[2]
    dx = ug * (np.einsum("bgm,bgm->bg", gg, ug)[..., None] * (1.0 / m))
    dx += gg.mean(axis=2, keepdims=True)
    np.subtract(gg, dx, out=dx)
    dx *= inv
    return dx.reshape(g.shape)


def onnx_group_norm(g, x: str, in_shape: tuple[int, ...], groups: int, eps: float, gamma, beta) -> str:
    """Group normalization of x (B, *in_shape) in ONNX opset 17, which has no GroupNormalization:
    InstanceNormalization of x seen as (B, G, rest) (per example and group over the rest), then
    x's shape again and gamma, beta per channel (None: not affine). Returns the output's name."""
    ones, zeros = np.ones(groups), np.zeros(groups)
    if groups == in_shape[0] and len(in_shape) == 3 and gamma is not None:
        return g.node("InstanceNormalization", [x, g.const("gamma", gamma), g.const("beta", beta)], epsilon=eps)
    grouped = g.node("Reshape", [x, g.const("grouped", np.array([0, groups, -1], np.int64))])
    u = g.node("InstanceNormalization", [grouped, g.const("ones", ones), g.const("zeros", zeros)], epsilon=eps)
    y = g.node("Reshape", [u, g.const("shape", np.array([0, *in_shape], np.int64))])
    if gamma is None:
        return y
    y = g.node("Mul", [y, g.const("gamma", per_channel(gamma, len(in_shape) + 1))])
    return g.node("Add", [y, g.const("beta", per_channel(beta, len(in_shape) + 1))])


class _GroupNormBase(Kernel):
    """gamma, beta per channel (when affine); the group count comes from `_groups`."""

    params = ("gamma", "beta")
    category = "normalization"
    penalized = ()
    mode_dependent = False  # per-example statistics: the same in training and evaluation
    batch_stats = False

    def _groups(self) -> int:
        """The group count: the op's `groups` attribute, or one group per channel (instance norm)."""
        return self.attrs.get("groups") or self.in_shapes[0][0]

    def param_shapes(self):
        c = self.in_shapes[0][0]
        return {"gamma": (c,), "beta": (c,)} if self.attrs["affine"] else {}

    def init_state(self, rng, dtype):
        c = self.in_shapes[0][0]
        if not self.attrs["affine"]:
            return {}
        return {"gamma": np.ones(c, dtype), "beta": np.zeros(c, dtype)}

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        u, inv = group_forward(x, self._groups(), float(self.attrs["eps"]))
        ctx.u, ctx.inv = u, inv
        if not self.attrs["affine"]:
            return u
        y = u * per_channel(state["gamma"], x.ndim)
        y += per_channel(state["beta"], x.ndim)
        return y

    def backward(self, ctx, dy, state):
        u, inv = ctx.u, ctx.inv
        if not self.attrs.get("affine", True):
            return [group_backward(dy, u, inv)], {}
        dx = group_backward(dy * per_channel(state["gamma"], dy.ndim), u, inv)
        axes = (0,) if dy.ndim == 2 else (0, 2, 3)
        grads = {"gamma": (dy * u).sum(axis=axes), "beta": dy.sum(axis=axes)}
        return [dx], grads

    def _torch_args(self) -> str:
        affine = self.attrs["affine"]
        return f"{self.in_shapes[0][0]}, eps={float(self.attrs['eps'])!r}" + ("" if affine else ", affine=False")

    def _torch_names(self) -> dict[str, str]:
        return {"gamma": "weight", "beta": "bias"} if self.attrs["affine"] else {}

    def onnx_form(self, g, xs, state):
        affine = self.attrs["affine"]
        return onnx_group_norm(g, xs[0], self.in_shapes[0], self._groups(), float(self.attrs["eps"]),
                               state["gamma"] if affine else None, state["beta"] if affine else None)


@register
class InstanceNorm(_GroupNormBase):
    """Each example's channels normalized over H, W: x (B, C, H, W) -> (B, C, H, W);
    gamma, beta (C,) when affine (PyTorch's InstanceNorm2d(C, affine=True))."""

    op = "instancenorm"

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        require_image("instancenorm", in_shapes[0])
        return in_shapes[0]

    def torch_form(self):
        # InstanceNorm2d keeps no running statistics by default (track_running_stats=False), and
        # unlike GroupNorm it is not affine unless asked
        affine = self.attrs["affine"]
        return TorchForm(f"nn.InstanceNorm2d({self.in_shapes[0][0]}, eps={float(self.attrs['eps'])!r}, "
                         f"affine={affine})", names=self._torch_names())


@register
class GroupNorm(_GroupNormBase):
    """Each example normalized over groups of C/G channels and H, W: x (B, C, H, W) -> same
    (PyTorch's GroupNorm(G, C)); on vectors (B, D), over groups of D/G features."""

    op = "groupnorm"

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        c, g = in_shapes[0][0], attrs["groups"]
        if c % g:
            divisors = [d for d in range(1, c + 1) if c % d == 0]
            what = "channels" if len(in_shapes[0]) == 3 else "features"
            raise ShapeError(f"groupnorm {g} on {c} {what}: the group count must divide the {what}",
                             hint=f"use one of {', '.join(map(str, divisors))}")
        return in_shapes[0]

    def torch_form(self):
        return TorchForm(f"nn.GroupNorm({self._groups()}, {self._torch_args()})", names=self._torch_names())
