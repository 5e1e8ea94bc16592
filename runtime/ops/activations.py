"""Element-wise activations (and softmax): (B, D) -> (B, D).

Piecewise ones live here (relu, leaky_relu, elu, selu, prelu, hardtanh) with softmax; smooth ones
(sigmoid, tanh, softsign, swish, softplus, mish, gelu) in `smooth.py`, re-exported below. Each matches PyTorch's
definition, including the derivative chosen at a kink: at x = 0 relu, leaky_relu, prelu, elu and
selu take the left-hand (x <= 0) branch, as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from .base import Activation, Kernel, ShapeError, register, require_vector
from .forms import TorchForm
from .smooth import GELU, Mish, Sigmoid, Softplus, Softsign, Swish, Tanh

__all__ = ["ReLU", "LeakyReLU", "ELU", "SELU", "PReLU", "Hardtanh", "Softmax",
           "Sigmoid", "Tanh", "Softsign", "Swish", "Softplus", "Mish", "GELU"]

# PyTorch's SELU constants (Klambauer et al. 2017).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@register
class ReLU(Activation):
    """max(0, x): x (B, D) -> (B, D)."""

    op = "relu"
    saturation = None  # unbounded above; dead units show as the zero fraction instead
    inits = ("he",)
    kinks = (0.0,)

    def forward(self, ctx, xs, state, training, rng):
        y = np.maximum(xs[0], 0)
        ctx.y = y
        return y

    def backward(self, ctx, dy, state):
        return [dy * (ctx.y > 0)], {}

    def torch_form(self):
        return TorchForm("nn.ReLU()")

    def onnx_form(self, g, xs, state):
        return g.node("Relu", xs)


@register
class LeakyReLU(Activation):
    """x if x > 0 else slope * x: x (B, D) -> (B, D)."""

    op = "leaky_relu"
    saturation = None  # unbounded above
    inits = ("he",)
    kinks = (0.0,)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        slope = float(self.attrs["slope"])
        ctx.pos = x > 0
        # NOTE: max(x, slope x) picks exactly x or slope x (min when slope > 1), without
        # np.where's per-element branching.
        return np.maximum(x, x * slope) if slope <= 1.0 else np.minimum(x, x * slope)

    def backward(self, ctx, dy, state):
        return [dy * _gate(ctx.pos, float(self.attrs["slope"]), dy.dtype)], {}

    def torch_form(self):
        return TorchForm(f"nn.LeakyReLU({float(self.attrs['slope'])!r})")

    def onnx_form(self, g, xs, state):
        return g.node("LeakyRelu", xs, alpha=float(self.attrs["slope"]))


@register
class ELU(Activation):
    """x if x > 0 else alpha * (exp(x) - 1): x (B, D) -> (B, D)."""

    op = "elu"
    saturation = None
    inits = None  # no scheme is derived for it
    kinks = (0.0,)  # the slope jumps from alpha to 1 (unless alpha = 1)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        alpha = float(self.attrs["alpha"])
        em1 = np.expm1(np.minimum(x, 0))  # NOTE: clamped: 0 for x > 0, and exp cannot overflow
        ctx.pos, ctx.em1 = x > 0, em1
        y = em1 * alpha
        y += np.maximum(x, 0)  # exactly x for x > 0 (em1 = 0 there), alpha (e^x - 1) otherwise
        return y

    def backward(self, ctx, dy, state):
        # slope alpha e^x = alpha (em1 + 1) for x <= 0, 1 for x > 0
        slope = ctx.em1 + ~ctx.pos
        slope *= float(self.attrs["alpha"])
        slope += ctx.pos
        slope *= dy
        return [slope], {}

    def torch_form(self):
        return TorchForm(f"nn.ELU(alpha={float(self.attrs['alpha'])!r})")

    def onnx_form(self, g, xs, state):
        return g.node("Elu", xs, alpha=float(self.attrs["alpha"]))


@register
class SELU(Activation):
    """scale * (x if x > 0 else alpha (exp(x) - 1)), PyTorch's constants: (B, D) -> (B, D)."""

    op = "selu"
    saturation = None
    inits = ("lecun",)  # self-normalization assumes LeCun normal weights (Klambauer et al.)
    kinks = (0.0,)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        em1 = np.expm1(np.minimum(x, 0))  # NOTE: clamped: 0 for x > 0, and exp cannot overflow
        ctx.pos, ctx.em1 = x > 0, em1
        y = em1 * SELU_ALPHA
        y += np.maximum(x, 0)
        y *= SELU_SCALE
        return y

    def backward(self, ctx, dy, state):
        slope = ctx.em1 + ~ctx.pos
        slope *= SELU_SCALE * SELU_ALPHA
        slope += np.multiply(ctx.pos, SELU_SCALE, dtype=dy.dtype)
        slope *= dy
        return [slope], {}

    def torch_form(self):
        return TorchForm("nn.SELU()")

    def onnx_form(self, g, xs, state):
        return g.node("Selu", xs, alpha=SELU_ALPHA, gamma=SELU_SCALE)


