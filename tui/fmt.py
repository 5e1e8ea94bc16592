"""How the debugger writes numbers: short, aligned, and honest about NaN, Inf and missing values."""
from __future__ import annotations

import math

MISSING = "–"


def num(v: float | None) -> str:
    """A statistic in at most ~9 characters: 0.3927, -12.51, 3.42e-06, nan, inf, – (none)."""
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:.4g}"
    return f"{v:.2e}"


def pct(v: float | None) -> str:
    """A fraction as a percentage: 0.4966 -> '49.7%'."""
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return num(v)
    return f"{100 * v:.1f}%"


def shape(dims: tuple[int, ...]) -> str:
    """(128, 10) -> '128×10'."""
    return "×".join(str(d) for d in dims) or "scalar"


def where(span, calls=()) -> str:
    """'line 9' or 'line 9 via 17' for a node made inside a block call."""
    if span is None:
        return ""
    return f"line {span.line}" + (f" via {calls[0].line}" if calls else "")
