"""The .net source with the statement that made the current node highlighted (and the block call
it came from, and the selected node's statement when the selection is elsewhere), scrolled into view.

A ScrollView drawing only its visible lines, so moving the highlight never re-lays out the screen.
Lines longer than the panel (long comments) wrap onto continuation rows under their code.
Attributes down: the app sets `focus` (a SourceFocus).
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from .lines import ScrollLines


@dataclass(frozen=True)
class SourceFocus:
    """The current statement's span and its block-call spans; the selected statement's span;
    `alarm` when the current node produced a NaN or Inf."""

    span: object = None
    calls: tuple = ()
    selected: object = None
    alarm: bool = False


def _lines_of(span) -> range:
    return range(span.line, span.end_line + 1) if span is not None else range(0)


class SourceView(ScrollLines):
    """Numbered source lines; `highlighted_line` is the first line of the current statement (or None)."""

    COMPONENT_CLASSES = {"source--number", "source--current", "source--call", "source--selected",
                         "source--alarm", "source--comment"}
    focus: reactive[SourceFocus] = reactive(SourceFocus, always_update=True, repaint=False)

    def __init__(self, text: str, **kw) -> None:
        super().__init__(**kw)
        self.source_lines = text.splitlines()
        self.numbers = len(str(len(self.source_lines))) + 1
        self.highlighted_line: int | None = None
        self._kind: dict[int, str] = {}   # line -> 'current' | 'call' | 'selected' | 'alarm'
        self._texts: dict[tuple[int, str | None, int], list[Text]] = {}
        self._first_row: list[int] = []   # line n (1-based) starts at row _first_row[n - 1]
        self._shown: SourceFocus | None = None

    def on_mount(self) -> None:
        self._redraw()

    def watch_focus(self, f: SourceFocus) -> None:
        if f == self._shown:
            return
        self._shown = f
        self.highlighted_line = f.span.line if f.span else None
        kind = {n: "selected" for n in _lines_of(f.selected)}
        for call in f.calls:
            kind.update({n: "call" for n in _lines_of(call)})
        kind.update({n: "alarm" if f.alarm else "current" for n in _lines_of(f.span)})
        self._kind = kind
        if self.is_mounted:
            self._redraw()
            if f.span is not None:
                self._reveal(f.span.line, f.span.end_line)

    def on_resize(self) -> None:
        super().on_resize()
        self._redraw()

    def _redraw(self) -> None:
        width = max(self.scrollable_content_region.width or self.size.width, self.numbers + 12)
        rows, first = [], []
        for n in range(1, len(self.source_lines) + 1):
            first.append(len(rows))
            rows += self.line_texts(n, width)
        self._first_row = first
        self.show(rows, width)

    def _row(self, line: int) -> int:
        return self._first_row[line - 1] if 0 < line <= len(self._first_row) else line - 1

    def _reveal(self, first: int, last: int) -> None:
        height = self.scrollable_content_region.height or self.size.height
        top, start = self.scroll_offset.y, self._row(first)
        end = self._row(last + 1) if last < len(self._first_row) else len(self._lines)
        if start < top or end > top + height:
            self.scroll_to(y=max(start - height // 3, 0), animate=False)

    def line_texts(self, n: int, width: int) -> list[Text]:
        """Line n (1-based) as drawn in `width` cells: number, mark, code, comment, its highlight;
        wrapped onto continuation rows (indented under the code) when it is longer."""
        kind = self._kind.get(n)
        key = (n, kind, width)
        if key not in self._texts:
            style = lambda name: self.get_component_rich_style(name, partial=True)  # noqa: E731
            mark = {"current": "▶", "alarm": "!", "call": "↳", "selected": "·"}.get(kind, " ")
            line = self.source_lines[n - 1]
            code, hash_, comment = line.partition("#")
            indent = len(line) - len(line.lstrip())
            gutter = self.numbers + 1
            body = Text(" " + code)
            if hash_:
                body.append(hash_ + comment, style("source--comment"))
            room = width - self.numbers
            parts = [body] if body.cell_len <= room else self._wrap(body, room, indent + 3)
            out = []
            for i, part in enumerate(parts):
                head = f"{n:>{self.numbers - 1}}{mark}" if i == 0 else " " * self.numbers
                t = Text(head, style("source--number"), no_wrap=True)
                if kind:
                    part.pad_right(max(width - gutter + 1 - part.cell_len, 0))
                    part.stylize(style(f"source--{kind}"))
                t.append_text(part)
                out.append(t)
            self._texts[key] = out
        return self._texts[key]

    def _wrap(self, body: Text, room: int, indent: int) -> list[Text]:
        """`body` cut at spaces into rows of at most `room` cells, continuations indented."""
        indent = min(indent, room // 2)
        rows = body.wrap(self.app.console, room - indent, overflow="fold")
        out = []
        for i, row in enumerate(rows):
            row.rstrip()
            out.append(row if i == 0 else Text(" " * indent) + row)
        return out
