"""Command-line start-up: `netc run examples/digits.net --quiet` from the shell, and import times.

Every figure is the wall time of a fresh subprocess (interpreter start and imports included),
median of several runs, the commands interleaved round-robin:

- `python -c pass` (the interpreter alone) and `python -c "import netc.cli"`;
- `netc --version` (the argparse path);
- `netc run examples/digits.net --quiet --epochs 1` (start-up, compile, data, one epoch);
- `netc run examples/digits.net --quiet` (the whole run: 30 epochs, early stopping), with the
  default OpenBLAS threads and with OPENBLAS_NUM_THREADS=1.

It also checks that `netc run` does not import Textual (sys.modules after a run in a subprocess;
the architecture requires it) and lists the heaviest top-level imports of `netc run`
(python -X importtime). `netc` is the console script next to sys.executable (not a pyenv shim);
`python -m netc` if there is none.

Target: no Textual import (PASS/FAIL); the times are reported.

    python bench/cli_startup.py            python bench/cli_startup.py --quick
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIGITS = "examples/digits.net"
PY = sys.executable


def netc_cmd() -> list[str]:
    script = Path(PY).parent / "netc"
    if script.exists():
        return [str(script)]
    found = shutil.which("netc")
    return [found] if found else [PY, "-m", "netc"]


def wall(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return dt


PROBE = r"""
import sys
from netc.cli import main
status = main(sys.argv[1:])
mods = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"scipy", "sklearn", "pandas", "rich", "torch", "matplotlib"})
import json
print("PROBE" + json.dumps({"status": status, "textual": mods, "modules": len(sys.modules), "heavy": heavy}))
"""


def probe(args: list[str]) -> dict:
    r = subprocess.run([PY, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    line = [s for s in r.stdout.splitlines() if s.startswith("PROBE")][-1]
    return json.loads(line[5:])


def import_profile(args: list[str], top: int = 8) -> list[tuple[str, float]]:
    """Packages (dotless module names other than netc) by cumulative import time (ms), `netc run`."""
    code = "import sys; from netc.cli import main; main(sys.argv[1:])"
    r = subprocess.run([PY, "-X", "importtime", "-c", code, *args], cwd=ROOT, capture_output=True,
                       text=True, check=True)
    cum: dict[str, float] = {}
    lines = r.stderr.splitlines()
    after_site = [i for i, s in enumerate(lines) if s.rstrip().endswith("| site")]
    for line in lines[after_site[0] + 1 if after_site else 0:]:  # skip interpreter start-up (.pth)
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and "." not in m.group(4) and m.group(4) != "netc":
            cum[m.group(4)] = int(m.group(2)) / 1e3
    return sorted(cum.items(), key=lambda kv: -kv[1])[:top]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fast smoke mode (1 run each, 1-epoch runs)")
    args = ap.parse_args()
    reps = 1 if args.quick else 5
    netc = netc_cmd()
    one = [DIGITS, "--quiet", "--epochs", "1"]
    full = [DIGITS, "--quiet"] + (["--epochs", "1"] if args.quick else [])
    env1 = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cases = [
        ("python -c pass", [PY, "-c", "pass"], None),
        ('python -c "import netc.cli"', [PY, "-c", "import netc.cli"], None),
        ("netc --version", [*netc, "--version"], None),
        ("netc run digits --quiet --epochs 1", [*netc, "run", *one], None),
        ("netc run digits --quiet" + (" (--epochs 1)" if args.quick else ""), [*netc, "run", *full], None),
        ("  same, OPENBLAS_NUM_THREADS=1", [*netc, "run", *full], env1),
    ]
    times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
    for name, cmd, env in cases:  # warm the file cache once
        if "pass" in name or "import" in name:
            wall(cmd, env)
    for r in range(reps):
        order = cases if r % 2 == 0 else cases[::-1]
        for name, cmd, env in order:
            times[name].append(wall(cmd, env))

    print(f"cli_startup: {' '.join(netc)} (cwd {ROOT}), median of {reps} subprocess run(s), wall time")
    for name, cmd, env in cases:
        ts = times[name]
        print(f"  {name:<38} {statistics.median(ts):7.3f} s   [{' '.join(f'{t:.2f}' for t in ts)}]")
    base = statistics.median(times["python -c pass"])
    imp = statistics.median(times['python -c "import netc.cli"'])
    print(f"  import netc.cli beyond the interpreter   {imp - base:7.3f} s")

    info = probe(["run", *one])
    ok = info["status"] == 0 and not info["textual"]
    print(f"  `netc run` imports Textual: {'no' if not info['textual'] else 'YES: ' + ', '.join(info['textual'][:5])}"
          f" ({info['modules']} modules loaded; other heavy packages: {', '.join(info['heavy']) or 'none'})")
    prof = import_profile(["run", *one])
    print("  heaviest top-level imports of `netc run` (cumulative, -X importtime): " +
          ", ".join(f"{name} {ms:.0f} ms" for name, ms in prof))
    print(f"target `netc run` does not import textual: {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
