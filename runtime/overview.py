"""All layers at a glance: one row per node from the stepper's newest snapshots, and the flags the
debugger puts on nodes (dead, saturated, collapsed, exploding gradient, NaN).

Every threshold lives here, and every figure is computed here, from the runtime's statistics
(ActivationStats, GradientStats, ParamStats): the TUI only draws what `overview()` returns.
No op is named: "dead" is read from the units (a unit that is exactly zero for every example of
the batch), "saturated" from the statistic the op table's saturation range gives.

    ov = overview(model.steps, forward_snaps, gradient_snaps, update_snap)
    ov.rows[3].flags          # ('dead',)
    ov.shared_counts(row, 40) # its histogram re-binned onto the axis every row shares
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .stats import Histogram

# --- thresholds (docs/debugger.md lists them) -----------------------------------------------------

DEAD_UNITS = 0.5        # dead: more than half of the units are exactly 0 for every example of the batch
SATURATED = 0.2         # saturated: more than 20% of the outputs beyond the op's saturation range
COLLAPSE = 0.1          # collapsed: std below a tenth of its input's, or of the network input's
EXPLODING = 100.0       # exploding: gradient norm at the output over 100x the one at the network's output

# Flag name -> (symbol, legend). Single-cell symbols, so the graph's columns stay aligned.
FLAGS = {
    "nan": ("!", "NaN or Inf in its output or gradient"),
    "dead": ("×", f"dead: over {DEAD_UNITS:.0%} of the units are 0 for the whole batch"),
    "saturated": ("±", f"saturated: over {SATURATED:.0%} of the outputs beyond the saturation range"),
    "collapsed": ("↓", f"collapsed: std under {COLLAPSE:g}× its input's or the network input's"),
    "exploding": ("↑", f"exploding gradient: norm over {EXPLODING:g}× the one at the network output"),
}


@dataclass(frozen=True)
class LayerRow:
    """One node's figures: activation std, fraction of zeros, of saturated outputs (None when the
    op has no saturation range), of dead units, the gradient norm at its output, the update ratio
    of its largest parameter, its flags (keys of FLAGS, in FLAGS' order) and its histogram."""

    node: str
    std: float | None = None
    zero_frac: float | None = None
    saturated_frac: float | None = None
    dead_frac: float | None = None
    grad_norm: float | None = None
    update_ratio: float | None = None
    flags: tuple[str, ...] = ()
    hist: Histogram | None = None


@dataclass(frozen=True)
class Overview:
    """The rows in plan order; `std_scale` the largest std (bars share it); `lo`, `hi` the range
    every row's histogram covers (the shared x axis), None before any forward pass."""

    rows: tuple[LayerRow, ...]
    std_scale: float
    lo: float | None
    hi: float | None

    def bar(self, row: LayerRow) -> float:
        """The row's std as a fraction (0..1) of the shared scale."""
        if row.std is None or not math.isfinite(row.std) or self.std_scale <= 0:
            return 0.0
        return min(row.std / self.std_scale, 1.0)

    def shared_counts(self, row: LayerRow, bins: int) -> tuple[float, ...]:
        """The row's histogram re-binned onto `bins` equal bins over [lo, hi], the range all rows
        share: each source bin's count spread over the target bins in proportion to their overlap
        (so the shape is that of the runtime's 24-bin histogram, placed on the common axis)."""
        return rebin(row.hist, self.lo, self.hi, bins)

    def own_counts(self, row: LayerRow, bins: int) -> tuple[float, ...]:
        """The row's histogram over its own range, in `bins` bins."""
        if row.hist is None or not row.hist.counts:
            return ()
        return rebin(row.hist, row.hist.edges[0], row.hist.edges[-1], bins)


def rebin(hist: Histogram | None, lo: float | None, hi: float | None, bins: int) -> tuple[float, ...]:
    """Counts of `hist` spread onto `bins` equal bins over [lo, hi] by overlap (empty if none)."""
    if hist is None or not hist.counts or lo is None or hi is None or bins < 1 or not hi > lo:
        return ()
    edges = np.asarray(hist.edges, np.float64)
    counts = np.asarray(hist.counts, np.float64)
    target = np.linspace(lo, hi, bins + 1)
    # overlap of source bin i with target bin j, over the source bin's width
    left = np.maximum(edges[:-1, None], target[None, :-1])
    right = np.minimum(edges[1:, None], target[None, 1:])
    width = np.maximum(edges[1:] - edges[:-1], 1e-300)[:, None]
    share = np.clip(right - left, 0, None) / width
    return tuple(float(v) for v in counts @ share)


def dead_fraction(act) -> float | None:
    """The fraction of units that are exactly 0 for every example of the batch (a unit whose
    mean and variance over the batch are both 0)."""
    if act is None or act.unit_mean is None or np.size(act.unit_mean) == 0:
        return None
    return float(np.mean((act.unit_mean == 0) & (act.unit_var == 0)))


def overview(steps, forward: dict, gradients: dict, update=None, all_steps=None) -> Overview:
    """The rows for `steps` (plan steps, in order) from the newest activation statistics per node
    (`forward`: name -> ActivationStats), the newest gradient statistics (`gradients`: name ->
    GradientStats) and the newest update snapshot (for the update ratios). `all_steps` is the
    whole plan when `steps` is a part of it (inputs, the network's input and output are read there)."""
    plan = list(all_steps) if all_steps is not None else list(steps)
    ratios: dict[str, tuple[int, float | None]] = {}
    for p in (update.params if update is not None else ()):
        node = p.name.rpartition(".")[0]
        size = int(np.prod(p.shape)) if p.shape else 1
        if node not in ratios or size > ratios[node][0]:
            ratios[node] = (size, p.update_ratio)
    dead = {s.name: dead_fraction(forward.get(s.name)) for s in plan}
    first_std = next((forward[s.name].std for s in plan if s.name in forward
                      and math.isfinite(forward[s.name].std) and forward[s.name].std > 0), None)
    out_grad = next((gradients[s.name].norm for s in reversed(plan) if s.name in gradients), None)
    rows = []
    for s in steps:
        a, g = forward.get(s.name), gradients.get(s.name)
        flags = set()
        if (a is not None and not a.finite) or (g is not None and not g.finite):
            flags.add("nan")
        if a is not None and a.finite:
            ins = [plan[i].name for i in s.inputs]
            d = dead[s.name]
            if d is not None and s.inputs and d > DEAD_UNITS and all((dead[n] or 0) <= DEAD_UNITS for n in ins):
                flags.add("dead")   # where dying starts, not every node after it
            if a.saturated_frac is not None and a.saturated_frac > SATURATED:
                flags.add("saturated")
            in_stds = [forward[n].std for n in ins if n in forward]
            if s.inputs and "dead" not in flags and (any(a.std < COLLAPSE * v for v in in_stds)
                             or (first_std is not None and a.std < COLLAPSE * first_std)):
                flags.add("collapsed")
        if (g is not None and g.finite and out_grad is not None and out_grad > 0
                and g.norm > EXPLODING * out_grad):
            flags.add("exploding")
        rows.append(LayerRow(s.name, a.std if a else None, a.zero_frac if a else None,
                             a.saturated_frac if a else None, dead[s.name], g.norm if g else None,
                             ratios.get(s.name, (0, None))[1], tuple(f for f in FLAGS if f in flags),
                             a.hist if a else None))
    stds = [r.std for r in rows if r.std is not None and math.isfinite(r.std)]
    edges = [e for r in rows if r.hist is not None and r.hist.counts for e in (r.hist.edges[0], r.hist.edges[-1])]
    return Overview(tuple(rows), max(stds, default=0.0), min(edges, default=None), max(edges, default=None))
