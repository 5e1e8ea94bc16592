"""PyTorch parity in float64 for images (B, C, H, W): conv, pooling (ties included), flatten order,
BatchNorm2d over several steps (training, evaluation, running statistics), GroupNorm(1, C) for
layernorm, InstanceNorm2d(affine), GroupNorm(G, C), PReLU per channel, concat along channels and
Dropout2d's shared masks: forward and every gradient, 1e-6 relative.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import require

torch = require("torch")
F = torch.nn.functional

from netc.runtime.gradcheck import rel_error  # noqa: E402
from netc.runtime.ops import KERNELS, Ctx  # noqa: E402
from netc.runtime.ops.conv import padding  # noqa: E402
from conftest import kernel_defaults  # noqa: E402

TOL = 1e-6
B = 4
IMG = (3, 7, 6)


def t(a):
    return torch.tensor(np.asarray(a, np.float64), requires_grad=True)


def make(op, overrides, shape=IMG):
    cls = KERNELS[op]
    return cls({**kernel_defaults(op), **overrides}, (shape,) * cls.arity)


def compare(ours, theirs, what):
    err = rel_error(np.asarray(ours), theirs.detach().numpy())
    assert err < TOL, f"{what}: relative error {err:.2e}"


def torch_conv(a, xs, p):
    k = a["size"]
    if a["pad"] == "same" and a["stride"] == 1:
        return F.conv2d(xs[0], p["W"], p.get("b"), stride=1, padding="same")
    lo, hi = padding(a["pad"], k)
    return F.conv2d(F.pad(xs[0], (lo, hi, lo, hi)), p["W"], p.get("b"), stride=a["stride"])


CASES = {
    "conv": [({"channels": 5}, torch_conv),
             ({"channels": 5, "stride": 2}, torch_conv),
             ({"channels": 4, "pad": "valid"}, lambda a, xs, p: F.conv2d(xs[0], p["W"], p["b"])),
             ({"channels": 4, "pad": 1, "stride": 2},
              lambda a, xs, p: F.conv2d(xs[0], p["W"], p["b"], stride=2, padding=1)),
             ({"channels": 4, "pad": 2, "bias": False},
              lambda a, xs, p: F.conv2d(xs[0], p["W"], None, padding=2)),
             ({"channels": 4, "size": 2}, torch_conv),   # torch's asymmetric 'same' for even sizes
             ({"channels": 4, "size": 4}, torch_conv),
             ({"channels": 2, "size": 5, "stride": 2, "pad": "valid"},
              lambda a, xs, p: F.conv2d(xs[0], p["W"], p["b"], stride=2))],
    "maxpool": [({"size": 2}, lambda a, xs, p: F.max_pool2d(xs[0], 2)),
                ({"size": 3, "stride": 2}, lambda a, xs, p: F.max_pool2d(xs[0], 3, 2)),
                ({"size": 2, "stride": 1}, lambda a, xs, p: F.max_pool2d(xs[0], 2, 1))],
    "avgpool": [({"size": 2}, lambda a, xs, p: F.avg_pool2d(xs[0], 2)),
                ({"size": 3, "stride": 2}, lambda a, xs, p: F.avg_pool2d(xs[0], 3, 2)),
                ({"size": 2, "stride": 1}, lambda a, xs, p: F.avg_pool2d(xs[0], 2, 1))],
    "globalpool": [({"kind": "avg"}, lambda a, xs, p: F.adaptive_avg_pool2d(xs[0], 1).flatten(1)),
                   ({"kind": "max"}, lambda a, xs, p: F.adaptive_max_pool2d(xs[0], 1).flatten(1))],
    "flatten": [({}, lambda a, xs, p: torch.flatten(xs[0], 1))],
    "layernorm": [({}, lambda a, xs, p: F.group_norm(xs[0], 1, p["gamma"], p["beta"], a["eps"])),
                  ({"affine": False, "eps": 1e-3}, lambda a, xs, p: F.group_norm(xs[0], 1, eps=a["eps"]))],
    "instancenorm": [({}, lambda a, xs, p: F.instance_norm(xs[0], weight=p["gamma"], bias=p["beta"],
                                                          eps=a["eps"])),
                     ({"affine": False}, lambda a, xs, p: F.instance_norm(xs[0], eps=a["eps"]))],
    "groupnorm": [({"groups": 3}, lambda a, xs, p: F.group_norm(xs[0], 3, p["gamma"], p["beta"], a["eps"])),
                  ({"groups": 1, "affine": False}, lambda a, xs, p: F.group_norm(xs[0], 1, eps=a["eps"]))],
    "prelu": [({}, lambda a, xs, p: F.prelu(xs[0], p["slope"]))],
    "relu": [({}, lambda a, xs, p: F.relu(xs[0]))],
    "add": [({}, lambda a, xs, p: xs[0] + xs[1])],
    "concat": [({}, lambda a, xs, p: torch.cat(xs, dim=1))],
}
GROUPNORM_SHAPE = (6, 5, 4)  # groups of 2 channels


def cases():
    return [pytest.param(op, o, fn, id=f"{op}-{i}") for op, cs in CASES.items() for i, (o, fn) in enumerate(cs)]


def run_ours(k, xs, state, dy, training=True, seed=0):
    ctx = Ctx()
    y = k.forward(ctx, [x.copy() for x in xs], state, training, np.random.default_rng(seed))
    dxs, grads = k.backward(ctx, dy, state)
    return y, dxs, grads


@pytest.mark.parametrize("op, overrides, fn", cases())
def test_image_op_matches_torch(op, overrides, fn):
    shape = GROUPNORM_SHAPE if op == "groupnorm" else IMG
    k = make(op, overrides, shape)
    rng = np.random.default_rng(11)
    state = k.init_state(rng, np.float64)
    for name in k.param_shapes():
        state[name] = state[name] + 0.5 * rng.standard_normal(state[name].shape)
    xs = [rng.standard_normal((B,) + shape) * 2 for _ in range(k.arity)]
    dy = rng.standard_normal((B,) + k.out_shape)
    y, dxs, grads = run_ours(k, xs, state, dy)
    txs = [t(x) for x in xs]
    tparams = {n: t(state[n]) for n in k.param_shapes()}
    ty = fn(k.attrs, txs, tparams)
    assert tuple(ty.shape) == y.shape
    ty.backward(torch.tensor(dy))
    compare(y, ty, f"{op} forward")
    for i, (dx, tx) in enumerate(zip(dxs, txs)):
        compare(dx, tx.grad, f"{op} dx{i}")
    for name, tp in tparams.items():
        compare(grads[name], tp.grad, f"{op} d{name}")


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 1)])
def test_max_pool_ties_go_where_torch_sends_them(size, stride):
    """Inputs with many ties (small integers): the first maximum of each window in row-major order
    takes the gradient, as torch's CPU max_pool2d does; overlapping windows add up."""
    k = make("maxpool", {"size": size, "stride": stride})
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, (B,) + IMG).astype(np.float64)
    x[0, 0] = 1.0  # a whole channel of equal values
    dy = rng.standard_normal((B,) + k.out_shape)
    y, (dx,), _ = run_ours(k, [x], {}, dy)
    tx = t(x)
    F.max_pool2d(tx, size, stride).backward(torch.tensor(dy))
    # the same elements get the same gradients (overlapping windows sum in another order: 1e-15)
    np.testing.assert_array_equal(dx != 0, tx.grad.numpy() != 0)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    if stride == size:  # the constant channel: each window's first (top-left) pixel takes it all
        np.testing.assert_array_equal(dx[0, 0, :size * k.out_shape[1]:size, :size * k.out_shape[2]:size],
                                      dy[0, 0])
        assert np.count_nonzero(dx[0, 0]) == np.count_nonzero(dy[0, 0])


