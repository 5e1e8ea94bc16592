"""How much memory a run needs, estimated from the plan before any array is allocated, and how
much the machine has: `netc check` shows the estimate, and the commands that build a model refuse
one that cannot fit (rather than dying halfway with a traceback).

The estimate counts what the NumPy runtime keeps alive at its peak: the parameters and buffers,
one gradient per parameter, the optimizer's moments, the best weights early stopping keeps, every
node's output and the gradient at it for one batch, each kernel's workspace (what its forward
saves for backward, or a convolution's patch matrix), and the data held in memory.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import numpy as np

from ..spec.diagnostics import NetcError
from ..spec.settings import TrainSettings
from .optim import make_optimizer


class MemoryLimitError(NetcError):
    """A run that would not fit in memory: `message` with the figures, and a `hint` (exit 2)."""

    def __init__(self, message: str, hint: str | None = None, span=None):
        super().__init__(message, span, hint)


class NodeMemoryError(MemoryError):
    """A MemoryError raised while a node allocated (initialization, forward or backward): `where`
    names it ("node 'dense2' (line 7), forward")."""

    def __init__(self, step, phase: str):
        self.where = f"node '{step.name}' (line {step.span.line}), {phase}"
        super().__init__(f"out of memory in {self.where}")


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes by kind for one run; `total` is their sum. `batch` is the largest batch pushed
    through the network (training batch or evaluation chunk) and `dtype` the arrays' type."""

    parameters: int
    gradients: int
    optimizer: int
    best_weights: int
    activations: int
    workspace: int
    temporaries: int
    data: int
    batch: int
    dtype: str

    @property
    def total(self) -> int:
        return (self.parameters + self.gradients + self.optimizer + self.best_weights
                + self.activations + self.workspace + self.temporaries + self.data)

    def breakdown(self) -> str:
        """'parameters 420 KB, gradients 416 KB, ...' (kinds that need nothing left out)."""
        parts = [("parameters", self.parameters), ("gradients", self.gradients),
                 ("optimizer state", self.optimizer), ("best weights", self.best_weights),
                 ("activations", self.activations), ("workspace", self.workspace),
                 ("temporaries", self.temporaries), ("data", self.data)]
        return ", ".join(f"{name} {format_bytes(n)}" for name, n in parts if n)

    def summary(self) -> str:
        """One line: 'memory (float32, batch 64): ~5.1 MB = parameters 420 KB, ...'."""
        return f"memory ({self.dtype}, batch {self.batch}): ~{format_bytes(self.total)} = {self.breakdown()}"


def _elements(shape) -> int:
    return math.prod(d for d in shape if d is not None)


def estimate(plan, train: TrainSettings, dtype=np.float32, batch: int | None = None, data_bytes: int = 0,
             eval_batch: int = 0) -> MemoryEstimate:
    """The memory a run of `plan` with the train settings `train` needs, in bytes by kind.

    `batch` defaults to the train section's; `eval_batch` is the chunk evaluation pushes through
    (forward only, no gradients); `data_bytes` is what the loaded data occupies. Exact arithmetic
    on Python integers, so a network of 10**12 parameters is reported, not overflowed.
    """
    itemsize = np.dtype(dtype).itemsize
    batch = batch or train.batch
    params = sum(_elements(shape) for s in plan.steps for shape in s.kernel.param_shapes().values())
    buffers = sum(_elements(shape) for s in plan.steps for shape in s.kernel.buffer_shapes().values())
    # the optimizer's per-parameter state arrays the size of the parameter (Adam: m and v)
    probe = (7,)
    moments = sum(1 for shape, _ in make_optimizer(train.optimizer).slots(probe, np.float32).values()
                  if tuple(shape) == probe)
    per_example = sum(output_elements(s.kernel) for s in plan.steps)
    # training keeps each output and the gradient at it; evaluation only the outputs
    outputs = max(2 * batch * per_example, eval_batch * per_example)
    workspace = max(sum(s.kernel.workspace(b) for s in plan.steps) for b in (batch, eval_batch))
    best = (params + buffers) if train.early_stop else 0
    # NOTE: the largest parameter also exists briefly as a float64 draw at initialization and
    # as an update temporary (lr * g) at every step
    largest = max((_elements(shape) for s in plan.steps for shape in s.kernel.param_shapes().values()), default=0)
    return MemoryEstimate(
        parameters=(params + buffers) * itemsize, gradients=params * itemsize,
        optimizer=params * moments * itemsize, best_weights=best * itemsize,
        activations=outputs * itemsize,
        workspace=workspace * itemsize, temporaries=largest * (8 + itemsize), data=data_bytes, batch=batch, dtype=np.dtype(dtype).name)


