"""Ops joining the stream with an earlier node: add (residual) and concat."""
from __future__ import annotations

import numpy as np

from .base import Kernel, ShapeError, register


@register
class Add(Kernel):
    """Element-wise sum of the stream and an earlier node: (B, D), (B, D) -> (B, D).

    Backward hands the same dy to both inputs (one array, twice: do not modify it in place).
    """

    op = "add"
    arity = 2
    category = "merge"
    penalized = ()
    mode_dependent = False

    @classmethod
    def infer_width(cls, attrs, in_widths):
        stream, other = in_widths
        if stream != other:
            raise ShapeError(
                f"add needs equal widths, but the stream is {stream} wide and "
                f"'{attrs['node']}' is {other} wide",
                hint="insert a dense layer to project one side to the other's width, or use concat",
            )
        return stream

    def forward(self, ctx, xs, state, training, rng):
        return xs[0] + xs[1]

    def backward(self, ctx, dy, state):
        return [dy, dy], {}


@register
class Concat(Kernel):
    """Concatenation along features: (B, D1), (B, D2) -> (B, D1 + D2).

    Backward returns the two column blocks of dy as views.
    """

    op = "concat"
    arity = 2
    category = "merge"
    penalized = ()
    mode_dependent = False

    @classmethod
    def infer_width(cls, attrs, in_widths):
        return in_widths[0] + in_widths[1]

    def forward(self, ctx, xs, state, training, rng):
        ctx.split = xs[0].shape[1]
        return np.concatenate(xs, axis=1)

    def backward(self, ctx, dy, state):
        s = ctx.split
        return [dy[:, :s], dy[:, s:]], {}
