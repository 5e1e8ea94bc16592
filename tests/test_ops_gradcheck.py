"""Float64 central-difference checks of every kernel's backward pass (inputs and parameters).

The case list is keyed by op name and must cover the whole registry: adding a kernel without a
gradient-check case fails `test_every_op_has_a_case`.
"""
from __future__ import annotations

import numpy as np
import pytest

from netc.runtime.gradcheck import check_kernel
from netc.runtime.ops import KERNELS, Ctx
from conftest import kernel_defaults
from test_ops_images_grad import IMAGE_CASES

TOL = 1e-6
B, D = 6, 5


BOTH = (True, False)

# op -> list of (attribute overrides, training modes to check). Ops whose forward is the same in
# training and evaluation are checked once; batchnorm and dropout in both modes.
CASES: dict[str, list[tuple[dict, tuple[bool, ...]]]] = {
    "input": [({}, (True,))],
    "dense": [({}, (True,)), ({"bias": False}, (True,)), ({"dropconnect": 0.4}, BOTH)],
    "maxout": [({}, (True,)), ({"bias": False, "k": 2}, (True,))],
    "relu": [({}, (True,))],
    "sigmoid": [({}, (True,))],
    "tanh": [({}, (True,))],
    "hardtanh": [({}, (True,)), ({"min_val": -0.5, "max_val": 2.0}, (True,))],
    "softsign": [({}, (True,))],
    "selu": [({}, (True,))],
    "mish": [({}, (True,))],
    "leaky_relu": [({}, (True,)), ({"slope": 0.3}, (True,))],
    "elu": [({}, (True,)), ({"alpha": 0.5}, (True,))],
    "gelu": [({"approx": "tanh"}, (True,)), ({"approx": "none"}, (True,))],
    "swish": [({}, (True,))],
    "softplus": [({}, (True,)), ({"beta": 2.5}, (True,))],
    "prelu": [({}, (True,))],
    "softmax": [({}, (True,))],
    "batchnorm": [({}, BOTH), ({"affine": False}, BOTH), ({"stats": "average"}, BOTH)],
    "layernorm": [({}, (True,)), ({"affine": False}, (True,))],
    "dropout": [({"mode": "inverted", "p": 0.3}, BOTH), ({"mode": "vanilla", "p": 0.3}, BOTH),
                ({"p": 0.0}, BOTH)],
    "gaussian_noise": [({"std": 0.5}, BOTH), ({"std": 0.0}, (True,))],
    "activity": [({"l1": 0.3, "l2": 0.2}, BOTH), ({"l1": 0.7, "l2": 0.0}, (True,)),
                   ({"l1": 0.0, "l2": 1.5}, (True,))],
    "add": [({}, (True,))],
    "concat": [({}, (True,))],
}

KINK_GAP = 0.1  # inputs stay this far from an op's kinks (its `kinks` fact), >> the step h


def make_kernel(op: str, overrides: dict):
    cls = KERNELS[op]
    attrs = {**kernel_defaults(op), **overrides}
    widths = () if cls.arity == 0 else (D,) * cls.arity
    return cls(attrs, widths)


def make_inputs(op: str, kernel, rng) -> list[np.ndarray]:
    """Random inputs, kept away from each op's kinks by much more than the difference step."""
    xs = [rng.standard_normal((B, D)) * 1.5 for _ in range(max(kernel.arity, 1))]
    kinks = np.array(kernel.kink_points())
    for x in xs if kinks.size else ():
        for _ in range(20):  # step the entries near a kink off it (never onto another one)
            near = np.abs(x[..., None] - kinks).min(axis=-1) < KINK_GAP
            if not near.any():
                break
            x[near] += 2.5 * KINK_GAP
        assert not near.any()
    if op == "softplus":  # include the linear side past the threshold beta x > 20
        xs[0][0, :2] = 25.0 / kernel.attrs["beta"], 30.0 / kernel.attrs["beta"]
    return xs


