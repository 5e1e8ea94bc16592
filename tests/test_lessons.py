"""Each example pair shows its lesson over several seeds, in the direction its comment claims and
with a margin (the single-seed course experiments are in test_stepper.py and test_landscape.py)."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import EXAMPLES


def _netc_json(*args):
    r = subprocess.run([sys.executable, "-m", "netc", *map(str, args), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return {v["label"]: v for v in json.loads(r.stdout)["variants"]}


def test_dropout_keeps_the_validation_loss_down(tmp_path):
    v = _netc_json("compare", EXAMPLES / "dropout.net", EXAMPLES / "no_dropout.net", "--seeds", "3",
                   "--log", tmp_path / "c")
    drop, plain = v["dropout.net"]["metrics"], v["no_dropout.net"]["metrics"]
    assert v["dropout.net"]["completed"] == v["no_dropout.net"]["completed"] == 3
    # without dropout the network memorizes: its final validation loss is far higher...
    assert plain["final_val_loss"]["mean"] > 1.3 * drop["final_val_loss"]["mean"]
    assert plain["final_val_loss"]["min"] > drop["final_val_loss"]["mean"]
    # ...while the best accuracy of the two is about the same (the comment says so too)
    assert abs(plain["best_val_accuracy"]["mean"] - drop["best_val_accuracy"]["mean"]) < 0.05


def test_a_learning_rate_that_kills_relus(tmp_path):
    v = _netc_json("sweep", EXAMPLES / "dead_relu.net", "--grid", "optimizer.lr=0.1,1.5", "--seeds", "3",
                   "--log", tmp_path / "s")
    dead, fine = v["optimizer.lr=1.5"]["metrics"], v["optimizer.lr=0.1"]["metrics"]
    assert dead["final_val_accuracy"]["max"] < 0.25  # chance is 10%
    assert fine["final_val_accuracy"]["min"] > 0.9


def test_mse_trains_on_class_labels():
    """The notes compare L2 and cross-entropy on the same classifier: mse takes class labels as
    one-hot targets."""
    r = subprocess.run([sys.executable, "-m", "netc", "run", EXAMPLES / "moons.net", "--set", "loss=mse",
                        "--epochs", "3", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    final = json.loads(r.stdout.splitlines()[-1])
    assert final["train_loss"] < 0.25  # below the 0.25 of predicting 1/2 everywhere: it learns
