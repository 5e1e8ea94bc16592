"""The kernel interface every op implements, and the registry that maps op names to kernels.

One op, one place: a kernel class holds the op's shape rule, its parameters and buffers, their
initial values, the forward pass and the analytic backward pass, side by side. The compiler's
shape pass, the runtime's executor and the docs all read the same registry (`KERNELS`).
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar, Mapping

import numpy as np

from ...spec.diagnostics import EXIT_RUN_FAILED, NetcError


class ShapeError(NetcError):
    """An op cannot accept its input widths; `message` and `hint` are shown at the statement."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


class RuntimeSpecError(NetcError):
    """The data reaching a kernel breaks one of the op's run-time requirements.

    Raised with a plain message (and an optional hint); the executor adds the node's name and the
    statement's source position before showing it, e.g. "batchnorm needs at least 2 examples per
    batch in training mode (got 1)".
    """

    status = EXIT_RUN_FAILED

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


class Ctx(SimpleNamespace):
    """What a forward pass saves for its backward pass, by name (so a debugger can show it too)."""


class Kernel:
    """Base class: one instance per graph node, bound to the node's attributes and input widths.

    Subclasses set `op`, `arity` (number of inputs), `params` and `buffers` (names, in order) and
    override what differs. Shapes are per example: the batch dimension is implicit, so a node's
    output is (B, out_width).

    The run-time interface, implemented by every registered kernel:

    - `init_state(rng, dtype)`: initial values of the parameters and buffers.
    - `forward(ctx, xs, state, training, rng) -> y`: xs are the inputs, each (B, in_width) (the
      input op gets `[x]` too); saves what `backward` needs on `ctx`, by name.
    - `backward(ctx, dy, state) -> (dxs, dparams)`: the gradients with respect to each input (same
      order as xs) and to each learned parameter (by name, the names of `param_shapes()`). If the
      caller sets `ctx.need_input_grad = False` before backward (the first layer after the
      network's input), a kernel may return None for the input gradient and skip computing it
      (dense and maxout do); when the attribute is absent the input gradient is computed.

    Conventions every kernel keeps: the output has the dtype of its input (float32 stays float32:
    no Python-float or float64 constant upcasts the arrays); `forward` never writes into xs and
    `backward` never writes into dy, but the arrays they return may alias them (identity, add,
    concat), so callers must not modify returned arrays in place; state is only written in place
    by forward in training mode (batch-norm running statistics).
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

    def init_state(self, rng: np.random.Generator, dtype: Any) -> dict[str, np.ndarray]:
        """Initial values of the parameters and buffers, keyed by the names of `param_shapes()` and
        `buffer_shapes()`. The default serves ops that have neither (an empty dict)."""
        assert not self.param_shapes() and not self.buffer_shapes(), (
            f"{self.op} declares parameters or buffers, so it must override init_state")
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
    # every registered op runs: forward(ctx, xs, state, training, rng) -> y and
    # backward(ctx, dy, state) -> (dxs, dparams), as the class docstring of Kernel describes
    assert callable(getattr(cls, "forward", None)) and callable(getattr(cls, "backward", None)), cls.op
    KERNELS[cls.op] = cls
    return cls
