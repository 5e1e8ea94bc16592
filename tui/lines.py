"""Widgets that show a list of rich Text lines, one per row, clipped (never wrapped).

They draw through Textual's line API and keep each line's rendered strip until the lines change,
so a new value repaints only the widget that changed and never re-lays out the screen: this is
what keeps a step's repaint fast (a rich Table or a wrapped Static costs many times more).

    panel.show([Text("mean 0.39"), Text("var 0.34")])
"""
from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget


class _LineStrips:
    """The shared part: the lines, and their strips cached per (line, width)."""

    _lines: list[Text]
    _strips: dict[tuple[int, int], Strip]

    def _set(self, lines: list[Text]) -> list[int] | None:
        """Take new lines; the indices of the lines that changed (None: all of them, or the style)."""
        old, self._lines = getattr(self, "_lines", None), lines
        base = self.rich_style if self.is_mounted else None  # looked up once per change: it is costly
        if old is None or len(old) != len(lines) or base != getattr(self, "_base", None):
            self._strips, self._base = {}, base
            return None
        changed = [i for i, (a, b) in enumerate(zip(old, lines)) if a != b]
        if changed:
            gone = set(changed)
            self._strips = {k: v for k, v in self._strips.items() if k[0] not in gone}
        return changed

    def _repaint(self, changed: list[int] | None, scroll_y: int = 0) -> None:
        if changed is None:
            self.refresh()
        elif changed:
            width = max(self.size.width, getattr(self, "virtual_size", self.size).width)
            self.refresh(*(Region(0, i - scroll_y, width, 1) for i in changed))

    def _strip(self, i: int, scroll_x: int, width: int) -> Strip:
        if self._base is None:
            self._base = self.rich_style
        base = self._base
        if not 0 <= i < len(self._lines):
            return Strip.blank(width, base)
        key = (i, scroll_x + width)
        strip = self._strips.get(key)
        if strip is None:
            segments = Segment.apply_style(self._lines[i].render(self.app.console, end=""), base)
            strip = Strip(segments).crop_extend(0, scroll_x + width, base)
            self._strips[key] = strip
        return strip.crop(scroll_x, scroll_x + width) if scroll_x else strip


class Lines(_LineStrips, Widget):
    """A fixed-size panel of lines (its size comes from the stylesheet)."""

    def __init__(self, *lines: Text, **kw) -> None:
        super().__init__(**kw)
        self._set(list(lines))

    def show(self, lines: list[Text] | Text) -> None:
        """Replace the lines (a single Text is one line); repaint those that changed."""
        self._repaint(self._set([lines] if isinstance(lines, Text) else list(lines)))

    def on_resize(self) -> None:
        self._strips, self._base = {}, None

    def render_line(self, y: int) -> Strip:
        return self._strip(y, 0, self.size.width)


def more_below(hidden: int, width: int) -> str:
    """What a panel `width` cells wide says on its last row while `hidden` lines are below it:
    the longest of its wordings that fits."""
    lines = f"line{'s' if hidden != 1 else ''}"
    for text in (f"↓ {hidden} more {lines} below: scroll (wheel, or tab then ↓)",
                 f"↓ {hidden} more {lines} below (scroll)", f"↓ {hidden} more (scroll)", f"↓ {hidden} more"):
        if len(text) <= width:
            return text
    return "↓"


class ScrollLines(_LineStrips, ScrollView):
    """A scrollable list of lines: `show(lines)` sets them and the scrollable size. While lines
    are hidden below, the last row says how many (a thin scrollbar alone reads as a stray glyph)."""

    COMPONENT_CLASSES = {"lines--more"}

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._set([])

    def show(self, lines: list[Text], width: int | None = None) -> None:
        changed = self._set(list(lines))
        size = Size(width if width is not None else max((l.cell_len for l in lines), default=0), len(lines))
        if size != self.virtual_size:
            self.virtual_size = size
            changed = None
        self._repaint(changed, self.scroll_offset.y)

    def on_resize(self) -> None:
        self._strips, self._base = {}, None

    def room(self) -> int:
        """The width lines may take: the panel's, less the one cell of a scrollbar (which comes
        and goes with the number of lines, and must not push a column out when it comes)."""
        return max(self.content_region.width - 1, 1)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        height, width = self.scrollable_content_region.height, self.size.width
        hidden = len(self._lines) - scroll_y - height
        if y == height - 1 and hidden > 0 and scroll_x == 0:
            room = self.scrollable_content_region.width
            style = self.get_component_rich_style("lines--more")
            line, note = self._lines[scroll_y + y], f" ↓{hidden} more "
            if height < 4 and line.cell_len + len(note) + 1 <= room:
                # a small panel keeps its last row when the note fits after it
                text = line.copy()
                text.append(" " * (room - line.cell_len - len(note)))
                text.append(note, style=style)
            elif height >= 2:
                # the row it covers is hidden too, so the count includes it
                text = Text(more_below(hidden + 1, room).ljust(room), style=style)
            else:
                return self._strip(scroll_y + y, scroll_x, width)
            return Strip(text.render(self.app.console, end="")).crop_extend(0, width, self.rich_style)
        return self._strip(scroll_y + y, scroll_x, width)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.refresh()     # the last row's note follows the offset
