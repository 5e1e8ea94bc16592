"""One training step of `netc run --engine torch` against a hand-written PyTorch loop doing the
same step, and against netc's NumPy engine, on the networks of bench/train_step.py.

Big: 784-1024-1024-10, each hidden layer `dense bias=false; batchnorm; relu; dropout 0.5`, batch
256, float32, softmax cross-entropy, plain SGD (lr 0.01). Small: examples/digits.net (64-128-128-10,
batch 64, Adam, l2, clipping by norm, batch norm, dropout).

- torch engine: one `TorchTrainer.iteration()` drained, exactly what `netc run --engine torch`
  does per batch: the batch's rows taken from the in-memory training split, netc's dropout masks
  drawn by the NumPy kernel, forward, loss (and its value, and the batch's accuracy, read back),
  backward, penalty and clipping, torch.optim's step, the epoch's running sums.
- hand-written torch: the shortest loop a PyTorch user writes for the same step: an nn.Sequential
  of nn.Linear / nn.BatchNorm1d / nn.ReLU / nn.Dropout from the same initial weights, the batch's
  rows indexed from a tensor of the training split, F.cross_entropy, zero_grad / backward /
  torch.optim.SGD's step and loss.item().
- NumPy engine: one `Trainer.iteration()` drained (`netc run`'s default).

Before timing, the torch engine's first step is checked against the NumPy engine's (same
weights, same batch, same masks: the loss to 1e-4 relative in float32). Steps alternate between
the contenders in one process (A, B, C, C, B, A, ...); medians; one thread each
(torch.set_num_threads(1), OpenBLAS 1 thread), as `netc run` has it by default.

Target: big, torch engine / hand-written torch <= 1.05 (PASS/FAIL printed).

    python bench/torch_engine.py            python bench/torch_engine.py --quick
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import netc  # noqa: E402
from netc.compiler.lower import lower  # noqa: E402
from netc.runtime.model import Model  # noqa: E402
from netc.runtime.torchnet.engine import TorchTrainer  # noqa: E402
from netc.runtime.train import LOSS, Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.05
BIG = """block hidden(w) { dense w init=he bias=false; batchnorm; relu; dropout 0.5 }
model big { input 784; hidden 1024; hidden 1024; dense 10 init=xavier }
train { loss cross_entropy; optimizer sgd lr=0.01; batch 256; epochs 1000; seed 0 }
"""


class Data:
    """The fields a Trainer reads from a dataset: a training split, no validation."""

    def __init__(self, x, y):
        self.x_train, self.y_train, self.x_val, self.y_val = x, y, None, None


def hand_written(model: Model, x: np.ndarray, y: np.ndarray, batch: int, lr: float):
    """The big network in plain PyTorch from the netc model's initial weights; returns step()."""
    layers, S = [], model.state
    for s in model.steps:
        a = s.kernel.attrs
        if s.op == "dense":
            lin = nn.Linear(s.kernel.in_widths[0], s.kernel.out_width, bias=a["bias"])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(S[s.index]["W"].T))
                if a["bias"]:
                    lin.bias.copy_(torch.from_numpy(S[s.index]["b"]))
            layers.append(lin)
        elif s.op == "batchnorm":
            layers.append(nn.BatchNorm1d(s.kernel.out_width, eps=a["eps"], momentum=a["momentum"]))
        elif s.op == "relu":
            layers.append(nn.ReLU())
        elif s.op == "dropout":
            layers.append(nn.Dropout(a["p"]))
    net = nn.Sequential(*layers).train()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    where = [0]

    def step():
        k = where[0] % (len(x) // batch)
        where[0] += 1
        idx = order[k * batch:(k + 1) * batch]
        out = net(xt[idx])
        loss = nn.functional.cross_entropy(out, yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def drain(trainer):
    """One iteration of a trainer's engine, as `netc run` drives it; returns the loss."""
    loss = None
    for ph in trainer.iteration():
        if ph.kind == LOSS:
            loss = ph.loss
    return loss


def contenders(text: str, x, y, hand: bool):
    """{name: step()} for the network `text` on the training split (x, y)."""
    net = netc.loads(text, name="bench.net", check_data=False)
    settings = net.train
    engine = TorchTrainer(Model(lower(net), seed=0), Data(x, y), settings, shuffle=True)
    numpy_engine = Trainer(Model(lower(net), seed=0), Data(x, y), settings, shuffle=True)
    a, b = drain(engine), drain(numpy_engine)  # the same first step: same weights, batch and masks
    assert abs(a - b) <= 1e-4 * abs(b), (a, b)
    out = {"torch engine": lambda: drain(engine), "numpy engine": lambda: drain(numpy_engine)}
    if hand:
        out["hand-written torch"] = hand_written(Model(lower(net), seed=0), x, y, settings.batch,
                                                 settings.optimizer.lr)
    return out


def measure(steps: dict, repeats: int) -> dict[str, float]:
    """Median seconds per step of each contender, interleaved (A B C C B A ...)."""
    times = {k: [] for k in steps}
    for f in steps.values():  # warm-up: allocations, lazy initialization
        f(), f()
    order = list(steps)
    for r in range(repeats):
        for name in (order if r % 2 == 0 else order[::-1]):
            t = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    args = p.parse_args()
    torch.set_num_threads(1)
    repeats = 8 if args.quick else 30
    rng = np.random.default_rng(0)
    # enough rows that no epoch ends while timing (an epoch's end validates and copies weights)
    rows = 256 * (repeats + 8)
    x = rng.standard_normal((rows, 784)).astype(np.float32)
    y = rng.integers(0, 10, rows)
    big = measure(contenders(BIG, x, y, hand=True), repeats)
    digits = netc.load(ROOT / "examples" / "digits.net")
    text = (ROOT / "examples" / "digits.net").read_text().replace("epochs 30", "epochs 100000")
    ds = digits.dataset
    small = measure(contenders(text, ds.x_train.astype(np.float32), ds.y_train, hand=False), repeats * 4)
    print(f"torch {torch.__version__}, 1 thread; medians of {repeats} (big) and {repeats * 4} (digits) steps")
    for name, t in big.items():
        print(f"  big 784-1024-1024-10, batch 256   {name:<20} {1e3 * t:8.2f} ms")
    for name, t in small.items():
        print(f"  digits 64-128-128-10, batch 64    {name:<20} {1e3 * t:8.2f} ms")
    ratio = big["torch engine"] / big["hand-written torch"]
    print(f"big: torch engine / hand-written torch = {ratio:.3f} (target <= {TARGET}: "
          f"{'PASS' if ratio <= TARGET else 'FAIL'})")
    print(f"big: numpy engine / torch engine = {big['numpy engine'] / big['torch engine']:.2f}")
    print(f"digits: numpy engine / torch engine = {small['numpy engine'] / small['torch engine']:.2f}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
