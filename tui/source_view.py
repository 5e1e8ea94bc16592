"""The .net source with the statement that made the current node highlighted (and the block call
it came from, and the selected node's statement when the selection is elsewhere), scrolled into view.

A ScrollView drawing only its visible lines, so moving the highlight never re-lays out the screen.
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
        self.code_width = self.numbers + 1 + max((len(s) for s in self.source_lines), default=0)
        self.highlighted_line: int | None = None
        self._kind: dict[int, str] = {}   # line -> 'current' | 'call' | 'selected' | 'alarm'
        self._texts: dict[tuple[int, str | None, int], Text] = {}
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
        width = max(self.code_width, self.size.width)
        self.show([self.line_text(n, width) for n in range(1, len(self.source_lines) + 1)], self.code_width)

    def _reveal(self, first: int, last: int) -> None:
        height = self.scrollable_content_region.height or self.size.height
        top = self.scroll_offset.y
        if first - 1 < top or last > top + height:
            self.scroll_to(y=max(first - 1 - height // 3, 0), animate=False)

    def line_text(self, n: int, width: int) -> Text:
        """Line n (1-based) as drawn: number, mark, code, comment, and its highlight."""
        kind = self._kind.get(n)
        key = (n, kind, width)
        if key not in self._texts:
            style = lambda name: self.get_component_rich_style(name, partial=True)  # noqa: E731
            mark = {"current": "▶", "alarm": "!", "call": "↳", "selected": "·"}.get(kind, " ")
            code, hash_, comment = self.source_lines[n - 1].partition("#")
            t = Text(f"{n:>{self.numbers - 1}}{mark}", style("source--number"), no_wrap=True)
            body = Text(" " + code, no_wrap=True)
            if hash_:
                body.append(hash_ + comment, style("source--comment"))
            if kind:
                body.pad_right(max(width - len(t) - len(body), 0))
                body.stylize(style(f"source--{kind}"))
            t.append_text(body)
            self._texts[key] = t
        return self._texts[key]
