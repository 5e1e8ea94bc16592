"""The regularizers beyond dropout and the weight penalty, in whole networks: `noise S`
(`gaussian_noise`), the activity penalty `activity l1=A l2=B` (in the trainer's loss and
through `netc gradcheck`), `dense ... dropconnect=P`, `constrain maxnorm=C`, `init=constant` /
`init=orthogonal` with the symmetry lint, and what a user gets for misplacing them. The kernels' own checks are in test_ops_gradcheck.py (float64
finite differences), test_ops_torch.py (the exported torch modules) and test_registry.py."""
from __future__ import annotations


import numpy as np
import pytest

import netc
from conftest import errors_of, one_error
from netc.compiler.lower import lower
from netc.runtime.model import Model
from netc.runtime.netcheck import TOLERANCE, check_network
from netc.runtime.train import LOSS, Trainer
from netc.spec.settings import Constrain
from cli_runner import netc_cli

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
    trainer = Trainer(model, net.dataset, net.train, shuffle=True)
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
        trainer = Trainer(model, net.dataset, net.train, shuffle=True)
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
    r = netc_cli("run", str(f), "--quiet")
    assert r.returncode == 0, r.stderr
    r = netc_cli("gradcheck", str(f))
    assert r.returncode == 0, r.stdout + r.stderr
    r = netc_cli("stats", str(f))
    assert r.returncode == 0, r.stderr
    assert "+ activity penalty" in r.stdout.splitlines()[0]


# --- dense dropconnect=P ---------------------------------------------------------------------------

def test_dropconnect_drops_weights_per_batch_and_evaluation_uses_them_all():
    from netc.runtime.ops import KERNELS, Ctx
    k = KERNELS["dense"]({"units": 300, "dropconnect": 0.3}, ((200,),))
    state = k.init_state(np.random.default_rng(0), np.float64)
    x = np.eye(200)  # row i of the output is row i of the weights used
    ctx = Ctx()
    used = k.forward(ctx, [x], state, True, np.random.default_rng(1)) - state["b"]
    kept = used != 0
    assert abs(kept.mean() - 0.7) < 5 * np.sqrt(0.21 / kept.size)  # the keep rate, within 5 s.e.
    np.testing.assert_allclose(used[kept], state["W"][kept] / 0.7)  # inverted scaling
    again = k.forward(Ctx(), [x], state, True, np.random.default_rng(1)) - state["b"]
    np.testing.assert_array_equal(used, again)  # the same generator gives the same mask
    evaluated = k.forward(Ctx(), [x], state, False, None) - state["b"]
    np.testing.assert_array_equal(evaluated, state["W"])


def test_dropconnect_is_a_fact_of_the_node():
    net = netc.loads("model m { input 4; dense 8 dropconnect=0.5; relu; dense 2 }", check_data=False)
    steps = {s.name: s.kernel for s in lower(net).steps}
    assert steps["dense1"].stochastic and steps["dense1"].mode_dependent
    assert not steps["dense2"].stochastic and not steps["dense2"].mode_dependent


def test_dropconnect_on_an_op_without_weights_is_a_located_error():
    e = one_error("model m {\n    input 4\n    relu dropconnect=0.5\n    dense 2\n}\n")
    assert e.message == "unknown parameter 'dropconnect' for relu"
    assert (e.span.line, e.span.column) == (3, 10)
    assert e.hint.startswith("dropconnect= is a parameter of dense")
    e = one_error("model m {\n    input 4\n    dense 3 dropconnect=1\n}\n")
    assert (e.span.line, e.span.column) == (3, 25)


def test_dropconnect_trains_and_mc_dropout_sees_it(tmp_path):
    f = tmp_path / "dc.net"
    # (fed by a 16-wide layer: with 2 inputs a unit would lose all its weights to the mask 9% of
    # the time, and its output would sit exactly on the ReLU's kink at its zero bias)
    f.write_text("data { source moons n=200 }\nmodel m {\n    input 2\n    dense 16\n    tanh\n"
                 "    dense 32 dropconnect=0.3\n    relu\n    dense 2 init=xavier\n}\n"
                 "train { epochs 3; optimizer adam lr=1e-2 }\n")
    r = netc_cli("run", str(f), "--quiet", "--save", str(tmp_path / "dc.ckpt"))
    assert r.returncode == 0, r.stderr
    r = netc_cli("gradcheck", str(f))
    assert r.returncode == 0, r.stdout + r.stderr
    r = netc_cli("eval", str(f), "--weights", str(tmp_path / "dc.ckpt"), "--mc", "5")
    assert r.returncode == 0, r.stderr  # dense with dropconnect is stochastic: MC passes are possible


# --- constrain maxnorm=C ---------------------------------------------------------------------------

