"""Data hints (issue 16), each on a crafted file the test writes: 1-based labels (and `labels
one_based`), the label column named in netc check's summary, a label column that is plainly not a
label, netc check running the same data checks as netc run, string labels mapped to classes
(kept in the checkpoint, used by netc eval), `standardize target` (the losses in standardized
units, the mse in the target's own, the statistics in the checkpoint) and the hints for an unscaled
target in the thousands (the target-scale lint, a diverging run)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import netc
from cli_runner import netc_cli
from conftest import require
from netc.runtime import checkpoint

SPEC = """data {{
    source "{csv}"{extra}
}}
model m {{
    input 2
    dense 8
    relu
    dense {out}
}}
train {{
    loss {loss}
    optimizer adam lr=1e-2
    batch 16
    epochs 3
    seed 0
}}
"""


def write_csv(path, labels, header="x1,x2,species", seed=0):
    rng = np.random.default_rng(seed)
    rows = [header] if header else []
    for lab in labels:
        a, b = rng.normal(size=2)
        rows.append(f"{a:.4f},{b:.4f},{lab}")
    path.write_text("\n".join(rows) + "\n")
    return path


def write_spec(tmp_path, csv, out=3, loss="cross_entropy", extra="", name="m.net"):
    p = tmp_path / name
    p.write_text(SPEC.format(csv=csv.name, out=out, loss=loss, extra=extra))
    return p


def both(path, *more):
    """netc check and netc run on the same file: (check result, run result)."""
    return netc_cli("check", path, *more), netc_cli("run", path, "--quiet", *more)


# --- 1-based labels -------------------------------------------------------------------------------

def test_one_based_labels_are_recognised_and_shifted_by_labels_one_based(tmp_path):
    csv = write_csv(tmp_path / "one.csv", [1, 2, 3] * 20)
    p = write_spec(tmp_path, csv)
    for r in both(p):
        assert r.returncode == 2, r.stdout
        assert "go from 1 to 3, but cross_entropy needs labels in 0..2 for an output 3 wide: they look " \
               "1-based (1..K)" in r.stderr
        assert "hint: add 'labels one_based' to the data section" in r.stderr
        assert "end the model with dense 4" not in r.stderr  # the old, wrong advice
    fixed = write_spec(tmp_path, csv, extra="\n    labels one_based", name="fixed.net")
    check, run = both(fixed)
    assert check.returncode == 0 and run.returncode == 0, check.stderr + run.stderr
    assert "1-based in the file, shifted to 0..K-1 (labels one_based)" in check.stdout
    assert "3 classes found" in check.stdout
    ds = netc.load(fixed).dataset
    assert sorted(set(ds.y_train.tolist()) | set(ds.y_val.tolist())) == [0, 1, 2]
    # the same from the command line
    assert netc_cli("run", p, "--quiet", "--set", "labels=one_based").returncode == 0


def test_one_based_bce_labels(tmp_path):
    csv = write_csv(tmp_path / "b.csv", [1, 2] * 20)
    r = netc_cli("check", write_spec(tmp_path, csv, out=1, loss="bce"))
    assert r.returncode == 2 and "they look 1-based" in r.stderr


def test_labels_one_based_refuses_labels_that_start_at_zero(tmp_path):
    csv = write_csv(tmp_path / "zero.csv", [0, 1, 2] * 10)
    p = write_spec(tmp_path, csv, extra="\n    labels one_based")
    for r in both(p):
        assert r.returncode == 2
        assert "labels one_based: the labels of zero.csv include 0" in r.stderr
        assert f"{p}:3:5:" in r.stderr  # located at the labels statement
        assert "remove labels one_based" in r.stderr


def test_labels_statement_is_checked_against_the_schema(tmp_path):
    csv = write_csv(tmp_path / "one.csv", [1, 2, 3] * 10)
    r = netc_cli("check", write_spec(tmp_path, csv, extra="\n    labels one_base"))
    assert r.returncode == 2 and "did you mean 'one_based'?" in r.stderr


# --- the label column in netc check's summary -----------------------------------------------------

def test_check_summary_names_the_default_label_column_and_the_classes(tmp_path):
    csv = write_csv(tmp_path / "c.csv", [0, 1, 2] * 10)
    r = netc_cli("check", write_spec(tmp_path, csv))
    assert r.returncode == 0, r.stderr
    assert "labels: column 3 ('species'), the last column (label=last, the default); 3 classes found" in r.stdout
    csv = write_csv(tmp_path / "n.csv", [0, 1, 2] * 10, header=None)
    r = netc_cli("check", write_spec(tmp_path, csv, name="n.net"))
    assert "labels: column 3, the last column (label=last, the default); 3 classes found" in r.stdout


# --- a label column that is not a label -----------------------------------------------------------

def test_an_id_column_as_label_is_flagged(tmp_path):
    csv = write_csv(tmp_path / "ids.csv", range(300), header="x1,x2,id")
    r3, run3 = both(write_spec(tmp_path, csv, out=3))
    for r in (r3, run3):
        assert r.returncode == 2
        assert "300 distinct values over 300 examples, which is not a class label" in r.stderr
        assert "is this column the label?" in r.stderr and "label=NAME" in r.stderr
        assert "end the model with dense 300" not in r.stderr
    wide = write_spec(tmp_path, csv, out=300, name="wide.net")
    r = netc_cli("check", wide)
    assert r.returncode == 0
    assert "[label-column]" in r.stdout and "most examples are a class of their own" in r.stdout


def test_a_real_valued_label_column_with_a_classification_loss(tmp_path):
    csv = write_csv(tmp_path / "price.csv", [f"{v:.2f}" for v in np.linspace(10, 99, 40)], header="x1,x2,price")
    for r in both(write_spec(tmp_path, csv)):
        assert r.returncode == 2
        assert "the labels of price.csv (the label is column 3 ('price'), the last column (label=last, " \
               "the default)) are real numbers, not whole ones" in r.stderr
        assert "use loss mse for a regression target; label=NAME in the source statement picks another column" in r.stderr


# --- netc check runs netc run's data checks -------------------------------------------------------

@pytest.mark.parametrize("labels,out,loss,expect", [
    ([0, 1, 5] * 10, 3, "cross_entropy", "go from 0 to 5, but cross_entropy needs labels in 0..2"),
    ([0, 1, 2] * 10, 1, "bce", "go from 0 to 2, but bce needs labels in 0 and 1"),
    ([0, 1] * 10, 2, "bce", "bce needs an output 1 wide, not 2"),
    ([0, 1, 2] * 3, 3, "cross_entropy", "batch 16 is larger than the training split (7 examples)"),
])
def test_check_rejects_what_run_rejects(tmp_path, labels, out, loss, expect):
    p = write_spec(tmp_path, write_csv(tmp_path / "d.csv", labels), out=out, loss=loss)
    check, run = both(p)
    assert check.returncode == run.returncode == 2
    assert expect in check.stderr and expect in run.stderr
    # one function: the same message, at the same place
    line = next(x for x in run.stderr.splitlines() if "error:" in x)
    assert line in check.stderr


# --- string labels --------------------------------------------------------------------------------

IRIS = ["setosa", "versicolor", "virginica"]


def test_string_labels_are_mapped_in_sorted_order_and_kept_with_the_checkpoint(tmp_path):
    names = ["virginica", "setosa", "versicolor"] * 20
    csv = write_csv(tmp_path / "iris.csv", names)
    p = write_spec(tmp_path, csv)
    r = netc_cli("check", p)
    assert r.returncode == 0, r.stderr
    assert "strings mapped in sorted order: setosa=0, versicolor=1, virginica=2" in r.stdout
    ds = netc.load(p).dataset
    assert ds.label_names == tuple(IRIS) and ds.y_train.dtype == np.int64
    y_all = np.concatenate([ds.y_train, ds.y_val])
    assert sorted(set(y_all.tolist())) == [0, 1, 2]
    ck = tmp_path / "iris.ckpt"
    r = netc_cli("run", p, "--save", ck)
    assert r.returncode == 0, r.stderr
    assert "setosa=0, versicolor=1, virginica=2" in r.stdout  # the mapping is printed
    assert checkpoint.peek(ck)["label_names"] == IRIS
    with np.load(ck, allow_pickle=False) as z:  # a plain archive: nothing to unpickle
        assert "meta" in z.files
    ev = netc_cli("eval", p, "--weights", ck)
    assert ev.returncode == 0 and "setosa=0, versicolor=1, virginica=2" in ev.stdout


def trained_iris(tmp_path):
    """A spec on iris.csv (string labels, 60 rows), trained and saved: (spec, csv, checkpoint)."""
    csv = write_csv(tmp_path / "iris.csv", IRIS * 20)
    p = write_spec(tmp_path, csv)
    ck = tmp_path / "iris.ckpt"
    assert netc_cli("run", p, "--save", ck, "--quiet").returncode == 0
    return p, csv, ck


def test_eval_uses_the_checkpoints_mapping_on_a_file_with_fewer_classes(tmp_path):
    p, csv, ck = trained_iris(tmp_path)
    # the same file name, now with the virginica rows only: sorted on its own it would be class 0
    write_csv(csv, ["virginica"] * 30)
    ds = netc.load(p).dataset
    assert ds.label_names == ("virginica",) and set(ds.y_train.tolist()) == {0}
    r = netc_cli("eval", p, "--weights", ck, "--json")
    assert r.returncode == 0, r.stderr
    assert checkpoint.data_facts(ck)["label_names"] == tuple(IRIS)
    # a class the weights never saw is an error naming the line
    write_csv(csv, ["virginica"] * 29 + ["rosa"])
    r = netc_cli("eval", p, "--weights", ck)
    assert r.returncode == 2
    assert "the label 'rosa' is not one of the classes setosa, versicolor, virginica" in r.stderr
    assert "line 31" in r.stderr


def test_eval_accuracy_follows_the_stored_mapping(tmp_path):
    """Evaluated on the training file's virginica rows alone, the accuracy is the share of those
    rows the model calls class 2 (virginica as trained), not class 0."""
    csv = write_csv(tmp_path / "iris.csv", IRIS * 40)
    p = write_spec(tmp_path, csv, extra="\n    split 1.0")
    ck = tmp_path / "iris.ckpt"
    assert netc_cli("run", p, "--save", ck, "--quiet").returncode == 0
    lines = csv.read_text().splitlines()
    only = [lines[0]] + [line for line in lines[1:] if line.endswith("virginica")]
    csv.write_text("\n".join(only) + "\n")
    model = netc.Model(netc.lower(netc.load(p)), seed=0)
    model.load_state_dict(checkpoint.weights(ck, p.read_text(), model, netc.load(p).train))
    x = np.array([[float(v) for v in line.split(",")[:2]] for line in only[1:]])
    expected = float(np.mean(model.forward(x, training=False).argmax(axis=1) == 2))
    r = json.loads(netc_cli("eval", p, "--weights", ck, "--json").stdout)
    assert r["train_accuracy"] == pytest.approx(expected)


def test_a_validation_file_uses_the_training_mapping(tmp_path):
    train = write_csv(tmp_path / "train.csv", IRIS * 10)
    write_csv(tmp_path / "val.csv", ["virginica", "versicolor"] * 5, seed=1)
    p = write_spec(tmp_path, train, extra='\n    validation "val.csv"')
    ds = netc.load(p).dataset
    assert ds.label_names == tuple(IRIS)
    assert set(ds.y_val.tolist()) == {1, 2}
    write_csv(tmp_path / "val.csv", ["virginica", "tulip"], seed=1)
    r = netc_cli("check", p)
    assert r.returncode == 2 and "the label 'tulip' is not one of the classes" in r.stderr


# --- standardize target and the target-scale hints ------------------------------------------------

REGRESSION = """data {{
    source "prices.csv"
    standardize{extra}
}}
model m {{
    input 3
    dense 16
    relu
    dense 1 init=xavier
}}
train {{
    loss mse
    optimizer {opt}
    batch 32
    epochs {epochs}
    seed 0
}}
"""


def write_prices(tmp_path, rows=200, scale=60000.0, centre=250000.0):
    """Three features and a price in the hundreds of thousands (written with decimals)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 3))
    y = centre + scale * (x @ np.array([1.0, -0.5, 0.3])) + 0.05 * scale * rng.normal(size=rows)
    lines = ["rooms,age,distance,price"] + [",".join(f"{v:.3f}" for v in a) + f",{b:.2f}" for a, b in zip(x, y)]
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n")
    return y


