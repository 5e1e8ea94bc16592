"""Run records, `netc runs`, `netc compare` and `netc sweep` (tables, JSON, reproducibility, a
diverging run, Ctrl-C), figures and TensorBoard events: end to end through the command line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require
from netc.experiments import aggregate, records
from cli_runner import netc_cli

MOONS = """data {{
    source moons n=200 noise=0.2
    split 0.75
    standardize
}}
model m {{
    input 2
    dense {width}
    relu
    dense 2 init=xavier
}}
train {{
    loss cross_entropy
    optimizer sgd lr={lr}
    batch 16
    epochs {epochs}
    seed 0
}}
"""


def netc(*args, cwd=None, timeout=300, **kw):
    return netc_cli(*args, cwd=cwd, timeout=timeout, **kw)


def spec(tmp_path, name="m.net", width=8, lr=0.1, epochs=3):
    p = tmp_path / name
    p.write_text(MOONS.format(width=width, lr=lr, epochs=epochs))
    return p


def test_run_record_round_trips(tmp_path):
    f = spec(tmp_path)
    r = netc("run", f, "--json", "--log", tmp_path / "rec", "--set", "optimizer.lr=0.05")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    rec = records.read(tmp_path / "rec")
    assert rec.status == "completed"
    assert rec.meta["seed"] == 0 and rec.meta["engine"] == "numpy" and rec.meta["data"] == "moons"
    assert rec.meta["spec_hash"] == records.spec_hash(f.read_text())
    assert rec.meta["overrides"] == ["optimizer.lr=0.05"]
    assert (tmp_path / "rec" / "spec.net").read_text() == f.read_text()
    assert rec.settings["train"]["optimizer"]["lr"] == 0.05  # the resolved settings, after --set
    epochs = [x for x in lines if not x.get("final")]
    assert [e["epoch"] for e in rec.epochs] == [1, 2, 3]
    for mine, printed in zip(rec.epochs, epochs):
        for k in ("train_loss", "val_loss", "val_accuracy"):
            assert mine[k] == pytest.approx(printed[k])
    assert rec.summary["best_epoch"] == lines[-1]["best_epoch"] == rec.best_epoch()


def test_run_log_default_folder_and_runs_listing(tmp_path):
    f = spec(tmp_path)
    r = netc("run", f, "--quiet", "--log", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    made = list((tmp_path / "runs").iterdir())
    assert len(made) == 1 and made[0].name.startswith("m-")
    assert f"run record: runs/{made[0].name}" in r.stdout
    r = netc("runs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert made[0].name in r.stdout and "completed" in r.stdout and "m.net" in r.stdout


def test_run_log_refuses_a_foreign_folder_before_training(tmp_path):
    f = spec(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    r = netc("run", f, "--log", tmp_path / "mine")
    assert r.returncode == 2
    assert "not empty and holds no run record" in r.stderr and r.stdout == ""
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def _compare_json(tmp_path, out, *files, seeds="2", extra=()):
    r = netc("compare", *files, "--seeds", seeds, "--jobs", "2", "--json", "--log", tmp_path / out, *extra)
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


def test_compare_tables_seeds_and_a_diverging_run(tmp_path):
    a = spec(tmp_path, "narrow.net", width=4)
    b = spec(tmp_path, "wide.net", width=32)
    bad = spec(tmp_path, "diverges.net", lr=1e30)  # SGD at 1e30 overflows to a non-finite loss
    r = netc("compare", a, b, bad, "--seeds", "2", "--jobs", "2", "--log", tmp_path / "cmp")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for title in ("final validation loss", "best validation accuracy", "epochs to best", "time (s)"):
        assert title in out
    assert "narrow.net" in out and "wide.net" in out
    assert "diverges.net" in out and "0/2" in out  # its row: no run completed
    assert "diverges.net, seed 0: diverged or failed" in out
    # the other variants finished all their runs
    assert out.count("2/2") >= 2 * 6
    recs = records.find([tmp_path / "cmp"])
    assert len(recs) == 6
    assert {r.status for r in recs if r.label == "diverges.net"} == {"failed"}
    assert all(r.status == "completed" for r in recs if r.label != "diverges.net")


def test_compare_is_reproducible_and_json(tmp_path):
    a = spec(tmp_path, "a.net", width=4)
    b = spec(tmp_path, "b.net", width=16)
    r1, j1 = _compare_json(tmp_path, "one", a, b)
    r2, j2 = _compare_json(tmp_path, "two", a, b)
    assert r1.returncode == 0 and r2.returncode == 0, r1.stderr + r2.stderr
    assert [v["label"] for v in j1["variants"]] == ["a.net", "b.net"]
    assert j1["variants"][0]["seeds"] == [0, 1]

    def strip(j):
        return [{k: {m: s for m, s in v["metrics"].items() if m != "seconds"} if k == "metrics" else v[k]
                 for k in ("label", "seeds", "completed", "metrics")} for v in j["variants"]]
    assert strip(j1) == strip(j2)
    # the two seeds of one file differ (they really are different runs)
    vals = j1["variants"][0]["metrics"]["final_val_loss"]["values"]
    assert len(vals) == 2 and vals[0] != vals[1]
    # comparing the records again, without training, gives the same numbers
    r3 = netc("compare", tmp_path / "one", "--json")
    assert r3.returncode == 0, r3.stderr
    assert strip(json.loads(r3.stdout)) == strip(j1)


def test_compare_of_records_from_different_data_warns(tmp_path):
    a = spec(tmp_path)
    digits = tmp_path / "d.net"
    digits.write_text(MOONS.format(width=4, lr=0.1, epochs=1).replace("source moons n=200 noise=0.2", "source digits")
                      .replace("input 2", "input 64").replace("dense 2 init", "dense 10 init"))
    assert netc("run", a, "--quiet", "--log", tmp_path / "r1").returncode == 0
    r = netc("run", digits, "--quiet", "--log", tmp_path / "r2")
    assert r.returncode == 0, r.stderr
    r = netc("compare", tmp_path / "r1", tmp_path / "r2")
    assert r.returncode == 0, r.stderr
    assert "different data sets (digits, moons)" in r.stderr


def test_compare_stops_before_training_on_any_bad_file(tmp_path):
    good = spec(tmp_path, "good.net")
    bad1 = tmp_path / "bad1.net"
    bad1.write_text(MOONS.format(width=8, lr=0.1, epochs=2).replace("dense 8", "dense 8 intt=he"))
    bad2 = tmp_path / "bad2.net"
    bad2.write_text(MOONS.format(width=8, lr=0.1, epochs=2).replace("relu", "rleu"))
    r = netc("compare", good, bad1, bad2, "--seeds", "2", "--log", tmp_path / "out")
    assert r.returncode == 2
    assert "bad1.net:8:13: error: unknown parameter 'intt'" in r.stderr
    assert "bad2.net:9:5: error: unknown model statement 'rleu'" in r.stderr  # every file's errors, not only the first file's
    assert not (tmp_path / "out").exists()


def test_compare_ctrl_c_keeps_what_finished(tmp_path):
    quick = spec(tmp_path, "quick.net", epochs=1)
    slow = spec(tmp_path, "slow.net", width=256, epochs=100000)
    p = subprocess.Popen([sys.executable, "-m", "netc", "compare", quick, slow, "--seeds", "1", "--jobs", "2",
                          "--log", tmp_path / "cmp"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    done = tmp_path / "cmp" / "01-quick.net" / "seed0" / "summary.json"
    started = tmp_path / "cmp" / "02-slow.net" / "seed0" / "metrics.jsonl"
    while not (done.exists() and started.exists()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert done.exists() and started.exists(), "the runs did not start"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted: the table shows the runs that finished" in err
    assert "quick.net" in out and "1/1" in out
    assert "slow.net, seed 0: interrupted after" in out
    assert records.read(done.parent).status == "completed"
    assert records.read(started.parent).status == "interrupted"


def test_sweep_ranks_best_first_and_checks_keys(tmp_path):
    f = spec(tmp_path, epochs=4)
    r = netc("sweep", f, "--grid", "optimizer.lr=1e-4,0.3", "--seeds", "2", "--json", "--log", tmp_path / "sw")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    labels = [v["label"] for v in j["variants"]]
    assert labels == ["optimizer.lr=0.3", "optimizer.lr=1e-4"]  # 1e-4 barely learns in 4 epochs
    best = [v["metrics"]["best_val_accuracy"]["mean"] for v in j["variants"]]
    assert best[0] > best[1]
    r = netc("sweep", f, "--grid", "optimizer.lrr=1,2", "--log", tmp_path / "sw2")
    assert r.returncode == 2
    assert "did you mean 'optimizer.lr'" in r.stderr
    assert not (tmp_path / "sw2").exists()


def test_sweep_names_a_bad_grid_key_as_grid_once(tmp_path):
    f = spec(tmp_path)
    r = netc("sweep", f, "--grid", "optimizer.lrr=1e-3,1e-2,0.1", "--grid", "batch=16,32", "--log", tmp_path / "sw")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("netc: error: --grid: unknown setting 'optimizer.lrr'") == 1, r.stderr
    assert "--set" not in r.stderr and "did you mean 'optimizer.lr'" in r.stderr
    # a --set given beside the grid is still named --set
    r = netc("sweep", f, "--set", "batchh=3", "--grid", "optimizer.lr=1e-3,1e-2", "--log", tmp_path / "sw")
    assert r.returncode == 2 and r.stderr.count("netc: error: --set: unknown setting 'batchh'") == 1, r.stderr


def test_one_run_has_no_spread(tmp_path):
    assert netc("run", spec(tmp_path), "--quiet", "--log", tmp_path / "r1").returncode == 0
    r = netc("compare", tmp_path / "r1")
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if "±" in line and "mean ± std" not in line]
    assert rows and all("± n/a" in line for line in rows), r.stdout
    assert "± 0" not in r.stdout


def test_aggregate_statistics():
    recs = []
    for seed, accs in ((0, [0.5, 0.9, 0.8]), (1, [0.6, 0.7, 0.95])):
        epochs = tuple({"epoch": i + 1, "train_loss": 1.0, "train_accuracy": a, "val_loss": 1 - a,
                        "val_accuracy": a, "seconds": 0.1} for i, a in enumerate(accs))
        recs.append(records.Record(Path("."), {"label": "x", "seed": seed}, {}, epochs,
                                   {"status": "completed", "wall_seconds": 1.0}))
    (v,) = aggregate.group(recs)
    best = v.metrics["best_val_accuracy"]
    assert best.values == (0.9, 0.95) and best.mean == pytest.approx(0.925)
    assert best.std == pytest.approx(0.0353553, rel=1e-5)  # sample standard deviation
    assert v.metrics["epochs_to_best"].values == (2.0, 3.0)
    assert v.metrics["final_val_loss"].values == pytest.approx((0.2, 0.05))


def _png_size(path: Path) -> tuple[int, int]:
    import matplotlib.image
    img = matplotlib.image.imread(path)  # decodes: a truncated or empty file raises
    return img.shape[1], img.shape[0]


def test_figures(tmp_path):
    require("matplotlib")
    f = spec(tmp_path, epochs=3)
    r = netc("run", f, "--quiet", "--plot", tmp_path / "boundary.png")
    assert r.returncode == 0, r.stderr
    w, h = _png_size(tmp_path / "boundary.png")
    assert w > 600 and h > 300
    r = netc("compare", f, spec(tmp_path, "w.net", width=32), "--seeds", "2", "--log", tmp_path / "c",
             "--plot", tmp_path / "curves.svg")
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "curves.svg").read_text()
    assert svg.startswith("<?xml") and "</svg>" in svg and svg.count("<path") > 8
    r = netc("stats", f, "--plot", tmp_path / "layers.png")
    assert r.returncode == 0, r.stderr
    w, h = _png_size(tmp_path / "layers.png")
    assert w > 600 and h > 200


def test_figure_paths_checked_before_training(tmp_path):
    f = spec(tmp_path)
    r = netc("run", f, "--plot", tmp_path / "missing" / "x.png")
    assert r.returncode == 2 and "does not exist" in r.stderr and r.stdout == ""
    assert f"hint: create it first (mkdir -p {tmp_path / 'missing'})" in r.stderr
    r = netc("run", f, "--plot", tmp_path / "x.gif")
    assert r.returncode == 2 and "unknown figure format" in r.stderr


def test_missing_matplotlib_names_the_extra(tmp_path):
    f = spec(tmp_path)
    block = tmp_path / "block"
    block.mkdir()
    (block / "matplotlib").mkdir()
    (block / "matplotlib" / "__init__.py").write_text("raise ImportError('blocked for the test')")
    env = dict(os.environ, PYTHONPATH=str(block))
    r = netc("run", f, "--plot", tmp_path / "x.png", env=env)
    assert r.returncode == 2
    assert "pip install 'netc[plot]'" in r.stderr


def test_tensorboard_events_read_back(tmp_path):
    require("tensorboardX")
    ea_mod = require("tensorboard.backend.event_processing.event_accumulator")
    f = spec(tmp_path, epochs=4)
    r = netc("run", f, "--quiet", "--tensorboard", tmp_path / "tb", "--histogram-every", "2")
    assert r.returncode == 0, r.stderr
    acc = ea_mod.EventAccumulator(str(tmp_path / "tb"), size_guidance={"histograms": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"loss/train", "loss/validation", "accuracy/validation", "learning_rate"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("loss/train")] == [1, 2, 3, 4]
    hist = set(tags["histograms"])
    assert {"activations/relu1", "output_gradients/dense1", "weights/dense1.W", "weight_gradients/dense2.b"} <= hist
    assert [e.step for e in acc.Histograms("weights/dense1.W")] == [1, 2, 4]
    rec = json.loads(netc("run", f, "--json", "--epochs", "4").stdout.splitlines()[-1])
    assert acc.Scalars("loss/train")[-1].value == pytest.approx(rec["train_loss"], rel=1e-5)


def test_epochs_to_best_is_the_best_epoch_the_run_reported():
    """netc run's best epoch is early_stop's metric (validation loss by default); compare and
    runs count the same epoch, not the best accuracy's (epoch 2 here); a run killed before its
    summary falls back to the best validation accuracy."""
    from pathlib import Path
    rows = ({"epoch": 1, "val_loss": 0.50, "val_accuracy": 0.80},
            {"epoch": 2, "val_loss": 0.40, "val_accuracy": 0.90},
            {"epoch": 3, "val_loss": 0.35, "val_accuracy": 0.85})
    done = records.Record(Path("r"), {}, {}, rows, {"status": "completed", "best_epoch": 3})
    assert done.best_epoch() == 3
    killed = records.Record(Path("r"), {}, {}, rows, {})
    assert killed.best_epoch() == 2
