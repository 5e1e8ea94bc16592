"""Statistics of tensors, as the debugger and `netc stats` show them: moments, extremes, dead and
saturated fractions, histograms, per-unit moments across the batch, gradient and parameter norms.

Computed in float64 whatever the run's dtype, so the figures do not depend on it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HIST_BINS = 24
# Feature maps kept per 4-D snapshot for the debugger's heatmaps: more than fit in its widest
# layout (a 160-column panel shows about 40 tiles of 8x8), few enough to keep a snapshot small.
MAP_CHANNELS = 64
MAP_SCALE_PERCENTILE = 98  # of |value|: full colour in the heatmaps (ChannelStats.map_scale)


@dataclass(frozen=True)
class Histogram:
    """Bin counts and the len(counts) + 1 bin edges."""

    counts: tuple[int, ...]
    edges: tuple[float, ...]


def histogram(a: np.ndarray, bins: int = HIST_BINS) -> Histogram:
    """A histogram over the finite values of `a` (empty counts if there are none)."""
    flat = np.asarray(a, np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return Histogram((), ())
    lo, hi = float(flat.min()), float(flat.max())
    # A range float64 cannot split into `bins` distinct edges (a constant, or values a few
    # spacings apart far from zero: a diverged layer at -3e15) is widened around its middle.
    room = 4 * bins * np.spacing(max(abs(lo), abs(hi)))
    if hi - lo <= room:
        mid, half = lo / 2 + hi / 2, max(0.5, room)
        lo, hi = mid - half, mid + half
    counts, edges = np.histogram(flat, bins=bins, range=(lo, hi))
    return Histogram(tuple(int(c) for c in counts), tuple(float(e) for e in edges))


@dataclass(frozen=True)
class ChannelStats:
    """Per-channel statistics of images a (B, C, H, W): the axes the normalizations differ on.

    Batchnorm (training mode) makes each channel's `mean` 0 and `var` 1, over the batch and H, W;
    instancenorm makes each (example, channel)'s `example_mean` 0 and `example_var` 1, over H, W
    alone. A batch-normalized channel therefore still varies from example to example (its
    example means spread around 0), an instance-normalized one does not."""

    mean: np.ndarray          # (C,) over (B, H, W)
    var: np.ndarray           # (C,) biased, over (B, H, W)
    example_mean: np.ndarray  # (B, C) over (H, W)
    example_var: np.ndarray   # (B, C) biased, over (H, W)
    maps: np.ndarray          # (min(C, MAP_CHANNELS), H, W) float32: example 0's feature maps
    map_range: tuple[float, float]  # (min, max) over the finite values of `maps`
    # the heatmaps' colour scale: the MAP_SCALE_PERCENTILE of |maps| (a few bright pixels would
    # otherwise leave every other one dark), or their largest |value| if that percentile is 0
    map_scale: float = 0.0
    # the rounding floor of the means (float_noise): below it a per-channel or per-example mean is
    # the dtype's rounding, different from CPU to CPU, not a figure
    mean_noise: float = 0.0
    example_mean_noise: float = 0.0

    @property
    def channels(self) -> int:
        """C, the number of channels (also those beyond the kept maps)."""
        return len(self.mean)

    def summary(self) -> dict[str, list[float]]:
        """The node in one row: [min, max] over channels of the per-channel mean and var, and over
        every (example, channel) of the per-example mean and var."""
        def span(v):
            return [float(np.min(v)), float(np.max(v))]
        return {"channel_mean": span(self.mean), "channel_var": span(self.var),
                "example_mean": span(self.example_mean), "example_var": span(self.example_var)}

    def table(self) -> list[dict]:
        """A record per channel: its mean and var over (B, H, W), and the range over the batch's
        examples of its per-example mean and var over (H, W)."""
        em, ev = self.example_mean, self.example_var
        return [{"channel": c, "mean": float(self.mean[c]), "var": float(self.var[c]),
                 "example_mean_min": float(em[:, c].min()), "example_mean_max": float(em[:, c].max()),
                 "example_var_min": float(ev[:, c].min()), "example_var_max": float(ev[:, c].max())}
                for c in range(self.channels)]


def channel_stats(a: np.ndarray, example: int = 0) -> ChannelStats:
    """Per-channel (over B, H, W) and per-(example, channel) (over H, W) mean and biased variance
    of images a (B, C, H, W), in float64, with the first MAP_CHANNELS feature maps of `example`.
    Raises ValueError for an array that is not 4-D."""
    x = np.asarray(a, np.float64)
    if x.ndim != 4:
        raise ValueError(f"per-channel statistics need images (B, C, H, W), not shape {x.shape}")
    with np.errstate(all="ignore"):
        cm, cv = channel_moments(x)
        em, ev = instance_moments(x)
        maps = np.asarray(a[example, :MAP_CHANNELS], np.float32).copy()
        fin = np.asarray(maps[np.isfinite(maps)], np.float64)
        rng = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 0.0)
        scale = float(np.percentile(np.abs(fin), MAP_SCALE_PERCENTILE)) if fin.size else 0.0
    b, _, h, w = x.shape
    return ChannelStats(cm, cv, em, ev, maps, rng, scale or max(abs(rng[0]), abs(rng[1])),
                        float_noise(a, b * h * w), float_noise(a, h * w))


def float_noise(a: np.ndarray, count: int) -> float:
    """How far from 0 the mean of `count` entries of `a` can be from rounding alone: eps of a's
    dtype x sqrt(count) x max |a| (the error of a float sum grows about as sqrt(count) times the
    rounding of its largest terms). After a normalization, whose exact mean is 0, a computed mean
    below it is rounding noise: it differs between CPUs (their BLAS kernels round differently)."""
    arr = np.asarray(a)
    if not np.issubdtype(arr.dtype, np.floating) or arr.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        top = float(np.max(np.abs(arr)))
    return float(np.finfo(arr.dtype).eps) * np.sqrt(count) * top if np.isfinite(top) else 0.0


@dataclass(frozen=True)
class ActivationStats:
    """A node's output over the batch: (B, D) -> scalars, a histogram and per-unit vectors (D,)."""

    mean: float
    var: float
    std: float
    min: float
    max: float
    zero_frac: float             # fraction exactly zero (dead ReLUs)
    saturated_frac: float | None  # fraction at or beyond the op's saturation range; None if it has none
    p15: float
    p85: float
    hist: Histogram
    unit_mean: np.ndarray        # (*shape) mean of each unit across the batch: (D,) or (C, H, W)
    unit_var: np.ndarray         # (*shape) biased variance of each unit across the batch
    finite: bool
    channels: ChannelStats | None = None  # images (B, C, H, W) only, else None

    @property
    def channel_mean(self) -> np.ndarray | None:
        """(C,) over the batch and H, W (what batchnorm zeroes); None for vectors."""
        return None if self.channels is None else self.channels.mean

    @property
    def channel_var(self) -> np.ndarray | None:
        """(C,) biased, over the batch and H, W; None for vectors."""
        return None if self.channels is None else self.channels.var

    @property
    def maps(self) -> np.ndarray | None:
        """Example 0's first MAP_CHANNELS feature maps (C', H, W); None for vectors."""
        return None if self.channels is None else self.channels.maps


