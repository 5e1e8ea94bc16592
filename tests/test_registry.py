"""The op table: every op's facts are declared, well formed, and true of its kernel.

Lints, the trainer, statistics, gradient checks and the TUI read these facts instead of naming
ops, so a kernel that lacks one, or declares one its forward pass contradicts, fails here (and
`register` already refuses a kernel that lacks one). The behavioural checks run each kernel on
random inputs, so a wrong declaration cannot pass by being declared.
"""
from __future__ import annotations

import numpy as np
import pytest

import netc
from conftest import ROOT, kernel_defaults, kernel_input_shape
from netc.runtime.ops import KERNELS, Ctx, RuntimeSpecError
from netc.runtime.ops.base import CATEGORIES, FACTS, Activation, Kernel, missing_facts, register
from netc.runtime.stats import activation_stats
from netc.spec.schema import INITS, STRUCTURE, lookup, model_ops

OPS = sorted(KERNELS)
ACTIVATIONS = sorted(op for op, cls in KERNELS.items() if cls.category == "activation")
SATURATING = sorted(op for op in ACTIVATIONS if KERNELS[op].saturation is not None)
D = 5


def make(op: str, width: int = D, **overrides) -> Kernel:
    cls = KERNELS[op]
    shapes = () if cls.arity == 0 else (kernel_input_shape(op, width),) * cls.arity
    return cls({**kernel_defaults(op), **overrides}, shapes)


def run(kernel: Kernel, xs, training: bool, seed: int = 0, state=None):
    """Forward on copies of xs with a fresh state (or a copy of `state`): (ctx, y, state after)."""
    state = kernel.init_state(np.random.default_rng(0), np.float64) if state is None else \
        {k: v.copy() for k, v in state.items()}
    ctx = Ctx()
    y = kernel.forward(ctx, [x.copy() for x in xs], state, training, np.random.default_rng(seed))
    return ctx, y, state


def inputs(kernel: Kernel, batch: int = 16, seed: int = 3, scale: float = 1.5):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch,) + (kernel.out_shape if kernel.arity == 0 else s)) * scale
            for s in (kernel.in_shapes or (None,))]


def slope(kernel: Kernel, x: np.ndarray) -> np.ndarray:
    """The element-wise derivative of an activation at x (B, D): its backward of dy = 1."""
    ctx, y, state = run(kernel, [x], training=True)
    (dx,), _ = kernel.backward(ctx, np.ones_like(y), state)
    return dx


# --- every fact declared; the schema and the registry agree --------------------------------------

@pytest.mark.parametrize("op", OPS)
def test_every_kernel_declares_its_facts(op):
    assert missing_facts(KERNELS[op]) == []
    assert KERNELS[op].op == op


def test_register_refuses_a_kernel_without_its_facts():
    class Half(Activation):
        op = "half_declared"
        saturation = None
        inits = None  # no kinks

        def forward(self, ctx, xs, state, training, rng):
            return xs[0]

        def backward(self, ctx, dy, state):
            return [dy], {}

    with pytest.raises(TypeError, match="kinks"):
        register(Half)

    class Malformed(Half):
        op = "malformed"
        kinks = ()
        category = "nonlinear"

    with pytest.raises(TypeError, match="category"):
        register(Malformed)
    assert "half_declared" not in KERNELS and "malformed" not in KERNELS


def test_every_model_statement_is_an_op_with_a_kernel_and_back():
    assert set(model_ops()) == set(KERNELS)
    assert all(lookup("model", s) is not None and s not in KERNELS for s in STRUCTURE)


@pytest.mark.parametrize("op", OPS)
def test_kernels_take_their_defaults_from_the_schema(op):
    """A kernel built with only the required attributes gets every schema default."""
    stmt = lookup("model", op)
    required = {k: v for k, v in kernel_defaults(op).items()
                if any(p.name == k and p.required for p in (*stmt.positional, *stmt.keywords))}
    cls = KERNELS[op]
    k = cls(required, () if cls.arity == 0 else (kernel_input_shape(op, D),) * cls.arity)
    for p in (*stmt.positional, *stmt.keywords):
        if not p.required:
            assert k.attrs[p.name] == p.default, (op, p.name)


def test_every_fact_and_category_is_documented():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text[text.index("## The op table"):]
    for fact in FACTS:
        assert f"`{fact.name}`" in section, f"fact {fact.name} is not in docs/architecture.md"
    for category in CATEGORIES:
        assert f"`{category}`" in section, f"category {category} is not in docs/architecture.md"


# --- the facts are true of the kernels -----------------------------------------------------------

