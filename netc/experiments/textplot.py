"""Learning curves drawn with characters, for a terminal without matplotlib: one marker per
variant, the mean over seeds, a shared y-axis."""
from __future__ import annotations

MARKERS = "123456789abcdefghijklmnopqrstuvwxyz"


def curves(series: dict[str, list[float | None]], title: str, width: int = 60, height: int = 12,
           x_range: tuple[str, str] | None = None) -> str:
    """`series` maps a label to one value per epoch (None where missing); returns the plot with a
    legend. Points of several series in one cell show '*'. `x_range` labels the x-axis's ends
    (default: epoch 1 and the last epoch)."""
    values = [v for s in series.values() for v in s if v is not None]
    if not values:
        return f"{title}: no finite values to plot"
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + (abs(lo) or 1.0) * 1e-3
    epochs = max(len(s) for s in series.values())
    cells = [[" "] * width for _ in range(height)]
    for k, (label, s) in enumerate(series.items()):
        mark = MARKERS[k % len(MARKERS)]
        for e, v in enumerate(s):
            if v is None:
                continue
            x = round(e * (width - 1) / max(epochs - 1, 1))
            y = height - 1 - round((v - lo) * (height - 1) / (hi - lo))
            cells[y][x] = mark if cells[y][x] in (" ", mark) else "*"
    label_w = max(len(f"{hi:.4g}"), len(f"{lo:.4g}"))
    lines = [title]
    for i, row in enumerate(cells):
        axis = f"{hi:.4g}" if i == 0 else (f"{lo:.4g}" if i == height - 1 else "")
        lines.append(f"{axis:>{label_w}} │" + "".join(row))
    lines.append(" " * label_w + " └" + "─" * width)
    left, right = x_range or ("epoch 1", str(epochs))
    lines.append(" " * label_w + f"  {left}{' ' * max(1, width - len(left) - len(right))}{right}")
    lines.append("  " + "   ".join(f"{MARKERS[k % len(MARKERS)]} {label}" for k, label in enumerate(series)))
    return "\n".join(lines)
