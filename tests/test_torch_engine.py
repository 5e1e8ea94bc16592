"""`netc run --engine torch`: step by step against the NumPy engine in float64 (dropout masks
shared: the torch engine draws them with netc's kernel), the same accuracy in float32, the state
declaration (replay, checkpoints either engine and every reader reads), and the command's errors."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import EXAMPLES, require

torch = require("torch")
torch.set_num_threads(1)  # as `netc run` has it (NETC_THREADS, default 1): torch was imported first here

import netc  # noqa: E402
from netc import cli  # noqa: E402
from netc.prepare import build_model, cast_dataset  # noqa: E402
from netc.runtime import checkpoint, state  # noqa: E402
from netc.runtime.torchnet.engine import TorchTrainer  # noqa: E402
from netc.runtime.train import EPOCH, LOSS, UPDATE, Trainer  # noqa: E402

DIGITS = str(EXAMPLES / "digits.net")

# What digits.net does not: RMSprop, hinge loss, l1, clipping by value, vanilla dropout, PReLU,
# layer norm, a uniform init, and a last batch of 16 (96 * 0.8 = 76 = 4 * 16 + 12).
RMSPROP = """
data { source blobs n=96 classes=3; split 0.8 }
model r { input 2; dense 16 init=lecun; prelu; layernorm; dropout 0.2 mode=vanilla; dense 3 init=uniform }
train { loss hinge; optimizer rmsprop lr=0.01; batch 16; epochs 2; regularize l1 1e-3; clip value 0.05; seed 3 }
"""
# SGD with Nesterov momentum, a step schedule, stats=average batch norm, mse on class labels
SGD = """
data { source moons n=120; split 0.75; standardize }
model s { input 2; dense 24 init=he bias=false; batchnorm stats=average; relu; dropout 0.3
          dense 24 init=xavier; tanh; dense 2 init=xavier }
train { loss mse; optimizer sgd lr=0.05 momentum=0.9 nesterov=true; schedule step every=1 gamma=0.5
        batch 20; epochs 3; regularize l2 1e-3; clip norm 0.5; seed 1 }
"""
# An activity penalty (its module found through the op table's adds_penalty fact) on a hidden
# layer and on the output, with Adam and l2 (the weight penalty and the activity penalty together)
ACTIVITY = """
data { source blobs n=96 classes=3; split 0.8; standardize }
model a { input 2; dense 16 init=he; relu; activity l1=1e-3 l2=1e-2; dense 3 init=xavier; activity l2=1e-3 }
train { loss cross_entropy; optimizer adam lr=0.01; batch 16; epochs 2; regularize l2 1e-3; seed 4 }
"""
SPECS = {"rmsprop": RMSPROP, "sgd": SGD, "activity": ACTIVITY}


def trainers(net, dtype=np.float64):
    train, shuffle = net.train, net.data.shuffle
    ds = cast_dataset(net.dataset, dtype)
    return (Trainer(build_model(net, train, dtype), ds, train, shuffle=shuffle),
            TorchTrainer(build_model(net, train, dtype), ds, train, shuffle=shuffle))


def rel(a, b, floor=1e-3):
    """Relative difference; absolute below `floor` (digits.net's dense biases sit right before
    batchnorm, which cancels their gradient: both engines hold round-off there, 1e-12 vs 1e-12)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max(initial=0.0) / max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), floor))


