"""Element-wise activations (and softmax): (B, D) -> (B, D)."""
from __future__ import annotations

from .base import Kernel, register


@register
class ReLU(Kernel):
    op = "relu"


@register
class Sigmoid(Kernel):
    op = "sigmoid"


@register
class Tanh(Kernel):
    op = "tanh"


@register
class SELU(Kernel):
    op = "selu"


@register
class Mish(Kernel):
    op = "mish"


@register
class LeakyReLU(Kernel):
    op = "leaky_relu"


@register
class ELU(Kernel):
    op = "elu"


@register
class GELU(Kernel):
    op = "gelu"


@register
class Swish(Kernel):
    op = "swish"


@register
class Softplus(Kernel):
    op = "softplus"


@register
class PReLU(Kernel):
    """Leaky ReLU with a learned slope per unit: slope (D,)."""

    op = "prelu"
    params = ("slope",)

    def param_shapes(self):
        return {"slope": (self.in_widths[0],)}


@register
class Softmax(Kernel):
    op = "softmax"
