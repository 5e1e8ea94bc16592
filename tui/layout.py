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
            f"{width}×{height}. Enlarge the window (or make the font smaller); q quits.")


def ellipsize(text: str, width: int) -> str:
    """`text` in at most `width` cells, its middle replaced by '…' when it is longer (names keep
    their start and their distinctive end: hidden1.b…norm1)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:max(width, 0)]
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def _dotted(text: str, width: int) -> str:
    """`text` in `width` cells keeping its last dotted part whole after the middle of the rest
    (h…1.batchnorm1: a block's index sits at the end of its name), else ellipsize's middle cut."""
    if len(text) <= width:
        return text
    head, dot, last = text.rpartition(".")
    room = width - len(last) - 1          # cells left for the block part and its dot
    return ellipsize(head, room) + "." + last if dot and room >= 3 else ellipsize(text, width)


def _cut_at(text: str, width: int, h: int) -> str:
    """`text` in `width` cells with its first `h` characters, '…' and its end."""
    return text if len(text) <= width else text[:h] + "…" + text[len(text) - (width - 1 - h):]


def shorten_names(names: list[str], width: int) -> list[str]:
    """`names` each in at most `width` cells, and still told apart: a name that fits stays whole,
    a longer one keeps its last dotted part and the end of its block (conv_bn1.batchnorm1 ->
    c…1.batchnorm1, not conv_b…chnorm1, which conv_bn2.batchnorm1 would also become); names that
    would still look the same are all cut at one place, the one nearest the middle where they differ."""
    chosen = [_dotted(n, width) for n in names]
    if width < 2:
        return chosen
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(chosen):
        groups.setdefault(c, []).append(i)
    mid = (width - 1) // 2
    for ix in groups.values():
        if len({names[i] for i in ix}) < 2:
            continue
        for h in sorted(range(width), key=lambda h: (abs(h - mid), h)):
            cut = [_cut_at(names[i], width, h) for i in ix]
            if len(set(cut)) == len({names[i] for i in ix}):
                for i, c in zip(ix, cut):
                    chosen[i] = c
                break
    return chosen
