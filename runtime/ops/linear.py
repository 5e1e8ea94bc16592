"""Affine ops: input, dense, maxout."""
from __future__ import annotations

from .base import Kernel, register


@register
class Input(Kernel):
    """The network's input: (B, features) -> (B, features)."""

    op = "input"
    arity = 0

    @classmethod
    def infer_width(cls, attrs, in_widths):
        return attrs["features"]


@register
class Dense(Kernel):
    """Affine map y = x W + b: x (B, D) -> (B, N); W (D, N), b (N,)."""

    op = "dense"
    params = ("W", "b")

    @classmethod
    def infer_width(cls, attrs, in_widths):
        return attrs["units"]

    def param_shapes(self):
        shapes = {"W": (self.in_widths[0], self.out_width)}
        if self.attrs.get("bias", True):
            shapes["b"] = (self.out_width,)
        return shapes


@register
class Maxout(Kernel):
    """k affine maps of width N, element-wise max: x (B, D) -> (B, N); W (k, D, N), b (k, N)."""

    op = "maxout"
    params = ("W", "b")

    @classmethod
    def infer_width(cls, attrs, in_widths):
        return attrs["units"]

    def param_shapes(self):
        k = self.attrs["k"]
        shapes = {"W": (k, self.in_widths[0], self.out_width)}
        if self.attrs.get("bias", True):
            shapes["b"] = (k, self.out_width)
        return shapes
