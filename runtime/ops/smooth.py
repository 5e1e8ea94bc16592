"""Smooth element-wise activations: sigmoid, tanh, softsign, swish, softplus, mish, gelu;
(B, D) -> (B, D).

Formulas, thresholds and approximation constants are PyTorch's, so outputs and gradients agree
with torch.nn.functional to rounding.
"""
from __future__ import annotations

import math

import numpy as np

from .base import Activation, register
from .forms import TorchForm
from .functional import normal_cdf, normal_pdf, sigmoid

# PyTorch's softplus reverts to the identity where beta * x > threshold (default 20).
SOFTPLUS_THRESHOLD = 20.0
# PyTorch's tanh approximation of GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
GELU_BETA = math.sqrt(2.0 / math.pi)
GELU_KAPPA = 0.044715


@register
class Sigmoid(Activation):
    """1 / (1 + exp(-x)), stable for large |x|: x (B, D) -> (B, D)."""

    op = "sigmoid"
    saturation = (0.01, 0.99)  # the slope y (1 - y) is below 0.01, 4% of its peak 0.25
    inits = ("xavier", "lecun")
    kinks = ()

    def forward(self, ctx, xs, state, training, rng):
        ctx.y = sigmoid(xs[0])
        return ctx.y

    def backward(self, ctx, dy, state):
        y = ctx.y
        dx = 1.0 - y
        dx *= y
        dx *= dy
        return [dx], {}

    def torch_form(self):
        return TorchForm("nn.Sigmoid()")

    def onnx_form(self, g, xs, state):
        return g.node("Sigmoid", xs)


@register
class Tanh(Activation):
    """tanh(x): x (B, D) -> (B, D)."""

    op = "tanh"
    saturation = (-0.99, 0.99)  # |y| >= 0.99: the slope 1 - y^2 is below 0.02 of its peak 1
    inits = ("xavier", "lecun")
    kinks = ()

    def forward(self, ctx, xs, state, training, rng):
        ctx.y = np.tanh(xs[0])
        return ctx.y

    def backward(self, ctx, dy, state):
        y = ctx.y
        dx = y * y
        np.subtract(1.0, dx, out=dx)
        dx *= dy
        return [dx], {}

    def torch_form(self):
        return TorchForm("nn.Tanh()")

    def onnx_form(self, g, xs, state):
        return g.node("Tanh", xs)


@register
class Softsign(Activation):
    """x / (1 + |x|): x (B, D) -> (B, D), in (-1, 1); it approaches its bounds polynomially,
    more slowly than tanh."""

    op = "softsign"
    saturation = (-0.9, 0.9)  # |y| >= 0.9: the slope (1 - |y|)^2 is at most 0.01 of its peak 1
    inits = ("xavier", "lecun")
    kinks = ()  # the slope 1 / (1 + |x|)^2 is continuous at 0 (its own derivative is not)

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        d = np.abs(x)
        d += 1.0
        ctx.d = d
        return x / d

    def backward(self, ctx, dy, state):
        dx = dy / ctx.d
        dx /= ctx.d  # d/dx x / (1 + |x|) = 1 / (1 + |x|)^2
        return [dx], {}

    def torch_form(self):
        return TorchForm("nn.Softsign()")

    def onnx_form(self, g, xs, state):
        return g.node("Softsign", xs)


@register
class Swish(Activation):
    """x * sigmoid(x) (SiLU): x (B, D) -> (B, D)."""

    op = "swish"
    saturation = None
    inits = None
    kinks = ()

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        ctx.x, ctx.s = x, sigmoid(x)
        return x * ctx.s

    def backward(self, ctx, dy, state):
        s = ctx.s
        # d/dx x s(x) = s (1 + x (1 - s))
        dx = 1.0 - s
        dx *= ctx.x
        dx += 1.0
        dx *= s
        dx *= dy
        return [dx], {}

    def torch_form(self):
        return TorchForm("nn.SiLU()")

    def onnx_form(self, g, xs, state):
        return g.node("Mul", [xs[0], g.node("Sigmoid", xs)])


