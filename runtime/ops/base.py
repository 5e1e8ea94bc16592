"""The kernel interface every op implements, and the registry that maps op names to kernels.

One op, one place: a kernel class holds the op's shape rule, its parameters and buffers, their
initial values, the forward pass and the analytic backward pass, side by side. The compiler's
shape pass, the runtime's executor and the docs all read the same registry (`KERNELS`).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar, Mapping


class ShapeError(Exception):
    """An op cannot accept its input widths; `message` and `hint` are shown at the statement."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class Ctx(SimpleNamespace):
    """What a forward pass saves for its backward pass, by name (so a debugger can show it too)."""


class Kernel:
    """Base class: one instance per graph node, bound to the node's attributes and input widths.

    Subclasses set `op`, `arity` (number of inputs), `params` and `buffers` (names, in order) and
    override what differs. Shapes are per example: the batch dimension is implicit, so a node's
    output is (B, out_width).
    """

    op: ClassVar[str] = ""
    arity: ClassVar[int] = 1
    params: ClassVar[tuple[str, ...]] = ()
    buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, attrs: Mapping[str, Any], in_widths: tuple[int, ...]):
        self.attrs = dict(attrs)
        self.in_widths = tuple(in_widths)
        self.out_width = self.infer_width(self.attrs, self.in_widths)

    @classmethod
    def infer_width(cls, attrs: Mapping[str, Any], in_widths: tuple[int, ...]) -> int:
        """The output width for these attributes and input widths; raises ShapeError if invalid.

        The default is the width-preserving rule of element-wise ops.
        """
        return in_widths[0]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Learned parameters: name -> shape (empty for ops without parameters)."""
        return {}

    def buffer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Non-learned state (batch-norm running statistics): name -> shape."""
        return {}

    def param_count(self) -> int:
        """Number of learned scalars (buffers are not counted)."""
        total = 0
        for shape in self.param_shapes().values():
            n = 1
            for d in shape:
                n *= d
            total += n
        return total


KERNELS: dict[str, type[Kernel]] = {}


def register(cls: type[Kernel]) -> type[Kernel]:
    """Class decorator: add a kernel to the registry under its `op` name."""
    assert cls.op and cls.op not in KERNELS, cls.op
    KERNELS[cls.op] = cls
    return cls
