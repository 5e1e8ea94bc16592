"""Hostile and careless input (issue 14). Checkpoints: a forged or damaged checkpoint is checked
against the compiled network before any of it is used, and every command that reads one
(run --resume, eval, stats, debug) reports the first mismatch with exit 2, never a traceback."""
from __future__ import annotations

import time
import struct
import signal
import re
import pickle
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

from conftest import EXAMPLES, ROOT
from cli_runner import netc_cli

# --- 3. checkpoint contents are not trusted -----------------------------------------------------

CK_SPEC = (EXAMPLES / "digits.net").read_text().replace("epochs 30", "epochs 1")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real checkpoint of a one-epoch run (adam, batchnorm, early stopping: every part present)."""
    folder = tmp_path_factory.mktemp("ck")
    spec = folder / "m.net"
    spec.write_text(CK_SPEC)
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
    t = Trainer(Model(lower(net), seed=0), net.dataset, net.train, shuffle=True)
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
        assert "Error" not in message, (what, message)  # no Python exception's name (BadZipFile)
        if what in ("random bytes", "an empty file", "a truncated checkpoint"):
            assert "hint:" in message, (what, message)
    assert "truncated" in refused(saved, cases["a truncated checkpoint"], capsys, "eval")
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
    r = netc_cli("debug", str(saved[0]), "--weights", str(ck), timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "model/dense1.W has shape (3, 10)" in r.stderr and str(ck) in r.stderr


# --- the other items of issue 14 ------------------------------------------------------------

SPEC = """data {{
    source {source}
    split 0.8
    standardize
}}
model m {{
    input {width}
    dense 16
    relu
    dense {out}
}}
train {{
    loss {loss}
    optimizer {optimizer}
    batch 16
    epochs {epochs}
    seed 0
}}
"""


def netc(*args, cwd=None, env=None, timeout=300):
    full_env = dict(os.environ, **(env or {}))
    return netc_cli(*args, cwd=cwd, timeout=timeout, env=full_env)


def spec(tmp_path, name="m.net", **kw):
    values = dict(source="digits", width=64, out=10, loss="cross_entropy", epochs=2,
                  optimizer="adam lr=1e-2")
    values.update(kw)
    p = tmp_path / name
    p.write_text(SPEC.format(**values))
    return p


def clean(r, status):
    """The command ended with `status` and no traceback."""
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    return r


def start(*args, cwd=None):
    """`netc run ... --json` in the background, once its first epoch is done."""
    proc = subprocess.Popen([sys.executable, "-m", "netc", "run", *map(str, args), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    first = proc.stdout.readline()
    assert first, proc.stderr.read()
    return proc


def temporaries(folder):
    return [f for f in os.listdir(folder) if f.endswith(".tmp")]


# --- 1. --save never destroys a file ---------------------------------------------------------

def test_save_refuses_the_runs_data_file_a_device_and_files_it_did_not_write(tmp_path):
    rows = "\n".join(f"{i % 7},{i % 5},{i % 2}" for i in range(60))
    data = tmp_path / "train.csv"
    data.write_text("a,b,label\n" + rows + "\n")
    p = spec(tmp_path, source='"train.csv"', width=2, out=2)
    before = data.read_bytes()
    r = clean(netc("run", p, "--save", data), 2)
    assert "would overwrite the data file" in r.stderr and data.read_bytes() == before
    assert "epoch" not in r.stdout  # refused before training
    r = clean(netc("run", p, "--save", "/dev/full"), 2)
    assert "not a regular file" in r.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("my thesis")
    r = clean(netc("run", p, "--save", notes), 2)
    assert "is not a netc checkpoint" in r.stderr and notes.read_text() == "my thesis"
    link = tmp_path / "link.ckpt"  # a symbolic link to the data is the data
    link.symlink_to(data)
    clean(netc("run", p, "--save", link), 2)
    assert data.read_bytes() == before


def test_save_replaces_another_runs_checkpoint_only_with_overwrite_or_resume(tmp_path):
    p = spec(tmp_path, epochs=1)
    ck = tmp_path / "run.ckpt"
    clean(netc("run", p, "--save", ck, "--quiet"), 0)
    stamp = ck.read_bytes()
    r = clean(netc("run", p, "--save", ck, "--quiet"), 2)
    assert "already holds a netc checkpoint" in r.stderr and "--overwrite" in r.stderr
    assert ck.read_bytes() == stamp
    clean(netc("run", p, "--save", ck, "--resume", ck, "--epochs", "2", "--quiet"), 0)
    clean(netc("run", p, "--save", ck, "--overwrite", "--quiet"), 0)


def test_save_to_an_unwritable_folder_is_refused_before_training(tmp_path):
    p = spec(tmp_path, epochs=1)
    if os.geteuid() == 0:  # root writes anywhere chmod forbids; /proc/self takes no new files
        target = "/proc/self/run.ckpt"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "run.ckpt"
    r = clean(netc("run", p, "--save", target), 2)
    assert "cannot write in" in r.stderr and "epoch" not in r.stdout


# --- 2. memory --------------------------------------------------------------------------------

BIG = """data {{ source digits }}
model m {{
    input 64
    dense {width}
    dense {width}
    dense 10
}}
train {{ loss cross_entropy; optimizer adam lr=1e-3 }}
"""


def test_memory_is_estimated_shown_and_a_model_that_cannot_fit_is_refused(tmp_path):
    ok = clean(netc("check", spec(tmp_path)), 0)
    line = next(s for s in ok.stdout.splitlines() if s.startswith("memory"))
    assert "parameters" in line and "optimizer state" in line and "activations" in line
    big = tmp_path / "big.net"
    big.write_text(BIG.format(width=100_000))  # 10**10 parameters: 37 GB before Adam's moments
    r = clean(netc("check", big), 2)
    assert "10,000,100,000" in r.stdout and "the run needs about" in r.stderr and "available" in r.stderr
    started = time.perf_counter()
    r = clean(netc("run", big), 2)
    assert "the run needs about" in r.stderr and "hint:" in r.stderr
    assert time.perf_counter() - started < 60  # refused, not attempted
    # located at the layer with the most parameters, in check and run alike
    for out in (r.stderr, clean(netc("check", big), 2).stderr):
        assert "big.net:5:5: error:" in out and "the largest layer is dense2, 10,000,100,000 parameters" in out
    # the limit can be set: a small model under a tiny one is refused too
    r = clean(netc("run", spec(tmp_path), env={"NETC_MEMORY_LIMIT": "100K"}), 2)
    assert "100 KB is available" in r.stderr


def test_a_memory_error_names_the_node(tmp_path, monkeypatch, capsys):
    from netc.cli import main
    from netc.runtime.ops import KERNELS

    def exhausted(self, ctx, xs, state, training, rng):
        raise MemoryError("Unable to allocate 37.3 GiB")
    monkeypatch.setattr(KERNELS["relu"], "forward", exhausted)
    assert main(["stats", str(spec(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "out of memory in node 'relu1' (line 9), forward" in err and "Traceback" not in err


def test_spec_files_that_are_devices_fifos_or_huge_are_refused(tmp_path):
    r = clean(netc("check", "/dev/zero", timeout=30), 2)
    assert "not a regular file" in r.stderr
    fifo = tmp_path / "pipe.net"
    os.mkfifo(fifo)
    clean(netc("check", fifo, timeout=30), 2)
    huge = tmp_path / "huge.net"
    with open(huge, "wb") as f:
        f.truncate(5 * 1024 * 1024)
    r = clean(netc("check", huge), 2)
    assert "at most 4,194,304" in r.stderr


# --- 4. SIGTERM and SIGHUP --------------------------------------------------------------------

@pytest.mark.parametrize("signum,status,name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")])
def test_sigterm_and_sighup_save_say_so_and_leave_no_temporary(tmp_path, signum, status, name):
    p = spec(tmp_path, epochs=100_000)
    ck = tmp_path / "run.ckpt"
    stale = tmp_path / ".run.ckpt.abcd1234.tmp"  # left by an earlier run killed mid-write
    stale.write_bytes(b"x" * 1000)
    proc = start(p, "--save", ck)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert f"stopped by {name}" in err and f"saved {ck}" in err and "Traceback" not in err
    assert json.loads(out.splitlines()[-1])["interrupted"] is True
    assert temporaries(tmp_path) == [] and not (tmp_path / ".run.ckpt.lock").exists()
    clean(netc("run", p, "--resume", ck, "--epochs", str(_epochs_done(ck) + 1), "--save", ck, "--quiet"), 0)


def test_a_second_signal_during_the_final_save_still_leaves_no_temporary(tmp_path):
    p = spec(tmp_path, epochs=100_000)
    ck = tmp_path / "run.ckpt"
    proc = start(p, "--save", ck)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert temporaries(tmp_path) == []


# --- 5. one run per checkpoint path -----------------------------------------------------------

def test_a_second_run_saving_to_the_same_path_is_refused_naming_the_first(tmp_path):
    p = spec(tmp_path, epochs=100_000)
    ck = tmp_path / "run.ckpt"
    first = start(p, "--save", ck)
    try:
        r = clean(netc("run", p, "--save", ck, "--overwrite", "--epochs", "1"), 2)
        assert f"in use by another netc run (pid {first.pid})" in r.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130
    clean(netc("run", p, "--save", ck, "--overwrite", "--epochs", "1", "--quiet"), 0)  # free again


# --- 6. divergence that stays finite ----------------------------------------------------------

def test_finite_divergence_and_settings_that_stop_learning_are_warned_about(tmp_path):
    wild = spec(tmp_path, optimizer="sgd lr=1e6", epochs=4)
    wild.write_text(wild.read_text().replace("    standardize\n", ""))
    r = clean(netc("run", wild), 0)
    assert "[diverging]" in r.stderr and "lower the learning rate" in r.stderr
    r = clean(netc("run", spec(tmp_path, epochs=4)), 0)  # a healthy run: no such warning
    assert "[diverging]" not in r.stderr
    p = spec(tmp_path, optimizer="sgd lr=0.1\n    clip norm 1e-300\n    regularize l2 1e30")
    r = clean(netc("check", p), 0)
    assert "[clip-underflow]" in r.stderr + r.stdout and "[penalty-overwhelms]" in r.stderr + r.stdout


# --- 7. numbers -------------------------------------------------------------------------------

def test_numbers_beyond_what_netc_can_hold_are_clean_errors(tmp_path):
    p = tmp_path / "long.net"
    p.write_text("model m {\n    input " + "9" * 5000 + "\n}\n")
    r = clean(netc("check", p), 2)
    assert "long.net:2:11: error: an integer of 5,000 digits is too long" in r.stderr
    images, labels = tmp_path / "img.idx", tmp_path / "lab.idx"
    images.write_bytes(bytes([0, 0, 8, 100]) + struct.pack(">100I", *[1] * 100) + b"\0")
    labels.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 1) + b"\0")
    p = spec(tmp_path, source='idx images="img.idx" labels="lab.idx"', width=1, out=1)
    r = clean(netc("check", p), 2)
    assert "img.idx: declares 100 dimensions" in r.stderr
    csv = tmp_path / "big.csv"
    csv.write_text("a,b\n" + "".join(f"{i},{i % 2}\n" for i in range(20)) + "3,100000000000000000000\n")
    r = clean(netc("check", spec(tmp_path, source='"big.csv"', width=1, out=2)), 2)
    assert "line 22, column 2 ('b'): the label 100000000000000000000 is too large" in r.stderr
    np.savez(tmp_path / "u.npz", x=np.ones((4, 2)), y=np.array([0, 1, 2**64 - 1, 1], dtype=np.uint64))
    r = clean(netc("check", spec(tmp_path, source='"u.npz"', width=2, out=2)), 2)
    assert "y[2] is 18446744073709551615, too large for a class index" in r.stderr


def test_standardize_makes_a_constant_feature_zero_even_at_1e30():
    from netc.runtime.data.prepare import apply_scaling, fit_scaling
    x = np.full((1000, 3), 1e30)
    x[:, 1] = np.arange(1000.0)
    x[:, 2] = -7.3e-12
    scaled = apply_scaling(fit_scaling("standardize", x), x)
    assert np.all(scaled[:, [0, 2]] == 0.0)
    assert abs(scaled[:, 1].mean()) < 1e-12 and scaled[:, 1].std() == pytest.approx(1.0)


def test_eval_json_of_nan_weights_is_valid_json_and_exits_1(tmp_path):
    import netc as api
    from netc.compiler.lower import lower
    from netc.runtime import checkpoint
    from netc.runtime.model import Model
    from netc.runtime.train import Trainer
    p = spec(tmp_path)
    net = api.load(p)
    model = Model(lower(net), seed=0)
    model["dense1.W"][...] = np.nan
    ck = tmp_path / "nan.ckpt"
    checkpoint.save(ck, Trainer(model, net.dataset, net.train, shuffle=True), net.source.text)
    r = clean(netc("eval", p, "--weights", ck, "--json"), 1)
    metrics = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert metrics["val_loss"] is None and "not finite" in r.stderr


# --- 9. small ones ----------------------------------------------------------------------------

def test_messages_name_the_right_line_and_file_and_escape_control_characters(tmp_path):
    csv = tmp_path / "r.csv"
    csv.write_text("a,b,c\n1,2,0\n1,2\n")
    r = clean(netc("check", spec(tmp_path, source='"r.csv"', width=2, out=2)), 2)
    assert "line 3 has 2 columns, expected 3 like line 1" in r.stderr
    images, labels = tmp_path / "img.idx", tmp_path / "lab.idx"
    images.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 4, 1, 1) + bytes(4))
    labels.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([0, 1, 7, 1]))
    r = clean(netc("run", spec(tmp_path, source='idx images="img.idx" labels="lab.idx"', width=1, out=2)), 2)
    assert "the labels of lab.idx go from 0 to 7" in r.stderr
    evil = "x\x1b]0;owned\x07\x1b[2J.net"
    r = clean(netc("check", tmp_path / evil), 2)
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr and "\\x1b]0;owned\\x07" in r.stderr


# --- kept: nothing is ever unpickled; kill -9 never corrupts a checkpoint ------------------------

class _Trap:
    """Unpickling this creates `marker`: the proof that a loader executed the file's code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_no_file_is_ever_unpickled(tmp_path):
    marker = tmp_path / "executed"
    trap = np.empty(4, dtype=object)
    trap[:] = [_Trap(marker)] * 4
    np.savez(tmp_path / "trap.npz", x=trap, y=np.array([0, 1, 0, 1]))
    r = clean(netc("check", spec(tmp_path, source='"trap.npz"', width=1, out=2)), 2)
    assert not marker.exists()
    p = spec(tmp_path, epochs=1)
    ck = tmp_path / "w.ckpt"
    clean(netc("run", p, "--save", ck, "--quiet"), 0)
    with np.load(ck) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["model/dense1.W"] = trap
    with open(ck, "wb") as f:  # (np.savez given a path would add .npz to it)
        np.savez(f, **arrays)
    for command in (("eval", p, "--weights", ck), ("stats", p, "--weights", ck),
                    ("run", p, "--resume", ck, "--epochs", "2")):
        r = netc(*command)
        assert r.returncode == 2 and not marker.exists(), (command, r.stderr)
    # and the code never asks for pickles: no pickle module, no allow_pickle=True, no torch.load
    # without weights_only
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT).parts  # the project's own code: not a virtual environment in it
        if "tests" in rel or any(part.startswith(".") or part == "site-packages" for part in rel):
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(c?pickle|dill|joblib|shelve)\b", text, re.M), path
        assert "allow_pickle=True" not in text, path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (path, call)
    assert pickle  # the trap above is built with pickle, by the test only


