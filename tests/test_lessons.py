"""Each example pair shows its lesson over several seeds, in the direction its comment claims and
with a margin (the single-seed course experiments are in test_stepper.py and test_landscape.py)."""
from __future__ import annotations

import json

from conftest import EXAMPLES
from cli_runner import netc_cli


def _netc_json(*args):
    r = netc_cli(*args, "--json")
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


def test_batchnorm_regularizes_a_wide_net_on_few_points(tmp_path):
    """bn_regularizes.net is no_dropout.net with a batchnorm after each hidden dense: the batch
    statistics' noise keeps it from memorizing 100 noisy points."""
    v = _netc_json("compare", EXAMPLES / "bn_regularizes.net", EXAMPLES / "no_dropout.net", "--seeds", "3",
                   "--log", tmp_path / "c")
    bn, plain = v["bn_regularizes.net"]["metrics"], v["no_dropout.net"]["metrics"]
    assert v["bn_regularizes.net"]["completed"] == v["no_dropout.net"]["completed"] == 3
    assert plain["final_val_loss"]["mean"] > 2.0 * bn["final_val_loss"]["mean"]
    assert plain["final_val_loss"]["min"] > bn["final_val_loss"]["max"]  # every seed, no overlap
    assert abs(plain["best_val_accuracy"]["mean"] - bn["best_val_accuracy"]["mean"]) < 0.05


def test_standardized_inputs_reach_a_lower_validation_mse_split_by_split(tmp_path):
    """The standardization pair: a modest effect, smaller than the spread across splits, so it is
    checked seed by seed (each seed is one split, the same for both files)."""
    v = _netc_json("compare", EXAMPLES / "diabetes.net", EXAMPLES / "diabetes_raw.net", "--seeds", "5",
                   "--log", tmp_path / "c")
    std = v["diabetes.net"]["metrics"]["best_val_loss"]["values"]
    raw = v["diabetes_raw.net"]["metrics"]["best_val_loss"]["values"]
    assert len(std) == len(raw) == 5
    assert sum(s < r for s, r in zip(std, raw)) >= 4
    assert sum(std) < 0.95 * sum(raw)


def test_a_learning_rate_that_kills_relus(tmp_path):
    v = _netc_json("sweep", EXAMPLES / "dead_relu.net", "--grid", "optimizer.lr=0.1,1.5", "--seeds", "3",
                   "--log", tmp_path / "s")
    dead, fine = v["optimizer.lr=1.5"]["metrics"], v["optimizer.lr=0.1"]["metrics"]
    assert dead["final_val_accuracy"]["max"] < 0.25  # chance is 10%
    assert fine["final_val_accuracy"]["min"] > 0.9


def test_mse_trains_on_class_labels():
    """The notes compare L2 and cross-entropy on the same classifier: mse takes class labels as
    one-hot targets."""
    r = netc_cli("run", EXAMPLES / "moons.net", "--set", "loss=mse", "--epochs", "3", "--json")
    assert r.returncode == 0, r.stderr
    final = json.loads(r.stdout.splitlines()[-1])
    assert final["train_loss"] < 0.25  # below the 0.25 of predicting 1/2 everywhere: it learns
