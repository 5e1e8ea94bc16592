"""Small panels: the tab bar of the tabbed layout, the file's lint warnings, the notice shown when
the terminal is too small, and the footer of key bindings.

Attributes down: the app sets `TabBar.state` and `WarningsView.warnings`. Messages up: a click on
a tab posts `TabBar.Chosen`.
"""
from __future__ import annotations

import textwrap

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from .keys import MINOR_ACTIONS
from .lines import Lines, ScrollLines

TAB_TITLES = (("detail", "1", "node"), ("source", "2", "source"), ("loss", "3", "loss"),
              ("channels", "4", "channels"))


class TabBar(Lines):
    """`1 node  2 source  3 loss  4 channels`, the shown pane highlighted; the detail tab is named after what
    the detail panel shows (node, overview, history...)."""

    state: reactive[tuple[str, str]] = reactive(lambda: ("detail", "node"), repaint=False)

    class Chosen(Message):
        """The user clicked the tab of `pane`."""

        def __init__(self, pane: str) -> None:
            super().__init__()
            self.pane = pane

    def on_mount(self) -> None:
        self.watch_state(self.state)

    def watch_state(self, state: tuple[str, str]) -> None:
        pane, detail = state
        t = Text(no_wrap=True)
        self._spans = []
        for name, key, title in TAB_TITLES:
            title = detail if name == "detail" else title
            start = t.cell_len
            t.append(f" {key} {title} ", "reverse bold" if name == pane else "")
            self._spans.append((start, t.cell_len, name))
            t.append(" ")
        t.append("· o overview · w warnings", "dim")
        self.show(t)

    def on_click(self, event: events.Click) -> None:
        for start, end, name in getattr(self, "_spans", ()):
            if start <= event.x < end:
                self.post_message(self.Chosen(name))


class WarningsView(ScrollLines):
    """The lint warnings of the file, as `netc check` prints them (wrapped to the panel)."""

    warnings: reactive[tuple[str, ...]] = reactive(tuple, always_update=True, repaint=False)

    def watch_warnings(self, texts: tuple[str, ...]) -> None:
        if self.is_mounted:
            self._draw()

    def on_resize(self) -> None:
        super().on_resize()
        self._draw()

    def _draw(self) -> None:
        width = max(self.scrollable_content_region.width, 20)
        if not self.warnings:
            none = "no lint warnings: netc check finds nothing to say about this file"
            self.show([Text(w, style="dim") for w in textwrap.wrap(none, width)])
            return
        out = []
        for text in self.warnings:
            for i, line in enumerate(text.splitlines()):
                style = "bold yellow" if i == 0 else ("dim" if line.lstrip().startswith("hint") else "")
                wrapped = textwrap.wrap(line, width, subsequent_indent="    ", drop_whitespace=False) or [""]
                out += [Text(w, style=style) for w in wrapped]
            out.append(Text(""))
        self.show(out)


class TooSmall(Lines):
    """What the debugger shows below its minimum size: the size it needs, wrapped to the room."""

    text: reactive[str] = reactive("", repaint=False)

    def watch_text(self, text: str) -> None:
        self._draw()

    def on_resize(self) -> None:
        super().on_resize()
        self._draw()

    def _draw(self) -> None:
        width = max(self.size.width - 2, 10)
        self.show([Text(line, style="bold") for line in textwrap.wrap(self.text, width)])


class KeyFooter(Footer):
    """Textual's footer of key bindings, each key of keys.py's MINOR_ACTIONS marked `-minor`: the
    stylesheet leaves those out in the tabbed layout, where 80 columns cannot hold every key (the
    help screen, ?, lists them all)."""

    def compose(self):
        for widget in super().compose():
            if isinstance(widget, FooterKey) and widget.action in MINOR_ACTIONS:
                widget.add_class("-minor")
            yield widget
