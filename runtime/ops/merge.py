"""Ops joining the stream with an earlier node: add (residual) and concat."""
from __future__ import annotations

import numpy as np

from .base import Kernel, ShapeError, is_image, register, shape_str
from .forms import TorchForm


@register
class Add(Kernel):
    """Element-wise sum of the stream and an earlier node, any equal shapes: (B, D), (B, D) ->
    (B, D) or (B, C, H, W), (B, C, H, W) -> (B, C, H, W).

    Backward hands the same dy to both inputs (one array, twice: do not modify it in place).
    """

    op = "add"
    arity = 2
    category = "merge"
    penalized = ()
    mode_dependent = False

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        stream, other = in_shapes
        if stream == other:
            return stream
        if not is_image(stream) and not is_image(other):
            raise ShapeError(
                f"add needs equal widths, but the stream is {stream[0]} wide and "
                f"'{attrs['node']}' is {other[0]} wide",
                hint="insert a dense layer to project one side to the other's width, or use concat",
            )
        raise ShapeError(
            f"add needs equal shapes, but the stream is {shape_str(stream)} and "
            f"'{attrs['node']}' is {shape_str(other)}",
            hint="a conv with the other side's channel count (and stride) makes the shapes match")

    def forward(self, ctx, xs, state, training, rng):
        return xs[0] + xs[1]

    def backward(self, ctx, dy, state):
        return [dy, dy], {}

    def torch_form(self):
        return TorchForm(None, call="{0} + {1}")

    def onnx_form(self, g, xs, state):
        return g.node("Add", xs)


@register
class Concat(Kernel):
    """Concatenation along features, or channels for images: (B, D1), (B, D2) -> (B, D1 + D2);
    (B, C1, H, W), (B, C2, H, W) -> (B, C1 + C2, H, W) (PyTorch's torch.cat(dim=1)).

    Backward returns the two blocks of dy along axis 1 as views.
    """

    op = "concat"
    arity = 2
    category = "merge"
    penalized = ()
    mode_dependent = False

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        stream, other = in_shapes
        if len(stream) != len(other):
            raise ShapeError(f"concat needs two vectors or two images, but the stream is "
                             f"{shape_str(stream)} and '{attrs['node']}' is {shape_str(other)}",
                             hint="flatten the image side first")
        if stream[1:] != other[1:]:
            raise ShapeError(
                f"concat joins images along channels, so their height and width must match, but the "
                f"stream is {shape_str(stream)} and '{attrs['node']}' is {shape_str(other)}",
                hint="pool or stride one side so that H and W agree")
        return (stream[0] + other[0],) + stream[1:]

    def forward(self, ctx, xs, state, training, rng):
        ctx.split = xs[0].shape[1]
        return np.concatenate(xs, axis=1)

    def backward(self, ctx, dy, state):
        s = ctx.split
        return [dy[:, :s], dy[:, s:]], {}

    def torch_form(self):
        return TorchForm(None, call="torch.cat([{0}, {1}], dim=1)")

    def onnx_form(self, g, xs, state):
        return g.node("Concat", xs, axis=1)
