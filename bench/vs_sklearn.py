"""netc's training loop vs scikit-learn's MLPClassifier on the bundled digits.

Both train a 64-128-128-10 relu MLP (no batchnorm, no dropout) with softmax cross-entropy, Adam
lr=1e-3 (betas 0.9/0.999, eps 1e-8), batch 64, 30 epochs, shuffling every epoch, no early stopping,
no weight penalty (netc: no `regularize` statement, i.e. L2 0; sklearn: alpha=0), on the same
float32 split: netc.runtime.data.load_data with examples/digits.net's data section (source digits,
split 0.8, standardize; data seed 0). sklearn's convergence test is disabled (n_iter_no_change >
max_iter) so it runs all 30 epochs. Initializations differ (netc: he / xavier normal; sklearn:
Glorot uniform). netc trains through runtime.train.Trainer, which also evaluates the validation
split after every epoch (included in its time); sklearn is timed for fit + validation score.

Runs alternate netc, sklearn, sklearn, netc, ...; each pair uses model seed r (r = 0, 1, ...),
the data split stays fixed. Reported: median wall time of each, ratio netc / sklearn (target
<= 1.0), and median validation accuracy of each (target: netc's >= sklearn's). Done with the
default BLAS threads and again with OpenBLAS limited to 1 thread (if threadpoolctl is installed).

Needs scikit-learn (pip install scikit-learn); prints a message and exits 0 without it.

    python bench/vs_sklearn.py            python bench/vs_sklearn.py --quick
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import netc
from netc.compiler.lower import lower
from netc.runtime.data import load_data
from netc.runtime.model import Model
from netc.runtime.train import Trainer

ROOT = Path(__file__).resolve().parent.parent
SPEC = """data {
    source digits
    split 0.8
    standardize
}
model mlp {
    input 64
    dense 128 init=he
    relu
    dense 128 init=he
    relu
    dense 10 init=xavier
}
train {
    loss cross_entropy
    optimizer adam lr=1e-3
    batch 64
    epochs 30
    seed 0
}
"""


def run_netc(net, ds, seed: int, epochs: int) -> float:
    """Train from scratch with model seed `seed`; the final validation accuracy."""
    settings = dataclasses.replace(net.train, seed=seed, epochs=epochs)
    trainer = Trainer(Model(lower(net), seed=seed, dtype=np.float32), ds, settings, shuffle=net.data.shuffle)
    while not trainer.finished(epochs):
        trainer.run_epoch()
    return trainer.final_result().val_accuracy


def run_sklearn(MLPClassifier, ds, seed: int, epochs: int) -> float:
    clf = MLPClassifier(hidden_layer_sizes=(128, 128), activation="relu", solver="adam", alpha=0.0,
                        batch_size=64, learning_rate_init=1e-3, beta_1=0.9, beta_2=0.999,
                        epsilon=1e-8, max_iter=epochs, shuffle=True, random_state=seed,
                        early_stopping=False, n_iter_no_change=epochs + 1, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter is expected
        clf.fit(ds.x_train, ds.y_train)
    assert clf.n_iter_ == epochs, clf.n_iter_
    return float(clf.score(ds.x_val, ds.y_val))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fast smoke mode (2 epochs, 1 pair)")
    args = ap.parse_args()
    try:
        import sklearn
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        print("vs_sklearn: scikit-learn is not installed; skipping (pip install scikit-learn)")
        return 0
    epochs, reps = (2, 1) if args.quick else (30, 5)

    net = netc.loads(SPEC, check_data=False)
    assert net.train.regularize is None and net.train.early_stop is None
    ref = netc.load(ROOT / "examples" / "digits.net", check_data=False)
    assert ref.data == net.data, "the data section must match examples/digits.net's"
    raw = load_data(net.data, seed=0, base_dir=ROOT / "examples", default_classes=10)
    ds = dataclasses.replace(raw, x_train=raw.x_train.astype(np.float32),
                             x_val=raw.x_val.astype(np.float32))
    print(f"vs_sklearn: digits {len(ds.x_train)} train / {len(ds.x_val)} validation, 64-128-128-10 "
          f"relu, adam lr 1e-3, batch 64, {epochs} epochs, L2 0 / alpha=0, float32; "
          f"scikit-learn {sklearn.__version__}, {reps} interleaved pairs, model seeds 0..{reps - 1}")

    configs = [("default threads", contextlib.nullcontext)]
    try:
        from threadpoolctl import threadpool_limits
        configs.append(("BLAS 1 thread", lambda: threadpool_limits(1, user_api="blas")))
    except ImportError:
        print("  (threadpoolctl not installed: skipping the 1-thread run)")
    verdicts = []
    for name, ctx in configs:
        tn, ts, an, as_ = [], [], [], []
        with ctx():
            run_netc(net, ds, 99, 1), run_sklearn(MLPClassifier, ds, 99, 1)  # warm up both
            for r in range(reps):
                for which in ((0, 1) if r % 2 == 0 else (1, 0)):
                    t = time.perf_counter()
                    if which == 0:
                        an.append(run_netc(net, ds, r, epochs))
                        tn.append(time.perf_counter() - t)
                    else:
                        as_.append(run_sklearn(MLPClassifier, ds, r, epochs))
                        ts.append(time.perf_counter() - t)
        med = statistics.median
        ratio = med(tn) / med(ts)
        print(f"  {name:<16} netc {med(tn):6.2f} s  sklearn {med(ts):6.2f} s  ratio {ratio:4.2f}  "
              f"(times netc {' '.join(f'{t:.2f}' for t in tn)}; sklearn {' '.join(f'{t:.2f}' for t in ts)})")
        print(f"  {'':<16} val accuracy netc {100 * med(an):.2f}%  sklearn {100 * med(as_):.2f}%  "
              f"(netc {' '.join(f'{100 * a:.1f}' for a in an)}; sklearn {' '.join(f'{100 * a:.1f}' for a in as_)})")
        verdicts.append(f"{name}: time {'PASS' if ratio <= 1.0 else 'FAIL'} ({ratio:.2f}), accuracy "
                        f"{'PASS' if med(an) >= med(as_) else 'FAIL'}")
    print("targets ratio <= 1.0 and netc accuracy >= sklearn's: " + "; ".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
