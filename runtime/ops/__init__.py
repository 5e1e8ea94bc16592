"""The op registry: `KERNELS` maps every model op name to its kernel class."""
from .base import KERNELS, Ctx, Kernel, RuntimeSpecError, ShapeError, register
from . import (activations, conv, dropout, groupnorm, linear, merge, normalization, pool,  # noqa: F401
               regularizers, smooth)  # (registration)

__all__ = ["KERNELS", "Ctx", "Kernel", "RuntimeSpecError", "ShapeError", "register"]