def saved(path) -> dict[str, np.ndarray]:
    """A checkpoint's arrays by entry name (`model/NODE.PARAM`, `optim/...`, `best/...`)."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k != checkpoint.META}


def load(name):
    return netc.loads(SPECS[name], name=f"{name}.net") if name in SPECS else netc.load(EXAMPLES / name)


@pytest.mark.parametrize("name,epochs", [("digits.net", 2), ("rmsprop", 2), ("sgd", 3), ("activity", 2)])
def test_torch_engine_agrees_step_by_step_in_float64(name, epochs):
    """Every iteration: the same phases, the same loss (1e-9), the same weights, buffers and
    optimizer moments after the update (1e-7); every epoch: the same metrics."""
    a, b = trainers(load(name))
    steps = 0
    while a.position.epoch < epochs:
        pa = [p for p in a.iteration() if p.kind in (LOSS, UPDATE, EPOCH)]
        pb = list(b.iteration())
        assert [p.kind for p in pa] == [p.kind for p in pb]
        for p, q in zip(pa, pb):
            assert p.batch == q.batch
            if p.kind == LOSS:
                assert q.loss == pytest.approx(p.loss, rel=1e-9, abs=1e-12), (steps, p.loss, q.loss)
                assert q.penalty == pytest.approx(p.penalty, rel=1e-9, abs=1e-15)
            if p.kind == EPOCH:
                for field in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
                    assert getattr(q.result, field) == pytest.approx(getattr(p.result, field), rel=1e-9), field
        wa, wb = a.model.state_dict(), b.model.state_dict()
        assert wa.keys() == wb.keys()
        for key in wa:
            assert wb[key].dtype == wa[key].dtype, key
            assert rel(wa[key], wb[key]) < 1e-7, (steps, key, rel(wa[key], wb[key]))
        oa, ob = a.optimizer.state, b.optimizer.state
        assert oa.keys() >= ob.keys() and all(not oa[k] for k in oa.keys() - ob.keys())
        for key in ob:
            for slot in oa[key]:
                assert rel(oa[key][slot], ob[key][slot]) < 1e-7, (steps, key, slot)
        steps += 1
    assert a.optimizer.steps == b.optimizer.steps == b.position.iteration
    assert [r.val_loss for r in a.position.history] == pytest.approx([r.val_loss for r in b.position.history],
                                                                      rel=1e-9)


# digits_cnn.net (conv, batch norm, max pooling, dropout: masks shared, Adam, a cosine schedule)
# with the data section's augment and the train section's mixup, alone and together
AUGMENTED = {"augment": ("augment shift=1 cutout=3", ""), "mixup": ("", "mixup 0.2"),
             "both": ("augment shift=1 flip=horizontal cutout=3 noise=0.1", "mixup 0.4")}


def augmented(which: str):
    data, train = AUGMENTED[which]
    text = (EXAMPLES / "digits_cnn.net").read_text().replace("split 0.8", f"split 0.8\n    {data}") \
        .replace("seed 0", f"seed 0\n    {train}")
    return netc.loads(text, name="digits_cnn.net", base_dir=EXAMPLES)


@pytest.mark.parametrize("which", sorted(AUGMENTED))
def test_augment_and_mixup_agree_step_by_step_in_float64(which):
    """The torch engine applies netc's own augmentation and mixup (the same generators): each
    iteration the network's input is the NumPy engine's, bit for bit (and not the raw rows),
    the loss agrees to 1e-9 (mixed targets), the weights and Adam's moments to 1e-7."""
    a, b = trainers(augmented(which))
    assert (b.data.augment is not None) == ("augment" in AUGMENTED[which][0]) and \
        bool(b.settings.mixup) == ("mixup" in AUGMENTED[which][1])
    for step in range(6):
        idx = a.batches(0)[step]
        pa = [p for p in a.iteration() if p.kind in (LOSS, UPDATE)]
        seen = a.model.outputs[0].reshape(len(idx), -1)
        pb = list(b.iteration())
        assert [p.kind for p in pb] == [p.kind for p in pa]
        assert np.array_equal(np.asarray(b._x).reshape(len(idx), -1), seen), step
        assert not np.array_equal(seen, a.data.x_train[idx]), step
        assert pb[0].loss == pytest.approx(pa[0].loss, rel=1e-9), (step, pa[0].loss, pb[0].loss)
        wa, wb = a.model.state_dict(), b.model.state_dict()
        for key in wa:
            assert rel(wa[key], wb[key]) < 1e-7, (step, key, rel(wa[key], wb[key]))
        oa, ob = a.optimizer.state, b.optimizer.state
        for key in ob:
            for slot in oa[key]:
                assert rel(oa[key][slot], ob[key][slot]) < 1e-7, (step, key, slot)
    pos_a, pos_b = a.position, b.position
    assert pos_b.loss_sum == pytest.approx(pos_a.loss_sum, rel=1e-9)
    assert pos_b.correct == pytest.approx(pos_a.correct, rel=1e-9)  # mixup counts lam-weighted hits


def test_the_torch_engine_augments_and_mixes_training_batches_only():
    """Validation (and any evaluation) and an evaluation-mode iteration see the examples as they
    are: the same numbers as a run without augment and mixup, with the same weights."""
    _, b = trainers(augmented("both"))
    _, plain = trainers(netc.load(EXAMPLES / "digits_cnn.net"))
    list(b.iteration())  # a training iteration: the weights move
    plain.model.load_state_dict(b.model.state_dict())
    ds = b.data
    assert b.evaluate(ds.x_val, ds.y_val) == plain.evaluate(ds.x_val, ds.y_val)
    assert b.evaluate(ds.x_train, ds.y_train) == plain.evaluate(ds.x_train, ds.y_train)
    plain.position.batch = plain.position.iteration = 1
    for t in (b, plain):  # netc stats --mode eval: run to the loss, stop before any update
        next(p for p in t.iteration(training=False) if p.kind == LOSS)
    idx = b.batches(0)[1]
    np.testing.assert_array_equal(np.asarray(b._x).reshape(len(idx), -1), ds.x_train[idx])
    np.testing.assert_array_equal(b.model.output.detach().numpy(), plain.model.output.detach().numpy())


def test_replay_through_the_state_declaration():
    """capture / restore (the debugger's go-back, checkpoints' contents) on a torch trainer in the
    middle of an epoch: the replayed iterations are the same as the first time, optimizer
    moments included."""
    _, t = trainers(load("digits.net"))
    for _ in range(5):
        list(t.iteration())
    saved = state.capture(t)
    first = [p.loss for _ in range(4) for p in t.iteration() if p.kind == LOSS]
    after = t.model.state_dict()
    state.restore(t, saved)
    again = [p.loss for _ in range(4) for p in t.iteration() if p.kind == LOSS]
    assert again == first
    for key, v in t.model.state_dict().items():
        assert np.array_equal(v, after[key]), key


