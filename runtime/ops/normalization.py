"""Normalization ops: batchnorm and layernorm, (B, D) -> (B, D)."""
from __future__ import annotations

from .base import Kernel, register


@register
class BatchNorm(Kernel):
    """Batch normalization over the batch axis; gamma, beta (D,); running_mean, running_var (D,)."""

    op = "batchnorm"
    params = ("gamma", "beta")
    buffers = ("running_mean", "running_var")

    def param_shapes(self):
        d = self.in_widths[0]
        return {"gamma": (d,), "beta": (d,)} if self.attrs.get("affine", True) else {}

    def buffer_shapes(self):
        d = self.in_widths[0]
        return {"running_mean": (d,), "running_var": (d,)}


@register
class LayerNorm(Kernel):
    """Layer normalization of each example over its features; gamma, beta (D,)."""

    op = "layernorm"
    params = ("gamma", "beta")

    def param_shapes(self):
        d = self.in_widths[0]
        return {"gamma": (d,), "beta": (d,)} if self.attrs.get("affine", True) else {}
