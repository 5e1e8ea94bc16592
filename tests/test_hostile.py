"""Hostile and careless input (issue 14). Checkpoints: a forged or damaged checkpoint is checked
against the compiled network before any of it is used, and every command that reads one
(run --resume, eval, stats, debug) reports the first mismatch with exit 2, never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import netc as api
from netc import cli
from netc.compiler.lower import lower
from netc.runtime import checkpoint
from netc.runtime.model import Model
from netc.runtime.train import Trainer

from conftest import EXAMPLES

# --- 3. checkpoint contents are not trusted -----------------------------------------------------

SPEC = (EXAMPLES / "digits.net").read_text().replace("epochs 30", "epochs 1")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real checkpoint of a one-epoch run (adam, batchnorm, early stopping: every part present)."""
    folder = tmp_path_factory.mktemp("ck")
    spec = folder / "m.net"
    spec.write_text(SPEC)
    ck = folder / "w.ckpt"
    assert cli.main(["run", str(spec), "--save", str(ck), "--quiet"]) == 0
    return spec, ck


def contents(ck):
    with np.load(ck, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(arrays.pop("meta").tobytes())


def write(path, arrays, meta):
    arrays = dict(arrays, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with open(path, "wb") as f:  # (np.savez given a path would add .npz to it)
        np.savez(f, **arrays)
    return path


def forge(saved, tmp_path, edit):
    """A copy of the saved checkpoint with `edit(arrays, meta)` applied."""
    arrays, meta = contents(saved[1])
    edit(arrays, meta)
    return write(tmp_path / "forged.ckpt", arrays, meta)


def refused(saved, ck, capsys, *commands):
    """Each command exits 2 with one clean message naming the checkpoint; returns the message."""
    spec = str(saved[0])
    argv = {"eval": ["eval", spec, "--weights", str(ck)], "stats": ["stats", spec, "--weights", str(ck)],
            "resume": ["run", spec, "--resume", str(ck), "--epochs", "2", "--quiet"]}
    messages = []
    for command in commands or ("eval", "stats", "resume"):
        assert cli.main(argv[command]) == 2, command
        err = capsys.readouterr().err
        assert "Traceback" not in err and f"error: {ck}" in err, (command, err)
        messages.append(err[err.index("netc: error:"):])  # (after the lints' warnings)
    assert len(set(messages)) == 1, messages  # the same finding whatever reads it
    return messages[0]


def set_(d, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = value


FORGERIES = [
    # (what, edit(arrays, meta), fragment of the message)
    ("a weight of the wrong shape", lambda a, m: a.update({"model/dense1.W": a["model/dense1.W"].T.copy()}),
     "model/dense1.W has shape (10, 128), but the network needs (128, 10)"),
    ("a missing weight", lambda a, m: a.pop("model/dense1.b"), "model/dense1.b is missing"),
    ("an unexpected weight", lambda a, m: a.update({"model/dense9.W": np.zeros(3, np.float32)}),
     "unexpected entry model/'dense9.W'"),
    ("a path as a key", lambda a, m: a.update({"../../../tmp/x": np.zeros(3, np.float32)}),
     "unexpected entry '../../../tmp/x'"),
    ("a weight of the wrong dtype", lambda a, m: a.update({"model/dense1.W": a["model/dense1.W"].astype(np.int64)}),
     "model/dense1.W is int64, but the network needs float32"),
    ("a complex weight", lambda a, m: a.update({"model/dense1.W": a["model/dense1.W"].astype(np.complex64)}),
     "holds <c8 values, not numbers"),
    ("a missing best weight", lambda a, m: a.pop("best/dense1.b"), "best/dense1.b is missing"),
    ("a moment of the wrong shape", lambda a, m: a.update({"optim/dense1.W/m": np.zeros((2, 2), np.float32)}),
     "optim/dense1.W/m has shape (2, 2)"),
    ("a moment of no parameter", lambda a, m: a.update({"optim/nothere/m": np.zeros(2, np.float32)}),
     "unexpected entry optim/'nothere/m'"),
    ("a moment adam does not keep", lambda a, m: a.update({"optim/dense1.W/momentum": a["optim/dense1.W/m"]}),
     "unexpected entry optim/dense1.W/'momentum': not a state of this optimizer"),
    ("a missing moment", lambda a, m: a.pop("optim/dense1.W/v"), "optim/dense1.W/v is missing"),
    ("a step count that is a string", lambda a, m: m.update(optimizer_steps="12"),
     "optimizer_steps = '12' is not a non-negative integer"),
    ("a position field of the wrong type", lambda a, m: set_(m, "position.epoch", "1"),
     "position.epoch = '1' is not a"),
    ("a negative batch", lambda a, m: set_(m, "position.batch", -5), "position.batch is negative"),
    ("a best epoch that never ran", lambda a, m: set_(m, "position.best_epoch", 7),
     "position.best_epoch 7 is not a finished epoch"),
    ("a history row with an extra field", lambda a, m: m["position"]["history"][0].update(evil=1),
     "unexpected entry position.history[0].'evil'"),
    ("a missing position field", lambda a, m: m["position"].pop("iteration"), "position.iteration is missing"),
    ("an unexpected metadata entry", lambda a, m: m.update(payload=[1, 2]), "unexpected metadata entry 'payload'"),
    ("a missing seed", lambda a, m: m.pop("seed"), "the metadata has no seed"),
    ("another format version", lambda a, m: m.update(format=99), "checkpoint format 99 is not supported"),
    ("a format version that is a string", lambda a, m: m.update(format="1"), "checkpoint format '1' is not supported"),
    ("an unknown dtype", lambda a, m: m.update(dtype="float16"), "its dtype 'float16' is not one of"),
    ("no spec hash", lambda a, m: m.pop("spec_hash"), "its metadata has no spec hash"),
]


@pytest.mark.parametrize("what, edit, fragment", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_a_forged_checkpoint_is_refused_by_every_command(saved, tmp_path, capsys, what, edit, fragment):
    ck = forge(saved, tmp_path, edit)
    message = refused(saved, ck, capsys)
    assert fragment in message, message


def test_a_refused_resume_leaves_the_trainer_untouched(saved, tmp_path):
    ck = forge(saved, tmp_path, lambda a, m: a.pop("optim/dense1.W/v"))  # found after the model entries
    net = api.load(saved[0])
    t = Trainer(Model(lower(net), seed=0), net.dataset, {**net.train, "shuffle": True})
    before = t.model.state_dict()
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.restore(ck, t, net.source.text)
    assert all(np.array_equal(t.model[k], v) for k, v in before.items())
    assert t.optimizer.state == {} and t.position.iteration == 0


def test_damaged_archives_and_metadata_are_refused(saved, tmp_path, capsys):
    arrays, meta = contents(saved[1])
    cases = {}
    cases["random bytes"] = tmp_path / "noise.ckpt"
    cases["random bytes"].write_bytes(os.urandom(4096))
    cases["an empty file"] = tmp_path / "empty.ckpt"
    cases["an empty file"].write_bytes(b"")
    cases["a truncated checkpoint"] = tmp_path / "cut.ckpt"
    cases["a truncated checkpoint"].write_bytes(saved[1].read_bytes()[:-3000])
    no_meta = tmp_path / "nometa.ckpt"
    with open(no_meta, "wb") as f:
        np.savez(f, **arrays)
    cases["no metadata"] = no_meta
    bad_json = tmp_path / "badjson.ckpt"
    with open(bad_json, "wb") as f:
        np.savez(f, **arrays, meta=np.frombuffer(b"{not json", np.uint8))
    cases["metadata that is not JSON"] = bad_json
    deep = tmp_path / "deep.ckpt"
    with open(deep, "wb") as f:
        np.savez(f, **arrays, meta=np.frombuffer(b"[" * 100_000 + b"]" * 100_000, np.uint8))
    cases["metadata nested too deep"] = deep
    for what, ck in cases.items():
        message = refused(saved, ck, capsys, "eval", "resume")
        assert "not a netc checkpoint" in message, (what, message)
    folder = tmp_path / "adir"
    folder.mkdir()
    assert "not a regular file" in refused(saved, folder, capsys, "eval")
    assert "no such checkpoint" in refused(saved, tmp_path / "nope.ckpt", capsys, "eval")


def _replace_entry(src, dst, name, data, compress=None):
    """Copy the archive `src` to `dst` with entry `name` replaced by the raw bytes `data`."""
    import zipfile
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            body = data if info.filename == name else zin.read(info)
            zout.writestr(info.filename, body, compress_type=compress or zipfile.ZIP_STORED)
    return dst


def _npy_header(shape, descr="<f4", pad=0) -> bytes:
    head = repr({"descr": descr, "fortran_order": False, "shape": shape}) + " " * pad
    head += " " * (-(len(head) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode() if len(head) < 65536 \
        else b"\x93NUMPY\x02\x00" + len(head).to_bytes(4, "little") + head.encode()


def test_sizes_in_headers_are_bounded_and_checked(saved, tmp_path, capsys):
    import zipfile
    # a header claiming more data than the entry holds (the data is never read past what the
    # network implies): here the right shape, but the bytes cut short
    short = _replace_entry(saved[1], tmp_path / "short.ckpt", "model/dense1.b.npy",
                           _npy_header((10,)) + b"\0" * 12)
    assert "holds 12 bytes of data, its header says 40" in refused(saved, short, capsys, "eval")
    # an .npy header far over the limit
    huge = _replace_entry(saved[1], tmp_path / "huge.ckpt", "model/dense1.b.npy",
                          _npy_header((10,), pad=200_000) + b"\0" * 40)
    assert "entry 'model/dense1.b' is unreadable" in refused(saved, huge, capsys, "eval")
    # a compressed entry that would inflate to 8 GB: its header's shape is refused first
    bomb = _replace_entry(saved[1], tmp_path / "bomb.ckpt", "model/dense1.b.npy",
                          _npy_header((10**9,), "<f8") + b"\0" * 10**6, compress=zipfile.ZIP_DEFLATED)
    assert "model/dense1.b has shape (1000000000,)" in refused(saved, bomb, capsys, "eval")
    # metadata larger than the limit
    arrays, _ = contents(saved[1])
    big = tmp_path / "bigmeta.ckpt"
    with open(big, "wb") as f:
        np.savez(f, **arrays, meta=np.zeros(checkpoint.MAX_META + 1, np.uint8))
    assert f"more than {checkpoint.MAX_META}" in refused(saved, big, capsys, "eval")


def test_a_resumed_run_needs_the_dtype_it_was_saved_with(saved, tmp_path, capsys):
    spec, ck = saved
    assert cli.main(["run", str(spec), "--resume", str(ck), "--dtype", "float64", "--quiet", "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "saved by a float32 run; this run is float64" in err and "--dtype float32" in err
    # weights alone are read into a model of either dtype
    assert cli.main(["eval", str(spec), "--weights", str(ck), "--dtype", "float64"]) == 0


def test_the_genuine_checkpoint_is_accepted_everywhere(saved, capsys):
    spec, ck = saved
    assert cli.main(["eval", str(spec), "--weights", str(ck)]) == 0
    assert cli.main(["stats", str(spec), "--weights", str(ck), "--json"]) == 0
    assert cli.main(["run", str(spec), "--resume", str(ck), "--epochs", "2", "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_debug_refuses_a_forged_checkpoint_before_drawing(saved, tmp_path):
    ck = forge(saved, tmp_path, lambda a, m: a.update({"model/dense1.W": a["model/dense1.W"][:3]}))
    r = subprocess.run([sys.executable, "-m", "netc", "debug", str(saved[0]), "--weights", str(ck)],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "model/dense1.W has shape (3, 10)" in r.stderr and str(ck) in r.stderr