def write_regression(tmp_path, extra="", opt="adam lr=1e-2", epochs=20, name="r.net"):
    p = tmp_path / name
    p.write_text(REGRESSION.format(extra=extra, opt=opt, epochs=epochs))
    return p


def test_standardize_target_trains_in_standardized_units_and_reports_the_targets_units(tmp_path):
    y = write_prices(tmp_path)
    p = write_regression(tmp_path, extra="\n    standardize target")
    check = netc_cli("check", p)
    assert check.returncode == 0, check.stderr
    assert "[target-scale]" not in check.stdout + check.stderr
    assert "target: column 4 ('price'), the last column (label=last, the default); standardized with " \
           "the training split's mean" in check.stdout
    ds = netc.load(p).dataset
    n = len(ds.y_train)
    # the training split's statistics: standardized training targets have mean 0 and std 1
    assert abs(ds.y_train.mean()) < 1e-9 and ds.y_train.std() == pytest.approx(1.0)
    assert ds.target_scaling["std"][0] == pytest.approx(np.std(ds.y_train * ds.target_scaling["std"][0]))
    assert 200_000 < ds.target_scaling["mean"][0] < 300_000 and n == 160
    ck = tmp_path / "r.ckpt"
    run = netc_cli("run", p, "--save", ck)
    assert run.returncode == 0, run.stderr
    assert "the losses are in standardized units" in run.stdout
    line = next(x for x in run.stdout.splitlines() if x.startswith("mse in the target's own units"))
    # the scaling kept with the checkpoint, as JSON numbers
    saved = checkpoint.peek(ck)["target_scaling"]
    assert saved["mean"] == pytest.approx(ds.target_scaling["mean"].tolist())
    assert saved["std"] == pytest.approx(ds.target_scaling["std"].tolist())
    ev = json.loads(netc_cli("eval", p, "--weights", ck, "--json").stdout)
    # the target-units mse is the standardized loss times std^2 (one target column)
    std = ds.target_scaling["std"][0]
    assert ev["val_mse_target_units"] == pytest.approx(ev["val_loss"] * std ** 2, rel=1e-3)
    assert ev["train_mse_target_units"] == pytest.approx(ev["train_loss"] * std ** 2, rel=1e-3)
    assert f"validation {ev['val_mse_target_units']:.4g}" in line  # run and eval agree
    text = netc_cli("eval", p, "--weights", ck)
    assert text.returncode == 0 and line in text.stdout and "(standardized target)" in text.stdout
    final = json.loads(netc_cli("run", p, "--json").stdout.splitlines()[-1])
    assert final["val_mse_target_units"] == pytest.approx(ev["val_mse_target_units"], rel=1e-6)
    # the model learned: far better than predicting the mean (mse = var of the target)
    assert ev["val_mse_target_units"] < 0.2 * np.var(y)


