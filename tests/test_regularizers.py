"""The regularizers beyond dropout and the weight penalty, in whole networks: `noise S`
(`gaussian_noise`) and the activity penalty `activity l1=A l2=B` (in the trainer's loss and
through `netc gradcheck`), and what a user gets for misplacing them. The kernels' own checks are in test_ops_gradcheck.py (float64
finite differences), test_ops_torch.py (the exported torch modules) and test_registry.py."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import netc
from conftest import errors_of, one_error
from netc.compiler.lower import lower
from netc.runtime.model import Model
from netc.runtime.netcheck import TOLERANCE, check_network
from netc.runtime.train import LOSS, Trainer

ACTIVITY = """
data {{ source blobs n=64 classes=3 }}
model m {{
    input 2
    dense 12 init=he
    tanh
    activity l1={l1} l2={l2}
    dense 12 init=xavier
    relu
    activity l1={l1}
    dense 3 init=xavier
}}
train {{ loss cross_entropy; seed 0 }}
"""


def activity_net(l1=0.05, l2=0.3):
    return netc.loads(ACTIVITY.format(l1=l1, l2=l2), name="act.net")


def test_whole_network_gradcheck_through_activity_penalties():
    """netc gradcheck's loss includes the activity penalties, and the analytic gradients of every
    parameter and node input match it in float64 (every entry probed)."""
    net = activity_net()
    ds = net.dataset
    probes = check_network(lower(net), ds.x_train[:16], ds.y_train[:16], full=True)
    assert probes and max(p.error for p in probes) < TOLERANCE, [(p.name, p.error) for p in probes]


def test_the_penalty_changes_the_gradients_it_checks():
    """Not vacuous: the penalties move the first layer's gradient (the check above sees them)."""
    grads = []
    for l1, l2 in ((0.0, 0.0), (0.05, 0.3)):
        net = activity_net(l1, l2)
        model = Model(lower(net), seed=0, dtype=np.float64)
        model.forward(net.dataset.x_train[:16], training=True)
        model.loss(net.dataset.y_train[:16])
        grads.append(model.backward()["dense1.W"].copy())
        assert (model.op_penalty() > 0) == bool(l1 or l2)
    assert np.abs(grads[0] - grads[1]).max() > 1e-3


def test_the_trainer_adds_the_activity_penalty_to_the_training_loss_only():
    net = activity_net()
    model = Model(lower(net), seed=0, dtype=np.float64)
    trainer = Trainer(model, net.dataset, net.train)
    phase = next(p for p in trainer.iteration() if p.kind == LOSS)
    data_loss = model.loss_fn.forward(model.outputs[-1], net.dataset.y_train[trainer.batches(0)[0]])
    assert phase.penalty == pytest.approx(model.op_penalty()) and phase.penalty > 0
    assert phase.loss == pytest.approx(data_loss + phase.penalty)
    model.forward(net.dataset.x_val, training=False)
    assert model.op_penalty() == 0.0  # the validation loss has no penalty


def test_an_l1_activity_penalty_makes_activations_sparser():
    """The lesson of an L1 activity penalty after a ReLU: more units at exactly zero."""
    text = """
data { source moons n=400 noise=0.2 }
model m { input 2; dense 64; relu; activity l1=%s; dense 2 init=xavier }
train { optimizer adam lr=1e-2; epochs 15; seed 0 }
"""
    zero = []
    for l1 in (0.0, 0.05):
        net = netc.loads(text % l1, name="sparse.net")
        model = Model(lower(net), seed=0)
        trainer = Trainer(model, net.dataset, net.train)
        for _ in range(15):
            trainer.run_epoch()
        model.forward(net.dataset.x_val, training=False)
        zero.append(float((model.output("relu1") == 0).mean()))
    assert zero[1] > zero[0] + 0.15, zero


def test_noise_is_reproducible_and_off_in_evaluation():
    net = netc.loads("data { source moons n=64 }\nmodel m { input 2; dense 8; noise 0.5; relu; dense 2 }\n",
                     name="n.net")
    x = net.dataset.x_train[:16]
    model = Model(lower(net), seed=0, dtype=np.float64)
    a = model.forward(x, training=True, rng=np.random.default_rng(3)).copy()
    b = model.forward(x, training=True, rng=np.random.default_rng(3)).copy()
    c = model.forward(x, training=True, rng=np.random.default_rng(4)).copy()
    e1 = model.forward(x, training=False).copy()
    e2 = model.forward(x, training=False).copy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(e1, e2)


def test_lints_see_noise_as_a_regularizer_and_the_activity_penalty_as_the_identity():
    base = "model m {{ input 4; dense 8 bias=false; {op}; batchnorm; relu; dense 2 }}"
    noisy = netc.loads(base.format(op="noise 0.1"), check_data=False)
    assert [w.code for w in noisy.warnings] == ["dropout-before-batchnorm"]
    act = netc.loads(base.format(op="activity l1=1e-3"), check_data=False)
    assert [w.code for w in act.warnings] == []


def test_regularize_activity_in_the_model_points_at_the_activity_statement():
    e = one_error("model m {\n    input 4\n    regularize activity l1=1e-4\n    dense 2\n}\n")
    assert e.message == "'regularize' belongs in the train section, not in the model"
    assert (e.span.line, e.span.column) == (3, 5)
    assert "write 'activity ...'" in e.hint


def test_the_activity_penalty_written_in_train_says_where_it_goes():
    e = one_error("model m { input 4; dense 2 }\ntrain {\n    regularize activity l1=0.1\n}\n")
    assert (e.span.line, e.span.column) == (3, 16)
    assert "'activity' is a model statement" in e.hint


def test_bad_values_are_located():
    errs = errors_of("model m {\n    input 4\n    noise -1\n    activity l1=-2\n    dense 2\n}\n")
    assert [(e.span.line, e.span.column) for e in errs] == [(3, 11), (4, 17)]


def test_cli_check_and_run_with_the_new_regularizers(tmp_path):
    f = tmp_path / "r.net"
    f.write_text("data { source moons n=200 }\n"
                 "model m {\n    input 2\n    dense 16\n    relu\n    noise 0.1\n"
                 "    activity l1=1e-3 l2=1e-3\n    dense 2 init=xavier\n}\n"
                 "train { epochs 2 }\n")
    r = subprocess.run([sys.executable, "-m", "netc", "run", str(f), "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "netc", "gradcheck", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "netc", "stats", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "+ activity penalty" in r.stdout.splitlines()[0]