def test_global_max_pool_ties_match_torch():
    k = make("globalpool", {"kind": "max"})
    x = np.zeros((B,) + IMG)
    x[:, :, 2:4, 1:3] = 1.0  # four tied maxima per channel
    dy = np.random.default_rng(0).standard_normal((B, IMG[0]))
    y, (dx,), _ = run_ours(k, [x], {}, dy)
    tx = t(x)
    F.adaptive_max_pool2d(tx, 1).flatten(1).backward(torch.tensor(dy))
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    assert np.count_nonzero(dx[0, 0]) == 1 and dx[0, 0, 2, 1] == dy[0, 0]  # the first one


@pytest.mark.parametrize("stats", ["ema", "average"])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm2d_matches_torch_over_several_steps(stats, affine):
    momentum, eps, c = 0.3, 1e-4, IMG[0]
    k = make("batchnorm", {"momentum": momentum, "eps": eps, "stats": stats, "affine": affine})
    rng = np.random.default_rng(5)
    state = k.init_state(rng, np.float64)
    module = torch.nn.BatchNorm2d(c, eps=eps, momentum=None if stats == "average" else momentum,
                                  affine=affine, dtype=torch.float64)
    if affine:
        state["gamma"] = rng.uniform(0.5, 2.0, c)
        state["beta"] = rng.standard_normal(c)
        with torch.no_grad():
            module.weight.copy_(torch.tensor(state["gamma"]))
            module.bias.copy_(torch.tensor(state["beta"]))
    for step, b in enumerate((8, 3, 16, 1, 2)):  # batches of 1 and 2 images are fine (B*H*W values)
        for training in (True, False):
            module.train(training)
            x = rng.normal(1.5, 3.0, (b,) + IMG)
            dy = rng.standard_normal((b,) + IMG)
            y, (dx,), grads = run_ours(k, [x], state, dy, training)
            tx = t(x)
            module.zero_grad()
            ty = module(tx)
            ty.backward(torch.tensor(dy))
            what = f"step {step} {'train' if training else 'eval'}"
            compare(y, ty, f"{what} forward")
            compare(dx, tx.grad, f"{what} dx")
            if affine:
                compare(grads["gamma"], module.weight.grad, f"{what} dgamma")
                compare(grads["beta"], module.bias.grad, f"{what} dbeta")
            compare(state["running_mean"], module.running_mean, f"{what} running_mean")
            compare(state["running_var"], module.running_var, f"{what} running_var")
            assert int(state["num_batches"]) == int(module.num_batches_tracked)


