"""Choosing the engine of `netc run`: NumPy (netc's own runtime, the reference and the default) or
PyTorch (`--engine torch` on `--device cpu|cuda`, data-parallel when torchrun launched the
process). torch is imported here only when --engine torch asks for it: `netc run` with the NumPy
engine (and every other command) never loads it."""
from __future__ import annotations

import os

from .experiments.extras import require
from .prepare import fail
from .spec.settings import TrainSettings


def world() -> int:
    """The number of processes of the torchrun job this process belongs to (1 without torchrun);
    read from torchrun's environment, without importing torch."""
    try:
        return max(int(os.environ.get("WORLD_SIZE", "1")), 1)
    except ValueError:
        return 1


def rank() -> int:
    """This process's rank in the torchrun job (0 without torchrun): only rank 0 prints and saves."""
    try:
        return int(os.environ.get("RANK", "0")) if world() > 1 else 0
    except ValueError:
        return 0


def check_options(args) -> None:
    """Refuse, before any data is loaded, option combinations that cannot work (exit 2): a
    device without the torch engine, torchrun without it, a missing torch, an absent GPU."""
    engine, device = getattr(args, "engine", "numpy"), getattr(args, "device", None)
    if engine != "torch" and device is not None:
        fail(None, f"--device {device} needs --engine torch (the NumPy engine runs on the CPU)",
             hint=f"netc run FILE --engine torch --device {device}")
    if engine != "torch" and world() > 1:
        fail(None, f"torchrun started {world()} processes, but only --engine torch trains data-parallel",
             hint="torchrun --nproc_per_node N -m netc run FILE --engine torch")
    if engine == "torch":
        torch = require("torch", "torch", "netc run --engine torch")
        if device == "cuda" and not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            fail(None, f"--device cuda: PyTorch sees no CUDA device on this machine (torch "
                       f"{torch.__version__}, {build})",
                 hint="use --device cpu, or run on a machine with an NVIDIA GPU and a CUDA build of PyTorch")


def check_batch(net, train: TrainSettings) -> None:
    """Under torchrun the file's batch is the global batch: it must split evenly over the ranks."""
    n = world()
    if n > 1 and train.batch % n:
        fail(net, f"batch {train.batch} does not split evenly over {n} processes: under torchrun "
                  f"the batch is the global batch, batch / processes examples per process",
             net.spec.train_spans.get("batch"),
             f"use a multiple of {n}, e.g. batch {max(n, train.batch - train.batch % n)}")


def torch_trainer(model, dataset, settings: TrainSettings, device: str | None, *, shuffle: bool):
    """A TorchTrainer for the run on `device` (default cpu), shuffling each epoch's rows when
    `shuffle` (the data section's setting), joining the torchrun job (gloo on
    the CPU, nccl on CUDA) when there is one. check_options has made sure torch and the device
    are there."""
    import torch
    from .runtime.torchnet.engine import Distributed, TorchTrainer
    device = device or "cpu"
    dist = Distributed()
    if world() > 1:
        if device == "cuda":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            torch.cuda.set_device(torch.device(device))
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        dist = Distributed(torch.distributed.get_rank(), torch.distributed.get_world_size())
    return TorchTrainer(model, dataset, settings, device, dist, shuffle=shuffle)


def finish(wait: bool = False) -> None:
    """Leave the torchrun job cleanly, if this process joined one (no-op otherwise). With `wait`
    (the run completed), first wait at a barrier for every rank to get there."""
    import sys
    torch = sys.modules.get("torch")
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        if wait:
            # a rank that tears gloo down while another is still working (rank 0 saving the
            # checkpoint) can abort in gloo's threads ("terminate called without an active
            # exception", seen under load): leave together
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()