def output_elements(kernel) -> int:
    """Scalars in one example's output of `kernel` (its width, or the product of its shape)."""
    shape = getattr(kernel, "out_shape", None)
    if shape is not None:
        return _elements(shape)
    return kernel.out_width


def dataset_bytes(ds, dtype=np.float32) -> int:
    """What a Dataset occupies once the training loop holds it: its arrays plus their cast copy."""
    arrays = [a for a in (ds.x_train, ds.y_train, ds.x_val, ds.y_val) if a is not None]
    held = sum(a.nbytes for a in arrays)
    inputs = sum(a.size for a in (ds.x_train, ds.x_val) if a is not None)
    return held + inputs * np.dtype(dtype).itemsize


def available() -> int | None:
    """Bytes this process may still allocate: the least of the system's available memory, the
    control group's remaining limit and NETC_MEMORY_LIMIT (e.g. '2G'); None if none is known."""
    limits = []
    env = os.environ.get("NETC_MEMORY_LIMIT")
    if env:
        try:
            limits.append(parse_bytes(env))
        except ValueError as e:
            raise MemoryLimitError(f"NETC_MEMORY_LIMIT: {e}") from None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                text = f.read().strip()
            if text != "max" and int(text) < 2**60:
                with open(usage_file) as f:
                    limits.append(max(0, int(text) - int(f.read().strip())))
                break
        except (OSError, ValueError):
            continue
    return min(limits) if limits else None


def check_fits(est: MemoryEstimate, plan=None) -> None:
    """Raise MemoryLimitError when the estimate exceeds the memory available. With the run's
    `plan`, when the weights are most of it, the error points at the layer with the most
    parameters (its span) and names it."""
    free = available()
    if free is None or est.total <= free:
        return
    weights = est.parameters + est.gradients + est.optimizer + est.best_weights + est.temporaries
    biggest, advice = max((("the weights and what training keeps per weight (gradients, optimizer "
                            "state, the update's temporaries)", weights), "use narrower layers"),
                          (("the activations of one batch", est.activations + est.workspace),
                           "use a smaller batch or narrower layers"),
                          (("the data", est.data), "use a smaller data set"), key=lambda kv: kv[0][1])
    largest = _largest_layer(plan) if plan is not None and biggest[1] == weights else None
    where = ""
    if largest is not None:
        size = format_bytes(largest[1] * np.dtype(est.dtype).itemsize)
        where = f"; the largest layer is {largest[0].name}, {largest[1]:,} parameters ({size} of weights)"
    raise MemoryLimitError(
        f"the run needs about {format_bytes(est.total)} of memory but {format_bytes(free)} is available "
        f"({est.dtype}, batch {est.batch}){where}",
        f"most of it is {biggest[0]} ({est.breakdown()}): {advice}" +
        ("" if est.dtype == "float32" else ", or --dtype float32"),
        span=largest[0].span if largest is not None else None)


def _largest_layer(plan):
    """(step, parameter count) of the step with the most parameters, or None without any."""
    counts = [(step, step.kernel.param_count()) for step in plan.steps]
    step, n = max(counts, key=lambda t: t[1], default=(None, 0))
    return (step, n) if n else None


_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")


def format_bytes(n: int) -> str:
    """'512 B', '1.5 MB', '37.3 GB' (powers of 1024)."""
    value, unit = float(n), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    if unit == len(_UNITS) - 1 and value >= 1024:
        return f"{n:.3g} B"
    return f"{value:.0f} {_UNITS[unit]}" if unit == 0 or value >= 100 else f"{value:.1f} {_UNITS[unit]}"


def parse_bytes(text: str) -> int:
    """'2G', '512M', '1.5GB', '1000000' -> bytes; ValueError for anything else."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise ValueError(f"not a size: {text!r} (e.g. 2G, 512M)")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))
