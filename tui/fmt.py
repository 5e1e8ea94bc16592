"""How the debugger writes numbers: short, aligned, and honest about NaN, Inf and missing values.

A mean that is below float32's resolution of the values around it (`ref`, their std) is float
noise, different on every CPU: it is written `≈0` rather than as digits that mean nothing.
"""
from __future__ import annotations

import math

MISSING = "–"
NOISE = 1e-6   # |mean| below NOISE * std is within float32 precision (8 ulps of the spread)


def num(v: float | None, ref: float | None = None) -> str:
    """A statistic in at most 9 characters: 0.3927, -12.51, 3.42e-06, nan, inf, – (none); `≈0`
    when `ref` (the std of the values it summarizes) says it is below float32 precision."""
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == 0:
        return "0"
    if ref is not None and math.isfinite(ref) and abs(v) < NOISE * abs(ref):
        return "≈0"
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:.4g}"
    return f"{v:.2e}"


def short(v: float | None, ref: float | None = None, noise: float | None = None) -> str:
    """A statistic in at most 6 characters, for tables with many columns: 0.639, 13.7, 1.2e-4;
    `≈0` below float32 precision of `ref` (as num) or at most `noise` (the runtime's rounding
    floor of a mean, stats.float_noise)."""
    if v is None:
        return MISSING
    if not math.isfinite(v) or v == 0:
        return num(v)
    if ref is not None and math.isfinite(ref) and abs(v) < NOISE * abs(ref):
        return "≈0"
    if noise is not None and abs(v) <= noise:
        return "≈0"
    if 0.01 <= abs(v) < 1000:
        for digits in (3, 2, 1):
            text = f"{v:.{digits}g}"
            if len(text) <= 6 and "e" not in text:
                return text
    for text in (f"{v:.1e}", f"{v:.0e}"):
        text = text.replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")
        if len(text) <= 6:
            return text
    return text


def pct(v: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: 0.4966 -> '49.7%' ('50%' with digits=0)."""
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return num(v)
    return f"{100 * v:.{digits}f}%"


def shape(dims: tuple[int, ...]) -> str:
    """(128, 10) -> '128×10'."""
    return "×".join(str(d) for d in dims) or "scalar"


def where(span, calls=()) -> str:
    """'line 9' or 'line 9 via 17' for a node made inside a block call."""
    if span is None:
        return ""
    return f"line {span.line}" + (f" via {calls[0].line}" if calls else "")


def fit_columns(head: tuple[str, ...], rows: list[tuple[str, ...]], width: int,
                drop: tuple[int, ...] = ()) -> list[int]:
    """The indices of the columns to keep so that the table fits `width` cells: the columns of
    `drop` go first (in that order), then the last ones; the first column always stays. Cells are
    never cut: a column is shown whole or not at all."""
    keep = list(range(len(head)))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    order = [i for i in drop if i in keep] + [i for i in reversed(keep) if i not in drop and i != 0]
    while keep and sum(widths[i] for i in keep) + len(keep) - 1 > width and order:
        keep.remove(order.pop(0))
    return keep
