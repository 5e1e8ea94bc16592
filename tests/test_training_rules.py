"""The train section's rules: optimizers, schedules, clipping and weight penalties, against their
formulas and (where installed) PyTorch's implementations; early stopping."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import netc
from conftest import EXAMPLES, require
from netc.compiler.lower import lower
from netc.runtime.model import Model
from netc.runtime.optim import make_optimizer
from netc.runtime.schedules import add_penalty_grads, clip, learning_rate, penalty
from netc.runtime.train import Trainer
from netc.spec.settings import Choice, Clip, EarlyStop, Regularize, choice

OPTIMIZERS = [
    {"name": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": False},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": False},
    {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"name": "rmsprop", "lr": 0.01, "alpha": 0.99, "eps": 1e-8},
    {"name": "adam", "lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8},
]


@pytest.mark.parametrize("settings", OPTIMIZERS, ids=lambda s: f"{s['name']}-{s.get('momentum', '')}-{s.get('nesterov', '')}")
def test_optimizers_match_pytorch(settings):
    torch = require("torch")
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(5)]
    w = {"p.W": w0.copy()}
    opt = make_optimizer(Choice(settings["name"], {k: v for k, v in settings.items() if k != "name"}))
    tw = torch.tensor(w0.copy(), requires_grad=True)
    kw = {k: v for k, v in settings.items() if k not in ("name",)}
    cls = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam}[settings["name"]]
    topt = cls([tw], **kw)
    for g in grads:
        opt.step(w, {"p.W": g.copy()}, settings["lr"])
        tw.grad = torch.tensor(g)
        topt.step()
        np.testing.assert_allclose(w["p.W"], tw.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_schedules_per_epoch():
    assert [learning_rate(1.0, Choice("step", {"every": 2, "gamma": 0.5}), e, 10) for e in range(5)] == \
        [1.0, 1.0, 0.5, 0.5, 0.25]
    assert learning_rate(1.0, Choice("exponential", {"gamma": 0.9}), 3, 10) == pytest.approx(0.729)
    cos = [learning_rate(1.0, Choice("cosine", {"min_lr": 0.1}), e, 4) for e in range(5)]
    assert cos[0] == 1.0 and cos[2] == pytest.approx(0.55) and cos[4] == pytest.approx(0.1)
    assert learning_rate(0.3, None, 7, 10) == 0.3


def test_schedules_match_pytorch():
    torch = require("torch")
    p = torch.nn.Parameter(torch.zeros(1))
    for ours, make in [(Choice("step", {"every": 3, "gamma": 0.5}), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.5)),
                       (Choice("exponential", {"gamma": 0.8}), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.8)),
                       (Choice("cosine", {"min_lr": 0.01}), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 8, 0.01))]:
        opt = torch.optim.SGD([p], lr=0.5)
        sched = make(opt)
        for epoch in range(8):
            assert learning_rate(0.5, ours, epoch, 8) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
            opt.step()
            sched.step()


def test_clip_by_value_and_global_norm():
    g = {"a.W": np.array([[3.0, -4.0]]), "a.b": np.array([12.0])}
    clip(g, Clip("value", 2.0))
    assert g["a.W"].tolist() == [[2.0, -2.0]] and g["a.b"].tolist() == [2.0]
    g = {"a.W": np.array([[3.0, -4.0]]), "a.b": np.array([12.0])}  # global norm 13
    clip(g, Clip("norm", 1.0))
    total = math.sqrt(sum(float((v ** 2).sum()) for v in g.values()))
    assert total == pytest.approx(1.0, rel=1e-6) and g["a.b"][0] == pytest.approx(12 / 13, rel=1e-6)
    g = {"a.W": np.array([[0.3, 0.4]])}
    clip(g, Clip("norm", 1.0))  # below the limit: untouched
    assert g["a.W"].tolist() == [[0.3, 0.4]]


def test_clip_norm_matches_pytorch():
    torch = require("torch")
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=(3, 4)), rng.normal(size=(4,))]
    ours = {f"x{i}": a.copy() for i, a in enumerate(arrays)}
    clip(ours, Clip("norm", 0.5))
    ts = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in arrays]
    for t, a in zip(ts, arrays):
        t.grad = torch.tensor(a)
    torch.nn.utils.clip_grad_norm_(ts, 0.5)
    for i, t in enumerate(ts):
        np.testing.assert_allclose(ours[f"x{i}"], t.grad.numpy(), rtol=1e-12)


def test_penalties_apply_to_weights_only():
    """The weights are what the kernels declare penalized: dense and maxout W, not biases, norm
    parameters or PReLU slopes."""
    net = netc.loads("model m { input 3; dense 4; batchnorm; prelu; maxout 2 k=2; layernorm }")
    model = Model(lower(net), seed=0, dtype=np.float64)
    assert sorted(model.weights) == ["dense1.W", "maxout1.W"]
    assert all(model.weights[k] is model.params[k] for k in model.weights)  # the live arrays
    for k in ("dense1.b", "batchnorm1.gamma", "batchnorm1.beta", "prelu1.slope", "maxout1.b"):
        assert k in model.params and k not in model.weights
    ws = [model.params["dense1.W"], model.params["maxout1.W"]]
    sq, ab = sum(float((w ** 2).sum()) for w in ws), sum(float(np.abs(w).sum()) for w in ws)
    assert penalty(model.weights, Regularize("l2", 0.0, 0.1)) == pytest.approx(0.05 * sq)
    assert penalty(model.weights, Regularize("l1", 0.1, 0.0)) == pytest.approx(0.1 * ab)
    assert penalty(model.weights, Regularize("elastic", 0.1, 0.1)) == pytest.approx(0.1 * ab + 0.05 * sq)
    grads = {k: np.zeros_like(v) for k, v in model.params.items()}
    add_penalty_grads(model.weights, grads, Regularize("elastic", 0.1, 0.2))
    for k, w in model.weights.items():
        np.testing.assert_allclose(grads[k], 0.1 * np.sign(w) + 0.2 * w)
    assert all(not grads[k].any() for k in model.params if k not in model.weights)


def test_penalty_gradient_is_the_derivative_of_the_penalty():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(3, 3))
    reg = Regularize("elastic", 0.03, 0.2)
    g = {"x.W": np.zeros_like(w)}
    add_penalty_grads({"x.W": w}, g, reg)
    h = 1e-6
    for i in range(3):
        e = np.zeros_like(w)
        e[i, i] = h
        num = (penalty({"x.W": w + e}, reg) - penalty({"x.W": w - e}, reg)) / (2 * h)
        assert g["x.W"][i, i] == pytest.approx(num, rel=1e-6)


def test_early_stopping_restores_the_best_weights():
    net = netc.load(EXAMPLES / "digits.net")
    settings = dataclasses.replace(net.train, epochs=40, early_stop=EarlyStop(patience=2, metric="val_loss", min_delta=0.0),
                                   optimizer=choice("train", "optimizer", "adam", {"lr": 0.03, "betas": (0.9, 0.999), "eps": 1e-8}))
    trainer = Trainer(Model(lower(net), seed=0), net.dataset, settings, shuffle=True)
    snapshots = {}
    while not trainer.finished(settings.epochs):
        r = trainer.run_epoch()
        snapshots[r.epoch] = trainer.model.state_dict()
    pos = trainer.position
    assert pos.stopped_early and pos.epoch < 40
    assert pos.epoch - pos.best_epoch == 2  # patience
    trainer.restore_best()
    for k, v in snapshots[pos.best_epoch].items():
        np.testing.assert_array_equal(trainer.model[k], v)
    val = trainer.evaluate(trainer.data.x_val, trainer.data.y_val)[0]
    assert val == pytest.approx(pos.history[pos.best_epoch - 1].val_loss, rel=1e-6)