def make_state(kernel, rng) -> dict[str, np.ndarray]:
    """The kernel's initial state with parameters moved off their initial values (gamma != 1)."""
    state = kernel.init_state(rng, np.float64)
    for name in kernel.param_shapes():
        state[name] = state[name] + 0.5 * rng.standard_normal(state[name].shape)
    if "running_var" in state:
        state["running_mean"] = rng.standard_normal(state["running_mean"].shape)
        state["running_var"] = rng.uniform(0.5, 2.0, state["running_var"].shape)
    return state


def maxout_gap(kernel, x, state) -> float:
    """Smallest margin between the best and second-best map over all outputs."""
    z = np.matmul(x, state["W"])
    if "b" in state:
        z = z + state["b"][:, None, :]
    top2 = np.sort(z, axis=0)[-2:]
    return float(np.min(top2[1] - top2[0]))


def case_params():
    out = []
    for op, cases in CASES.items():
        for i, (overrides, modes) in enumerate(cases):
            for training in modes:
                label = ",".join(f"{k}={v}" for k, v in overrides.items()) or "default"
                mode = "train" if training else "eval"
                out.append(pytest.param(op, overrides, training, id=f"{op}[{label}]-{mode}"))
    return out


def test_every_op_has_a_case():
    covered = set(CASES) | set(IMAGE_CASES)  # image-only ops are checked in test_ops_images_grad
    missing = sorted(set(KERNELS) - covered)
    assert not missing, f"ops without a gradient-check case: {missing}"
    assert not covered - set(KERNELS), "cases for ops that are not registered"


@pytest.mark.parametrize("op, overrides, training", case_params())
def test_gradcheck(op, overrides, training):
    kernel = make_kernel(op, overrides)
    for seed in range(20):  # maxout: pick a draw without near-ties between maps
        rng = np.random.default_rng(seed)
        state = make_state(kernel, rng)
        xs = make_inputs(op, kernel, rng)
        if op != "maxout" or maxout_gap(kernel, xs[0], state) > 1e-3:
            break
    errors = check_kernel(kernel, xs, state, training=training, seed=7)
    expected = {f"x{i}" for i in range(len(xs))} | set(kernel.param_shapes())
    assert set(errors) == expected
    worst = max(errors.values())
    assert worst < TOL, f"{op} {overrides} training={training}: {errors}"


def test_dropout_check_uses_a_real_mask():
    """The dropout case is meaningful: the identically-seeded mask drops some units, keeps some."""
    kernel = make_kernel("dropout", {"p": 0.3})
    x = np.ones((B, D))
    y = kernel.forward(Ctx(), [x], {}, True, np.random.default_rng(7))
    assert 0 < np.count_nonzero(y) < y.size


def test_noise_check_uses_real_noise():
    """The noise case is meaningful: the identically-seeded draw moves every entry."""
    kernel = make_kernel("gaussian_noise", {"std": 0.5})
    x = np.zeros((B, D))
    y = kernel.forward(Ctx(), [x], {}, True, np.random.default_rng(7))
    assert np.count_nonzero(y) == y.size and 0.2 < y.std() < 0.9


def test_activity_check_sees_the_penalty():
    """The activity case is meaningful: a backward that forgets the penalty's gradient fails."""
    kernel = make_kernel("activity", {"l1": 0.3, "l2": 0.2})

    class Forgetful(type(kernel)):
        def backward(self, ctx, dy, state):
            return [dy], {}

    bad = Forgetful(kernel.attrs, (D,))
    x = np.random.default_rng(0).standard_normal((B, D))
    assert check_kernel(kernel, [x], {}, training=True)["x0"] < TOL
    assert check_kernel(bad, [x], {}, training=True)["x0"] > 1e-2


def test_check_kernel_detects_a_wrong_gradient():
    """The checker is not vacuous: a kernel with a deliberately wrong backward fails it."""
    kernel = make_kernel("tanh", {})

    class WrongTanh(type(kernel)):
        def backward(self, ctx, dy, state):
            return [dy * (1.0 - ctx.y)], {}  # should be 1 - y**2

    bad = WrongTanh({}, (D,))
    rng = np.random.default_rng(0)
    errors = check_kernel(bad, [rng.standard_normal((B, D))], {}, training=True)
    assert errors["x0"] > 1e-2
