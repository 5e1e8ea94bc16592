"""The op registry: `KERNELS` maps every model op name to its kernel class."""
from .base import KERNELS, Ctx, Kernel, RuntimeSpecError, ShapeError, register
from . import activations, dropout, linear, merge, normalization, smooth  # noqa: F401  (registration)

__all__ = ["KERNELS", "Ctx", "Kernel", "RuntimeSpecError", "ShapeError", "register"]
