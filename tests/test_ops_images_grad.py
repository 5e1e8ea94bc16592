"""Float64 central-difference checks of the image ops' backward passes, and of the other ops on
images (B, C, H, W): inputs and parameters, in training and evaluation where they differ.

`IMAGE_CASES` is part of the registry-wide coverage: test_ops_gradcheck.py counts it.
"""
from __future__ import annotations

import numpy as np
import pytest

from netc.runtime.gradcheck import check_kernel
from netc.runtime.ops import KERNELS, Ctx
from conftest import kernel_defaults

TOL = 1e-6
B = 3
IMG = (4, 6, 5)  # C, H, W: not square, so a swapped H and W would show
BOTH = (True, False)

# op -> list of (attribute overrides, per-example input shape, training modes)
IMAGE_CASES: dict[str, list[tuple[dict, tuple[int, ...], tuple[bool, ...]]]] = {
    "conv": [({"channels": 3}, IMG, (True,)),
             ({"channels": 3, "stride": 2}, IMG, (True,)),
             ({"channels": 2, "pad": "valid", "bias": False}, IMG, (True,)),
             ({"channels": 2, "pad": 2, "stride": 2, "size": 3}, IMG, (True,)),
             ({"channels": 2, "size": 2}, IMG, (True,)),            # even size: asymmetric same
             ({"channels": 2, "size": 4, "stride": 3}, IMG, (True,)),
             ({"channels": 3, "size": 1}, IMG, (True,))],
    "maxpool": [({"size": 2}, IMG, (True,)), ({"size": 3, "stride": 2}, IMG, (True,)),
                ({"size": 2, "stride": 1}, IMG, (True,))],
    "avgpool": [({"size": 2}, IMG, (True,)), ({"size": 3, "stride": 2}, IMG, (True,)),
                ({"size": 2, "stride": 1}, IMG, (True,))],
    "globalpool": [({"kind": "avg"}, IMG, (True,)), ({"kind": "max"}, IMG, (True,))],
    "flatten": [({}, IMG, (True,))],
    "instancenorm": [({}, IMG, (True,)), ({"affine": False}, IMG, (True,))],
    "groupnorm": [({"groups": 2}, IMG, (True,)), ({"groups": 4, "affine": False}, IMG, (True,)),
                  ({"groups": 1}, IMG, (True,)), ({"groups": 5}, (10,), (True,))],
    "dropout2d": [({"p": 0.3}, IMG, BOTH), ({"p": 0.3, "mode": "vanilla"}, IMG, BOTH)],
    # ops shared with vectors, on images
    "batchnorm": [({}, IMG, BOTH), ({"affine": False}, IMG, BOTH), ({"stats": "average"}, IMG, BOTH)],
    "layernorm": [({}, IMG, (True,)), ({"affine": False}, IMG, (True,))],
    "dropout": [({"p": 0.3}, IMG, BOTH)],
    "prelu": [({}, IMG, (True,))],
    "tanh": [({}, IMG, (True,))],
    "gelu": [({"approx": "none"}, IMG, (True,))],
    "add": [({}, IMG, (True,))],
    "concat": [({}, IMG, (True,))],
}

KINKED = {"prelu", "maxpool", "globalpool"}


def make_kernel(op, overrides, in_shape):
    cls = KERNELS[op]
    attrs = {**kernel_defaults(op), **overrides}
    return cls(attrs, (in_shape,) * cls.arity)


def make_inputs(op, kernel, rng, in_shape):
    xs = [rng.standard_normal((B,) + in_shape) * 1.5 for _ in range(kernel.arity)]
    if op in KINKED:  # distinct values far apart (no ties within a window, away from 0)
        for x in xs:
            flat = x.reshape(-1)
            flat[:] = np.sign(flat) * (0.1 + rng.permutation(flat.size) * 0.01)
    return xs


def make_state(kernel, rng):
    state = kernel.init_state(rng, np.float64)
    for name in kernel.param_shapes():
        state[name] = state[name] + 0.5 * rng.standard_normal(state[name].shape)
    if "running_var" in state:
        state["running_mean"] = rng.standard_normal(state["running_mean"].shape)
        state["running_var"] = rng.uniform(0.5, 2.0, state["running_var"].shape)
    return state


def case_params():
    out = []
    for op, cases in IMAGE_CASES.items():
        for overrides, shape, modes in cases:
            for training in modes:
                label = ",".join(f"{k}={v}" for k, v in overrides.items()) or "default"
                out.append(pytest.param(op, overrides, shape, training,
                                        id=f"{op}[{label}]-{'x'.join(map(str, shape))}-"
                                           f"{'train' if training else 'eval'}"))
    return out


@pytest.mark.parametrize("op, overrides, shape, training", case_params())
def test_image_gradcheck(op, overrides, shape, training):
    kernel = make_kernel(op, overrides, shape)
    rng = np.random.default_rng(3)
    state = make_state(kernel, rng)
    xs = make_inputs(op, kernel, rng, shape)
    errors = check_kernel(kernel, xs, state, training=training, seed=7)
    assert set(errors) == {f"x{i}" for i in range(len(xs))} | set(kernel.param_shapes())
    assert max(errors.values()) < TOL, f"{op} {overrides} training={training}: {errors}"


def test_dropout2d_check_uses_a_real_channel_mask():
    """The dropout2d cases are meaningful: with this seed some channels drop, some stay, and each
    channel is all kept or all dropped."""
    kernel = make_kernel("dropout2d", {"p": 0.3}, IMG)
    y = kernel.forward(Ctx(), [np.ones((B,) + IMG)], {}, True, np.random.default_rng(7))
    kept = (y != 0).reshape(B, IMG[0], -1)
    assert kept.all(axis=2).sum() + (~kept).all(axis=2).sum() == B * IMG[0]
    assert 0 < kept.all(axis=2).sum() < B * IMG[0]


def test_conv_input_gradient_can_be_skipped():
    kernel = make_kernel("conv", {"channels": 3}, IMG)
    rng = np.random.default_rng(0)
    state = make_state(kernel, rng)
    x = rng.standard_normal((B,) + IMG)
    ctx = Ctx()
    y = kernel.forward(ctx, [x], state, True, rng)
    dy = rng.standard_normal(y.shape)
    (dx,), grads = kernel.backward(ctx, dy, state)
    ctx.need_input_grad = False
    (none,), grads2 = kernel.backward(ctx, dy, state)
    assert dx is not None and none is None
    np.testing.assert_array_equal(grads["W"], grads2["W"])
