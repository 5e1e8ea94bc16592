"""PyTorch parity in float64: every op's forward and backward (inputs and parameters), batch-norm
running statistics over several training steps and evaluation, and every loss.

Skipped when torch is not installed (a failure in CI: tests/conftest.py `require`).
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import kernel_defaults, require

torch = require("torch")
F = torch.nn.functional

from netc.runtime.gradcheck import rel_error  # noqa: E402
from netc.runtime.losses import LOSSES, make_loss  # noqa: E402
from netc.runtime.ops import KERNELS, Ctx  # noqa: E402
from netc.spec.settings import Constrain  # noqa: E402

TOL = 1e-6
B, D = 8, 5


def t(a):
    return torch.tensor(np.asarray(a, np.float64), requires_grad=True)


def torch_maxout(x, W, b=None):
    z = torch.matmul(x, W)
    if b is not None:
        z = z + b[:, None, :]
    return z.max(dim=0).values


# op -> list of (attribute overrides, torch function of (attrs, inputs, params by name)).
TORCH = {
    "input": [({}, lambda a, xs, p: xs[0] * 1.0)],
    "dense": [({}, lambda a, xs, p: xs[0] @ p["W"] + p["b"]),
              ({"bias": False}, lambda a, xs, p: xs[0] @ p["W"])],
    "maxout": [({}, lambda a, xs, p: torch_maxout(xs[0], p["W"], p["b"])),
               ({"bias": False, "k": 2}, lambda a, xs, p: torch_maxout(xs[0], p["W"]))],
    "relu": [({}, lambda a, xs, p: F.relu(xs[0]))],
    "sigmoid": [({}, lambda a, xs, p: torch.sigmoid(xs[0]))],
    "tanh": [({}, lambda a, xs, p: torch.tanh(xs[0]))],
    "hardtanh": [({}, lambda a, xs, p: F.hardtanh(xs[0])),
                 ({"min_val": -0.5, "max_val": 2.0}, lambda a, xs, p: F.hardtanh(xs[0], a["min_val"], a["max_val"]))],
    "softsign": [({}, lambda a, xs, p: F.softsign(xs[0]))],
    "selu": [({}, lambda a, xs, p: F.selu(xs[0]))],
    "mish": [({}, lambda a, xs, p: F.mish(xs[0]))],
    "leaky_relu": [({"slope": 0.2}, lambda a, xs, p: F.leaky_relu(xs[0], a["slope"]))],
    "elu": [({"alpha": 0.7}, lambda a, xs, p: F.elu(xs[0], a["alpha"]))],
    "gelu": [({"approx": "tanh"}, lambda a, xs, p: F.gelu(xs[0], approximate="tanh")),
             ({"approx": "none"}, lambda a, xs, p: F.gelu(xs[0], approximate="none"))],
    "swish": [({}, lambda a, xs, p: F.silu(xs[0]))],
    "softplus": [({"beta": 1.0}, lambda a, xs, p: F.softplus(xs[0], beta=1.0)),
                 ({"beta": 3.0}, lambda a, xs, p: F.softplus(xs[0], beta=3.0))],
    "prelu": [({}, lambda a, xs, p: F.prelu(xs[0], p["slope"]))],
    "softmax": [({}, lambda a, xs, p: F.softmax(xs[0], dim=1))],
    "layernorm": [
        ({}, lambda a, xs, p: F.layer_norm(xs[0], (D,), p["gamma"], p["beta"], a["eps"])),
        ({"affine": False, "eps": 1e-3}, lambda a, xs, p: F.layer_norm(xs[0], (D,), eps=a["eps"])),
    ],
    "add": [({}, lambda a, xs, p: xs[0] + xs[1])],
    "concat": [({}, lambda a, xs, p: torch.cat(xs, dim=1))],
}
# batchnorm and dropout need module state or a shared mask: tested separately below.
SEPARATE = {"batchnorm", "dropout", "gaussian_noise", "activity"}
# (gaussian_noise and activity have no torch.nn counterpart: they are compared with the helper
# modules `netc export` writes for them, netc.runtime.torchnet.modules)


def test_every_op_has_a_parity_case():
    from test_ops_images_torch import CASES as IMAGE_CASES  # image ops: test_ops_images_torch.py
    assert set(TORCH) | SEPARATE | set(IMAGE_CASES) | {"dropout2d"} == set(KERNELS)


def make(op, overrides):
    cls = KERNELS[op]
    attrs = {**kernel_defaults(op), **overrides}
    return cls(attrs, () if cls.arity == 0 else (D,) * cls.arity)


def compare(ours, theirs, what):
    err = rel_error(ours, theirs.detach().numpy())
    assert err < TOL, f"{what}: relative error {err:.2e}"


def run_ours(k, xs, state, dy, training=True, seed=0):
    ctx = Ctx()
    y = k.forward(ctx, [x.copy() for x in xs], state, training, np.random.default_rng(seed))
    dxs, grads = k.backward(ctx, dy, state)
    return y, dxs, grads


def cases():
    return [pytest.param(op, o, fn, id=f"{op}-{i}") for op, cs in TORCH.items()
            for i, (o, fn) in enumerate(cs)]


@pytest.mark.parametrize("op, overrides, fn", cases())
def test_op_matches_torch(op, overrides, fn):
    k = make(op, overrides)
    rng = np.random.default_rng(11)
    state = k.init_state(rng, np.float64)
    for name in k.param_shapes():
        state[name] = state[name] + 0.5 * rng.standard_normal(state[name].shape)
    xs = [rng.standard_normal((B, D)) * 2 for _ in range(max(k.arity, 1))]
    if op == "softplus":  # both sides of the threshold beta x = 20
        xs[0][0, :2] = 8.0, 25.0
    y, dxs, grads = run_ours(k, xs, state, dy := rng.standard_normal((B, k.out_width)))
    txs = [t(x) for x in xs]
    tparams = {n: t(state[n]) for n in k.param_shapes()}
    ty = fn(k.attrs, txs, tparams)
    ty.backward(torch.tensor(dy))
    compare(y, ty, f"{op} forward")
    for i, (dx, tx) in enumerate(zip(dxs, txs)):
        compare(dx, tx.grad, f"{op} dx{i}")
    for name, tp in tparams.items():
        compare(grads[name], tp.grad, f"{op} d{name}")


@pytest.mark.parametrize("stats", ["ema", "average"])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_matches_torch_over_several_steps(stats, affine):
    momentum, eps = 0.3, 1e-4
    k = make("batchnorm", {"momentum": momentum, "eps": eps, "stats": stats, "affine": affine})
    rng = np.random.default_rng(5)
    state = k.init_state(rng, np.float64)
    module = torch.nn.BatchNorm1d(D, eps=eps, momentum=None if stats == "average" else momentum,
                                  affine=affine, dtype=torch.float64)
    if affine:
        state["gamma"] = rng.uniform(0.5, 2.0, D)
        state["beta"] = rng.standard_normal(D)
        with torch.no_grad():
            module.weight.copy_(torch.tensor(state["gamma"]))
            module.bias.copy_(torch.tensor(state["beta"]))
    for step, b in enumerate((8, 3, 16, 5, 2)):
        for training in (True, False):
            module.train(training)
            x = rng.normal(1.5, 3.0, (b, D))
            dy = rng.standard_normal((b, D))
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


@pytest.mark.parametrize("p", [0.0, 0.2, 0.6])
def test_dropout_matches_torch(p):
    """Torch draws its own mask, so compare the structure: each output is 0 or x / (1 - p) in
    training (the same kept-unit scale as torch's), and x itself in evaluation; the backward
    uses the same mask as the forward, as torch's does."""
    k = make("dropout", {"p": p, "mode": "inverted"})
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, (50, D))
    dy = rng.standard_normal((50, D))
    y, (dx,), _ = run_ours(k, [x], {}, dy, training=True)
    tx = t(x)
    ty = F.dropout(tx, p=p, training=True)
    ty.backward(torch.tensor(dy))
    ours_scale = np.unique(np.round(y / x, 12))
    theirs_scale = np.unique(np.round(ty.detach().numpy() / x, 12))
    if p == 0.0:
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(ty.detach().numpy(), x)
    else:
        np.testing.assert_allclose(ours_scale, [0.0, 1 / (1 - p)])
        np.testing.assert_allclose(theirs_scale, [0.0, 1 / (1 - p)])
    np.testing.assert_allclose(dx, dy * (y / x), rtol=1e-12)
    np.testing.assert_allclose(tx.grad.numpy(), dy * (ty.detach().numpy() / x), rtol=1e-12)
    y_eval, (dx_eval,), _ = run_ours(k, [x], {}, dy, training=False)
    compare(y_eval, F.dropout(t(x), p=p, training=False), "eval forward")
    np.testing.assert_array_equal(dx_eval, dy)