def test_eval_uses_the_checkpoints_target_statistics(tmp_path):
    write_prices(tmp_path)
    p = write_regression(tmp_path, extra="\n    standardize target")
    ck = tmp_path / "r.ckpt"
    assert netc_cli("run", p, "--save", ck, "--quiet").returncode == 0
    before = json.loads(netc_cli("eval", p, "--weights", ck, "--json").stdout)
    # the same file shifted by a constant: evaluated with its own statistics the error would be
    # the same; with the checkpoint's, the predictions are off by the shift
    lines = (tmp_path / "prices.csv").read_text().splitlines()
    shifted = [lines[0]] + [",".join(r.split(",")[:3] + [f"{float(r.split(',')[3]) + 100000:.2f}"]) for r in lines[1:]]
    (tmp_path / "prices.csv").write_text("\n".join(shifted) + "\n")
    after = json.loads(netc_cli("eval", p, "--weights", ck, "--json").stdout)
    assert after["val_mse_target_units"] > before["val_mse_target_units"] + 0.5 * 100000 ** 2


def test_standardize_target_from_the_command_line_and_with_a_classification_loss(tmp_path):
    write_prices(tmp_path)
    p = write_regression(tmp_path, epochs=2)
    r = netc_cli("run", p, "--quiet", "--set", "standardize_target=true")
    assert r.returncode == 0, r.stderr
    assert "mse in the target's own units" in r.stdout
    csv = write_csv(tmp_path / "iris.csv", IRIS * 10)
    bad = write_spec(tmp_path, csv, extra="\n    standardize target", name="bad.net")
    for r in both(bad):
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"{bad}:3:5: error: standardize target: the labels of iris.csv are class names" in r.stderr


