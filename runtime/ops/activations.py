"""Element-wise activations (and softmax): (B, D) -> (B, D).

Piecewise ones live here (relu, leaky_relu, elu, selu, prelu) with softmax; smooth ones (sigmoid,
tanh, swish, softplus, mish, gelu) in `smooth.py`, re-exported below. Each matches PyTorch's
definition, including the derivative chosen at a kink: at x = 0 relu, leaky_relu, prelu, elu and
selu take the left-hand (x <= 0) branch, as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from .base import Kernel, register
from .smooth import GELU, Mish, Sigmoid, Softplus, Swish, Tanh

__all__ = ["ReLU", "LeakyReLU", "ELU", "SELU", "PReLU", "Softmax",
           "Sigmoid", "Tanh", "Swish", "Softplus", "Mish", "GELU"]

# PyTorch's SELU constants (Klambauer et al. 2017).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@register
class ReLU(Kernel):
    """max(0, x): x (B, D) -> (B, D)."""

    op = "relu"

    def forward(self, ctx, xs, state, training, rng):
        y = np.maximum(xs[0], 0)
        ctx.y = y
        return y

    def backward(self, ctx, dy, state):
        return [dy * (ctx.y > 0)], {}


@register
class LeakyReLU(Kernel):
    """x if x > 0 else slope * x: x (B, D) -> (B, D)."""

    op = "leaky_relu"

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        ctx.pos = x > 0
        return np.where(ctx.pos, x, x * float(self.attrs["slope"]))

    def backward(self, ctx, dy, state):
        return [np.where(ctx.pos, dy, dy * float(self.attrs["slope"]))], {}


@register
class ELU(Kernel):
    """x if x > 0 else alpha * (exp(x) - 1): x (B, D) -> (B, D)."""

    op = "elu"

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        alpha = float(self.attrs["alpha"])
        em1 = np.expm1(np.minimum(x, 0))  # NOTE: clamped so exp never overflows on the unused side
        ctx.pos, ctx.em1 = x > 0, em1
        return np.where(ctx.pos, x, em1 * alpha)

    def backward(self, ctx, dy, state):
        # d/dx alpha (exp(x) - 1) = alpha exp(x) = alpha (em1 + 1)
        slope = ctx.em1 + 1.0
        slope *= float(self.attrs["alpha"])
        return [np.where(ctx.pos, dy, dy * slope)], {}


@register
class SELU(Kernel):
    """scale * (x if x > 0 else alpha (exp(x) - 1)), PyTorch's constants: (B, D) -> (B, D)."""

    op = "selu"

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        em1 = np.expm1(np.minimum(x, 0))  # NOTE: clamped so exp never overflows on the unused side
        ctx.pos, ctx.em1 = x > 0, em1
        return np.where(ctx.pos, x * SELU_SCALE, em1 * (SELU_SCALE * SELU_ALPHA))

    def backward(self, ctx, dy, state):
        slope = ctx.em1 + 1.0
        slope *= SELU_SCALE * SELU_ALPHA
        return [np.where(ctx.pos, dy * SELU_SCALE, dy * slope)], {}


@register
class PReLU(Kernel):
    """Leaky ReLU with a learned slope per unit: x (B, D) -> (B, D); slope (D,)."""

    op = "prelu"
    params = ("slope",)

    def param_shapes(self):
        return {"slope": (self.in_widths[0],)}

    def init_state(self, rng, dtype):
        return {"slope": np.full(self.in_widths[0], float(self.attrs["init"]), dtype=dtype)}

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        ctx.x, ctx.pos = x, x > 0
        return np.where(ctx.pos, x, x * state["slope"])

    def backward(self, ctx, dy, state):
        dx = np.where(ctx.pos, dy, dy * state["slope"])
        dslope = np.where(ctx.pos, 0, dy * ctx.x).sum(axis=0)
        return [dx], {"slope": dslope}


@register
class Softmax(Kernel):
    """exp(x) / sum exp(x) over the feature axis: x (B, D) -> (B, D), rows summing to 1."""

    op = "softmax"

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