def torch_loss(name, out, target):
    if name == "cross_entropy":
        return F.cross_entropy(out, torch.tensor(target))
    if name == "mse":
        return F.mse_loss(out, torch.tensor(target))
    if name == "bce":
        return F.binary_cross_entropy_with_logits(out, torch.tensor(target).reshape(out.shape))
    if name == "hinge":
        return F.multi_margin_loss(out, torch.tensor(target), p=1, margin=1.0)
    raise KeyError(name)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_torch(name):
    rng = np.random.default_rng(4)
    n = 1 if name == "bce" else 6
    out = rng.standard_normal((B, n)) * 2
    if name == "cross_entropy" or name == "hinge":
        target = rng.integers(0, n, B)
    elif name == "bce":
        target = rng.uniform(0, 1, B)  # soft targets are allowed too
    else:
        target = rng.standard_normal((B, n))
    loss = make_loss(name)
    value = loss.forward(out, target)
    grad = loss.backward()
    tout = t(out)
    tvalue = torch_loss(name, tout, target)
    tvalue.backward()
    assert value == pytest.approx(tvalue.item(), rel=TOL)
    compare(grad, tout.grad, f"{name} grad")


@pytest.mark.parametrize("std", [0.0, 0.3, 2.0])
def test_noise_matches_the_exported_module(std):
    """Torch draws its own noise, so compare the distribution: in training both add noise of mean
    0 and standard deviation std (within 5 standard errors over 40,000 draws) and pass the
    gradient unchanged; in evaluation both are the identity."""
    from netc.runtime.torchnet.modules import GaussianNoise
    k = make("gaussian_noise", {"std": std})
    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, 2.0, (8000, D))
    dy = rng.standard_normal(x.shape)
    y, (dx,), _ = run_ours(k, [x], {}, dy, training=True)
    module = GaussianNoise(std).train()
    tx = t(x)
    ty = module(tx)
    ty.backward(torch.tensor(dy))
    n = x.size
    for what, added in (("netc", y - x), ("torch", ty.detach().numpy() - x)):
        if std == 0.0:
            assert not added.any(), what
            continue
        assert abs(added.mean()) < 5 * std / np.sqrt(n), what
        # the sample variance's standard error is std^2 sqrt(2 / n)
        assert abs(added.var() - std ** 2) < 5 * std ** 2 * np.sqrt(2.0 / n), what
    np.testing.assert_array_equal(dx, dy)
    np.testing.assert_array_equal(tx.grad.numpy(), dy)
    y_eval, (dx_eval,), _ = run_ours(k, [x], {}, dy, training=False)
    np.testing.assert_array_equal(y_eval, x)
    np.testing.assert_array_equal(module.eval()(t(x)).detach().numpy(), x)