@register
class Softplus(Activation):
    """(1/beta) log(1 + exp(beta x)), and x where beta x > 20 (PyTorch): x (B, D) -> (B, D)."""

    op = "softplus"
    saturation = None
    inits = None
    kinks = ()  # NOTE: at beta x = 20 the slope jumps from 1 - 2e-9 to 1: below any check's step

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        beta = float(self.attrs["beta"])
        bx = x * beta if beta != 1.0 else x
        linear = bx > SOFTPLUS_THRESHOLD
        ctx.linear = linear if linear.any() else None
        # NOTE: exp is taken of min(beta x, 20) when some beta x exceed 20, so it never
        # overflows (those entries are replaced by x); log1p keeps small outputs accurate.
        e = np.exp(np.minimum(bx, SOFTPLUS_THRESHOLD) if ctx.linear is not None else bx)
        y = np.log1p(e)
        if beta != 1.0:
            y *= 1.0 / beta
        ctx.e = e
        if ctx.linear is not None:  # rare: a boolean scatter touches only those entries
            y[linear] = x[linear]
        return y

    def backward(self, ctx, dy, state):
        # d/dx = exp(beta x) / (1 + exp(beta x)); 1 on the linear side.
        e = ctx.e
        dx = e + 1.0
        np.divide(e, dx, out=dx)
        dx *= dy
        if ctx.linear is not None:
            dx[ctx.linear] = dy[ctx.linear]
        return [dx], {}

    def torch_form(self):
        return TorchForm(f"nn.Softplus(beta={float(self.attrs['beta'])!r}, threshold={SOFTPLUS_THRESHOLD!r})")

    def onnx_form(self, g, xs, state):
        beta = g.scalar(float(self.attrs["beta"]))
        bx = g.node("Mul", [xs[0], beta])
        smooth = g.node("Div", [g.node("Softplus", [bx]), beta])
        # PyTorch's threshold: x itself where beta x > 20 (ONNX's Softplus has none)
        return g.node("Where", [g.node("Greater", [bx, g.scalar(SOFTPLUS_THRESHOLD)]), xs[0], smooth])


@register
class Mish(Activation):
    """x * tanh(softplus(x)): x (B, D) -> (B, D)."""

    op = "mish"
    saturation = None
    inits = None
    kinks = ()

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        # NOTE: exp is clamped at x = 20 so it never overflows; past it tanh(softplus(x)) is 1
        # to float64 precision whether softplus is x or log1p(exp(20)), so no branch is needed.
        e = np.exp(np.minimum(x, SOFTPLUS_THRESHOLD))
        t = np.log1p(e)
        np.tanh(t, out=t)
        ctx.x, ctx.e, ctx.t = x, e, t
        return x * t

    def backward(self, ctx, dy, state):
        x, e, t = ctx.x, ctx.e, ctx.t
        # d/dx x tanh(sp(x)) = t + x sigmoid(x) (1 - t^2), sigmoid(x) = e / (1 + e).
        # NOTE: past the clamp e / (1 + e) is not sigmoid(x), but there 1 - t^2 is exactly 0.
        dx = t * t
        np.subtract(1.0, dx, out=dx)
        dx *= e
        dx /= e + 1.0
        dx *= x
        dx += t
        dx *= dy
        return [dx], {}

    def torch_form(self):
        return TorchForm("nn.Mish()")

    def onnx_form(self, g, xs, state):
        # opset 17 has no Mish node: x tanh(softplus(x)) (softplus overflows to inf only where
        # tanh is 1 anyway)
        return g.node("Mul", [xs[0], g.node("Tanh", [g.node("Softplus", xs)])])


@register
class GELU(Activation):
    """x Phi(x): approx=none with the exact normal CDF (erf), approx=tanh PyTorch's tanh form.

    x (B, D) -> (B, D).
    """

    op = "gelu"
    saturation = None
    inits = None
    kinks = ()

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        ctx.x = x
        if self.attrs["approx"] == "tanh":
            inner = x * x
            inner *= GELU_KAPPA
            inner += 1.0
            inner *= x
            inner *= GELU_BETA  # sqrt(2/pi) (x + kappa x^3)
            t = np.tanh(inner, out=inner)
            ctx.t = t
            y = t + 1.0
            y *= x
            y *= 0.5
            return y
        ctx.cdf = normal_cdf(x)
        return x * ctx.cdf

    def backward(self, ctx, dy, state):
        x = ctx.x
        if self.attrs["approx"] == "tanh":
            t = ctx.t
            # d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 kappa x^2)
            inner_d = x * x
            inner_d *= 3.0 * GELU_KAPPA
            inner_d += 1.0
            inner_d *= GELU_BETA
            dx = t * t
            np.subtract(1.0, dx, out=dx)
            dx *= inner_d
            dx *= x
            dx += t
            dx += 1.0
            dx *= 0.5
        else:
            dx = normal_pdf(x)  # d/dx x Phi(x) = Phi(x) + x phi(x)
            dx *= x
            dx += ctx.cdf
        dx *= dy
        return [dx], {}

    def torch_form(self):
        return TorchForm(f"nn.GELU(approximate={self.attrs['approx']!r})")

    def onnx_form(self, g, xs, state):
        # opset 17 has no Gelu node (it came in 20): x (1 + erf(x / sqrt 2)) / 2, or the tanh form
        x = xs[0]
        if self.attrs["approx"] == "tanh":
            cube = g.node("Mul", [g.node("Mul", [x, x]), x])
            inner = g.node("Add", [x, g.node("Mul", [cube, g.scalar(GELU_KAPPA)])])
            t = g.node("Tanh", [g.node("Mul", [inner, g.scalar(GELU_BETA)])])
        else:
            t = g.node("Erf", [g.node("Mul", [x, g.scalar(1.0 / math.sqrt(2.0))])])
        half_x = g.node("Mul", [x, g.scalar(0.5)])
        return g.node("Mul", [half_x, g.node("Add", [t, g.scalar(1.0)])])