def test_standardize_target_given_twice_is_located(tmp_path):
    write_prices(tmp_path)
    p = write_regression(tmp_path, extra="\n    standardize target\n    standardize target")
    r = netc_cli("check", p)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{p}:5:5: error: 'standardize' is given twice in the data section" in r.stderr
    p = write_regression(tmp_path, extra="\n    standardize inputs", name="twice.net")
    r = netc_cli("check", p)
    assert r.returncode == 2 and f"{p}:4:5: error: 'standardize' is given twice" in r.stderr
    p = write_regression(tmp_path, extra="\n    standardize targets", name="typo.net")
    r = netc_cli("check", p)
    assert r.returncode == 2 and "did you mean 'target'?" in r.stderr


def test_target_scale_warns_before_training_and_the_divergence_hint_suggests_standardize_target(tmp_path):
    write_prices(tmp_path)
    p = write_regression(tmp_path, opt="sgd lr=0.01", epochs=3)
    check = netc_cli("check", p)
    assert check.returncode == 0
    assert "[target-scale]" in check.stdout and "add 'standardize target' to the data section" in check.stdout
    run = netc_cli("run", p)
    assert run.returncode == 1 and "Traceback" not in run.stderr  # it diverges: a run-time failure
    assert "[target-scale]" in run.stderr  # warned before training
    hint = next(x for x in run.stderr.splitlines() if x.strip().startswith("hint:") and "not finite" not in x
                and "became" not in x and "standardize target" in x and "else lower the learning rate" in x)
    assert hint
    # targets that are not large: no such warning, no such hint
    write_prices(tmp_path, scale=5.0, centre=20.0)
    quiet = netc_cli("check", p)
    assert quiet.returncode == 0 and "[target-scale]" not in quiet.stdout + quiet.stderr




