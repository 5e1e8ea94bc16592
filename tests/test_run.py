"""`netc run` and `netc eval` end to end: output, JSON, overrides, reproducibility, checkpoints,
resume, Ctrl-C, and every bad input named with its file (and spec line) and exit status."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import EXAMPLES
from cli_runner import netc_cli

TINY = """data {{
    source {source}
    split 0.8
    standardize
}}
model m {{
    input {width}
    dense 16
    relu
    dense {out} init=xavier
}}
train {{
    loss {loss}
    optimizer adam lr=1e-2
    batch 16
    epochs {epochs}
    seed 0
}}
"""


def netc(*args, cwd=None, timeout=300):
    env = dict(os.environ, PYTHONWARNINGS="error::DeprecationWarning")
    return netc_cli(*args, cwd=cwd, timeout=timeout, env=env)


def spec(tmp_path, name="m.net", **kw):
    values = dict(source="digits", width=64, out=10, loss="cross_entropy", epochs=3)
    values.update(kw)
    p = tmp_path / name
    p.write_text(TINY.format(**values))
    return p


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_run_prints_a_table_and_a_summary(tmp_path):
    r = netc("run", spec(tmp_path))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "digits: 1797 examples (1438 train, 359 validation), 64 features, 10 classes" in out
    header = next(line for line in out.splitlines() if "train loss" in line)
    for col in ("epoch", "train loss", "train acc", "val loss", "val acc", "seconds"):
        assert col in header
    assert "best epoch:" in out and "final (epoch 3)" in out and "parameters: 1,210" in out
    assert "wall time" in out and "Traceback" not in r.stderr


def test_quiet_prints_only_the_summary(tmp_path):
    r = netc("run", spec(tmp_path), "--quiet")
    assert r.returncode == 0
    assert "train loss" not in r.stdout.splitlines()[0] and r.stdout.startswith("best epoch:")
    assert r.stderr == ""


def test_json_lines_schema(tmp_path):
    r = netc("run", spec(tmp_path), "--json")
    lines = json_lines(r.stdout)
    assert len(lines) == 4
    keys = {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}
    for i, rec in enumerate(lines[:3]):
        assert set(rec) == keys and rec["epoch"] == i + 1
        assert 0 <= rec["train_accuracy"] <= 1
    final = lines[-1]
    assert final["final"] is True and keys <= set(final) and "wall_seconds" in final


def test_json_regression_has_null_accuracy(tmp_path):
    r = netc("run", spec(tmp_path, source="diabetes", width=10, out=1, loss="mse"), "--json")
    lines = json_lines(r.stdout)
    assert all(rec["train_accuracy"] is None and rec["val_accuracy"] is None for rec in lines)


def test_same_file_and_seed_same_numbers_other_seed_differs(tmp_path):
    p = spec(tmp_path)
    a = json_lines(netc("run", p, "--json").stdout)
    b = json_lines(netc("run", p, "--json").stdout)
    c = json_lines(netc("run", p, "--json", "--seed", "1").stdout)
    strip = lambda rows: [{k: v for k, v in r.items() if "seconds" not in k} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_overrides(tmp_path):
    p = spec(tmp_path)
    r = netc("run", p, "--json", "--epochs", "2", "--set", "optimizer.lr=0.001", "--set", "batch=128",
             "--set", "split=0.9")
    assert r.returncode == 0, r.stderr
    assert len(json_lines(r.stdout)) == 3
    r = netc("run", p, "--set", "split=0.9", "--epochs", "1")
    assert "(1617 train, 180 validation)" in r.stdout


@pytest.mark.parametrize("setting,fragment", [
    ("optimizer.lrr=0.1", "unknown setting 'optimizer.lrr'"),
    ("optimizer.lr=0", "lr must be a number > 0"),
    ("batch=-3", "batch: size must be an integer >= 1"),
    ("nonsense", "needs KEY=VALUE"),
    ("split=abc", "fraction must be a number"),
])
def test_bad_override(tmp_path, setting, fragment):
    r = netc("run", spec(tmp_path), "--set", setting)
    assert r.returncode == 2 and fragment in r.stderr and "Traceback" not in r.stderr


def test_save_resume_equals_one_go(tmp_path):
    p = spec(tmp_path, epochs=4)
    one, half = tmp_path / "one.ckpt", tmp_path / "half.ckpt"
    assert netc("run", p, "--dtype", "float64", "--save", one, "--quiet").returncode == 0
    assert netc("run", p, "--dtype", "float64", "--epochs", "2", "--save", half, "--quiet").returncode == 0
    r = netc("run", p, "--dtype", "float64", "--epochs", "4", "--resume", half, "--save", half, "--json")
    assert r.returncode == 0, r.stderr
    a, b = np.load(one), np.load(half)
    weights = [k for k in a.files if k.startswith("model/")]
    assert weights
    for k in weights:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-12, err_msg=k)
    lines = json_lines(r.stdout)
    assert [x["epoch"] for x in lines[:-1]] == [1, 2, 3, 4]  # the history comes along


def test_resume_with_changed_spec_is_an_error(tmp_path):
    p = spec(tmp_path, epochs=1)
    ck = tmp_path / "c.ckpt"
    assert netc("run", p, "--save", ck, "--quiet").returncode == 0
    p.write_text(p.read_text().replace("dense 16", "dense 17"))
    r = netc("run", p, "--resume", ck)
    assert r.returncode == 2 and "different version of the spec" in r.stderr and "Traceback" not in r.stderr


def test_comments_and_layout_do_not_orphan_a_checkpoint(tmp_path):
    """A note added to the file, blank lines, other indentation or CRLF line endings leave the
    statements as they were: eval and --resume still take the checkpoint; a changed number does
    not."""
    p = spec(tmp_path, epochs=1)
    ck = tmp_path / "c.ckpt"
    assert netc("run", p, "--save", ck, "--quiet").returncode == 0
    text = p.read_text()
    noted = "# my notes on this run\n" + text.replace("dense 16", "dense   16   # wider?\n\n")
    p.write_bytes(noted.replace("\n", "\r\n").encode())
    r = netc("eval", p, "--weights", ck)
    assert r.returncode == 0, r.stderr
    assert netc("run", p, "--resume", ck, "--epochs", "2", "--quiet").returncode == 0
    p.write_text(text.replace("lr=", "lr=1").replace("dense 16", "dense 16"))
    r = netc("eval", p, "--weights", ck)
    assert r.returncode == 2 and "different version of the spec" in r.stderr


def test_a_checkpoint_hashed_from_the_exact_text_still_loads(tmp_path):
    """Checkpoints written before the hash ignored comments carry the text's own hash."""
    import zipfile

    from netc.runtime import checkpoint
    p = spec(tmp_path, epochs=1)
    ck = tmp_path / "c.ckpt"
    assert netc("run", p, "--save", ck, "--quiet").returncode == 0
    old = tmp_path / "old.ckpt"
    with zipfile.ZipFile(ck) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith(checkpoint.META):
                data = data.replace(checkpoint.spec_hash(p.read_text()).encode(),
                                    checkpoint._legacy_spec_hash(p.read_text()).encode())
                assert checkpoint._legacy_spec_hash(p.read_text()).encode() in data
            dst.writestr(item, data)
    r = netc("eval", p, "--weights", old)
    assert r.returncode == 0, r.stderr


