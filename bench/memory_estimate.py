"""The memory estimate `netc check` prints against the peak NumPy allocation of a real run.

For each example, builds the model and trains one epoch (the file's settings, float32) under
`tracemalloc` (NumPy reports its array allocations to it), and prints the estimate of
runtime/memory.py for the same run (without the data, which is loaded before tracing starts), the
measured peak and their ratio. An estimate is useful if it is never far below the peak (a run it
accepts must not die) and not wildly above it.

    python bench/memory_estimate.py
"""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np

import netc
from netc.compiler.lower import lower
from netc.prepare import cast_dataset, memory_estimate
from netc.runtime.memory import format_bytes
from netc.runtime.model import Model
from netc.runtime.train import Trainer

ROOT = Path(__file__).resolve().parent.parent
FILES = ["digits.net", "residual.net", "blocks.net", "breast_cancer.net", "dropout.net", "init_tanh.net"]


def measure(path: Path) -> tuple[int, int]:
    """(estimate without data, measured peak) in bytes for one epoch of `path`."""
    net = netc.load(path)
    plan = lower(net)
    data = cast_dataset(net.dataset, np.float32)
    est = memory_estimate(plan, net.train, np.float32, net.dataset)
    tracemalloc.start()
    model = Model(plan, seed=0)
    trainer = Trainer(model, data, net.train, shuffle=True)
    trainer.run_epoch()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return est.total - est.data, peak


def main() -> None:
    print(f"{'file':<20} {'estimate':>10} {'peak':>10} {'ratio':>6}")
    for name in FILES:
        est, peak = measure(ROOT / "examples" / name)
        print(f"{name:<20} {format_bytes(est):>10} {format_bytes(peak):>10} {est / peak:>6.2f}")


if __name__ == "__main__":
    main()
