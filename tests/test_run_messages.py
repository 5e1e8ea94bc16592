"""The run's messages, read as a user reads them (issue 16): which weights a run ends with and how
to go on, Ctrl-C without --save, what the train columns measure and --eval-train, regression
tables without accuracy columns, did-you-mean for --break and --set, netc check on several files,
the saturated column of netc stats and its batch on a gaussian source."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from conftest import EXAMPLES
from cli_runner import netc_cli

SPEC = """data {{
    source {source}
    standardize
}}
model m {{
    input {width}
    dense 16
    {act}
    dropout 0.2
    dense {out}
}}
train {{
    loss {loss}
    optimizer adam lr=1e-2
    batch 32
    epochs {epochs}
    seed 0
    {extra}
}}
"""


def netc(*args, cwd=None, timeout=300):
    return netc_cli(*args, cwd=cwd, timeout=timeout)


def spec(tmp_path, name="m.net", **kw):
    values = dict(source="moons", width=2, out=2, loss="cross_entropy", epochs=3, act="relu", extra="")
    values.update(kw)
    p = tmp_path / name
    p.write_text(SPEC.format(**values))
    return p


def header(out: str) -> list[str]:
    line = next(line for line in out.splitlines() if "train loss" in line and "epoch" in line)
    return [c.strip() for c in line.split("  ") if c.strip()]


# --- which weights a run ends with ---------------------------------------------------------------

def test_summary_says_the_last_weights_and_how_to_keep_them(tmp_path):
    r = netc("run", spec(tmp_path))
    assert r.returncode == 0, r.stderr
    line = next(line for line in r.stdout.splitlines() if line.startswith("weights:"))
    assert "the last epoch's (3)" in line and "not saved" in line and "--save CKPT" in line


def test_summary_says_early_stopping_restored_the_best_epoch(tmp_path):
    # lr so high that the validation loss gets worse after the first epochs: the best is earlier
    p = spec(tmp_path, epochs=40, extra="early_stop patience=2")
    p.write_text(p.read_text().replace("lr=1e-2", "lr=0.5"))
    ck = tmp_path / "m.ckpt"
    r = netc("run", p, "--save", ck)
    assert r.returncode == 0, r.stderr
    best = next(int(line.split()[2]) for line in r.stdout.splitlines() if line.startswith("best epoch:"))
    line = next(line for line in r.stdout.splitlines() if line.startswith("weights:"))
    last = len([row for row in r.stdout.splitlines() if row.strip()[:1].isdigit()])
    assert best < last, r.stdout  # the run went on past its best epoch
    assert (f"epoch {best}'s, the best by val_loss (early stopping ended the run at epoch {last} and "
            "restored them)") in line
    assert f"saved in {ck}" in line
    assert f"netc eval {p} --weights {ck}" in r.stdout
    assert "raise its patience" in r.stdout  # it stopped early: --resume would not train further
    final = json.loads(netc("run", p, "--json").stdout.splitlines()[-1])
    assert final["weights"] == "best" and final["best_epoch"] == best


def test_summary_tells_how_to_resume_a_saved_run(tmp_path):
    p, ck = spec(tmp_path), tmp_path / "m.ckpt"
    r = netc("run", p, "--save", ck)
    assert r.returncode == 0, r.stderr
    resume = f"netc run {p} --resume {ck} --save {ck} --epochs N (N > 3)"
    assert resume in r.stdout
    r = netc("run", p, "--resume", ck, "--save", ck, "--epochs", "5")  # the command it gives works
    assert r.returncode == 0 and "the last epoch's (5); saved in" in r.stdout, r.stderr


def test_the_suggested_resume_repeats_the_options_the_run_was_made_with(tmp_path):
    # --resume refuses another dtype; --seed and --set shape the run: the command carries them
    p, ck = spec(tmp_path), tmp_path / "m.ckpt"
    options = ["--seed", "4", "--set", "batch=16", "--set", "optimizer.betas=(0.8,0.9)", "--dtype", "float64"]
    r = netc("run", p, "--save", ck, *options)
    assert r.returncode == 0, r.stderr
    line = next(line for line in r.stdout.splitlines() if "train further:" in line)
    assert line.endswith(f"netc run {p} --resume {ck} --save {ck} --seed 4 --set batch=16 "
                         "--set 'optimizer.betas=(0.8,0.9)' --dtype float64 --epochs N (N > 3)"), line
    r = netc("run", p, "--resume", ck, "--save", ck, *options, "--epochs", "5")  # followed, it works
    assert r.returncode == 0 and "the last epoch's (5); saved in" in r.stdout, r.stderr


def test_resume_with_no_epochs_left_says_how_to_train_further(tmp_path):
    p, ck = spec(tmp_path), tmp_path / "m.ckpt"
    assert netc("run", p, "--save", ck, "--quiet").returncode == 0
    for asked in ("2", "3"):  # fewer epochs than the checkpoint holds, or as many
        r = netc("run", p, "--resume", ck, "--epochs", asked)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert f"netc: error: {ck} already has 3 epochs and this run asks for {asked}: there is nothing" in r.stderr
        assert "to train further pass --epochs N with N > 3" in r.stderr
        assert r.stdout == ""  # no header promising epochs, no replayed rows


def test_resume_of_an_early_stopped_run_says_it_is_over(tmp_path):
    p, ck = spec(tmp_path, epochs=200, extra="early_stop patience=1"), tmp_path / "m.ckpt"
    r = netc("run", p, "--save", ck)
    assert r.returncode == 0 and "early stop" in r.stdout, r.stdout
    r = netc("run", p, "--resume", ck, "--epochs", "300")
    assert r.returncode == 2 and "early stopping already ended this run" in r.stderr


def test_ctrl_c_without_save_says_nothing_was_saved(tmp_path):
    p = spec(tmp_path, epochs=100000)
    proc = subprocess.Popen([sys.executable, "-m", "netc", "run", str(p)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # training has started once the first epoch's row is printed
        line = proc.stdout.readline()
        if not line or line.strip()[:1].isdigit():
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "nothing was saved" in err and "--save CKPT" in err and "--resume CKPT" in err


def test_output_narrower_than_the_classes_is_said_once(tmp_path):
    p = spec(tmp_path, out=1)  # moons has 2 classes
    r = netc("run", p)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "error: the labels of moons go from 0 to 1" in r.stderr
    assert "[class-count]" not in r.stderr and r.stderr.count("end the model with dense 2") == 1, r.stderr
    assert r.stderr == netc("check", p).stderr.replace("1 error\n", "")  # as netc check says it


# --- the table's columns -------------------------------------------------------------------------

def test_train_columns_are_labelled_as_training_mode(tmp_path):
    r = netc("run", spec(tmp_path))
    assert header(r.stdout) == ["epoch", "train loss", "train acc", "val loss", "val acc", "seconds"]
    legend = next(line for line in r.stdout.splitlines() if line.startswith("train loss/acc:"))
    assert "training mode (dropout on" in legend and "--eval-train" in legend


def test_eval_train_measures_the_training_split_in_evaluation_mode(tmp_path):
    p = spec(tmp_path)
    r = netc("run", p, "--eval-train")
    assert r.returncode == 0, r.stderr
    assert header(r.stdout) == ["epoch", "train loss", "train acc", "train loss (eval)", "train acc (eval)",
                                "val loss", "val acc", "seconds"]
    assert "(eval): the whole training split" in r.stdout
    rows = [line.split() for line in r.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == 3 and all(len(row) == 8 for row in rows)
    lines = [json.loads(line) for line in netc("run", p, "--eval-train", "--json").stdout.splitlines()]
    epochs = [rec for rec in lines if not rec.get("final")]
    # the evaluation-mode figures are those netc eval reports for the weights of that epoch
    ck = tmp_path / "m.ckpt"
    assert netc("run", p, "--save", ck, "--quiet").returncode == 0
    ev = json.loads(netc("eval", p, "--weights", ck, "--json").stdout)
    assert abs(epochs[-1]["train_eval_loss"] - ev["train_loss"]) < 1e-5
    assert epochs[-1]["train_eval_accuracy"] == ev["train_accuracy"]
    assert epochs[-1]["train_eval_loss"] != epochs[-1]["train_loss"]  # dropout: the two differ


def test_regression_table_has_no_accuracy_columns(tmp_path):
    r = netc("run", EXAMPLES / "diabetes.net", "--epochs", "2")
    assert r.returncode == 0, r.stderr
    assert header(r.stdout) == ["epoch", "train loss", "val loss", "seconds"]
    assert "acc" not in r.stdout.split("seconds", 1)[1].split("\n\n")[0].replace("train loss:", "")
    rows = [line.split() for line in r.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert rows and all(len(row) == 4 and "-" not in row for row in rows)


# --- did-you-mean --------------------------------------------------------------------------------

def test_break_with_an_unknown_node_or_statistic_suggests_the_name(tmp_path):
    digits = EXAMPLES / "digits.net"
    r = netc("debug", digits, "--break", "hiden1.relu1")
    assert r.returncode == 2 and "did you mean 'hidden1.relu1'?" in r.stderr
    assert "hint: nodes: input, hidden1.dense1" in r.stderr
    r = netc("debug", digits, "--break", "hidden1.relu1:zero_fra>0.9")
    assert r.returncode == 2 and "did you mean 'zero_frac'?" in r.stderr
    assert "hint: statistics: mean, var" in r.stderr and "saturated_frac" in r.stderr
    assert "Traceback" not in r.stderr


def test_set_with_an_unknown_key_suggests_the_key(tmp_path):
    p = spec(tmp_path)
    for wrong, right in (("optimzer.lr", "optimizer.lr"), ("optimizer.rl", "optimizer.lr"),
                         ("shufle", "shuffle"), ("early_stop.patiense", "early_stop.patience")):
        r = netc("run", p, "--set", f"{wrong}=1")
        assert r.returncode == 2, wrong
        assert f"unknown setting '{wrong}'" in r.stderr and f"did you mean '{right}'?" in r.stderr


# --- netc check on several files -----------------------------------------------------------------

def test_check_takes_several_files(tmp_path):
    bad = tmp_path / "bad.net"
    bad.write_text("model m {\n    input 4\n    dense 2 intt=he\n}\n")
    good = [EXAMPLES / "moons.net", EXAMPLES / "diabetes.net"]
    r = netc("check", good[0], bad, good[1])
    assert r.returncode == 2
    assert f"{good[0]}: ok" in r.stdout and f"{good[1]}: ok" in r.stdout  # checked past the bad one
    assert f"{bad}:3:13: error: unknown parameter 'intt'" in r.stderr
    assert r.stdout.rstrip().endswith(f"checked 3 files: 2 ok, 1 with errors ({bad})")
    r = netc("check", *good)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("checked 2 files: 2 ok")


# --- netc stats ----------------------------------------------------------------------------------

def test_stats_shows_the_saturated_fraction(tmp_path):
    p = spec(tmp_path, act="tanh")
    r = netc("stats", p)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    cols = lines[1].split()
    assert "saturated" in cols
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    records = {rec["name"]: rec for rec in json.loads(netc("stats", p, "--json").stdout)}
    at = cols.index("saturated") + 1  # the shape cell "(32, 16)" splits in two
    assert rows["tanh1"][at] == f"{100 * records['tanh1']['saturated_frac']:.1f}%"
    assert rows["dense1"][at] == "-"  # dense has no saturation range


def test_stats_batch_larger_than_a_gaussian_split(tmp_path):
    """The initialization experiment as one would write it: the gaussian source's split defaults
    to 1.0, and a batch over the training split takes all of it."""
    p = tmp_path / "init.net"
    p.write_text("data {\n    source gaussian n=300 features=50\n}\nmodel m {\n    input 50\n"
                 "    repeat 3 {\n        dense 50 init=xavier\n        tanh\n    }\n}\n")
    r = netc("stats", p, "--batch", "300")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("train mode, batch of 300,") and r.stderr == ""
    r = netc("stats", p, "--batch", "500")
    assert r.returncode == 0, r.stderr
    assert "batch 500 is more than the training split's 300 examples: using all 300" in r.stderr
    assert r.stdout.startswith("train mode, batch of 300,")
    r = netc("check", p)
    assert "300 examples (300 train, 0 validation)" in r.stdout
    # an explicit split is kept
    p.write_text(p.read_text().replace("features=50\n", "features=50\n    split 0.5\n"))
    assert "300 examples (150 train, 150 validation)" in netc("check", p).stdout


def test_the_header_shows_the_optimizers_changed_settings():
    """residual.net's sgd has momentum 0.9 and nesterov: the header says so, and a --set that
    switches the optimizer (and so drops them) shows in the header too."""
    from conftest import EXAMPLES
    r = netc("run", EXAMPLES / "residual.net", "--epochs", "1")
    assert r.returncode == 0 and "· sgd lr=0.02 momentum=0.9 nesterov=true ·" in r.stdout, r.stdout[:400]
    r = netc("run", EXAMPLES / "residual.net", "--epochs", "1", "--set", "optimizer=sgd")
    assert r.returncode == 0 and "· sgd lr=0.02 ·" in r.stdout, r.stdout[:400]


def test_summary_says_the_best_weights_are_restored_when_the_run_did_not_stop_early():
    """digits.net (early_stop patience=5) trains all 30 epochs; its best is earlier: the summary
    says early_stop restored it without claiming that the run stopped early."""
    from conftest import EXAMPLES
    r = netc("run", EXAMPLES / "digits.net")
    assert r.returncode == 0, r.stderr
    best = next(int(line.split()[2]) for line in r.stdout.splitlines() if line.startswith("best epoch:"))
    line = next(line for line in r.stdout.splitlines() if line.startswith("weights:"))
    assert best < 30 and (f"epoch {best}'s, the best by val_loss (early_stop restores them at the end; "
                          "the run went on to epoch 30 without stopping early)") in line, line
