"""mixup (`mixup A` in the train section): the soft-target cross entropy (gradient by finite
differences, value and gradient against PyTorch), the mixed batch and targets, the trainer's
draws (reproducible, Beta(A, A), training only), and what each loss does with it."""
from __future__ import annotations

import numpy as np
import pytest

import netc
from conftest import EXAMPLES, one_error, require
from netc.compiler.lower import lower
from netc.runtime.losses import make_loss
from netc.runtime.mixup import Mix, draw
from netc.runtime.train import LOSS, Trainer
from netc.spec import overrides


def _soft(rng, b, n):
    t = rng.random((b, n))
    return t / t.sum(axis=1, keepdims=True)


def _numeric_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


@pytest.mark.parametrize("normalized", [True, False])
def test_soft_target_cross_entropy_gradient_is_right(normalized):
    """float64 central differences; also rows that do not sum to 1 (taken as given, as PyTorch)."""
    rng = np.random.default_rng(0)
    out = rng.normal(size=(5, 4)) * 3
    t = _soft(rng, 5, 4) if normalized else rng.random((5, 4)) * 2
    loss = make_loss("cross_entropy")
    loss.forward(out, t)
    analytic = loss.backward()
    numeric = _numeric_grad(lambda z: make_loss("cross_entropy").forward(z, t), out.copy())
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_one_hot_probability_rows_equal_integer_labels():
    rng = np.random.default_rng(1)
    out, y = rng.normal(size=(6, 3)), rng.integers(0, 3, 6)
    ce = make_loss("cross_entropy")
    hard = ce.forward(out, y), ce.backward()
    t = ce.target_array(y, out)
    np.testing.assert_array_equal(t, np.eye(3)[y])
    soft = ce.forward(out, t), ce.backward()
    assert soft[0] == pytest.approx(hard[0], rel=1e-12)
    np.testing.assert_allclose(soft[1], hard[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_soft_target_cross_entropy_matches_torch(scale):
    torch = require("torch")
    rng = np.random.default_rng(2)
    out, t = rng.normal(size=(7, 5)) * scale, _soft(rng, 7, 5)
    ce = make_loss("cross_entropy")
    value = ce.forward(out, t)
    grad = ce.backward()
    z = torch.tensor(out, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(z, torch.tensor(t))
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-10)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_soft_bce_matches_torch():
    torch = require("torch")
    rng = np.random.default_rng(3)
    out, t = rng.normal(size=(8, 1)) * 4, rng.random((8, 1))
    bce = make_loss("bce")
    value, grad = bce.forward(out, t), bce.backward()
    z = torch.tensor(out, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(t))
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-10)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10)


def test_mixed_cross_entropy_is_the_papers_mixed_criterion():
    """CE is linear in the target, so the loss on mixed targets equals lam * CE(y) + (1 - lam) *
    CE(y[perm]) (the authors' mixup_criterion), and so does its gradient."""
    rng = np.random.default_rng(4)
    out, y = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    mix = Mix(0.3, rng.permutation(6))
    ce = make_loss("cross_entropy")
    t = mix.targets(ce, y, out)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    np.testing.assert_allclose(t, 0.3 * np.eye(4)[y] + 0.7 * np.eye(4)[y[mix.perm]])
    value, grad = ce.forward(out, t), ce.backward()
    a, ga = ce.forward(out, y), ce.backward()
    b, gb = ce.forward(out, y[mix.perm]), ce.backward()
    assert value == pytest.approx(0.3 * a + 0.7 * b, rel=1e-12)
    np.testing.assert_allclose(grad, 0.3 * ga + 0.7 * gb, rtol=1e-10, atol=1e-15)


def test_mixed_inputs_and_regression_targets():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, 1, 2, 2)).astype(np.float32)
    mix = Mix(0.25, np.array([4, 3, 2, 0, 1]))
    mixed = mix.inputs(x)
    assert mixed.dtype == np.float32
    np.testing.assert_allclose(mixed, 0.25 * x + 0.75 * x[mix.perm], rtol=1e-6)
    y = rng.normal(size=5)
    out = np.zeros((5, 1))
    np.testing.assert_allclose(mix.targets(make_loss("mse"), y, out)[:, 0], 0.25 * y + 0.75 * y[mix.perm])
    labels = np.array([0, 1, 1, 0, 1])
    t = mix.targets(make_loss("bce"), labels, out)
    np.testing.assert_allclose(t[:, 0], 0.25 * labels + 0.75 * labels[mix.perm])
    with pytest.raises(TypeError):
        mix.targets(make_loss("hinge"), labels, np.zeros((5, 2)))


def test_mixed_accuracy_weights_both_label_sets():
    out = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])  # predicts 0, 1, 0, 1
    y = np.array([0, 1, 1, 1])                                          # 3 of 4 right
    mix = Mix(0.8, np.array([1, 0, 3, 2]))                             # partners: 1, 0, 1, 1 -> 1 right
    assert mix.accuracy(make_loss("cross_entropy"), out, y) == pytest.approx(0.8 * 0.75 + 0.2 * 0.25)


def test_draws_follow_beta_and_permute():
    lams = np.array([draw(0.2, 8, np.random.default_rng([0, i])).lam for i in range(4000)])
    var = 1 / (4 * (2 * 0.2 + 1))  # Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1))
    assert abs(lams.mean() - 0.5) < 0.02 and abs(lams.var() - var) < 0.01
    assert np.all((lams >= 0) & (lams <= 1))
    mix = draw(1.0, 8, np.random.default_rng(0))
    assert sorted(mix.perm) == list(range(8))


# --- in training ----------------------------------------------------------------------------------

