"""Data-parallel training under torchrun (gloo, CPU, two processes): the same weights after N
steps as one process with the same global batch, metrics reduced over ranks, rank 0 alone
printing and saving, and a checkpoint `netc eval` reads."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import require

require("torch")

from netc.runtime import checkpoint  # noqa: E402

# No dropout (each rank draws its own masks). Batch norm is synchronized over the ranks (on the
# CPU by netc's own CpuSyncBatchNorm: PyTorch's SyncBatchNorm refuses CPU tensors), so its
# batch statistics are the global batch's and either stats= is exact; stats=average (PyTorch's
# momentum=None) also checks that the count of batches is kept once, not once per rank.
# 150 examples, split 0.8: 120 train = 3 global batches of 32 and one of 24, 16 and 12 per rank.
SPEC = """
data { source gaussian n=150 features=4 classes=3; split 0.8; standardize }
model ddp {
    input 4
    dense 32 init=he bias=false; batchnorm stats=average; relu
    dense 32 init=he; layernorm; gelu
    dense 3 init=xavier
}
train { loss cross_entropy; optimizer adam lr=0.01; batch 32; epochs 3; regularize l2 1e-3; clip norm 1.0; seed 5 }
"""
STEPS = 12  # 3 epochs of 4 global batches
# Augmentation (noise: the pixel keys need images) and mixup are drawn for the whole global batch
# on every rank, each keeping its part, so they are the one-process run's too (per-rank draws
# would not be, nor would partners taken from the rank's own part only).
# With an activity penalty too: its value is the global batch's on every rank, as the loss's is.
AUGMENTED = SPEC.replace("standardize }", "standardize; augment noise=0.3 }") \
    .replace("seed 5 }", "mixup 0.4; seed 5 }").replace("layernorm; gelu", "layernorm; gelu; activity l1=1e-3 l2=1e-2")


def netc_cmd(*args, processes: int = 1):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                str(processes)] if processes > 1 else [sys.executable]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*launcher, "-m", "netc", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("text", [SPEC, AUGMENTED], ids=["plain", "augment+mixup"])
def test_two_processes_equal_one_with_the_global_batch(tmp_path, text):
    spec = tmp_path / "ddp.net"
    assert text == SPEC or ("augment noise=0.3" in text and "mixup 0.4" in text and "activity" in text)
    spec.write_text(text)
    common = ["--engine", "torch", "--dtype", "float64", "--json"]
    one = netc_cmd("run", str(spec), "--save", str(tmp_path / "one.npz"), *common)
    assert one.returncode == 0, one.stderr
    two = netc_cmd("run", str(spec), "--save", str(tmp_path / "two.npz"), *common, processes=2)
    assert two.returncode == 0, two.stderr
    lines_one, lines_two = one.stdout.strip().splitlines(), two.stdout.strip().splitlines()
    assert len(lines_two) == len(lines_one) == 4  # rank 0 alone prints: 3 epochs and the summary
    for a, b in zip(lines_one, lines_two):
        ra, rb = json.loads(a), json.loads(b)
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-9), key
    assert two.stderr.count("warning:") == one.stderr.count("warning:")  # not once per rank
    with np.load(tmp_path / "one.npz") as a, np.load(tmp_path / "two.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            if key == checkpoint.META:
                continue
            assert a[key].dtype == b[key].dtype, key
            scale = max(np.abs(a[key]).max(initial=0), 1e-3)
            assert np.abs(a[key] - b[key]).max(initial=0) / scale < 1e-9, key
        meta = json.loads(bytes(b[checkpoint.META]).decode())
    assert meta["position"]["iteration"] == meta["optimizer_steps"] == STEPS
    assert not list(tmp_path.glob("*.lock")) and not list(tmp_path.glob(".two.npz.*"))
    ev = netc_cmd("eval", str(spec), "--weights", str(tmp_path / "two.npz"), "--dtype", "float64", "--json")
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["val_loss"] == pytest.approx(json.loads(lines_two[-1])["val_loss"], rel=1e-9)