def test_kill_9_never_leaves_a_corrupt_checkpoint(tmp_path):
    # a wide layer makes each save take a while, so the kills land in the middle of some
    p = spec(tmp_path, epochs=100_000).read_text().replace("dense 16", "dense 2048")
    (tmp_path / "wide.net").write_text(p)
    ck = tmp_path / "run.ckpt"
    for delay in (0.0, 0.05, 0.13, 0.21):
        args = ["--save", ck] + (["--resume", ck] if ck.exists() else [])
        proc = start(tmp_path / "wide.net", *args)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=60)
        if not ck.exists():  # killed before its first save: nothing on disk, nothing corrupt
            continue
        r = netc("eval", tmp_path / "wide.net", "--weights", ck, "--json")
        assert r.returncode == 0, r.stderr  # the checkpoint on disk is always a whole one
        assert json.loads(r.stdout)["val_accuracy"] is not None
    # a temporary file a kill left behind is removed by the next run saving there
    clean(netc("run", tmp_path / "wide.net", "--resume", ck, "--save", ck, "--quiet",
               "--epochs", str(_epochs_done(ck) + 1)), 0)
    assert temporaries(tmp_path) == []


def _epochs_done(ck) -> int:
    with np.load(ck, allow_pickle=False) as z:
        return json.loads(z["meta"].tobytes())["position"]["epoch"]


def test_train_lints_are_documented_with_an_example_that_raises_them():
    import inspect

    from netc.compiler import train_lints
    codes = set(re.findall(r'_warn\("([a-z-]+)"', inspect.getsource(train_lints)))
    assert codes == {"clip-underflow", "penalty-overwhelms"}
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    for code in codes:
        section = doc.split(f"### `{code}`", 1)[1].split("\n### ", 1)[0]
        example = re.search(r"examples/lints/[\w.-]+\.net", section).group(0)
        r = clean(netc("check", ROOT / example), 0)
        assert f"[{code}]" in r.stdout + r.stderr
    assert (ROOT / "docs" / "safety.md").exists() and "docs/safety.md" in (ROOT / "README.md").read_text()
