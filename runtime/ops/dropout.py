"""Dropout, inverted and vanilla: (B, D) -> (B, D)."""
from __future__ import annotations

from .base import Kernel, register


@register
class Dropout(Kernel):
    op = "dropout"