def activation_stats(a: np.ndarray, saturation: tuple[float, float] | None = None) -> ActivationStats:
    """Statistics of a node's output a, (B, D) or (B, C, H, W). `saturation` is the op's (lo, hi)
    from the registry (`kernel.saturation_bounds()`, e.g. (-0.99, 0.99) for tanh): the saturated
    fraction counts the entries with a <= lo or a >= hi; None (ops that do not saturate) leaves it
    None. Images also get `channels` (channel_stats: per channel, per example and channel, and
    example 0's feature maps)."""
    x = np.asarray(a, np.float64)
    finite = bool(np.isfinite(x).all())
    with np.errstate(all="ignore"):
        mean, var = float(x.mean()), float(x.var())
        p15, p85 = (float(v) for v in np.percentile(x, (15, 85))) if finite else (float("nan"),) * 2
        sat = None
        if saturation is not None:
            lo, hi = saturation
            sat = float(((x <= lo) | (x >= hi)).mean())
        channels = channel_stats(a) if x.ndim == 4 else None
        return ActivationStats(mean, var, float(np.sqrt(var)), float(x.min()), float(x.max()),
                               float((x == 0).mean()), sat, p15, p85, histogram(x),
                               x.mean(axis=0), x.var(axis=0), finite, channels)


def channel_moments(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance of images a (B, C, H, W) over the batch and H, W:
    two (C,) float64 arrays (after batchnorm in training mode: 0 and 1 up to eps)."""
    x = np.asarray(a, np.float64)
    return x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))


def instance_moments(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-(example, channel) mean and biased variance of images a (B, C, H, W) over H, W: two
    (B, C) float64 arrays (after instancenorm: 0 and 1 up to eps)."""
    x = np.asarray(a, np.float64)
    return x.mean(axis=(2, 3)), x.var(axis=(2, 3))


@dataclass(frozen=True)
class GradientStats:
    """The gradient of the loss with respect to a node's output (B, D)."""

    mean: float
    var: float
    norm: float
    hist: Histogram
    finite: bool


def gradient_stats(g: np.ndarray) -> GradientStats:
    """Mean, variance, L2 norm and histogram of a gradient array."""
    x = np.asarray(g, np.float64)
    with np.errstate(all="ignore"):
        return GradientStats(float(x.mean()), float(x.var()), float(np.sqrt(np.vdot(x, x))), histogram(x),
                             bool(np.isfinite(x).all()))


@dataclass(frozen=True)
class ParamStats:
    """A learned parameter: its values, its gradient, and the last update relative to its size."""

    name: str
    shape: tuple[int, ...]
    mean: float
    std: float
    grad_norm: float | None
    update_ratio: float | None  # ||w_after - w_before|| / ||w_before||
    norm: float = 0.0  # ||w||
    near_zero: float = 0.0  # fraction of entries with |w| < NEAR_ZERO (sparsity under L1)
    grad_sign_agreement: float | None = None  # see sign_agreement


NEAR_ZERO = 1e-3


def sign_agreement(grad: np.ndarray) -> float:
    """How one-signed a weight gradient is: per unit (a column of a 2-D weight (in, out); the
    whole array otherwise), the fraction of nonzero entries sharing the majority sign, averaged
    over units. 1.0 means every unit's incoming weights all move the same way (the notes: with
    all-positive inputs a unit's weight gradients share one sign), about 0.5 means no pattern."""
    g = np.asarray(grad)  # only signs are read: no float64 copy
    cols = g.reshape(-1, g.shape[-1]) if g.ndim == 2 else g.reshape(-1, 1)
    pos = (cols > 0).sum(axis=0)
    neg = (cols < 0).sum(axis=0)
    total = pos + neg
    keep = total > 0
    if not keep.any():
        return 1.0
    return float((np.maximum(pos, neg)[keep] / total[keep]).mean())


# Above this many entries, parameter statistics are reduced a chunk at a time (each chunk
# converted to float64 on its own): a 4096 x 4096 weight would otherwise make several 128 MB
# float64 copies per statistic, about a second per parameter per debugger step.
CHUNKED = 1 << 20
_CHUNK = 1 << 16


def _chunks(*arrays: np.ndarray):
    """Matching float64 chunks of the flattened arrays (None passes through as None)."""
    flats = [None if a is None else np.asarray(a).reshape(-1) for a in arrays]
    n = next(f.size for f in flats if f is not None)
    for i in range(0, n, _CHUNK):
        yield [None if f is None else f[i:i + _CHUNK].astype(np.float64) for f in flats]


def _sq(x: np.ndarray) -> float:
    """The sum of squares of a float64 chunk, without BLAS (whose threads wake for every small
    call: on a busy machine that costs more than the sum)."""
    return float(np.einsum("i,i->", x, x))


def _big_param_stats(w: np.ndarray, grad: np.ndarray | None,
                     before: np.ndarray | None) -> tuple[float, float, float | None, float | None, float, float]:
    """mean, std, gradient norm, update ratio, norm and near-zero fraction of a big parameter, in
    float64 a chunk at a time: the mean first, then the squared deviations from it (two passes,
    as np.std, so a parameter far from zero keeps its small std)."""
    total = sq = gsq = bsq = dsq = 0.0
    near = 0
    for x, g, b in _chunks(w, grad, before):
        total += float(x.sum())
        sq += _sq(x)
        near += int(np.count_nonzero(np.abs(x) < NEAR_ZERO))
        if g is not None:
            gsq += _sq(g)
        if b is not None:
            bsq += _sq(b)
            d = x - b
            dsq += _sq(d)
    n = w.size
    mean = total / n
    dev = 0.0
    for (x,) in _chunks(w):
        x -= mean
        dev += _sq(x)
    ratio = (np.sqrt(dsq) / np.sqrt(bsq) if bsq > 0 else None) if before is not None else None
    return (mean, float(np.sqrt(dev / n)), None if grad is None else float(np.sqrt(gsq)),
            None if ratio is None else float(ratio), float(np.sqrt(sq)), near / n)


def param_stats(name: str, w: np.ndarray, grad: np.ndarray | None = None,
                before: np.ndarray | None = None) -> ParamStats:
    """Statistics of parameter `w`; with `before` (its value before the update), the update ratio.
    In float64 whatever w's dtype (big parameters a chunk at a time: the same figures to
    rounding)."""
    if w.size > CHUNKED:
        mean, std, gn, ratio, norm, near = _big_param_stats(w, grad, before)
        return ParamStats(name, tuple(w.shape), mean, std, gn, ratio, norm=norm, near_zero=near,
                          grad_sign_agreement=None if grad is None else sign_agreement(grad))
    x = np.asarray(w, np.float64)
    gn = None if grad is None else float(np.sqrt(np.vdot(np.asarray(grad, np.float64), grad)))
    ratio = None
    if before is not None:
        b = np.asarray(before, np.float64)
        denom = float(np.sqrt(np.vdot(b, b)))
        diff = x - b
        ratio = float(np.sqrt(np.vdot(diff, diff))) / denom if denom > 0 else None
    return ParamStats(name, tuple(w.shape), float(x.mean()), float(x.std()), gn, ratio,
                      norm=float(np.sqrt(np.vdot(x, x))), near_zero=float(np.mean(np.abs(x) < NEAR_ZERO)),
                      grad_sign_agreement=None if grad is None else sign_agreement(grad))


STAT_KEYS = ("name", "op", "shape", "mean", "var", "std", "min", "max", "zero_frac", "saturated_frac",
             "grad_mean", "grad_var", "grad_norm")


def node_record(name: str, op: str, shape: tuple[int, ...], act: ActivationStats,
                grad: GradientStats | None) -> dict:
    """One row of `netc stats`: exactly the keys of STAT_KEYS."""
    return {"name": name, "op": op, "shape": list(shape),
            "mean": act.mean, "var": act.var, "std": act.std, "min": act.min, "max": act.max,
            "zero_frac": act.zero_frac, "saturated_frac": act.saturated_frac,
            "grad_mean": grad.mean if grad else None,
            "grad_var": grad.var if grad else None, "grad_norm": grad.norm if grad else None}


def moving_average(values, window: int = 20) -> list[float]:
    """The trailing mean of up to `window` values at each point (the loss curve's smooth line)."""
    v = np.asarray(values, np.float64)
    c = np.concatenate([[0.0], np.cumsum(v)])
    idx = np.arange(1, len(v) + 1)
    n = np.minimum(idx, window)
    return list((c[1:] - c[idx - n]) / n)