def test_float32_runs_reach_the_same_accuracy(capsys):
    finals = []
    for engine in ("numpy", "torch"):
        assert cli.main(["run", DIGITS, "--epochs", "6", "--json", "--engine", engine]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
        assert len(lines) == 7 and lines[-1]["final"]
        finals.append(lines[-1])
    assert finals[1]["val_accuracy"] == pytest.approx(finals[0]["val_accuracy"], abs=1.5 / 359)  # one example
    assert finals[1]["val_loss"] == pytest.approx(finals[0]["val_loss"], rel=2e-3)
    assert finals[1]["val_accuracy"] > 0.9


def test_checkpoints_are_read_whichever_engine_wrote_them(tmp_path, capsys):
    """torch saves, NumPy resumes, and the reverse: both end where an uninterrupted float64 run
    ends; netc eval, netc stats and the debugger's session read a torch engine's checkpoint."""
    common = ["--dtype", "float64", "--quiet"]
    whole = tmp_path / "whole.npz"
    assert cli.main(["run", DIGITS, "--epochs", "3", "--save", str(whole), *common]) == 0
    for first, second in (("torch", "numpy"), ("numpy", "torch")):
        ckpt = tmp_path / f"{first}.npz"
        assert cli.main(["run", DIGITS, "--epochs", "2", "--save", str(ckpt), "--engine", first, *common]) == 0
        assert cli.main(["run", DIGITS, "--epochs", "3", "--resume", str(ckpt), "--save", str(ckpt),
                         "--engine", second, *common]) == 0
        want, got = saved(whole), saved(ckpt)
        assert want.keys() == got.keys()
        for key in want:
            if want[key].dtype.kind == "f":
                assert rel(want[key], got[key]) < 1e-7, (first, second, key)
    capsys.readouterr()
    torch_ckpt = tmp_path / "t.npz"
    assert cli.main(["run", DIGITS, "--epochs", "1", "--save", str(torch_ckpt), "--engine", "torch", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cli.main(["eval", DIGITS, "--weights", str(torch_ckpt), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["val_loss"] == pytest.approx(trained["val_loss"], rel=1e-5)
    assert cli.main(["stats", DIGITS, "--weights", str(torch_ckpt), "--json", "--mode", "eval"]) == 0
    assert json.loads(capsys.readouterr().out)
    from netc.tui.session import open_session
    model = open_session(DIGITS, str(torch_ckpt)).stepper.trainer.model  # netc debug --weights
    arrays = saved(torch_ckpt)
    for key, v in model.params.items():
        assert np.array_equal(v, arrays[f"best/{key}"].astype(v.dtype)), key


def test_cuda_without_a_gpu_is_a_clear_error(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")  # the error needs a machine without one
    assert cli.main(["run", DIGITS, "--engine", "torch", "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda: PyTorch sees no CUDA device" in err and "hint: use --device cpu" in err
    assert "Traceback" not in err


def test_device_needs_the_torch_engine(capsys):
    assert cli.main(["run", DIGITS, "--device", "cpu"]) == 2
    assert "--device cpu needs --engine torch" in capsys.readouterr().err


def test_missing_torch_names_the_pip_command(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    assert cli.main(["run", DIGITS, "--engine", "torch"]) == 2
    err = capsys.readouterr().err
    assert "netc run --engine torch needs torch" in err and "pip install 'netc[torch]'" in err


def test_torchrun_needs_the_torch_engine_and_an_even_batch(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    assert cli.main(["run", DIGITS]) == 2
    assert "only --engine torch trains data-parallel" in capsys.readouterr().err
    assert cli.main(["run", DIGITS, "--engine", "torch"]) == 2
    err = capsys.readouterr().err
    assert "batch 64 does not split evenly over 3 processes" in err and "digits.net:" in err


def test_the_numpy_engine_and_the_cli_do_not_import_torch():
    code = ("import sys; import netc.cli; a = 'torch' in sys.modules; from netc.cli import main; "
            "main(['run', %r, '--epochs', '1', '--quiet']); print(a, 'torch' in sys.modules)") % DIGITS
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().endswith("False False"), r.stdout + r.stderr


def test_a_diverging_run_names_the_node_as_the_numpy_engine_does(tmp_path, capsys):
    spec = tmp_path / "div.net"
    spec.write_text("data { source moons n=200; split 0.8 }\n"
                    "model m { input 2; dense 32 init=he; relu; dense 32 init=he; relu; dense 2 init=xavier }\n"
                    "train { loss mse; optimizer sgd lr=50; batch 16; epochs 5; seed 0 }\n")
    assert cli.main(["run", str(spec), "--engine", "torch", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "error: the loss became" in err and "the first non-finite value came from 'dense" in err
    assert "div.net:2:" in err and "Traceback" not in err
