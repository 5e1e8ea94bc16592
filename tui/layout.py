"""Which layout the debugger uses for a terminal size, and how text fits the room it has.

Four size classes (docs/debugger.md): below MIN_SIZE a notice asks for a larger terminal;
'tabbed' (under 120 columns or 32 rows) shows the graph beside one panel at a time (1 node,
2 source, 3 loss, 4 an image node's channels); 'medium' (under 160x44) and 'wide' show every panel at once.
"""
from __future__ import annotations

MIN_SIZE = (80, 24)
TABBED_BELOW = (120, 32)
WIDE_FROM = (160, 44)
SIZE_CLASSES = ("tiny", "tabbed", "medium", "wide")
PANES = ("detail", "source", "loss", "channels")


def size_class(width: int, height: int) -> str:
    """'tiny', 'tabbed', 'medium' or 'wide' for a terminal of width x height cells."""
    if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
        return "tiny"
    if width < TABBED_BELOW[0] or height < TABBED_BELOW[1]:
        return "tabbed"
    if width < WIDE_FROM[0] or height < WIDE_FROM[1]:
        return "medium"
    return "wide"


def too_small(width: int, height: int) -> str:
    """The notice shown below the minimum size."""
    return (f"netc debug needs a terminal of at least {MIN_SIZE[0]}×{MIN_SIZE[1]}; this one is "
            f"{width}×{height}. Enlarge the window (or the font smaller); q quits.")


def ellipsize(text: str, width: int) -> str:
    """`text` in at most `width` cells, its middle replaced by '…' when it is longer (names keep
    their start and their distinctive end: hidden1.b…norm1)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:max(width, 0)]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]
