"""One CNN training step (forward, loss, backward) through netc vs PyTorch CPU, same threads.

Digits: examples/digits_cnn.net's network without its dropout (conv 16 / batchnorm / relu /
conv 32 / batchnorm / relu / maxpool 2 / flatten / dense 10) on 1x8x8, batch 64. LeNet-size:
conv 32 / relu / conv 64 / relu / maxpool 2 / flatten / dense 128 / relu / dense 10 on 1x28x28,
batch 128. float32. Before timing, both compute one step from the same weights and the losses and
every gradient are compared (float32 tolerance). Steps alternate netc, torch, torch, netc, ... in
one process; medians of the whole step and of each phase (forward with the loss; backward), the
fastest tenth of the steps, and the median CPU time of a step (this thread's: both engines compute
in it), the last two less disturbed by other processes on a shared machine; the printed ratios
are netc / torch. Both use one thread (torch.set_num_threads and threadpoolctl for
NumPy's BLAS, if installed).

Memory: the im2col buffers netc keeps for one step (one (B*Ho*Wo, k*k*C) matrix per conv, saved
for the weight gradient), and for each engine the growth of peak RSS over one training step, each
in a fresh process (after the model, weights and batch exist).

    python bench/conv_step.py [--repeat N] [--quick]
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


NETS = {"digits": (DIGITS, 64), "lenet": (LENET, 128)}


def setup(torch, name):
    """netc's model of NETS[name], a batch, and PyTorch's copies of its weights and the batch.
    Returns the two steps as (forward and loss, backward) pairs of callables, and the model."""
    text, batch = NETS[name]
    net = netc.loads(text)
    model = netc.Model(lower(net, "cross_entropy"), seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, net.input_width)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)
    box = {}

    def ours_forward():
        model.forward(x, training=True)
        return model.loss(y)

    def theirs_forward():
        for p in params.values():
            p.grad = None
        box["loss"] = torch.nn.functional.cross_entropy(torch_forward(torch, model.steps, params, tx), ty)
        return box["loss"].item()

    def theirs_backward():
        box["loss"].backward()
        return {k: p.grad for k, p in params.items()}

    return {"netc": (ours_forward, model.backward), "torch": (theirs_forward, theirs_backward)}, model


def im2col_mib(model) -> float:
    """The patch buffers of the last forward (one per conv, a chunk of examples each), MiB."""
    return sum(ctx.im2col_bytes for ctx in model.ctxs if hasattr(ctx, "im2col_bytes")) / 2**20


def peak_rss() -> float:
    """The process's peak resident set so far, MiB: /proc's VmHWM on Linux (ru_maxrss would count
    the parent's peak too, since it survives exec), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def memory_child(engine, name):
    """In a fresh process: the growth of peak RSS over one training step of `engine` (MiB), after
    the model, the weights and the batch exist; for netc also the im2col buffers. Prints JSON."""
    import json
    import torch
    torch.set_num_threads(1)
    steps, model = setup(torch, name)
    forward, backward = steps[engine]
    rss0 = peak_rss()
    forward()
    backward()
    growth = peak_rss() - rss0
    print(json.dumps({"growth": growth, "im2col": im2col_mib(model) if engine == "netc" else None}))


def memory(name) -> dict:
    """memory_child's figures for both engines, each in its own process."""
    import json
    import subprocess
    import sys
    return {engine: json.loads(subprocess.run(
        [sys.executable, __file__, "--memory-child", engine, name], check=True, capture_output=True,
        text=True).stdout) for engine in ("netc", "torch")}


def bench(torch, name, repeat):
    steps, model = setup(torch, name)
    (ours_f, ours_b), (theirs_f, theirs_b) = steps["netc"], steps["torch"]
    tloss, loss = theirs_f(), ours_f()
    tgrads, grads = theirs_b(), ours_b()
    assert abs(loss - tloss) < 1e-4 * max(1, abs(tloss)), (loss, tloss)
    for k, tg in tgrads.items():
        g, tg = grads[k], tg.numpy()
        assert np.abs(g - tg).max() <= 1e-3 * (np.abs(tg).max() + 1e-6), k
    times = {(engine, phase): [] for engine in steps for phase in ("forward", "backward")}
    cpu = {engine: [] for engine in steps}
    for i in range(repeat):
        for engine in (("netc", "torch") if i % 2 == 0 else ("torch", "netc")):
            forward, backward = steps[engine]
            c0, t0 = time.thread_time(), time.perf_counter()
            forward()
            t1 = time.perf_counter()
            backward()
            t2, c2 = time.perf_counter(), time.thread_time()
            times[engine, "forward"].append(t1 - t0)
            times[engine, "backward"].append(t2 - t1)
            cpu[engine].append(c2 - c0)
    med = {key: statistics.median(v) for key, v in times.items()}
    totals = {engine: [f + b for f, b in zip(times[engine, "forward"], times[engine, "backward"])]
              for engine in steps}
    step = {engine: statistics.median(v) for engine, v in totals.items()}
    # the fastest tenth of each engine's steps: less of the time other processes took the core
    fast = {engine: np.percentile(v, 10) for engine, v in totals.items()}
    # CPU time of this thread (both engines compute in it, with one thread): what a shared
    # machine's other processes do not add to, unlike wall time
    cpu = {engine: statistics.median(v) for engine, v in cpu.items()}
    ratio = step["netc"] / step["torch"]
    mem = memory(name)
    print(f"{name}: batch {NETS[name][1]}: step netc {step['netc'] * 1e3:.1f} ms, torch {step['torch'] * 1e3:.1f} ms, "
          f"ratio {ratio:.2f} (target <= 1.5: {'PASS' if ratio <= 1.5 else 'FAIL'})")
    print(f"  fastest tenth netc {fast['netc'] * 1e3:.1f} ms, torch {fast['torch'] * 1e3:.1f} ms, ratio "
          f"{fast['netc'] / fast['torch']:.2f}; CPU time netc {cpu['netc'] * 1e3:.1f} ms, torch "
          f"{cpu['torch'] * 1e3:.1f} ms, ratio {cpu['netc'] / cpu['torch']:.2f}")
    for phase in ("forward", "backward"):
        a, b = med["netc", phase], med["torch", phase]
        print(f"  {phase:8s} netc {a * 1e3:7.1f} ms, torch {b * 1e3:7.1f} ms, ratio {a / b:.2f}")
    mratio = mem["netc"]["growth"] / max(mem["torch"]["growth"], 1e-9)
    print(f"  memory: im2col buffers {mem['netc']['im2col']:.1f} MiB; peak-RSS growth over one step "
          f"(fresh process each) netc {mem['netc']['growth']:.1f} MiB, torch {mem['torch']['growth']:.1f} MiB, "
          f"ratio {mratio:.2f}" + (f" (target <= 2: {'PASS' if mratio <= 2 else 'FAIL'})" if name == "lenet" else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="a smoke run: few repeats")
    ap.add_argument("--memory-child", nargs=2, metavar=("ENGINE", "NET"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        return memory_child(*args.memory_child)
    import torch
    torch.set_num_threads(1)
    limit, blas = contextlib.nullcontext(), "OPENBLAS_NUM_THREADS=1 (threadpoolctl not installed)"
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        limit = threadpool_limits(1)
        blas = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info())
    except ImportError:
        pass
    print(f"threads: torch {torch.get_num_threads()}; native pools {blas}")
    repeat = 4 if args.quick else args.repeat
    with limit:
        bench(torch, "digits", repeat)
        bench(torch, "lenet", max(4, repeat // 4))


if __name__ == "__main__":
    main()
