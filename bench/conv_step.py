"""One CNN training step (forward, loss, backward) through netc vs PyTorch CPU, same threads.

Digits: examples/digits_cnn.net's network without its dropout (conv 16 / batchnorm / relu /
conv 32 / batchnorm / relu / maxpool 2 / flatten / dense 10) on 1x8x8, batch 64. LeNet-size:
conv 32 / relu / conv 64 / relu / maxpool 2 / flatten / dense 128 / relu / dense 10 on 1x28x28,
batch 128. float32. Before timing, both compute one step from the same weights and the losses and
every gradient are compared (float32 tolerance). Steps alternate netc, torch, torch, netc, ... in
one process; medians; the printed ratio is netc / torch. Both use one thread (torch.set_num_threads
and threadpoolctl for NumPy's BLAS, if installed).

Memory: the im2col buffers netc keeps for one step (one (B*Ho*Wo, C*k*k) matrix per conv, saved
for the weight gradient) against the growth of the process's peak RSS over PyTorch's first step.

    python bench/conv_step.py [--repeat N]
"""
from __future__ import annotations

import os

# one BLAS thread for NumPy, set before NumPy loads (threadpoolctl may not be installed)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import netc  # noqa: E402
from netc.compiler.lower import lower  # noqa: E402

DIGITS = """model digits { input 1 8 8
  conv 16 bias=false; batchnorm; relu; conv 32 bias=false; batchnorm; relu
  maxpool 2; flatten; dense 10 init=xavier }"""
LENET = """model lenet { input 1 28 28
  conv 32; relu; conv 64; relu; maxpool 2; flatten; dense 128; relu; dense 10 }"""


def torch_forward(torch, spec_order, params, x):
    """The same network in torch.nn.functional, node by node, from netc's plan."""
    F = torch.nn.functional
    h = x
    for step in spec_order:
        op, a, name = step.op, step.kernel.attrs, step.name
        if op == "input":
            h = h.reshape((h.shape[0],) + step.kernel.out_shape)
        elif op == "conv":
            h = F.conv2d(h, params[f"{name}.W"], params.get(f"{name}.b"), padding="same")
        elif op == "batchnorm":
            h = F.batch_norm(h, None, None, params[f"{name}.gamma"], params[f"{name}.beta"], training=True,
                             eps=a["eps"])
        elif op == "relu":
            h = F.relu(h)
        elif op == "maxpool":
            h = F.max_pool2d(h, a["size"])
        elif op == "flatten":
            h = torch.flatten(h, 1)
        elif op == "dense":
            h = h @ params[f"{name}.W"] + params[f"{name}.b"]
    return h


def bench(torch, text, batch, repeat):
    net = netc.loads(text)
    model = netc.Model(lower(net, "cross_entropy"), seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, net.input_width)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)

    def ours():
        model.forward(x, training=True)
        loss = model.loss(y)
        return loss, model.backward()

    def theirs():
        for p in params.values():
            p.grad = None
        loss = torch.nn.functional.cross_entropy(torch_forward(torch, model.steps, params, tx), ty)
        loss.backward()
        return loss.item()

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tloss = theirs()
    torch_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024  # MiB
    loss, grads = ours()
    assert abs(loss - tloss) < 1e-4 * max(1, abs(tloss)), (loss, tloss)
    for k, p in params.items():
        g, tg = grads[k], p.grad.numpy()
        assert np.abs(g - tg).max() <= 1e-3 * (np.abs(tg).max() + 1e-6), k
    cols = sum(ctx.cols.nbytes for ctx in model.ctxs if hasattr(ctx, "cols")) / 2**20
    times = {"netc": [], "torch": []}
    for i in range(repeat):
        for name in (("netc", "torch") if i % 2 == 0 else ("torch", "netc")):
            t0 = time.perf_counter()
            ours() if name == "netc" else theirs()
            times[name].append(time.perf_counter() - t0)
    a, b = statistics.median(times["netc"]), statistics.median(times["torch"])
    print(f"{net.name}: batch {batch}: netc {a * 1e3:.1f} ms, torch {b * 1e3:.1f} ms, ratio {a / b:.2f} "
          f"(target <= 1.5: {'PASS' if a / b <= 1.5 else 'FAIL'}); im2col buffers {cols:.1f} MiB, "
          f"torch peak-RSS growth over its first step {torch_growth:.1f} MiB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    limit = contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1)
    except ImportError:
        pass
    with limit:
        bench(torch, DIGITS, 64, args.repeat)
        bench(torch, LENET, 128, max(4, args.repeat // 4))


if __name__ == "__main__":
    main()
