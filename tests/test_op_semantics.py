"""Semantics of the kernels beyond their gradients: batch-norm statistics and modes, dropout's
expectation and reproducibility, initialization scales, numerical stability and dtypes."""
from __future__ import annotations

import math

import numpy as np
import pytest

from netc.runtime.init import INITIALIZERS, init_std, init_weights
from netc.runtime.ops import KERNELS, Ctx, RuntimeSpecError
from netc.runtime.ops.functional import erf
from conftest import kernel_defaults, kernel_input_shape, one_error

SAFE = {"over": "raise", "invalid": "raise", "divide": "raise"}  # underflow to 0 is fine


def kernel(op, width=5, **overrides):
    cls = KERNELS[op]
    shapes = () if cls.arity == 0 else (kernel_input_shape(op, width),) * cls.arity
    return cls({**kernel_defaults(op), **overrides}, shapes)


def forward(k, xs, state, training=True, seed=0):
    ctx = Ctx()
    y = k.forward(ctx, xs, state, training, np.random.default_rng(seed))
    return ctx, y


# ---------------------------------------------------------------------------- batchnorm


@pytest.mark.parametrize("stats", ["ema", "average"])
def test_batchnorm_running_statistics(stats):
    momentum, d = 0.2, 3
    bn = kernel("batchnorm", d, momentum=momentum, stats=stats)
    state = bn.init_state(np.random.default_rng(0), np.float64)
    rng = np.random.default_rng(1)
    batches = [rng.normal(2.0, 3.0, (b, d)) for b in (8, 5, 13, 4)]
    rm, rv = np.zeros(d), np.ones(d)
    for i, x in enumerate(batches, start=1):
        forward(bn, [x], state)
        b = x.shape[0]
        mu, unbiased = x.mean(axis=0), x.var(axis=0) * b / (b - 1)
        if stats == "ema":
            rm = (1 - momentum) * rm + momentum * mu
            rv = (1 - momentum) * rv + momentum * unbiased
        assert state["num_batches"] == i
    if stats == "average":  # the course's average over all training batches, B/(B-1) inside
        rm = np.mean([x.mean(axis=0) for x in batches], axis=0)
        rv = np.mean([x.var(axis=0, ddof=1) for x in batches], axis=0)
    np.testing.assert_allclose(state["running_mean"], rm, rtol=1e-12)
    np.testing.assert_allclose(state["running_var"], rv, rtol=1e-12)


def test_batchnorm_training_uses_batch_stats_and_eval_uses_running_stats():
    d, eps = 4, 1e-5
    bn = kernel("batchnorm", d)
    rng = np.random.default_rng(2)
    state = bn.init_state(rng, np.float64)
    state["gamma"], state["beta"] = rng.uniform(0.5, 2, d), rng.normal(size=d)
    x = rng.normal(1.0, 2.0, (10, d))
    _, y = forward(bn, [x], state)
    u = (x - x.mean(0)) / np.sqrt(x.var(0) + eps)
    np.testing.assert_allclose(y, state["gamma"] * u + state["beta"], rtol=1e-12)
    before = {k: v.copy() for k, v in state.items()}
    _, y_eval = forward(bn, [x[:3]], state, training=False)
    u = (x[:3] - state["running_mean"]) / np.sqrt(state["running_var"] + eps)
    np.testing.assert_allclose(y_eval, state["gamma"] * u + state["beta"], rtol=1e-12)
    for k in before:  # evaluation leaves the buffers alone
        np.testing.assert_array_equal(state[k], before[k])


def test_batchnorm_identical_rows():
    """Identical rows: var = 0, the output is beta (finite), and the input gradient is zero when
    the rows' upstream gradients agree, as they do for identical examples. (For arbitrary dy the
    exact gradient, as in PyTorch, is gamma / sqrt(eps) * (dy - mean(dy)): finite, checked too.)"""
    d, eps = 3, 1e-5
    bn = kernel("batchnorm", d)
    state = bn.init_state(np.random.default_rng(0), np.float64)
    state["gamma"], state["beta"] = np.array([1.0, 2.0, 0.5]), np.array([0.1, -0.2, 0.3])
    x = np.tile([0.1, 7.0, -3.3], (6, 1))
    with np.errstate(**SAFE):
        ctx, y = forward(bn, [x], state)
        np.testing.assert_allclose(y, np.tile(state["beta"], (6, 1)), atol=1e-9)
        dy = np.tile([0.3, -1.2, 2.0], (6, 1))
        (dx,), grads = bn.backward(ctx, dy, state)
        np.testing.assert_allclose(dx, 0.0, atol=1e-9)
        np.testing.assert_allclose(grads["beta"], dy.sum(0))
        dy = np.random.default_rng(1).normal(size=(6, d))
        (dx,), _ = bn.backward(ctx, dy, state)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx, state["gamma"] / math.sqrt(eps) * (dy - dy.mean(0)),
                               rtol=1e-6, atol=1e-9)