def test_the_divergence_warning_puts_standardize_target_first(tmp_path, capsys):
    """The [diverging] warning (a finite loss that blows up) has the same hint as a NaN."""
    from netc import run as runmod
    write_prices(tmp_path)
    p = write_regression(tmp_path)
    net = netc.load(p)
    runmod._warn_divergence("the training loss grew: training is diverging", net, net.data, net.dataset)
    err = capsys.readouterr().err
    assert "[diverging]" in err and f"{p}:13:5" in err
    assert "hint: the regression target is about" in err and "add 'standardize target'" in err
    assert "else lower the learning rate" in err
    scaled = write_regression(tmp_path, extra="\n    standardize target", name="scaled.net")
    net = netc.load(scaled)
    runmod._warn_divergence("the training loss grew: training is diverging", net, net.data, net.dataset)
    assert "standardize target" not in capsys.readouterr().err


def test_export_says_the_target_is_standardized_and_stats_reads_such_a_checkpoint(tmp_path):
    require("onnx")
    write_prices(tmp_path)
    p = write_regression(tmp_path, extra="\n    standardize target", epochs=3)
    ck = tmp_path / "r.ckpt"
    assert netc_cli("run", p, "--save", ck, "--quiet").returncode == 0
    std = checkpoint.data_facts(ck)["target_scaling"]["std"][0]
    r = netc_cli("export", p, "--to", "onnx", "-o", tmp_path / "m.onnx", "--weights", ck)
    assert r.returncode == 0, r.stderr
    assert "these weights predict the standardized target" in r.stderr and f"{std:.6g}" in r.stderr
    r = netc_cli("stats", p, "--weights", ck, "--mode", "eval")
    assert r.returncode == 0, r.stderr


