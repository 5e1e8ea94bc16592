#!/usr/bin/env bash
# Remakes every table and figure of docs/experiments.md (about 10 minutes on 2 cores).
# Run from the repository root with netc installed with its plot extra: pip install -e '.[plot]'
set -euo pipefail
out=docs/figures
logs=$(mktemp -d)
mkdir -p "$out" docs/experiments
# the command as a user types it (without the temporary --log folder), then its output
run() { local name=$1; shift; echo "\$ $*" | sed 's| --log [^ ]*||' > "docs/experiments/$name.txt"; "$@" >> "docs/experiments/$name.txt" 2>/dev/null; }

run init_xavier   netc stats examples/init_tanh.net       --plot $out/init_xavier.png
run init_small    netc stats examples/init_tanh_small.net --plot $out/init_small.png
run init_large    netc stats examples/init_tanh_large.net --plot $out/init_large.png
run init_he       netc stats examples/init_relu_he.net    --plot $out/init_he.png
run bn_position   netc compare examples/bn_before.net examples/bn_after.net --seeds 5 --log $logs/bn --plot $out/bn_position.png
run dropout       netc compare examples/dropout.net examples/no_dropout.net --seeds 5 --log $logs/dropout --plot $out/dropout.png
run standardize   netc compare examples/diabetes.net examples/diabetes_raw.net --seeds 5 --log $logs/diabetes --plot $out/standardize.png
run lr_sweep      netc sweep examples/digits.net --grid optimizer.lr=1e-4,1e-3,1e-2,1e-1 --seeds 3 --epochs 15 --log $logs/lr --plot $out/lr_sweep.png
run dead_relu     netc sweep examples/dead_relu.net --grid optimizer.lr=0.1,1.5 --seeds 3 --log $logs/dead --plot $out/dead_relu.png
run boundary      netc run examples/moons.net --quiet --plot $out/moons_boundary.png
rm -rf "$logs"