def test_batchnorm_single_example_in_training_raises():
    bn = kernel("batchnorm", 3)
    state = bn.init_state(np.random.default_rng(0), np.float64)
    with pytest.raises(RuntimeSpecError, match=r"at least 2 examples .* training mode \(got 1\)"):
        forward(bn, [np.ones((1, 3))], state)
    assert state["num_batches"] == 0
    _, y = forward(bn, [np.ones((1, 3))], state, training=False)  # evaluation is fine
    assert y.shape == (1, 3)


def test_batchnorm_non_affine_has_no_params():
    bn = kernel("batchnorm", 3, affine=False)
    state = bn.init_state(np.random.default_rng(0), np.float64)
    assert set(state) == {"running_mean", "running_var", "num_batches"}
    assert bn.param_shapes() == {} and bn.buffer_shapes()["num_batches"] == ()
    x = np.random.default_rng(1).normal(size=(5, 3))
    ctx, y = forward(bn, [x], state)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    assert bn.backward(ctx, np.ones_like(x), state)[1] == {}


def test_layernorm_normalizes_each_example():
    ln = kernel("layernorm", 6)
    state = ln.init_state(np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).normal(3.0, 2.0, (4, 6))
    _, y = forward(ln, [x], state)
    u = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, u, rtol=1e-12)
    _, y1 = forward(ln, [x[:1]], state)  # one example is fine
    np.testing.assert_allclose(y1, u[:1], rtol=1e-12)


# ---------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_dropout_expected_training_output_equals_eval(mode):
    """Over R seeded draws, each unit's mean training output is within 4 standard errors of the
    evaluation output; the standard error of one unit is |x| (1-p) s sqrt(p / (1-p) / R) with s
    the survivor scale (1/(1-p) inverted, 1 vanilla)."""
    p, reps = 0.3, 4000
    drop = kernel("dropout", 6, p=p, mode=mode)
    x = np.random.default_rng(0).uniform(0.5, 2.0, (4, 6))
    _, y_eval = forward(drop, [x], {}, training=False)
    rng = np.random.default_rng(123)
    total = np.zeros_like(x)
    for _ in range(reps):
        total += drop.forward(Ctx(), [x], {}, True, rng)
    mean = total / reps
    scale = 1 / (1 - p) if mode == "inverted" else 1.0
    se = np.abs(x) * scale * math.sqrt(p * (1 - p) / reps)
    assert np.all(np.abs(mean - y_eval) < 4 * se)
    expected_eval = x if mode == "inverted" else x * (1 - p)
    np.testing.assert_allclose(y_eval, expected_eval, rtol=1e-15)


def test_dropout_mask_values_and_rate():
    p = 0.25
    x = np.ones((200, 50))
    _, y = forward(kernel("dropout", 50, p=p), [x], {})
    assert set(np.unique(y)) == {0.0, 1 / (1 - p)}
    assert abs(np.mean(y == 0) - p) < 4 * math.sqrt(p * (1 - p) / x.size)
    _, y = forward(kernel("dropout", 50, p=p, mode="vanilla"), [x], {})
    assert set(np.unique(y)) == {0.0, 1.0}


def test_dropout_same_seed_same_mask():
    drop = kernel("dropout", 8, p=0.5)
    x = np.random.default_rng(0).normal(size=(5, 8))
    ctx1, y1 = forward(drop, [x], {}, seed=42)
    ctx2, y2 = forward(drop, [x], {}, seed=42)
    _, y3 = forward(drop, [x], {}, seed=43)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(y1, y3)
    dy = np.ones_like(x)
    np.testing.assert_array_equal(drop.backward(ctx1, dy, {})[0][0], (y1 != 0) * 2.0)


@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_p0_is_identity(mode, training):
    drop = kernel("dropout", 4, p=0.0, mode=mode)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    ctx, y = forward(drop, [x], {}, training=training)
    np.testing.assert_array_equal(y, x)
    dy = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(drop.backward(ctx, dy, {})[0][0], dy)


# ---------------------------------------------------------------------------- initialization