def test_resume_missing_or_corrupt_checkpoint(tmp_path):
    p = spec(tmp_path, epochs=1)
    r = netc("run", p, "--resume", tmp_path / "nope.ckpt")
    assert r.returncode == 2 and "no such checkpoint" in r.stderr
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a zip")
    r = netc("run", p, "--resume", bad)
    assert r.returncode == 2 and "not a netc checkpoint: it is not a zip archive" in r.stderr
    assert "hint: a checkpoint is the file netc run --save CKPT writes" in r.stderr


def test_truncated_checkpoint_says_so_with_a_hint(tmp_path):
    p = spec(tmp_path, epochs=1)
    ck = tmp_path / "c.ckpt"
    assert netc("run", p, "--save", ck, "--quiet").returncode == 0
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(ck.read_bytes()[:len(ck.read_bytes()) // 2])  # a copy that stopped half-way
    for command in (("run", p, "--resume", cut), ("eval", p, "--weights", cut)):
        r = netc(*command)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"netc: error: {cut}: not a netc checkpoint: it is truncated or damaged" in r.stderr
        assert "Error" not in r.stderr  # no Python exception's name (BadZipFile)
        assert "hint: it was probably cut short" in r.stderr


def test_ctrl_c_stops_cleanly_and_saves(tmp_path):
    p = spec(tmp_path, epochs=3)
    ck = tmp_path / "int.ckpt"
    proc = subprocess.Popen([sys.executable, "-m", "netc", "run", str(p), "--save", str(ck), "--epochs", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not ck.exists() and time.time() < deadline:  # wait for the first epoch's checkpoint
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted at epoch" in err and "--resume" in err
    # the command it suggests saves what it trains (--save) and asks for the run's own --epochs
    assert f"(continue with: netc run {p} --resume {ck} --save {ck} --epochs 100000)" in err
    with np.load(ck) as z:  # a complete, readable checkpoint
        assert any(k.startswith("model/") for k in z.files)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_ctrl_c_with_json_still_ends_with_a_final_record(tmp_path):
    p = spec(tmp_path, epochs=100000)
    proc = subprocess.Popen([sys.executable, "-m", "netc", "run", str(p), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # the first epoch's record
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and json.loads(first)["epoch"] == 1
    final = json_lines(out)[-1]
    assert final["final"] is True and final["interrupted"] is True


def test_eval_prints_metrics_of_saved_weights(tmp_path):
    p = spec(tmp_path, epochs=3)
    ck = tmp_path / "w.ckpt"
    run = json_lines(netc("run", p, "--save", ck, "--json").stdout)
    r = netc("eval", p, "--weights", ck, "--json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert metrics["val_accuracy"] == pytest.approx(run[-1]["val_accuracy"], abs=1e-6)
    r = netc("eval", p, "--weights", ck)
    assert "validation" in r.stdout and "accuracy" in r.stdout


def test_digits_example_reaches_97_percent():
    r = netc("run", EXAMPLES / "digits.net", "--json")
    assert r.returncode == 0, r.stderr
    assert json_lines(r.stdout)[-1]["val_accuracy"] >= 0.97


def test_run_does_not_import_textual():
    code = ("import sys; from netc.cli import main; main(['run', %r, '--epochs', '1', '--quiet']); "
            "print('textual' in sys.modules)") % str(EXAMPLES / "digits.net")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip().endswith("False")


# --- bad data and failing runs ------------------------------------------------------------------

def write_csv(path, rows):
    path.write_text("\n".join(",".join(str(v) for v in row) for row in rows) + "\n")


def test_data_width_mismatch(tmp_path):
    r = netc("run", spec(tmp_path, width=30))
    assert r.returncode == 2
    assert "m.net:7:5: error:" in r.stderr and "64 features" in r.stderr


def test_labels_out_of_range(tmp_path):
    p = tmp_path / "d.csv"
    write_csv(p, [[0.1 * i, 0.2 * i, i % 5] for i in range(40)])
    s = spec(tmp_path, source='"d.csv"', width=2, out=3)
    r = netc("run", s)
    assert r.returncode == 2 and "labels" in r.stderr and "d.csv" in r.stderr and "m.net:10:5" in r.stderr


def test_non_numeric_cell(tmp_path):
    p = tmp_path / "d.csv"
    rows = [[0.1 * i, 0.2 * i, i % 2] for i in range(20)]
    rows[7][1] = "abc"
    write_csv(p, rows)
    r = netc("run", spec(tmp_path, source='"d.csv"', width=2, out=2))
    assert r.returncode == 2 and "d.csv" in r.stderr and "line 8" in r.stderr and "Traceback" not in r.stderr


def test_nan_in_inputs(tmp_path):
    x = np.random.default_rng(0).normal(size=(30, 2))
    x[4, 1] = np.nan
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(30) % 2)
    r = netc("run", spec(tmp_path, source='"d.npz"', width=2, out=2))
    assert r.returncode == 2 and "d.npz" in r.stderr and ("NaN" in r.stderr or "nan" in r.stderr)


@pytest.mark.parametrize("content", [None, b""])
def test_missing_or_empty_data_file(tmp_path, content):
    if content is not None:
        (tmp_path / "d.csv").write_bytes(content)
    r = netc("run", spec(tmp_path, source='"d.csv"', width=2, out=2))
    assert r.returncode == 2 and "d.csv" in r.stderr and "m.net:2:12" in r.stderr


def test_batch_larger_than_training_split(tmp_path):
    r = netc("run", spec(tmp_path), "--set", "batch=5000")
    assert r.returncode == 2 and "larger than the training split (1438 examples)" in r.stderr


def test_diverging_run_names_the_node_and_exits_1(tmp_path):
    p = spec(tmp_path, source="diabetes", width=10, out=1, loss="mse", epochs=50)
    p.write_text(p.read_text().replace("    standardize\n", "").replace("adam lr=1e-2", "sgd lr=10"))
    r = netc("run", p)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the loss became" in r.stderr and "first non-finite value came from" in r.stderr
    assert "m.net:" in r.stderr and "Traceback" not in r.stderr


def test_no_data_section(tmp_path):
    p = tmp_path / "nodata.net"
    p.write_text("model m {\n    input 3\n    dense 2\n}\n")
    r = netc("run", p)
    assert r.returncode == 2 and "no data section" in r.stderr


def test_set_loss_changes_the_loss(tmp_path):
    p = spec(tmp_path, epochs=1)
    a = json_lines(netc("run", p, "--json").stdout)[-1]
    b = json_lines(netc("run", p, "--json", "--set", "loss=hinge").stdout)[-1]
    assert a["train_loss"] != b["train_loss"]


def test_set_can_add_clipping_and_a_schedule(tmp_path):
    r = netc("run", spec(tmp_path, epochs=1), "--quiet", "--set", "clip.limit=1", "--set", "schedule=exponential",
             "--set", "schedule.gamma=0.5")
    assert r.returncode == 0, r.stderr
    r = netc("run", spec(tmp_path, epochs=1), "--set", "schedule=exponential")
    assert r.returncode == 2 and "needs gamma" in r.stderr


def test_run_shows_data_aware_lints():
    r = netc("run", EXAMPLES / "lints" / "feature_scale.net", "--epochs", "1")
    assert "[feature-scale]" in r.stderr


def test_windows_style_path_is_read_literally(tmp_path):
    p = tmp_path / "w.net"
    p.write_text('data {\n    source "C:\\\\new\\x.csv"\n}\nmodel m {\n    input 2\n    dense 2\n}\n')
    r = netc("check", p)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "x.csv" in r.stderr


@pytest.mark.parametrize("where,fragment", [
    ("spec", "would overwrite the .net file itself"),
    ("dir", "is a directory"),
    ("under_file", "is not a directory"),
])
def test_bad_save_paths_are_refused_before_training(tmp_path, where, fragment):
    p = spec(tmp_path, epochs=1)
    target = {"spec": p, "dir": tmp_path, "under_file": p / "x.ckpt"}[where]
    r = netc("run", p, "--save", target)
    assert r.returncode == 2 and fragment in r.stderr and "Traceback" not in r.stderr
    assert p.read_text().startswith("data {")  # the spec is intact


@pytest.mark.parametrize("labels,fragment", [
    ([-1, 1], "class labels count from 0"),
    ([0.0, 1.0], "written as floats"),
])
def test_label_mistakes_are_named(tmp_path, labels, fragment):
    x = np.random.default_rng(0).normal(size=(40, 2))
    y = np.array([labels[i % 2] for i in range(40)])
    np.savez(tmp_path / "d.npz", x=x, y=y)
    r = netc("run", spec(tmp_path, source='"d.npz"', width=2, out=2, loss="hinge"))
    assert r.returncode == 2 and fragment in r.stderr


def test_one_hot_labels_are_named(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 2))
    np.savez(tmp_path / "d.npz", x=x, y=np.eye(2, dtype=int)[np.arange(40) % 2])
    r = netc("run", spec(tmp_path, source='"d.npz"', width=2, out=2))
    assert r.returncode == 2 and "argmax" in r.stderr


def test_early_stopped_run_resumes_from_its_last_epoch_and_evaluates_its_best(tmp_path):
    p = spec(tmp_path, epochs=6)
    p.write_text(p.read_text().replace("    seed 0\n", "    seed 0\n    early_stop patience=100\n"))
    one, half = tmp_path / "one.ckpt", tmp_path / "half.ckpt"
    full = json_lines(netc("run", p, "--dtype", "float64", "--save", one, "--json").stdout)
    assert netc("run", p, "--dtype", "float64", "--epochs", "3", "--save", half, "--quiet").returncode == 0
    assert netc("run", p, "--dtype", "float64", "--resume", half, "--save", half, "--quiet").returncode == 0
    a, b = np.load(one), np.load(half)
    for k in (k for k in a.files if k.startswith(("model/", "best/"))):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-12, err_msg=k)
    best = min(full[:-1], key=lambda r: r["val_loss"])
    metrics = json.loads(netc("eval", p, "--weights", one, "--json", "--dtype", "float64").stdout)
    assert metrics["val_loss"] == pytest.approx(best["val_loss"], rel=1e-9)


def test_a_loss_that_overflows_itself_points_at_the_loss_statement(tmp_path):
    p = tmp_path / "div.net"
    p.write_text("data { source diabetes; standardize }\nmodel m {\n    input 10\n    dense 1\n}\n"
                 "train {\n    loss mse\n    optimizer sgd lr=100\n}\n")
    r = netc("run", p, "--quiet")
    assert r.returncode == 1 and f"{p}:7:5: error: the loss became" in r.stderr
    assert "standardize" not in r.stderr.split("hint:")[-1]
