"""The kernel interface every op implements, and the registry that maps op names to kernels.

One op, one place: a kernel class holds the op's shape rule, its parameters and buffers, their
initial values, the forward pass and the analytic backward pass, side by side, together with the
op's facts (`FACTS`: its category, the weights `regularize` penalizes, whether training and
evaluation differ, an activation's saturation range...). The compiler's shape pass and lints, the
runtime's executor, trainer and statistics, and the docs all read the same registry (`KERNELS`)
and never name an op. `register` refuses a kernel that lacks a fact.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from ...spec.diagnostics import EXIT_RUN_FAILED, NetcError
from ...spec.schema import INITS, op_defaults
from .forms import OnnxGraph, TorchForm

Shape = tuple[int, ...]  # per example: (D,) for a vector, (C, H, W) for an image


class ShapeError(NetcError):
    """An op cannot accept its input shapes; `message` and `hint` are shown at the statement
    (prefixed with the node's name when `name_node`, for statements a block may expand many times)."""

    def __init__(self, message: str, hint: str | None = None, name_node: bool = False):
        super().__init__(message, hint=hint)
        self.name_node = name_node


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


# What each op is, for everything that treats ops by kind rather than by name.
CATEGORIES = {
    "input": "the network's input",
    "linear": "an affine map with a weight matrix and an init= scheme",
    "activation": "an element-wise function: (B, D) -> (B, D), one input",
    "normalization": "normalizes its input, with learned scale and shift",
    "regularizer": "acts in training only, to regularize (the identity in evaluation, up to a scale)",
    "merge": "joins the stream with an earlier node",
    "shape": "pools or reshapes an image, with no parameters (maxpool, avgpool, globalpool, flatten)",
    "output": "turns scores into probabilities, which a loss on logits must not follow",
}


class _Undeclared:
    """The value of a fact a kernel has not declared (register refuses such a kernel)."""

    def __repr__(self) -> str:
        return "UNDECLARED"


UNDECLARED: Any = _Undeclared()


def _bound(v) -> bool:
    """A number, or the name of the op attribute holding it (hardtanh's 'max_val')."""
    return isinstance(v, str) or (isinstance(v, (int, float)) and not isinstance(v, bool))


@dataclass(frozen=True)
class Fact:
    """A fact every kernel of the given categories declares (as a class attribute of that name).

    `valid` says whether a declared value is well formed; `doc` is what docs/architecture.md's
    op-table section says of it.
    """

    name: str
    doc: str
    valid: Callable[[Any], bool]
    categories: tuple[str, ...] = tuple(CATEGORIES)


FACTS: tuple[Fact, ...] = (
    Fact("category", "what the op is: one of CATEGORIES", lambda v: v in CATEGORIES),
    Fact("penalized", "the parameters `regularize` penalizes (weights; not biases, slopes or "
         "normalization scales): a tuple of names, maybe empty",
         lambda v: isinstance(v, tuple) and all(isinstance(n, str) for n in v)),
    Fact("mode_dependent", "whether the forward differs between training and evaluation mode",
         lambda v: isinstance(v, bool)),
    Fact("stochastic", "whether the forward draws from the rng (in training mode)",
         lambda v: isinstance(v, bool)),
    Fact("adds_penalty", "whether the op adds a term to the training loss (an activity penalty): its "
         "`penalty(ctx)` is the term of the last forward and its backward adds the term's gradient",
         lambda v: isinstance(v, bool)),
    Fact("min_batch", "the fewest examples a training batch may hold",
         lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    Fact("batch_stats", "whether it normalizes each unit with statistics over the batch (so a bias "
         "right before it cancels, and a train/eval variance shift upsets its running statistics)",
         lambda v: isinstance(v, bool), ("normalization",)),
    Fact("unit_axes", "for each penalized weight, the axes that hold one output unit's incoming "
         "weights (dense W (in, out): (0,); conv W (out, in, k, k): (1, 2, 3)): the max-norm "
         "constraint's norms", lambda v: isinstance(v, dict) and all(
             isinstance(k, str) and isinstance(a, tuple) and a and all(isinstance(i, int) for i in a)
             for k, a in v.items()), ("linear",)),
    Fact("saturation", "None, or (lo, hi): a unit is saturated (its slope nearly 0) where its output "
         "y <= lo or y >= hi; a bound is a number or the name of the attribute holding it",
         lambda v: v is None or (isinstance(v, tuple) and len(v) == 2 and all(_bound(b) for b in v)),
         ("activation",)),
    Fact("inits", "None, or the init= schemes derived for this activation, the one to recommend "
         "first (the init-activation lint)",
         lambda v: v is None or (isinstance(v, tuple) and v and all(i in INITS for i in v)),
         ("activation",)),
    Fact("kinks", "the inputs where the derivative jumps (numbers or attribute names); gradient "
         "checks keep away from them", lambda v: isinstance(v, tuple) and all(_bound(b) for b in v),
         ("activation",)),
)


def missing_facts(cls: type) -> list[str]:
    """What `cls` fails to declare, or declares malformed, of the facts its category needs."""
    category = getattr(cls, "category", UNDECLARED)
    problems = []
    for fact in FACTS:
        if fact.name != "category" and category not in fact.categories:
            continue
        value = getattr(cls, fact.name, UNDECLARED)
        if value is UNDECLARED:
            problems.append(f"{cls.op or cls.__name__} does not declare `{fact.name}` ({fact.doc})")
        elif not fact.valid(value):
            problems.append(f"{cls.op or cls.__name__}: `{fact.name} = {value!r}` is malformed "
                            f"({fact.doc})")
    return problems


class Kernel:
    """Base class: one instance per graph node, bound to the node's attributes and input shapes.

    Subclasses set `op`, `arity` (number of inputs), `params` and `buffers` (names, in order), the
    facts of `FACTS` (class attributes), and override what differs. A kernel's `attrs` are the
    schema's defaults for the op updated with the attributes given, so no kernel restates a
    default. Shapes are per example, tuples `(D,)` for vectors or `(C, H, W)` for images: the
    batch dimension is implicit, so a node's output array is (B, *out_shape).

    The run-time interface, implemented by every registered kernel:

    - `init_state(rng, dtype)`: initial values of the parameters and buffers.
    - `forward(ctx, xs, state, training, rng) -> y`: xs are the inputs, each (B, *in_shape) (the
      input op gets `[x]`, the batch as the data holds it); saves what `backward` needs on `ctx`, by name.
    - `backward(ctx, dy, state) -> (dxs, dparams)`: the gradients with respect to each input (same
      order as xs) and to each learned parameter (by name, the names of `param_shapes()`). If the
      caller sets `ctx.need_input_grad = False` before backward (the first layer after the
      network's input), a kernel may return None for the input gradient and skip computing it
      (dense and maxout do); when the attribute is absent the input gradient is computed.

    Conventions every kernel keeps: the output has the dtype of its input (float32 stays float32:
    no Python-float or float64 constant upcasts the arrays); images may arrive in any memory
    layout (a conv returns channels-last arrays, see layout.py), so a kernel accepts any strides
    and, for speed, returns its outputs and input gradients in its input's layout; `forward`
    never writes into xs and `backward` never writes into dy, but the arrays they return may
    alias them (identity, add, concat), so callers must not modify returned arrays in place;
    state is only written in place by forward in training mode (batch-norm running statistics).
    """

    op: ClassVar[str] = ""
    arity: ClassVar[int] = 1
    params: ClassVar[tuple[str, ...]] = ()
    buffers: ClassVar[tuple[str, ...]] = ()
    # Why the op has no faithful PyTorch / ONNX form, for an op that does not override
    # torch_form / onnx_form (export then fails at the op's statement with this reason).
    no_torch_reason: ClassVar[str | None] = None
    no_onnx_reason: ClassVar[str | None] = None
    # Batch-norm folding (compiler/fold.py, runtime/fold.py), for the ops that take part:
    # `eval_affine(state) -> (scale, shift)`: a normalization whose evaluation output is
    #     x * scale + shift per unit (channel), e.g. batchnorm with its running statistics;
    # `fold_affine(state, scale, shift) -> state`: a layer affine per output unit (dense, conv)
    #     returning the parameters (with a bias) of itself followed by that scale and shift.
    # None for every other op.
    eval_affine: ClassVar[Callable | None] = None
    fold_affine: ClassVar[Callable | None] = None

    # The op's facts (see FACTS); the ones without a default here must be declared by each kernel.
    category: ClassVar[str] = UNDECLARED
    penalized: ClassVar[tuple[str, ...]] = UNDECLARED
    mode_dependent: ClassVar[bool] = UNDECLARED
    stochastic: ClassVar[bool] = False
    adds_penalty: ClassVar[bool] = False
    min_batch: ClassVar[int] = 1
    batch_stats: ClassVar[bool] = UNDECLARED
    unit_axes: ClassVar[dict] = UNDECLARED
    saturation: ClassVar[tuple | None] = UNDECLARED
    inits: ClassVar[tuple[str, ...] | None] = UNDECLARED
    kinks: ClassVar[tuple] = UNDECLARED

    def __init__(self, attrs: Mapping[str, Any], in_shapes: tuple[Shape | int, ...]):
        """Bind the op to its attributes (the schema's defaults updated with `attrs`) and its
        inputs' per-example shapes (an int D means (D,)); raises ShapeError when the op cannot
        take them."""
        self.attrs = {**op_defaults(self.op), **attrs}
        self.in_shapes = tuple(as_shape(s) for s in in_shapes)
        self.out_shape = as_shape(self.infer_shape(self.attrs, self.in_shapes))

    @classmethod
    def infer_shape(cls, attrs: Mapping[str, Any], in_shapes: tuple[Shape, ...]) -> Shape:
        """The per-example output shape for these attributes and input shapes; raises ShapeError
        if the op cannot take them.

        The default is the shape-preserving rule of element-wise ops (any shape).
        """
        return in_shapes[0]

    @property
    def in_widths(self) -> tuple[int, ...]:
        """The first axis of each input shape: the width of a vector, the channels of an image."""
        return tuple(s[0] for s in self.in_shapes)

    @property
    def out_width(self) -> int:
        """The first axis of the output shape: the width of a vector, the channels of an image."""
        return self.out_shape[0]

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

    def penalty(self, ctx: Ctx) -> float:
        """The term this node adds to the training loss for the forward that filled `ctx` (ops whose
        `adds_penalty` is true; 0.0 for the others and after an evaluation-mode forward)."""
        return 0.0

    def bound(self, value) -> float:
        """A fact's bound as a number: itself, or the value of the attribute it names."""
        return float(self.attrs[value]) if isinstance(value, str) else float(value)

    def saturation_bounds(self) -> tuple[float, float] | None:
        """(lo, hi) for this node's attributes: its output saturates where y <= lo or y >= hi;
        None for ops that do not saturate (or are not activations)."""
        sat = self.saturation if self.category == "activation" else None
        return None if sat is None else (self.bound(sat[0]), self.bound(sat[1]))

    def kink_points(self) -> tuple[float, ...]:
        """The inputs where this node's derivative jumps (empty for non-activations)."""
        return tuple(self.bound(k) for k in self.kinks) if self.category == "activation" else ()

    def torch_form(self) -> TorchForm:
        """The node in a generated PyTorch module (see `TorchForm`): its submodule, its expression
        in `forward`, netc's initialization and the names of its parameters there."""
        # export asks `no_torch_reason` first and reports it at the statement; reaching this is a bug
        raise TypeError(f"{self.op} has no PyTorch form: {self.no_torch_reason}")

    def onnx_form(self, g: OnnxGraph, xs: list[str], state: Mapping[str, np.ndarray]) -> str:
        """Add the node's evaluation-mode computation to the ONNX graph `g` (inputs named `xs`,
        parameters and buffers `state`); returns the name of its output."""
        raise TypeError(f"{self.op} has no ONNX form: {self.no_onnx_reason}")

    def workspace(self, batch: int) -> int:
        """Scalars this node keeps alive during a training step besides its output and the
        gradient at it, for a batch of `batch` examples: what forward saves for backward and any
        scratch buffer. The memory estimate adds it up; the default is one array the size of the
        output (a mask, a normalized input); kernels with bigger buffers (im2col) override it."""
        n = 1
        for d in self.out_shape:  # (D,) or (C, H, W)
            n *= d
        return batch * n

    def param_count(self) -> int:
        """Number of learned scalars (buffers are not counted)."""
        total = 0
        for shape in self.param_shapes().values():
            n = 1
            for d in shape:
                n *= d
            total += n
        return total


def as_shape(shape: Shape | int) -> Shape:
    """A per-example shape as a tuple of ints: 64 -> (64,), (1, 8, 8) stays."""
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def is_image(shape: Shape) -> bool:
    """True for a (C, H, W) shape, False for a vector (D,)."""
    return len(shape) == 3


def shape_str(shape: Shape) -> str:
    """A per-example shape as users read it: '128' for a vector, '16x8x8' for an image."""
    return "x".join(str(d) for d in shape)


def require_vector(op: str, shape: Shape) -> None:
    """ShapeError unless `shape` is a vector (D,): for ops defined on features only."""
    if not is_image(shape):
        return
    raise ShapeError(f"{op} needs a vector, but its input is an image {shape_str(shape)}",
                     hint="add 'flatten' (or 'globalpool') before it")


def require_image(op: str, shape: Shape, hint: str | None = None) -> None:
    """ShapeError unless `shape` is an image (C, H, W): for ops defined on images only."""
    if is_image(shape):
        return
    hint = hint or "images come from 'input C H W' (and stay images until flatten or globalpool)"
    raise ShapeError(f"{op} needs an image (C, H, W), but its input is a vector of width {shape[0]}",
                     hint=hint)


KERNELS: dict[str, type[Kernel]] = {}


class Activation(Kernel):
    """Base of the element-wise activations: one input, the width kept, no penalized weight, the
    same in training and evaluation. Each still declares `saturation`, `inits` and `kinks`."""

    category = "activation"
    penalized = ()
    mode_dependent = False


def register(cls: type[Kernel]) -> type[Kernel]:
    """Class decorator: add a kernel to the registry under its `op` name.

    Raises TypeError when the kernel lacks one of the facts (FACTS) its category needs, so an op
    cannot be added without them.
    """
    assert cls.op and cls.op not in KERNELS, cls.op
    problems = missing_facts(cls)
    if problems:
        raise TypeError("; ".join(problems))
    # every registered op runs: forward(ctx, xs, state, training, rng) -> y and
    # backward(ctx, dy, state) -> (dxs, dparams), as the class docstring of Kernel describes
    assert callable(getattr(cls, "forward", None)) and callable(getattr(cls, "backward", None)), cls.op
    KERNELS[cls.op] = cls
    return cls
