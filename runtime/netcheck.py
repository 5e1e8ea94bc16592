"""Sampled gradient checks in float64: of a whole compiled network (`check_network`, for `netc
gradcheck`: the analytic gradients of every parameter and of every node's input on a small
batch, in training mode with the dropout masks held fixed) and of one kernel
(`check_kernel_sampled`, the debugger's node check).

By default each array is probed at a sample of its entries (the largest gradients and random
ones) and along random directions (`probe_array`, where the sampling and its power to catch a
wrong backward are explained; docs/gradcheck.md has the long form); `full=True` probes every
entry. In a network, each probe re-runs only the steps downstream of the perturbed array:
upstream outputs are those of one unperturbed pass, and each step's dropout generator restarts
from the state it had in that pass, so the masks are the same in every evaluation.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .gradcheck import TINY, _as64, rel_error
from .model import Model
from .ops.base import Ctx, Kernel

# --- sampled checks of big arrays -----------------------------------------------------------------
#
# A sampled check compares the analytic gradient g of a scalar f (an array of n entries) with
# finite differences along a few probe directions, each costing two evaluations of f whatever n:
#
# - the sampled entries: the entries with the largest |g| (argpartition, linear in n) and random
#   ones, perturbed together with random signs s: the probe compares sum_i s_i g_i;
# - `directions` dense random unit directions v whose entries have random signs and magnitudes
#   between 0.5 and 1.5 (before normalizing; `random_direction`): each compares g . v.
#
# Why this catches a wrong backward, an error e = g_analytic - g_true, as well as probing every
# entry would (docs/gradcheck.md has the long form):
#
# - a dense direction sees e . v; for an error in one entry that is at least |e_j| / (1.5 sqrt(n))
#   (no entry of v is near zero: there is no unlucky small draw), against a scale of about
#   rms(g): an error is caught once |e_j| exceeds about 1.5 * tolerance * sqrt(n) * rms(g) -- for
#   a 4096 x 4096 weight and the tolerance 1e-6, 0.6% of a typical entry. An error over a row, a
#   column or everything (a wrong scale, a transpose) has a larger norm and is caught all the
#   more; errors in several entries cancel only by an unlikely coincidence of the random signs
#   and magnitudes;
# - the largest entries are always in the sampled probe: an entry made too large (a single-entry
#   bug that dominates) is compared against a scale of the largest entries themselves;
# - the random entries and random signs are drawn from the seed: a run is reproducible.
#
# Finite differences: central differences (2 evaluations) first; when they do not agree with the
# analytic values to a tenth of the tolerance, the five-point stencil (2 more, error O(h^4))
# decides. The truncation error of central differences is what the second pass removes: a small
# gradient (a softmax before cross_entropy) at an h small enough to stay off ReLU kinks.
# `full=True` instead probes every entry on its own (n probes: for small arrays).

TOLERANCE = 1e-6
# Below this, a gradient is indistinguishable from zero by central differences in float64 (their
# round-off is about 1e-16 * |loss| / h): such an array passes when both gradients are below it,
# e.g. a dense bias right before batchnorm, whose gradient is exactly zero.
ZERO_FLOOR = 1e-7
STEP = 1e-5


@dataclass(frozen=True)
class ArrayCheck:
    """The result of probing one array: how many entries were probed (all of them with
    `full`), along how many probe directions (each an evaluation pair), the worst relative error
    over the probes, and whether both gradients were below ZERO_FLOOR (then `error` is 0.0)."""

    entries: int
    probes: int
    error: float
    zero: bool


def pick_entries(g: np.ndarray, entries: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices to probe in g: its max(1, entries // 2) largest |g| and the rest drawn
    uniformly at random without replacement; sorted, unique. All entries when `entries` >=
    g.size. Linear in g's size (argpartition on the rows holding the largest entries)."""
    n = g.size
    if entries >= n:
        return np.arange(n)
    k_top = max(1, entries // 2)
    top = _largest(g.reshape(g.shape[0], -1) if g.ndim > 1 else g.reshape(1, -1), k_top)
    rest = rng.choice(n, size=entries - k_top, replace=False) if entries > k_top else []
    return np.unique(np.concatenate([top, np.asarray(rest, dtype=top.dtype)]))


def _largest(a: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the k largest |entries| of the 2-D array a. The k largest lie in the k
    rows with the largest row maxima of |a|, so only those rows are partitioned (and no |a| of
    the whole array is made)."""
    rows = np.maximum(a.max(axis=1), -a.min(axis=1))
    if k < len(rows):
        rows_k = np.argpartition(rows, len(rows) - k)[len(rows) - k:]
    else:
        rows_k = np.arange(len(rows))
    sub = np.abs(a[rows_k]).ravel()
    best = np.argpartition(sub, len(sub) - k)[len(sub) - k:]
    return rows_k[best // a.shape[1]] * a.shape[1] + best % a.shape[1]


def random_direction(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A random unit vector of `shape` (float32, whose values float64 arithmetic takes exactly)
    whose entries have random signs and magnitudes spread evenly over [0.5, 1.5] before
    normalizing: no entry is near zero (an error in any single entry shows in the projection
    with at least a third of the largest weight), and errors in several entries cancel only with
    probability zero (the magnitudes are continuous)."""
    r = rng.random(shape, dtype=np.float32)
    v = r * np.float32(2.0)
    v -= np.float32(0.5)
    v -= r < 0.5  # r < 0.5: 2r - 1.5 in [-1.5, -0.5); else 2r - 0.5 in [0.5, 1.5)
    flat = v.reshape(-1)
    v *= np.float32(1.0 / (np.sqrt(float(np.dot(flat, flat))) or 1.0))  # unit length to ~1e-7: enough
    return v


def _dot64(a: np.ndarray, b: np.ndarray, chunk: int = 1 << 20) -> float:
    """The dot product of two flat arrays in float64, converting b a cache-sized chunk at a time
    (no float64 copy of a big b)."""
    return float(sum(np.dot(a[i:i + chunk], b[i:i + chunk].astype(np.float64))
                     for i in range(0, a.size, chunk)))


def perturbing(arr: np.ndarray, f: Callable[[], float]):
    """The two probes of `probe_array` for a scalar f() that reads the float64 array `arr`:
    at(idx, d) = f with arr.flat[idx] shifted by d (an index array and the shifts), along(v, t)
    = f with arr shifted by t * v. Each puts arr back exactly (restoring, not subtracting)."""
    flat = arr.reshape(-1)
    saved: list[np.ndarray] = []  # a copy of arr, made on the first `along`

    def at(idx: np.ndarray, d: np.ndarray) -> float:
        old = flat[idx]
        flat[idx] = old + d
        try:
            return f()
        finally:
            flat[idx] = old

    def along(v: np.ndarray, t: float) -> float:
        if not saved:
            saved.append(arr.copy())
        np.multiply(v, t, out=arr)
        np.add(arr, saved[0], out=arr)
        try:
            return f()
        finally:
            arr[...] = saved[0]
    return at, along


def probe_array(g: np.ndarray, at: Callable[[np.ndarray, np.ndarray], float],
                along: Callable[[np.ndarray, float], float], rng: np.random.Generator,
                entries: int = 12, directions: int = 2, h: float = STEP,
                tolerance: float = TOLERANCE, full: bool = False) -> ArrayCheck:
    """Check the analytic gradient g of a scalar function against finite differences: the
    entries of `pick_entries(g, entries)` together with random signs, and `directions` random
    +-1/sqrt(n) directions; or, if `full`, every entry on its own. at(idx, d) evaluates the
    function with flat entries idx shifted by d, along(v, t) with the whole array shifted by
    t * v (see `perturbing`). The error is the worst over the probes of |analytic - numeric|
    relative to the larger of the two and of the probe's scale (for the sampled entries the norm
    of their gradients, for a direction the root mean square of g); with `full`, norm-wise over
    the entries as `rel_error`."""
    g = np.asarray(g, np.float64)
    gflat = g.reshape(-1)
    probes: list[Callable[[float], float]] = []
    analytic: list[float] = []
    scales: list[float] = []  # what each probe's value is compared with (sampled checks)
    if full:
        picks = np.arange(g.size)
        for i in picks:
            probes.append(lambda t, i=picks[i:i + 1]: at(i, np.full(1, t)))
            analytic.append(float(gflat[i]))
    else:
        picks = pick_entries(g, entries, rng)
        signs = rng.choice(np.array([-1.0, 1.0]), size=len(picks))
        probes.append(lambda t: at(picks, t * signs))
        analytic.append(float(np.dot(signs, gflat[picks])))
        scales.append(float(np.linalg.norm(gflat[picks])))  # the typical size of the signed sum
        rms = float(np.linalg.norm(gflat)) / np.sqrt(max(g.size, 1))
        for _ in range(directions):
            v = random_direction(g.shape, rng)
            probes.append(lambda t, v=v: along(v, t))
            analytic.append(_dot64(gflat, v.reshape(-1)))
            scales.append(rms)  # the typical size of g . v for a unit v
    a = np.array(analytic)

    def error(numeric: np.ndarray) -> float:
        if full:  # norm-wise over the entries, as check_kernel
            return rel_error(a, numeric)
        # each probe against its own scale: a dense direction's value is about rms(g), far below
        # the sampled entries' (which hold the largest): one norm over both would hide an error
        # that only the direction sees
        denom = np.maximum(np.maximum(np.abs(a), np.abs(numeric)), np.maximum(scales, TINY))
        return float(np.max(np.abs(a - numeric) / denom))

    central = np.array([(p(h) - p(-h)) / (2 * h) for p in probes])
    numeric = central
    if a.size and error(central) > tolerance / 10:  # let the five-point stencil decide
        wide = np.array([(p(2 * h) - p(-2 * h)) / (4 * h) for p in probes])
        numeric = (4 * central - wide) / 3
    if a.size == 0 or max(np.abs(a).max(), np.abs(numeric).max()) < ZERO_FLOOR:
        return ArrayCheck(len(picks), len(a), 0.0, True)
    return ArrayCheck(len(picks), len(a), error(numeric), False)


def check_kernel_sampled(kernel: Kernel, xs: list[np.ndarray], state: Mapping[str, np.ndarray],
                         seed: int = 0, entries: int = 12, directions: int = 2) -> dict[str, float]:
    """Like check_kernel in training mode, but each array is probed at `entries` entries (its
    largest gradients and random ones) and along `directions` random directions (see
    `probe_array`), so the cost does not grow with the array's size (a 4096 x 4096 weight checks
    in about a second)."""
    xs64 = [_as64(x) for x in xs]
    state64 = {k: _as64(v) for k, v in state.items()}
    ctx = Ctx()
    y = kernel.forward(ctx, xs64, {k: v.copy() for k, v in state64.items()}, True, np.random.default_rng(seed))
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dxs, dparams = kernel.backward(ctx, dy.copy(), {k: v.copy() for k, v in state64.items()})

    def scalar() -> float:
        st = {k: v.copy() for k, v in state64.items()}
        c = Ctx()
        out = kernel.forward(c, xs64, st, True, np.random.default_rng(seed))
        return float(np.vdot(out, dy)) + kernel.penalty(c)  # an activity penalty backpropagates too

    rng = np.random.default_rng([seed, 97])
    arrays = [(f"x{i}", xs64[i], dxs[i]) for i in range(len(xs64))]
    arrays += [(k, state64[k], dparams[k]) for k in kernel.param_shapes()]
    result = {}
    for name, arr, grad in arrays:
        if grad is None:
            continue
        result[name] = probe_array(np.asarray(grad, np.float64), *perturbing(arr, scalar), rng,
                                   entries, directions).error
    return result


# Entries probed per array by default (half the largest gradients, half random, probed together)
# and random directions over the whole array (gradcheck.probe_array explains the choice; `netc
# gradcheck` and docs/gradcheck.md document these numbers).
ENTRIES = 12
DIRECTIONS = 1


@dataclass(frozen=True)
class Probe:
    """One checked array: a parameter (`dense1.W`) or a node's input (`relu1 <- dense1`)."""

    kind: str     # 'param' or 'input'
    name: str
    entries: int  # entries probed (all of them with `full`)
    probes: int   # probe directions, each an evaluation pair (entries together, and directions)
    error: float
    zero: bool  # both gradients are below ZERO_FLOOR: checked as zero


class _Replay:
    """The loss of `model` on (x, y) re-run from one step on, with every earlier step's output,
    the buffers and the dropout generator's state as they were in one unperturbed pass."""

    def __init__(self, model: Model, x: np.ndarray, y: np.ndarray, seed: int):
        self.model, self.x, self.y = model, x, y
        self.buffers = {k: v.copy() for k, v in model.buffers.items()}
        rng = np.random.default_rng([seed, 99])
        self.rng_states = []
        for step in model.steps:
            self.rng_states.append(rng.bit_generator.state)
            model.forward_step(step, x, True, rng)
        self.base_loss = model.loss(y) + model.op_penalty()
        self.outputs = [o.copy() for o in model.outputs]

    def loss(self, start: int = 0, override: np.ndarray | None = None) -> float:
        """The loss re-running steps start.. ; the output of step start - 1 is `override` if
        given (a perturbed node output), else the unperturbed one."""
        model = self.model
        for k, v in self.buffers.items():
            model.buffers[k][...] = v
        model.outputs[:start] = self.outputs[:start]
        if override is not None:
            model.outputs[start - 1] = override
        rng = np.random.default_rng()
        rng.bit_generator.state = self.rng_states[start] if start < len(self.rng_states) else self.rng_states[-1]
        for step in model.steps[start:]:
            model.forward_step(step, self.x, True, rng)
        # the ops' activity penalties are part of the training loss whose gradient backward gives
        return model.loss(self.y) + model.op_penalty()


@contextlib.contextmanager
def _small_pages():
    """NumPy without its transparent-huge-page advice for the duration. A gradient check of a
    4096-wide network allocates about 3 GB of short-lived arrays; with the advice, the kernel
    compacts memory to back each with 2 MB pages: 1.4 to 2.5 s of system time on this machine
    (`netc gradcheck examples/init_relu_he.net`: 9.0-10.3 s wall with it, 7.9-8.0 s without).
    The switch is NumPy's own (it reads NUMPY_MADVISE_HUGEPAGE through it); where it is
    missing, nothing changes."""
    switch = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    previous = switch(False) if switch is not None else None
    try:
        yield
    finally:
        if switch is not None:
            switch(previous)


def check_network(plan, x: np.ndarray, y: np.ndarray, seed: int = 0, entries: int = ENTRIES,
                  h: float = STEP, directions: int = DIRECTIONS, full: bool = False,
                  tolerance: float = TOLERANCE) -> list[Probe]:
    """Probe every parameter and node input of `plan` on the batch (x, y): at `entries` entries
    and along `directions` random directions each (every entry if `full`); float64 throughout.
    `tolerance` decides only when the five-point stencil refines central differences; the caller
    judges the errors."""
    with _small_pages():
        return _check_network(plan, x, y, seed, entries, h, directions, full, tolerance)


def _check_network(plan, x, y, seed, entries, h, directions, full, tolerance) -> list[Probe]:
    model = Model(plan, seed=seed, dtype=np.float64)
    x = np.asarray(x, np.float64)
    replay = _Replay(model, x, y, seed)
    # The probes only run forward passes, which leave these (and the parameters' gradients) alone.
    grads, node_grads = model.backward(), model.grad_outputs
    rng = np.random.default_rng([seed, 98])
    options = dict(entries=entries, directions=directions, h=h, tolerance=tolerance, full=full)
    results = []
    owner = {f"{s.name}.{k}": s.index for s in model.steps for k in s.kernel.param_shapes()}
    for name, w in model.params.items():
        index = owner[name]
        g = grads[name] if name in grads else np.zeros_like(w)
        check = probe_array(g, *perturbing(w, lambda index=index: replay.loss(index)), rng, **options)
        results.append(Probe("param", name, check.entries, check.probes, check.error, check.zero))
    checked: dict[int, object] = {}  # a node output feeding several steps is checked once
    for step in model.steps:
        for j in step.inputs:
            producer = model.steps[j]
            if not producer.inputs or node_grads[j] is None:
                continue  # the network's input takes no gradient
            if j not in checked:
                out = replay.outputs[j].copy()
                checked[j] = probe_array(node_grads[j], *perturbing(out, lambda j=j, out=out: replay.loss(j + 1, out)),
                                         rng, **options)
            c = checked[j]
            results.append(Probe("input", f"{step.name} <- {producer.name}", c.entries, c.probes, c.error, c.zero))
    return results