@pytest.mark.parametrize("name", ["he", "lecun", "xavier", "normal", "uniform"])
def test_init_std_matches_formula(name):
    fan_in, fan_out = 400, 250
    w = init_weights(name, (fan_in, fan_out), fan_in, fan_out, np.random.default_rng(0),
                     np.float64, std=0.05)
    expected = {"he": math.sqrt(2 / fan_in), "lecun": math.sqrt(1 / fan_in),
                "xavier": math.sqrt(2 / (fan_in + fan_out)), "normal": 0.05,
                "uniform": 1 / math.sqrt(3 * fan_in)}[name]
    assert init_std(name, fan_in, fan_out, 0.05) == pytest.approx(expected)
    # 100k draws: the sample std is within ~0.5% of the true one; 2% is a safe bound
    assert w.std() == pytest.approx(expected, rel=0.02)
    assert abs(w.mean()) < 4 * expected / math.sqrt(w.size)
    if name == "uniform":
        assert np.all(np.abs(w) <= 1 / math.sqrt(fan_in))


def test_init_zeros_unknown_and_dtype():
    assert set(INITIALIZERS) == {"he", "xavier", "lecun", "normal", "uniform", "zeros", "constant", "orthogonal"}
    w = init_weights("zeros", (3, 4), 3, 4, np.random.default_rng(0), np.float32)
    assert w.dtype == np.float32 and not w.any()
    for name in INITIALIZERS:
        assert init_weights(name, (3, 4), 3, 4, np.random.default_rng(0), np.float32).dtype \
            == np.float32
    with pytest.raises(ValueError, match="he, xavier"):
        init_weights("kaiming", (3, 4), 3, 4, np.random.default_rng(0))


def test_kernel_initial_state():
    rng = np.random.default_rng(0)
    dense = kernel("dense", 300, units=200, init="he")
    st = dense.init_state(rng, np.float64)
    assert st["W"].shape == (300, 200) and not st["b"].any()
    assert st["W"].std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    assert set(kernel("dense", 3, bias=False).init_state(rng, np.float64)) == {"W"}
    maxout = kernel("maxout", 300, units=200, k=3, init="xavier")
    st = maxout.init_state(rng, np.float64)
    assert st["W"].shape == (3, 300, 200) and st["b"].shape == (3, 200) and not st["b"].any()
    for j in range(3):  # each map initialized as a dense layer D -> N
        assert st["W"][j].std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    st = kernel("prelu", 4, init=0.1).init_state(rng, np.float64)
    np.testing.assert_array_equal(st["slope"], np.full(4, 0.1))
    st = kernel("batchnorm", 4).init_state(rng, np.float32)
    np.testing.assert_array_equal(st["gamma"], 1)
    np.testing.assert_array_equal(st["beta"], 0)
    np.testing.assert_array_equal(st["running_mean"], 0)
    np.testing.assert_array_equal(st["running_var"], 1)
    assert st["num_batches"].shape == () and st["num_batches"] == 0
    st = kernel("layernorm", 4).init_state(rng, np.float32)
    assert set(st) == {"gamma", "beta"}
    for op, cls in KERNELS.items():  # state keys are exactly the declared params and buffers
        k = kernel(op)
        st = k.init_state(rng, np.float64)
        shapes = {**k.param_shapes(), **k.buffer_shapes()}
        assert {n: v.shape for n, v in st.items()} == shapes, op


# ---------------------------------------------------------------------------- dtypes, stability


@pytest.mark.parametrize("op", sorted(KERNELS))
@pytest.mark.parametrize("training", [True, False])
def test_float32_in_float32_out(op, training):
    k = kernel(op)
    rng = np.random.default_rng(0)
    state = k.init_state(rng, np.float32)
    in_shape = (6,) + kernel_input_shape(op, 5)
    xs = [rng.normal(size=in_shape).astype(np.float32) for _ in range(max(k.arity, 1))]
    ctx, y = forward(k, xs, state, training)
    assert y.dtype == np.float32 and y.shape == (6,) + k.out_shape
    dxs, grads = k.backward(ctx, np.ones_like(y), state)
    assert all(dx.dtype == np.float32 and dx.shape == in_shape for dx in dxs)
    assert set(grads) == set(k.param_shapes())
    for name, g in grads.items():
        assert g.dtype == np.float32 and g.shape == k.param_shapes()[name], name
    for name, v in state.items():
        assert v.dtype == (np.int64 if name == "num_batches" else np.float32), name