def test_instancenorm_same_in_training_and_evaluation():
    k = make("instancenorm", {})
    rng = np.random.default_rng(1)
    state = k.init_state(rng, np.float64)
    x = rng.standard_normal((B,) + IMG)
    module = torch.nn.InstanceNorm2d(IMG[0], affine=True, dtype=torch.float64).eval()
    y_eval = k.forward(Ctx(), [x], state, False, rng)
    compare(y_eval, module(t(x)), "instancenorm eval")
    np.testing.assert_array_equal(y_eval, k.forward(Ctx(), [x], state, True, rng))


@pytest.mark.parametrize("p", [0.2, 0.6])
@pytest.mark.parametrize("mode", ["inverted", "vanilla"])
def test_dropout2d_drops_whole_channels_like_torch(p, mode):
    """Torch draws its own mask: compare the structure. Each (example, channel) is all 0 or all x
    scaled like torch's Dropout2d (1/(1-p) inverted; 1 vanilla, with (1-p) in evaluation); the
    backward uses the forward's mask."""
    k = make("dropout2d", {"p": p, "mode": mode})
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, (40,) + IMG)
    dy = rng.standard_normal(x.shape)
    y, (dx,), _ = run_ours(k, [x], {}, dy, training=True)
    ratio = np.round(y / x, 12).reshape(40, IMG[0], -1)
    assert (ratio == ratio[..., :1]).all()  # one draw per channel
    ty = torch.nn.Dropout2d(p).train()(t(x)).detach().numpy()
    theirs = np.round(ty / x, 12).reshape(40, IMG[0], -1)
    assert (theirs == theirs[..., :1]).all()
    scale = 1 / (1 - p) if mode == "inverted" else 1.0
    np.testing.assert_allclose(np.unique(ratio), [0.0, scale])
    np.testing.assert_allclose(np.unique(theirs), [0.0, 1 / (1 - p)])
    np.testing.assert_allclose(dx, dy * (y / x), rtol=1e-12)
    y_eval, _, _ = run_ours(k, [x], {}, dy, training=False)
    np.testing.assert_allclose(y_eval, x * (1.0 if mode == "inverted" else 1 - p))