@pytest.mark.parametrize("op", OPS)
def test_mode_dependent_is_true_of_the_forward(op):
    """Training and evaluation outputs differ on the same inputs and draws iff declared."""
    k = make(op)
    xs = inputs(k)
    _, y_train, _ = run(k, xs, training=True, seed=5)
    _, y_eval, _ = run(k, xs, training=False, seed=5)
    assert (not np.allclose(y_train, y_eval)) == k.mode_dependent, op


@pytest.mark.parametrize("op", OPS)
def test_stochastic_is_true_of_the_forward(op):
    """Two generators give two training outputs iff the op draws from the rng."""
    k = make(op)
    xs = inputs(k)
    _, a, _ = run(k, xs, training=True, seed=1)
    _, b, _ = run(k, xs, training=True, seed=2)
    assert (not np.array_equal(a, b)) == k.stochastic, op


@pytest.mark.parametrize("op", OPS)
def test_adds_penalty_is_true_of_the_kernel(op):
    """An op adds a positive term to the training loss iff it declares `adds_penalty`, and never
    in evaluation mode (the validation loss has no penalty)."""
    k = make(op)
    xs = inputs(k)
    ctx, _, _ = run(k, xs, training=True)
    assert (k.penalty(ctx) > 0) == k.adds_penalty, op
    ctx, _, _ = run(k, xs, training=False)
    assert k.penalty(ctx) == 0.0, op


@pytest.mark.parametrize("op", OPS)
def test_min_batch_is_true_of_the_forward(op):
    """A training batch of min_batch examples runs; one fewer is refused with a clear error."""
    k = make(op)
    run(k, inputs(k, batch=k.min_batch), training=True)
    if k.min_batch > 1:
        with pytest.raises(RuntimeSpecError):
            run(k, inputs(k, batch=k.min_batch - 1), training=True)


@pytest.mark.parametrize("op", OPS)
def test_penalized_names_are_parameters(op):
    for overrides in ({}, {"bias": False}, {"affine": False}):
        if all(name in kernel_defaults(op) for name in overrides):
            k = make(op, **overrides)
            assert set(k.penalized) <= set(k.param_shapes()) | set(KERNELS[op].params), op
    # a penalized weight exists with the default attributes (not only in some configuration)
    assert set(KERNELS[op].penalized) <= set(make(op).param_shapes()), op


@pytest.mark.parametrize("op", OPS)
def test_category_is_true_of_the_kernel(op):
    k = make(op)
    cat = k.category
    if cat == "input":
        assert k.arity == 0
    elif cat == "merge":
        assert k.arity == 2
    else:
        assert k.arity == 1, op
    if cat == "linear":  # the init-activation lint reads the init= of linear ops
        stmt = lookup("model", op)
        assert any(p.name == "init" and p.choices == INITS for p in stmt.keywords), op
        assert k.penalized, "a linear op has a weight to penalize"
    if cat in ("activation", "output", "normalization", "regularizer"):
        for width in (1, 3, 7):
            assert make(op, width).out_width == width, op
    xs = inputs(k)
    _, y, _ = run(k, xs, training=True)
    if cat == "activation":  # element-wise: changing one entry changes only that entry
        x2 = xs[0].copy()
        x2[2, 3] += 0.7
        _, y2, _ = run(k, [x2], training=True)
        changed = ~np.isclose(y, y2, rtol=0, atol=1e-12)
        assert not changed[np.arange(y.shape[0]) != 2].any() and not np.delete(changed[2], 3).any(), op
    if cat == "output":  # probabilities
        assert (y >= 0).all() and np.allclose(y.sum(axis=1), 1.0), op
    if cat == "normalization":  # at its initial scale and shift, zero mean over the right axis
        axis = 0 if k.batch_stats else 1
        if y.ndim == 4:  # images: per channel over (B, H, W), or per example over (C, H, W)
            axis = (0, 2, 3) if k.batch_stats else (1, 2, 3)
        assert np.allclose(y.mean(axis=axis), 0.0, atol=1e-9), op
    if cat == "regularizer":  # evaluation is a fixed multiple of the input
        _, y_eval, _ = run(k, xs, training=False)
        ratio = y_eval / xs[0]
        assert np.allclose(ratio, ratio.flat[0]), op


@pytest.mark.parametrize("op", ACTIVATIONS)
def test_bounded_activations_declare_saturation(op):
    """An activation whose output stays in a bounded interval flattens out at its ends: it must
    say where (its `saturation`), so the saturated statistic covers it."""
    k = make(op, 1)
    _, y, _ = run(k, [np.linspace(-1e4, 1e4, 2001)[:, None]], training=True)
    bounded = np.ptp(y) < 100
    assert bounded == (k.saturation is not None), op


