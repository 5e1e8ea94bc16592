"""`netc compare` against the same runs done one after another.

Two digits specs (examples/bn_before.net and examples/bn_after.net), 4 seeds each, the files' own
20 epochs (`--quick`: 2 seeds, 3 epochs):

- serial: the 8 `netc run FILE --seed S --quiet` commands back to back (fresh
  processes, as a user would type them), total wall time T_serial;
- compare: `netc compare A B --seeds 4 --jobs C` (C = the cores this process may use),
  wall time T_compare.

It prints T_compare / (T_serial / C): 1.0 means compare uses the cores perfectly; the target is
<= 1.2. The two are interleaved (serial, compare, compare, serial, ...) and the medians taken,
since the machine is shared and noisy.

    python bench/compare_speed.py          python bench/compare_speed.py --quick
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ["examples/bn_before.net", "examples/bn_after.net"]


def _netc(*args) -> float:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "netc", *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: netc {' '.join(args)}\n{r.stderr}")
    return time.perf_counter() - t


def _epochs(epochs: int | None) -> list[str]:
    return [] if epochs is None else ["--epochs", str(epochs)]


def serial(seeds: int, epochs: int | None) -> float:
    return sum(_netc("run", f, "--seed", str(s), *_epochs(epochs), "--quiet")
               for f in FILES for s in range(seeds))


def compare(seeds: int, epochs: int | None, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return _netc("compare", *FILES, "--seeds", str(seeds), *_epochs(epochs), "--jobs", str(jobs),
                     "--log", str(Path(tmp) / "c"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds, 3 epochs, one pair")
    a = ap.parse_args()
    seeds, epochs, pairs = (2, 3, 1) if a.quick else (4, None, 3)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    ser, com = [], []
    for k in range(pairs):
        if k % 2 == 0:
            ser.append(serial(seeds, epochs))
            com.append(compare(seeds, epochs, cores))
        else:
            com.append(compare(seeds, epochs, cores))
            ser.append(serial(seeds, epochs))
    s, c = statistics.median(ser), statistics.median(com)
    ratio = c / (s / cores)
    print(f"{len(FILES)} files x {seeds} seeds, {epochs or 'the files' } epochs, {cores} cores")
    print(f"serial runs back to back: {s:.1f} s (median of {pairs})")
    print(f"netc compare --jobs {cores}:    {c:.1f} s (median of {pairs})")
    print(f"ratio compare / (serial / cores): {ratio:.2f}  target <= 1.2: {'PASS' if ratio <= 1.2 else 'FAIL'}")


if __name__ == "__main__":
    main()
