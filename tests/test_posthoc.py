"""After training: Monte Carlo dropout (`netc eval --mc`) and batch-norm recalibration
(`netc recalibrate`), against their definitions."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import require

import netc
from netc.runtime import inference
from cli_runner import netc_cli

DROP = """
model m {
    input 6
    dense 16
    relu
    dropout 0.5
    dense 3
}
train { loss cross_entropy }
"""

BN = """
model m {
    input 5
    dense 8 bias=false
    batchnorm
    relu
    dense 8 bias=false
    batchnorm
    dropout 0.3
    dense 2
}
train { loss cross_entropy }
"""


def _model(text, seed=0):
    return netc.Model(netc.lower(netc.loads(text)), seed=seed, dtype=np.float64)


def test_mc_mean_approaches_the_evaluation_output_for_inverted_dropout():
    """Dropout feeds the last (linear) layer directly, so the expected logits over masks equal the
    evaluation logits exactly; the mean of N passes is within 5 standard errors of them."""
    model = _model(DROP)
    x = np.random.default_rng(1).normal(size=(20, 6))
    plain = model.forward(x, training=False).copy()
    n = 4000
    mc = inference.mc_predict(model, x, n, np.random.default_rng(2), lambda out: out)
    assert mc.passes == n and mc.std.min() > 0  # the passes do differ
    err = np.abs(mc.mean - plain)
    assert np.all(err <= 5 * mc.std / np.sqrt(n) + 1e-12), (err / (mc.std / np.sqrt(n))).max()
    # and a few passes alone are not that close: the test has power
    few = inference.mc_predict(model, x, 2, np.random.default_rng(3), lambda out: out)
    assert np.abs(few.mean - plain).max() > 10 * np.abs(mc.mean - plain).max()


def test_mc_keeps_batch_norm_in_evaluation_mode():
    model = _model(BN)
    rng = np.random.default_rng(0)
    for _ in range(3):  # move the running statistics away from their initial values
        model.forward(rng.normal(2.0, 3.0, size=(32, 5)), training=True, rng=rng)
    before = {k: v.copy() for k, v in model.buffers.items()}
    x = rng.normal(size=(7, 5))
    inference.mc_predict(model, x, 5, np.random.default_rng(4), lambda out: out)
    for k, v in model.buffers.items():
        np.testing.assert_array_equal(v, before[k])  # not updated: evaluation mode
    # one example at a time works (batch statistics of one example would fail in training mode)
    inference.mc_predict(model, x[:1], 3, np.random.default_rng(4), lambda out: out)


def test_recalibrate_computes_population_statistics():
    model = _model(BN)
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 2.0, size=(100, 5))
    batch = 32  # batches of 32, 32, 32 and 4
    inference.recalibrate(model, x, batch)
    # by hand: the first batch norm's input is dense1's output, the same in every mode
    w = model["dense1.W"]
    h = x @ w
    means = [h[i:i + batch].mean(0) for i in range(0, 100, batch)]
    vars_ = [h[i:i + batch].var(0, ddof=1) for i in range(0, 100, batch)]
    np.testing.assert_allclose(model["batchnorm1.running_mean"], np.mean(means, 0), rtol=1e-10)
    np.testing.assert_allclose(model["batchnorm1.running_var"], np.mean(vars_, 0), rtol=1e-10)
    # the second batch norm saw the first one normalizing with each batch's own statistics
    torch = require("torch")
    bn1 = torch.nn.BatchNorm1d(8, momentum=None, dtype=torch.float64)
    bn2 = torch.nn.BatchNorm1d(8, momentum=None, dtype=torch.float64)
    with torch.no_grad():
        bn1.weight.copy_(torch.from_numpy(model["batchnorm1.gamma"]))
        bn1.bias.copy_(torch.from_numpy(model["batchnorm1.beta"]))
        bn1.train(), bn2.train()
        w2 = torch.from_numpy(model["dense2.W"])
        for i in range(0, 100, batch):
            hb = torch.from_numpy(h[i:i + batch])
            bn2(torch.relu(bn1(hb)) @ w2)
    np.testing.assert_allclose(model["batchnorm2.running_mean"], bn2.running_mean.numpy(), rtol=1e-9)
    np.testing.assert_allclose(model["batchnorm2.running_var"], bn2.running_var.numpy(), rtol=1e-9)
    assert model.plan.steps[2].kernel.attrs["stats"] == "ema"  # the node's own setting is back



def test_eval_mc_and_recalibrate_from_the_command_line(tmp_path):
    from conftest import EXAMPLES
    spec = EXAMPLES / "digits.net"
    ck = tmp_path / "d.ckpt"
    r = netc_cli("run", spec, "--epochs", "2", "--quiet", "--save", ck)
    assert r.returncode == 0, r.stderr
    r = netc_cli("eval", spec, "--weights", ck, "--mc", "20", "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    mc = rec["mc_dropout"]
    assert mc["passes"] == 20 and mc["split"] == "validation"
    assert 0.5 < mc["mc_accuracy"] <= 1 and mc["spread"] > 0
    assert abs(mc["eval_accuracy"] - rec["val_accuracy"]) < 1e-12
    r = netc_cli("eval", spec, "--weights", ck, "--mc", "5")
    assert "Monte Carlo dropout, 5 passes on the validation split" in r.stdout
    r = netc_cli("recalibrate", spec, "--weights", ck, "--json", "--save", tmp_path / "re.ckpt")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert set(rec["nodes"]) == {"hidden1.batchnorm1", "hidden2.batchnorm1"}
    r2 = netc_cli("eval", spec, "--weights", tmp_path / "re.ckpt", "--json")
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout)["val_loss"] == pytest.approx(rec["after"]["loss"], rel=1e-6)


def test_mc_and_recalibrate_refuse_networks_without_the_op(tmp_path):
    spec = tmp_path / "plain.net"
    spec.write_text("data { source digits }\nmodel m {\n    input 64\n    dense 16\n    relu\n    dense 10\n}\n"
                    "train { loss cross_entropy }\n")
    ck = tmp_path / "r.ckpt"
    assert netc_cli("run", spec, "--epochs", "1", "--quiet", "--save", ck).returncode == 0
    r = netc_cli("eval", spec, "--weights", ck, "--mc", "10")
    assert r.returncode == 2 and "has no dropout" in r.stderr and "equals plain evaluation" in r.stderr
    r = netc_cli("recalibrate", spec, "--weights", ck)
    assert r.returncode == 2 and "has no batch norm" in r.stderr


ENS = """data {{
    source moons n=300 noise=0.25
    split 0.7
    standardize
}}
model m {{
    input 2
    dense 16
    relu
    dropout 0.2
    dense 2 init=xavier
}}
train {{
    loss cross_entropy
    optimizer adam lr=1e-2
    batch 32
    epochs {epochs}
    seed 3
}}
"""


def test_ensemble_members_share_a_split_and_average_probabilities(tmp_path):
    from netc.experiments import records
    spec = tmp_path / "e.net"
    spec.write_text(ENS.format(epochs=4))
    r = netc_cli("ensemble", spec, "--seeds", "3", "--jobs", "2", "--json", "--log", tmp_path / "ens")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert [m["seed"] for m in res["members"]] == [0, 1, 2]
    for m in res["members"]:  # evaluated here = as the member's own run measured it: the same split
        rec = records.read(tmp_path / "ens" / f"member-seed{m['seed']}")
        assert rec.epochs[-1]["val_accuracy"] == pytest.approx(m["accuracy"], abs=1e-9)
        assert rec.epochs[-1]["val_loss"] == pytest.approx(m["loss"], rel=1e-4)
    accs = {m["accuracy"] for m in res["members"]}
    assert len(accs) > 1 or len({m["loss"] for m in res["members"]}) > 1  # members differ
    # the ensemble's probabilities are the members' average: recompute from the checkpoints
    net = netc.load(spec)
    from netc.prepare import build_model, prepare
    _, train, _, ds = prepare(str(spec), [], None, None, warnings=False)
    probs = []
    for m in res["members"]:
        model = build_model(net, train, weights=str(tmp_path / "ens" / f"member-seed{m['seed']}" / "weights.ckpt"))
        probs.append(model.loss_fn.probabilities(model.forward(ds.x_val.astype(model.dtype), training=False)))
    p = np.mean(probs, axis=0)
    assert res["ensemble"]["accuracy"] == pytest.approx(float(np.mean(p.argmax(1) == ds.y_val)))
    r = netc_cli("ensemble", spec, "--seeds", "3", "--bagging", "--json", "--log", tmp_path / "bag")
    assert r.returncode == 0, r.stderr
    bag = json.loads(r.stdout)
    assert bag["bagging"] and [m["loss"] for m in bag["members"]] != [m["loss"] for m in res["members"]]


def test_bootstrap_sample():
    from netc.runtime.data import bootstrap
    from netc.prepare import prepare
    from conftest import EXAMPLES
    _, _, _, ds = prepare(str(EXAMPLES / "moons.net"), [], None, None, warnings=False)
    a, b = bootstrap(ds, 0, 1), bootstrap(ds, 0, 1)
    np.testing.assert_array_equal(a.x_train, b.x_train)  # reproducible
    assert len(a.x_train) == len(ds.x_train)
    rows = {tuple(r) for r in a.x_train}
    assert len(rows) < len(ds.x_train)  # drawn with replacement: repeats
    assert 0.55 < len(rows) / len(ds.x_train) < 0.72  # about 1 - 1/e of the examples appear
    np.testing.assert_array_equal(a.x_val, ds.x_val)
    assert not np.array_equal(bootstrap(ds, 0, 2).x_train, a.x_train)