def test_standardize_target_with_class_labels_is_located(tmp_path):
    csv = write_csv(tmp_path / "c.csv", [0, 1, 2] * 10)
    p = write_spec(tmp_path, csv, extra="\n    standardize target")
    for r in both(p):
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"{p}:3:5: error: standardize target is for a regression target, but cross_entropy takes " \
               "class labels" in r.stderr
    r = netc_cli("run", write_spec(tmp_path, csv, name="plain.net"), "--set", "standardize_target=true")
    assert r.returncode == 2 and "(standardize_target from the command line)" in r.stderr


def test_resume_keeps_the_string_labels_mapping(tmp_path):
    p, _, ck = trained_iris(tmp_path)
    r = netc_cli("run", p, "--resume", ck, "--save", ck, "--epochs", "5", "--quiet")
    assert r.returncode == 0, r.stderr
    assert checkpoint.peek(ck)["label_names"] == IRIS


@pytest.mark.parametrize("value", [[], ["a", "a"], ["a", ""], "abc", [1, 2], ["x" * 201]])
def test_malformed_label_names_in_a_checkpoint_are_refused(value):
    from netc.runtime.state import StateError, parse_label_names
    with pytest.raises(StateError, match="not a list of distinct class names"):
        parse_label_names(value, "label_names")


@pytest.mark.parametrize("value", [{"mean": [1.0], "std": [0.0]}, {"mean": [1.0], "std": [1.0, 2.0]},
                                   {"mean": [float("nan")], "std": [1.0]}, {"mean": [], "std": []},
                                   {"mean": [1.0]}, {"mean": ["1"], "std": [1.0]}, [1.0, 2.0]])
def test_malformed_target_statistics_in_a_checkpoint_are_refused(value):
    from netc.runtime.state import StateError, parse_target_scaling
    with pytest.raises(StateError, match="not a target's mean and std"):
        parse_target_scaling(value, "target_scaling")


def test_string_labels_without_a_header_row(tmp_path):
    """header=auto: a first row of numbers with a class name in the label column is an example."""
    csv = write_csv(tmp_path / "iris.csv", IRIS * 10, header=None)
    ds = netc.load(write_spec(tmp_path, csv)).dataset
    assert ds.label_names == tuple(IRIS) and len(ds.y_train) + len(ds.y_val) == 30
    first = tmp_path / "first.csv"  # the same rows, the label in the first column
    first.write_text("".join(",".join([r.split(",")[2]] + r.split(",")[:2]) + "\n"
                             for r in csv.read_text().splitlines()))
    ds = netc.load(write_spec(tmp_path, first, extra=" label=first", name="first.net")).dataset
    assert ds.label_names == tuple(IRIS) and len(ds.y_train) + len(ds.y_val) == 30
    # a header row is still a header
    named = write_csv(tmp_path / "named.csv", IRIS * 10)
    assert len(netc.load(write_spec(tmp_path, named, name="named.net")).dataset.x_train) == 24


def test_torch_engine_reports_the_same_target_units_and_keeps_the_label_names(tmp_path):
    require("torch")
    write_prices(tmp_path)
    p = write_regression(tmp_path, extra="\n    standardize target", epochs=3)
    lines = []
    for engine in ("numpy", "torch"):
        r = netc_cli("run", p, "--engine", engine, "--dtype", "float64")
        assert r.returncode == 0, r.stderr
        lines.append(next(x for x in r.stdout.splitlines() if x.startswith("mse in the target's own units")))
    assert lines[0] == lines[1]
    csv = write_csv(tmp_path / "iris.csv", IRIS * 20)
    ck = tmp_path / "iris.ckpt"
    r = netc_cli("run", write_spec(tmp_path, csv), "--engine", "torch", "--save", ck, "--quiet")
    assert r.returncode == 0, r.stderr
    assert checkpoint.peek(ck)["label_names"] == IRIS


def test_mc_dropout_reports_a_standardized_target_in_its_own_units(tmp_path):
    write_prices(tmp_path)
    p = write_regression(tmp_path, extra="\n    standardize target", epochs=5)
    p.write_text(p.read_text().replace("    relu\n", "    relu\n    dropout 0.2\n"))
    ck = tmp_path / "r.ckpt"
    assert netc_cli("run", p, "--save", ck, "--quiet").returncode == 0
    r = json.loads(netc_cli("eval", p, "--weights", ck, "--json", "--mc", "10").stdout)
    # evaluation mode's mse, in the target's units, is the one eval reports beside the loss
    assert r["mc_dropout"]["target_units"] is True
    assert r["mc_dropout"]["eval_mse"] == pytest.approx(r["val_mse_target_units"], rel=1e-4)
    text = netc_cli("eval", p, "--weights", ck, "--mc", "10").stdout
    assert "MSE of the averaged prediction in the target's own units" in text