@pytest.mark.parametrize("op", SATURATING)
def test_saturation_means_a_flat_slope(op):
    """Where an activation's output is in its saturation range, its slope is below 5% of its
    steepest slope; large inputs reach the range and small ones do not."""
    k = make(op, 1)
    bounds = k.saturation_bounds()
    x = np.linspace(-200, 200, 40001)[:, None]
    _, y, _ = run(k, [x], training=True)
    s = np.abs(slope(k, x))
    lo, hi = bounds
    saturated = (y <= lo) | (y >= hi)
    assert saturated.any() and (~saturated).any()
    assert s[saturated].max() <= 0.05 * s.max(), op
    assert activation_stats(run(k, [np.full((4, 1), 200.0)], True)[1], bounds).saturated_frac == 1.0
    assert activation_stats(run(k, [np.full((4, 1), 0.01)], True)[1], bounds).saturated_frac == 0.0


def test_saturated_fraction_counts_the_range_inclusively():
    a = np.array([[-1.0, -0.99, 0.0, 0.5, 0.995], [0.2, 0.3, 0.99, -0.5, 0.1]])
    assert activation_stats(a, (-0.99, 0.99)).saturated_frac == pytest.approx(0.4)
    assert activation_stats(a, None).saturated_frac is None


@pytest.mark.parametrize("op", ACTIVATIONS)
def test_the_slope_jumps_only_at_declared_kinks(op):
    """Away from its declared kinks an activation's derivative is continuous (a kink left out of
    `kinks` would put gradient checks on a jump)."""
    k = make(op, 1)
    x = np.linspace(-6, 6, 12001)
    kinks = np.array(k.kink_points())
    if kinks.size:
        x = x[np.min(np.abs(x[:, None] - kinks[None]), axis=1) > 1e-3]
    eps = 1e-7
    left, right = slope(k, (x - eps)[:, None]), slope(k, (x + eps)[:, None])
    assert np.abs(left - right).max() < 1e-4, op


@pytest.mark.parametrize("op", ACTIVATIONS)
def test_init_lint_follows_the_activations_inits(op):
    """The init-activation lint warns exactly when a linear layer's derived init is not one the
    activation declares (and says nothing for activations without a declared scheme)."""
    suited = KERNELS[op].inits
    for init in ("he", "xavier", "lecun"):
        net = netc.loads(f"model m {{ input 4; dense 8 init={init}; dropout 0.1; {op} }}", check_data=False)
        codes = [w.code for w in net.warnings]
        expect = ["init-activation"] if suited is not None and init not in suited else []
        assert codes == expect, (op, init, codes)
        if expect:
            assert f"init={suited[0]}" in net.warnings[0].hint


# A fact may depend on a node's attributes: the class declares it for the schema's defaults and a
# node configured otherwise sets its own (dense with dropconnect draws a weight mask in training).
CONFIGURED = [("dense", {"dropconnect": 0.5})]


@pytest.mark.parametrize("op, overrides", CONFIGURED)
def test_facts_are_true_of_configured_nodes(op, overrides):
    k = make(op, **overrides)
    assert (k.mode_dependent, k.stochastic) != (KERNELS[op].mode_dependent, KERNELS[op].stochastic)
    xs = inputs(k)
    _, y_train, _ = run(k, xs, training=True, seed=5)
    _, y_eval, _ = run(k, xs, training=False, seed=5)
    assert (not np.allclose(y_train, y_eval)) == k.mode_dependent
    _, a, _ = run(k, xs, training=True, seed=1)
    _, b, _ = run(k, xs, training=True, seed=2)
    assert (not np.array_equal(a, b)) == k.stochastic


LINEAR = sorted(op for op, cls in KERNELS.items() if cls.category == "linear")


@pytest.mark.parametrize("op", LINEAR)
def test_unit_axes_hold_one_output_units_incoming_weights(op):
    """Zeroing the weights `unit_axes` groups for one index changes one output channel only (so a
    max-norm over those axes caps one unit's incoming weights), and every weight belongs to one."""
    k = make(op)
    xs = inputs(k)
    state = k.init_state(np.random.default_rng(0), np.float64)
    _, y, _ = run(k, xs, training=True, state=state)
    for name, axes in k.unit_axes.items():
        assert name in k.penalized, op
        w = state[name]
        others = [i for i in range(w.ndim) if i not in axes]
        for index in np.ndindex(*[w.shape[i] for i in others]):
            changed = dict(state)
            changed[name] = w.copy()
            where = [slice(None)] * w.ndim
            for i, j in zip(others, index):
                where[i] = j
            changed[name][tuple(where)] = 0.0
            _, y2, _ = run(k, xs, training=True, state=changed)
            diff = ~np.isclose(y, y2, rtol=0, atol=1e-12)
            channels = np.flatnonzero(diff.reshape(diff.shape[0], diff.shape[1], -1).any(axis=(0, 2)))
            assert len(channels) <= 1, (op, index, channels)