def _net(mixup="mixup 0.4", seed=0):
    text = (EXAMPLES / "digits_cnn.net").read_text().replace("seed 0", f"seed {seed}\n    {mixup}")
    return netc.loads(text, base_dir=EXAMPLES)


def _trainer(net):
    return Trainer(netc.Model(lower(net), seed=net.train.seed, dtype=np.float64), net.dataset,
                   net.train, shuffle=True)


def test_training_loss_is_on_the_mixed_batch_and_reproducible():
    net = _net()
    assert net.train.mixup == 0.4
    losses = []
    for _ in range(2):
        trainer = _trainer(net)
        for phase in trainer.iteration():
            if phase.kind == LOSS:
                out = trainer.model.outputs[-1].copy()
                losses.append(phase.loss)
                break
    assert losses[0] == losses[1]
    # the loss is the mixed criterion of the mixed batch's output, with the trainer's own draw
    idx = trainer.batches(0)[0]
    y = net.dataset.y_train[idx]
    mix = draw(0.4, len(idx), np.random.default_rng([0, 17, 0]))
    assert 0 < mix.lam < 1
    ce = make_loss("cross_entropy")
    expected = mix.lam * ce.forward(out, y) + (1 - mix.lam) * ce.forward(out, y[mix.perm])
    assert losses[0] == pytest.approx(expected, rel=1e-10)
    x = np.asarray(net.dataset.x_train[idx], np.float64)
    np.testing.assert_allclose(trainer.model.outputs[0].reshape(len(idx), -1), mix.inputs(x), rtol=1e-12)


def test_evaluation_never_mixes():
    net, plain = _net(), _net("")
    t, p = _trainer(net), _trainer(plain)
    ds = net.dataset
    assert t.evaluate(ds.x_val, ds.y_val) == p.evaluate(ds.x_val, ds.y_val)
    t.run_epoch()
    p.run_epoch()
    assert t.position.history[0].train_loss != p.position.history[0].train_loss


def test_mixup_with_mse_and_bce_trains():
    for loss, src, out in (("mse", "diabetes\n    standardize", 1), ("bce", "breast_cancer\n    standardize", 1)):
        text = f"data {{\n    source {src}\n}}\nmodel m {{ input {10 if loss == 'mse' else 30}; dense 8; " \
               f"relu; dense {out} }}\ntrain {{ loss {loss}; mixup 0.4; epochs 2; optimizer adam lr=0.01 }}"
        net = netc.loads(text)
        result = None
        trainer = _trainer(net)
        for _ in range(2):
            result = trainer.run_epoch()
        assert np.isfinite(result.train_loss) and np.isfinite(result.val_loss)


def test_hinge_with_mixup_is_a_located_error():
    text = "model m { input 4; dense 3 }\ntrain {\n    loss hinge\n    mixup 0.2\n}"
    err = one_error(text)
    assert "mixup mixes the targets" in err.message and "hinge" in err.message
    assert err.span.line == 4 and "cross_entropy, bce or mse" in err.hint
    with pytest.raises(overrides.OverrideError, match="hinge"):
        overrides.apply(netc.loads("model m { input 4; dense 3 }\ntrain { mixup 0.2 }", check_data=False).train,
                        None, ["loss=hinge"])
    err = one_error("model m { input 4; dense 3 }\ntrain { mixup 0 }")
    assert "mixup" in err.message or "alpha" in err.message


def test_torch_engine_applies_augment_and_mixup_from_the_command_line(capsys):
    """`--set` mixup and augment reach the torch engine: its float64 epoch is the NumPy engine's
    (which a run without them is not)."""
    require("torch")
    import json
    from netc import cli
    base = ["run", str(EXAMPLES / "digits_cnn.net"), "--epochs", "1", "--dtype", "float64", "--json"]
    sets = ["--set", "mixup=0.2", "--set", "augment.shift=1"]
    finals = []
    for extra in (["--engine", "torch", *sets], sets, ["--engine", "torch"]):
        assert cli.main([*base, *extra]) == 0
        finals.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    torch_run, numpy_run, plain = finals
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert torch_run[key] == pytest.approx(numpy_run[key], rel=1e-9), key
    assert torch_run["train_loss"] != pytest.approx(plain["train_loss"], rel=1e-3)


@pytest.mark.parametrize("name", ["cross_entropy", "bce", "mse", "hinge"])
def test_every_mixable_loss_has_a_torch_form_for_mixed_targets(name):
    """The torch engine's loss of mixed targets (Loss.torch_target_code) is the NumPy loss's, value
    and gradient, float64; the losses mixup refuses have none."""
    require("torch")
    import torch
    from netc.runtime.losses import LOSSES
    from netc.runtime.torchnet.build import target_loss
    from netc.spec.schema import MIXUP_LOSSES
    assert set(MIXUP_LOSSES) <= set(LOSSES)
    fn = target_loss(name)
    if name not in MIXUP_LOSSES:
        assert fn is None
        return
    rng = np.random.default_rng(5)
    width = 1 if name == "bce" else 4
    out, y = rng.normal(size=(6, width)) * 2, rng.integers(0, 2 if name == "bce" else 4, 6)
    loss = make_loss(name)
    t = draw(0.4, 6, rng).targets(loss, y, out)
    value, grad = loss.forward(out, t), loss.backward()
    z = torch.tensor(out, requires_grad=True)
    ref = fn(z, torch.tensor(t))
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_set_mixup():
    net = _net("")
    train, _ = overrides.apply(net.train, net.data, ["mixup=0.2"])
    assert train.mixup == 0.2 and net.train.mixup is None