def test_a_run_record_says_what_the_data_was_read_with(tmp_path):
    write_prices(tmp_path)
    p = write_regression(tmp_path, extra="\n    standardize target", epochs=1)
    assert netc_cli("run", p, "--quiet", "--log", tmp_path / "rec").returncode == 0
    meta = json.loads((tmp_path / "rec" / "meta.json").read_text())
    assert meta["label_names"] is None and meta["target_scaling"]["std"][0] > 10_000
    csv = write_csv(tmp_path / "iris.csv", IRIS * 10)
    assert netc_cli("run", write_spec(tmp_path, csv), "--quiet", "--log", tmp_path / "iris").returncode == 0
    assert json.loads((tmp_path / "iris" / "meta.json").read_text())["label_names"] == IRIS


def test_whole_number_regression_targets_are_not_called_classes(tmp_path):
    """Prices in whole dollars (about 250000) under mse: the data line says regression, not
    '401300 classes' (the largest price + 1)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = np.round(250000 + 60000 * x[:, 0])
    lines = ["rooms,age,distance,price"] + [",".join(f"{v:.3f}" for v in a) + f",{int(b)}" for a, b in zip(x, y)]
    (tmp_path / "prices.csv").write_text("\n".join(lines) + "\n")
    p = write_regression(tmp_path, epochs=1)
    for command in ("check", "run"):
        r = netc_cli(command, p)
        assert r.returncode == 0, r.stderr
        data_line = next(line for line in r.stdout.splitlines() if "prices.csv:" in line)
        assert data_line.endswith("3 features, regression") and "classes" not in data_line, data_line


IMAGE_SPEC = ('data {{\n    source "img.npz"\n}}\nmodel m {{\n    input {input}\n    dense 10\n}}\n'
              "train {{\n    loss cross_entropy\n    epochs 1\n}}\n")


@pytest.mark.parametrize("x_shape,form", [((40, 1, 8, 8), "1 8 8"), ((40, 8, 8), "1 8 8"), ((40, 3, 4, 4), "3 4 4")])
def test_image_data_into_a_narrow_vector_input_suggests_the_image_form(tmp_path, x_shape, form):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "img.npz", x=rng.random(x_shape).astype(np.float32), y=rng.integers(0, 10, x_shape[0]))
    p = tmp_path / "img.net"
    p.write_text(IMAGE_SPEC.format(input=32))
    for command in ("check", "run"):
        r = netc_cli(command, p)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"{p}:5:5: error: img.npz has {np.prod(x_shape[1:])} features" in r.stderr
        assert f"write input {form}" in r.stderr, r.stderr


def test_channels_last_or_flat_data_keeps_the_vector_hint(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "img.net"
    p.write_text(IMAGE_SPEC.format(input=32))
    for x_shape in ((40, 64), (40, 8, 8, 1)):  # netc's images are C H W: no image form for H W C
        np.savez(tmp_path / "img.npz", x=rng.random(x_shape), y=rng.integers(0, 10, 40))
        r = netc_cli("check", p)
        assert r.returncode == 2 and "hint: write input 64\n" in r.stderr, r.stderr


def test_a_stray_number_among_class_names_is_the_line_reported(tmp_path):
    """Seventy-nine rows of names and one '2': the error names the '2's line, not the first name."""
    rows = ["a,b,species"] + [f"{i % 5}.1,{i % 3}.5," + ("setosa", "versicolor", "virginica")[i % 3]
                              for i in range(80)]
    rows[78] = "1.0,2.0,2"
    (tmp_path / "stray.csv").write_text("\n".join(rows) + "\n")
    p = write_spec(tmp_path, tmp_path / "stray.csv")
    r = netc_cli("check", p)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "line 79, column 3 ('species'): '2' is a number among class names" in r.stderr, r.stderr
    assert "mixes numbers and names" in r.stderr