@pytest.mark.parametrize("l1, l2", [(0.3, 0.0), (0.0, 0.8), (0.05, 0.2)])
def test_activity_penalty_matches_the_exported_module(l1, l2):
    """netc's `activity` penalty and the module `netc export` writes for it: the same penalty
    and the same input gradient (the gradient from above plus the penalty's) in training; in
    evaluation neither adds anything."""
    from netc.runtime.torchnet.modules import ActivityRegularization
    k = make("activity", {"l1": l1, "l2": l2})
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, D)) * 2
    dy = rng.standard_normal((B, D))
    for training in (True, False):
        ctx = Ctx()
        y = k.forward(ctx, [x], {}, training, None)
        (dx,), _ = k.backward(ctx, dy, {})
        module = ActivityRegularization(l1, l2).train(training)
        tx = t(x)
        ty = module(tx)
        ty.backward(torch.tensor(dy))
        compare(y, ty, "forward")
        compare(dx, tx.grad, f"dx ({'train' if training else 'eval'})")
        expected = (l1 * np.abs(x).sum() + 0.5 * l2 * (x * x).sum()) / B if training else 0.0
        assert k.penalty(ctx) == pytest.approx(expected, rel=1e-12)
        assert module.penalty == pytest.approx(expected, rel=1e-12)
        if training:  # the penalty changes the gradient: not a vacuous comparison
            assert np.abs(dx - dy).max() > 1e-3


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_dropconnect_matches_torch_given_the_same_mask(p):
    """netc's dense dropconnect=P and the DropConnectLinear module `netc export` writes, with netc's
    mask handed to it: the same output and gradients in training; the full weight in evaluation
    (torch.nn.functional.linear)."""
    from netc.runtime.torchnet.modules import DropConnectLinear
    k = make("dense", {"dropconnect": p})
    rng = np.random.default_rng(3)
    state = k.init_state(rng, np.float64)
    state["b"] = rng.standard_normal(state["b"].shape)
    x = rng.standard_normal((B, D))
    dy = rng.standard_normal((B, k.out_width))
    module = DropConnectLinear(D, k.out_width, p).double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(state["W"].T))
        module.bias.copy_(torch.tensor(state["b"]))
    for training in (True, False):
        ctx = Ctx()
        y = k.forward(ctx, [x.copy()], state, training, np.random.default_rng(9))
        (dx,), grads = k.backward(ctx, dy, state)
        if training:
            assert ctx.mask is not None and 0 < np.count_nonzero(ctx.mask) < ctx.mask.size
            np.testing.assert_allclose(np.unique(ctx.mask), [0.0, 1 / (1 - p)])
        module.train(training)
        module.mask = torch.tensor(ctx.mask.T) if training else None
        module.zero_grad()
        tx = t(x)
        ty = module(tx)
        ty.backward(torch.tensor(dy))
        what = "train" if training else "eval"
        compare(y, ty, f"{what} forward")
        compare(dx, tx.grad, f"{what} dx")
        compare(grads["W"], module.weight.grad.T, f"{what} dW")
        compare(grads["b"], module.bias.grad, f"{what} db")
    module.train().mask = None  # torch's own draws: the same keep rate (within 5 s.e.)
    with torch.no_grad():
        kept = np.mean([(module(torch.eye(D, dtype=torch.float64)) - module.bias).ne(0).double().mean().item()
                        for _ in range(400)])
    assert abs(kept - (1 - p)) < 5 * np.sqrt(p * (1 - p) / (400 * D * k.out_width))