@register
class PReLU(Activation):
    """Leaky ReLU with a learned slope per unit: x (B, D) -> (B, D), slope (D,); on images one
    slope per channel: x (B, C, H, W) -> (B, C, H, W), slope (C,) (PyTorch's PReLU(C)).

    The slope is a parameter but not a weight: `regularize` does not penalize it.
    """

    op = "prelu"
    params = ("slope",)
    saturation = None  # unbounded above
    inits = ("he",)
    kinks = (0.0,)

    def param_shapes(self):
        return {"slope": (self.in_widths[0],)}

    def init_state(self, rng, dtype):
        return {"slope": np.full(self.in_widths[0], float(self.attrs["init"]), dtype=dtype)}

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        neg_part = np.minimum(x, 0)  # x where x <= 0, else 0: also d y / d slope
        ctx.pos, ctx.neg_part = x > 0, neg_part
        y = neg_part * _per_channel(state["slope"], x.ndim)
        y += np.maximum(x, 0)
        return y

    def backward(self, ctx, dy, state):
        dx = dy * _gate(ctx.pos, _per_channel(state["slope"], dy.ndim), dy.dtype)
        if dy.ndim == 2:
            dslope = np.einsum("ij,ij->j", dy, ctx.neg_part)
        else:
            dslope = np.einsum("bchw,bchw->c", dy, ctx.neg_part)
        return [dx], {"slope": dslope}

    def torch_form(self):
        return TorchForm(f"nn.PReLU({self.in_widths[0]}, init={float(self.attrs['init'])!r})",
                         names={"slope": "weight"})

    def onnx_form(self, g, xs, state):
        # ONNX broadcasts from the last axis: on images the per-channel slope is (C, 1, 1)
        return g.node("PRelu", [xs[0], g.const("slope", _per_channel(state["slope"], len(self.in_shapes[0]) + 1))])


@register
class Hardtanh(Activation):
    """x clipped to [min_val, max_val], PyTorch's hardtanh: x (B, D) -> (B, D).

    The derivative is 1 strictly inside the interval and 0 at its ends and beyond, as PyTorch's.
    """

    op = "hardtanh"
    saturation = ("min_val", "max_val")  # the clipped ends, where the slope is exactly 0
    inits = ("xavier", "lecun")  # a piecewise-linear tanh
    kinks = ("min_val", "max_val")

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        lo, hi = float(attrs["min_val"]), float(attrs["max_val"])
        if not lo < hi:
            raise ShapeError(f"hardtanh needs min_val < max_val, got min_val={lo:g} and max_val={hi:g}",
                             hint="the output is x clipped to [min_val, max_val]")
        return in_shapes[0]

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        lo, hi = float(self.attrs["min_val"]), float(self.attrs["max_val"])
        inside = x > lo
        inside &= x < hi
        ctx.inside = inside
        return np.clip(x, lo, hi)

    def backward(self, ctx, dy, state):
        return [dy * ctx.inside], {}

    def torch_form(self):
        lo, hi = float(self.attrs["min_val"]), float(self.attrs["max_val"])
        return TorchForm(f"nn.Hardtanh({lo!r}, {hi!r})")

    def onnx_form(self, g, xs, state):
        return g.node("Clip", [xs[0], g.scalar(float(self.attrs["min_val"])), g.scalar(float(self.attrs["max_val"]))])


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """A per-unit (D,) or per-channel (C,) vector shaped to broadcast over (B, D) / (B, C, H, W)."""
    return v if ndim == 2 else v.reshape(-1, 1, 1)


def _gate(pos: np.ndarray, slope, dtype) -> np.ndarray:
    """The derivative of a leaky ReLU: 1 where pos, else slope (a scalar or a (D,) row), exact."""
    g = np.multiply(~pos, slope, dtype=dtype)  # NOTE: dtype, or bool * Python float is float64
    g += pos
    return g


@register
class Softmax(Kernel):
    """exp(x) / sum exp(x) over the feature axis: x (B, D) -> (B, D), rows summing to 1."""

    op = "softmax"
    category = "output"
    penalized = ()
    mode_dependent = False

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        require_vector("softmax", in_shapes[0])
        return in_shapes[0]

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        y = x - x.max(axis=1, keepdims=True)  # NOTE: shift by the row max so exp cannot overflow
        np.exp(y, out=y)
        y /= y.sum(axis=1, keepdims=True)
        ctx.y = y
        return y

    def backward(self, ctx, dy, state):
        y = ctx.y
        dx = dy - np.einsum("ij,ij->i", dy, y)[:, None]
        dx *= y
        return [dx], {}

    def torch_form(self):
        return TorchForm("nn.Softmax(dim=1)")

    def onnx_form(self, g, xs, state):
        return g.node("Softmax", xs, axis=1)