def test_extreme_inputs_stay_finite():
    x = np.array([[-1000.0, -50.0, -1e-3, 0.0, 1e-3, 50.0, 1000.0]])
    for op in ("sigmoid", "tanh", "swish", "softplus", "mish", "gelu", "elu", "selu", "softmax"):
        for attrs in ({}, {"approx": "none"}) if op == "gelu" else ({},):
            k = kernel(op, 7, **attrs)
            with np.errstate(**SAFE):
                ctx, y = forward(k, [x], {})
                (dx,), _ = k.backward(ctx, np.ones_like(x), {})
            assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx)), op
    with np.errstate(**SAFE):
        _, s = forward(kernel("sigmoid", 7), [x], {})
    assert s[0, 0] == 0.0 or s[0, 0] < 1e-300
    assert s[0, 1] == pytest.approx(math.exp(-50), rel=1e-14)  # tiny outputs keep their digits


def test_softplus_threshold_and_beta():
    k = kernel("softplus", 4, beta=2.0)
    x = np.array([[-3.0, 0.5, 9.9, 10.5]])  # beta x = 21 > 20: the identity
    _, y = forward(k, [x], {})
    np.testing.assert_allclose(y[0, :3], np.log1p(np.exp(2 * x[0, :3])) / 2, rtol=1e-14)
    assert y[0, 3] == 10.5


def test_activation_values():
    x = np.array([[-2.0, -0.5, 0.5, 2.0]])
    sp = np.log1p(np.exp(x))
    sig = 1 / (1 + np.exp(-x))
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    cases = {
        ("relu", ()): np.maximum(x, 0),
        ("leaky_relu", (("slope", 0.1),)): np.where(x > 0, x, 0.1 * x),
        ("elu", (("alpha", 1.5),)): np.where(x > 0, x, 1.5 * (np.exp(x) - 1)),
        ("selu", ()): 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * (np.exp(x) - 1)),
        ("swish", ()): x * sig,
        ("mish", ()): x * np.tanh(sp),
        ("gelu", (("approx", "none"),)): x * cdf,
        ("gelu", (("approx", "tanh"),)):
            0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        ("softmax", ()): np.exp(x) / np.exp(x).sum(),
    }
    for (op, attrs), expected in cases.items():
        _, y = forward(kernel(op, 4, **dict(attrs)), [x], {})
        np.testing.assert_allclose(y, expected, rtol=1e-12, err_msg=op)


def test_hardtanh_ends_and_range():
    """At exactly min_val or max_val the slope is 0 (as PyTorch's hardtanh: tensor([0, 0, 1, 0, 0])
    for these inputs), and a range with min_val >= max_val is an error at its statement."""
    k = kernel("hardtanh", 5)
    x = np.array([[-2.0, -1.0, 0.3, 1.0, 2.0]])
    ctx, y = forward(k, [x], {})
    np.testing.assert_array_equal(y, [[-1.0, -1.0, 0.3, 1.0, 1.0]])
    np.testing.assert_array_equal(k.backward(ctx, np.ones_like(x), {})[0][0], [[0, 0, 1, 0, 0]])
    err = one_error("model m {\n    input 3\n    hardtanh min_val=1 max_val=0.5\n}\n")
    assert "min_val < max_val" in err.message and (err.span.line, err.span.column) == (3, 5)


def test_softsign_values_and_slope():
    k = kernel("softsign", 4)
    x = np.array([[-3.0, 0.0, 1.0, 99.0]])
    ctx, y = forward(k, [x], {})
    np.testing.assert_allclose(y, [[-0.75, 0.0, 0.5, 0.99]], rtol=1e-15)
    np.testing.assert_allclose(k.backward(ctx, np.ones_like(x), {})[0][0], [[1 / 16, 1.0, 0.25, 1e-4]], rtol=1e-12)


def test_erf_accuracy():
    x = np.linspace(-7, 7, 20001)
    ref = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf(x) - ref)) < 1e-15
    assert erf(x.astype(np.float32)).dtype == np.float32


def test_input_checks_width():
    k = kernel("input")
    x = np.zeros((3, 5))
    assert forward(k, [x], {})[1] is x
    with pytest.raises(RuntimeSpecError, match="5 features"):
        forward(k, [np.zeros((3, 4))], {})


@pytest.mark.parametrize("op", ["dense", "maxout"])
def test_input_gradient_can_be_skipped(op):
    """ctx.need_input_grad = False (the first layer after the input) skips dx, not the params."""
    k = kernel(op)
    rng = np.random.default_rng(0)
    state = k.init_state(rng, np.float64)
    x = rng.normal(size=(4, 5))
    dy = rng.normal(size=(4, k.out_width))
    ctx, _ = forward(k, [x], state)
    (dx,), grads = k.backward(ctx, dy, state)
    ctx, _ = forward(k, [x], state)
    ctx.need_input_grad = False
    (none,), grads_skipped = k.backward(ctx, dy, state)
    assert dx is not None and none is None
    for name in grads:
        np.testing.assert_array_equal(grads[name], grads_skipped[name])