@pytest.mark.parametrize("op, shape", [("dense", (7, 5)), ("maxout", (3, 7, 5)), ("conv", (5, 3, 3, 3))])
def test_maxnorm_matches_torch_renorm(op, shape):
    """constrain maxnorm=C against torch.renorm(weight, p=2, dim=0, maxnorm=C) on torch's (out, in,
    ...) layout of the same weight: the norm of each output unit's incoming weights is capped
    (dense: netc's W (in, out) is the transpose; maxout: each (piece, unit) of W (k, in, out))."""
    from netc.runtime.ops import KERNELS
    from netc.runtime.schedules import max_norm
    rng = np.random.default_rng(1)
    w = rng.standard_normal(shape) * rng.uniform(0.1, 2.0, shape[-1] if op != "conv" else (shape[0], 1, 1, 1))
    axes = KERNELS[op].unit_axes["W"]
    norms = np.sqrt((w * w).sum(axis=axes))
    limit = float(np.median(norms))  # some units above the cap, some below
    ours = w.copy()
    max_norm({"w": ours}, {"w": axes}, Constrain(maxnorm=limit))
    if op == "dense":
        theirs = torch.renorm(torch.tensor(w.T), 2, 0, limit).numpy().T
    elif op == "maxout":  # (k, in, out) -> rows (k, out) of length in
        rows = torch.tensor(w).permute(0, 2, 1).reshape(-1, shape[1])
        theirs = torch.renorm(rows, 2, 0, limit).reshape(shape[0], shape[2], shape[1]).permute(0, 2, 1).numpy()
    else:
        theirs = torch.renorm(torch.tensor(w), 2, 0, limit).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert not np.allclose(ours, w)  # it capped some units


def test_orthogonal_init_matches_torchs_distribution():
    """init=orthogonal against torch.nn.init.orthogonal_ on the same (out, in) layout, over 3000
    draws each: every draw has orthonormal rows, and the distribution of an entry agrees (its
    mean, which a missing sign fix would push to one side, its mean square 1/in and its mean
    absolute value), within 5 standard errors of the difference."""
    from netc.runtime.init import init_weights
    out_, in_, n = 4, 6, 3000
    gen = np.random.default_rng(0)
    ours = np.stack([init_weights("orthogonal", (in_, out_), in_, out_, gen, np.float64).T for _ in range(n)])
    torch.manual_seed(0)
    theirs = np.stack([torch.nn.init.orthogonal_(torch.empty(out_, in_, dtype=torch.float64)).numpy()
                       for _ in range(n)])
    for draws in (ours, theirs):
        np.testing.assert_allclose(draws @ draws.transpose(0, 2, 1), np.broadcast_to(np.eye(out_), (n, out_, out_)),
                                   atol=1e-12)
    for stat in (lambda w: w[:, 0, 0], lambda w: w[:, 0, 0] ** 2, lambda w: np.abs(w[:, 1, 2])):
        a, b = stat(ours), stat(theirs)
        se = np.sqrt(a.var() / n + b.var() / n)
        assert abs(a.mean() - b.mean()) < 5 * se
    assert abs((ours[:, 0, 0] ** 2).mean() - 1 / in_) < 5 * (ours[:, 0, 0] ** 2).std() / np.sqrt(n)