def test_maxnorm_caps_every_units_incoming_weights_after_each_update():
    text = ("data { source moons n=200 }\nmodel m { input 2; dense 32; relu; maxout 8 k=3; dense 2 }\n"
            "train { optimizer sgd lr=2.0; %s epochs 1; seed 1 }")
    largest = {}
    for constraint in ("", "constrain maxnorm=0.5;"):
        net = netc.loads(text % constraint, name="c.net")
        model = Model(lower(net), seed=0, dtype=np.float64)
        trainer = Trainer(model, net.dataset, net.train, shuffle=True)
        trainer.run_epoch()
        largest[constraint] = {name: float(np.sqrt((w * w).sum(axis=model.weight_axes[name])).max())
                               for name, w in model.weights.items()}
    free, capped = largest[""], largest["constrain maxnorm=0.5;"]
    assert all(v <= 0.5 + 1e-9 for v in capped.values()), capped
    for name in ("dense1.W", "maxout1.W"):  # lr 2 pushes these past the cap, which holds them at it
        assert free[name] > 0.6 and capped[name] > 0.49, (free, capped)
    for name, p in model.params.items():
        if name not in model.weights:  # biases are not constrained
            assert name.endswith(".b")


def test_maxnorm_can_be_set_from_the_command_line():
    from netc.spec import overrides
    net = netc.loads("model m { input 2; dense 2 }", check_data=False)
    train, _ = overrides.apply(net.train, net.data, ["constrain.maxnorm=3"])
    assert train.constrain == Constrain(maxnorm=3.0)
    with pytest.raises(overrides.OverrideError):
        overrides.apply(net.train, net.data, ["constrain.maxnorm=0"])


def test_maxnorm_must_be_positive_located():
    e = one_error("model m { input 2; dense 2 }\ntrain {\n    constrain maxnorm=-1\n}\n")
    assert (e.span.line, e.span.column) == (3, 23)


# --- init=constant, init=orthogonal, and the symmetry lesson ---------------------------------------

def test_constant_init_and_the_units_that_stay_copies():
    """The symmetry lesson: with every weight equal in two layers, the hidden units compute the same
    output and get the same update, so after training they are still copies of each other; a
    random next layer tells them apart."""
    text = ("data {{ source moons n=200 }}\nmodel m {{ input 2; dense 8 init=constant value=0.1; tanh; "
            "dense 2 init={last} }}\ntrain {{ optimizer sgd lr=0.5; epochs 3 }}")
    spreads = []
    for last in ("constant value=0.2", "xavier"):
        net = netc.loads(text.format(last=last), name="sym.net")
        model = Model(lower(net), seed=0, dtype=np.float64)
        assert (model["dense1.W"] == 0.1).all()
        trainer = Trainer(model, net.dataset, net.train, shuffle=True)
        for _ in range(3):
            trainer.run_epoch()
        W = model["dense1.W"]
        assert np.abs(W - 0.1).max() > 1e-3  # it learned something
        spreads.append(float(np.ptp(W, axis=1).max()))  # how different the 8 units' weights are
    assert spreads[0] < 1e-12 < 1e-3 < spreads[1], spreads


def test_the_symmetric_init_lint():
    warn = lambda text: [w.code for w in netc.loads(text, check_data=False).warnings]  # noqa: E731
    assert warn("model m { input 4; dense 8 init=constant value=0.5; relu; dense 2 }") == ["symmetric-init"]
    assert warn("model m { input 4; dense 8 init=zeros; relu; dense 2 }") == ["symmetric-init"]
    assert warn("model m { input 4; dense 8; relu; dense 2 init=zeros }") == []  # the output layer
    assert warn("model m { input 4; dense 1 init=zeros; relu; dense 2 }") == []  # one unit: no copies
    assert warn("model m { input 4; dense 8 init=orthogonal; relu; dense 2 }") == []


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 5, 4), (4, 2, 3, 3)])
def test_orthogonal_init_has_orthonormal_units(shape):
    from netc.runtime.init import init_weights
    gain = 1.7
    w = init_weights("orthogonal", shape, 1, 1, np.random.default_rng(0), np.float64, gain=gain)
    mats = [w.T] if w.ndim == 2 else (list(np.swapaxes(w, 1, 2)) if w.ndim == 3 else [w.reshape(w.shape[0], -1)])
    for m in mats:  # torch's layout (units, fan-in): W W^T = gain^2 I or W^T W = gain^2 I
        small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(small, gain ** 2 * np.eye(small.shape[0]), atol=1e-12)


def test_the_torch_engine_trains_the_new_regularizers_as_netc_does(tmp_path):
    """noise (netc's draws), the activity penalty (in the loss and its gradient), dropconnect
    (netc's weight masks) and max-norm run the same on `--engine torch`."""
    from conftest import require
    require("torch")
    import json
    f = tmp_path / "eng.net"
    f.write_text("data { source moons n=300 noise=0.2 }\nmodel m {\n    input 2\n    dense 16\n    relu\n"
                 "    noise 0.1\n    activity l1=1e-3 l2=1e-3\n    dense 8 dropconnect=0.2\n    relu\n"
                 "    dense 2 init=xavier\n}\ntrain { epochs 2; constrain maxnorm=0.5; optimizer sgd lr=0.5; seed 0 }\n")
    finals = []
    for extra in ([], ["--engine", "torch"]):
        r = netc_cli("run", str(f), "--quiet", "--json", *extra)
        assert r.returncode == 0, r.stderr
        finals.append(json.loads(r.stdout.splitlines()[-1]))
    for key in ("train_loss", "val_loss"):
        assert finals[1][key] == pytest.approx(finals[0][key], rel=1e-5), key
