"""`netc debug` at every terminal size: the layout per size class, numbers never cut, the notice
below the minimum, the all-layers overview, the flags in the graph, validation figures in the loss
panel, lint warnings and wrapped comments. Snapshots (SVG, tests/__snapshots__) at 80x24, 100x30,
120x40 and 160x48."""
from __future__ import annotations

import asyncio
import re

import pytest

pytest.importorskip("textual")

from netc.runtime.overview import FLAGS  # noqa: E402
from netc.tui.app import DebuggerApp  # noqa: E402
from netc.tui.layout import MIN_SIZE, size_class  # noqa: E402
from netc.tui.lines import Lines, ScrollLines  # noqa: E402
from netc.tui.loss_view import LossView  # noqa: E402
from netc.tui.nodes import NodeList  # noqa: E402
from netc.tui.overview_view import OverviewView  # noqa: E402
from netc.tui.panes import TabBar, TooSmall, WarningsView  # noqa: E402
from netc.tui.session import open_session  # noqa: E402
from netc.tui.source_view import SourceView  # noqa: E402
from netc.tui.status import MessageLine  # noqa: E402

from conftest import EXAMPLES, ROOT  # noqa: E402

DIGITS = str(EXAMPLES / "digits.net")
SIZES = [(80, 24), (100, 30), (120, 40), (160, 48)]
NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?%?")


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot) -> None:
    for _ in range(3000):
        if not app.running and not app.busy:
            break
        await pilot.pause(0.01)
    await pilot.pause()


def text_of(widget) -> str:
    return "\n".join(line.plain for line in widget._lines)


def overflowing(app) -> list[str]:
    """Lines of visible line widgets that are wider than their widget (they would be cut)."""
    bad = []
    for w in app.screen.query("*"):
        if not isinstance(w, (Lines, ScrollLines)) or not w.display or not w.is_mounted:
            continue
        if isinstance(w, ScrollLines):
            width = w.scrollable_content_region.width
        else:
            width = w.content_size.width
        if not w.region.width or not width or any(not a.display for a in w.ancestors if hasattr(a, "display")):
            continue
        bad += [f"{w.id or type(w).__name__}: {line.plain!r} ({line.cell_len} > {width})"
                for line in w._lines if line.cell_len > width]
    return bad


def test_size_classes():
    assert size_class(79, 40) == size_class(160, 23) == "tiny"
    assert size_class(*MIN_SIZE) == size_class(100, 30) == size_class(150, 30) == "tabbed"
    assert size_class(120, 40) == size_class(170, 40) == "medium"
    assert size_class(160, 48) == "wide"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_panel_fits_every_size(size):
    """Into the backward pass, then each view: no line of a panel is wider than the panel, and
    every statistic of the selected node is shown whole."""
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=size) as pilot:
            await pilot.press("i")
            await settle(app, pilot)
            await pilot.press(*["n"] * 14)                    # forward, loss, into the backward pass
            await pilot.pause()
            snap = app.session.snapshot
            assert snap.phase == "backward"
            assert app.screen.has_class(f"-{size_class(*size)}")
            numbers = text_of(app.query_one("#act-numbers"))
            for value in (snap.activation.var, snap.activation.std, snap.activation.max):
                assert f"{value:.4g}" in numbers or f"{value:.2e}" in numbers
            assert overflowing(app) == []
            for keys in (("o",), ("a",), ("x",), ("w",), ("h",), ("s", "2"), ("3",), ("1",)):
                await pilot.press(*keys)
                await pilot.pause()
                assert overflowing(app) == [], keys
    run(go())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen_snapshot(snap_compare, monkeypatch, size):
    monkeypatch.chdir(ROOT)
    app = DebuggerApp(open_session("examples/digits.net"))

    async def into_the_first_iteration(pilot):
        for _ in range(15):                                  # forward, loss, into the backward pass
            await pilot.press("n")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=into_the_first_iteration)


@pytest.mark.parametrize("size", [SIZES[0], SIZES[-1]], ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview_snapshot(snap_compare, monkeypatch, size):
    monkeypatch.chdir(ROOT)
    app = DebuggerApp(open_session("examples/digits.net"), overview=True)

    async def one_iteration(pilot):
        await pilot.press("i")
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=one_iteration)


def test_too_small_says_the_size_it_needs():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=(60, 20)) as pilot:
            await pilot.pause()
            notice = app.query_one(TooSmall)
            assert notice.display and "at least 80×24" in text_of(notice) and "60×20" in text_of(notice)
            assert not app.query_one("#main").display
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert not notice.display and app.query_one("#main").display
    run(go())


def test_tabs_show_one_panel_beside_the_graph():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            graph, detail, source, loss = (app.query_one(f"#{i}") for i in ("graph", "detail", "source", "loss"))
            assert app.query_one(TabBar).display and graph.region.width and detail.region.width
            assert not source.region.width and not loss.region.width
            await pilot.press("2")
            await pilot.pause()
            assert source.region.width and not detail.region.width and graph.region.width
            await pilot.press("3")
            await pilot.pause()
            assert loss.region.height > 10 and not source.region.width
            await pilot.press("o")                           # a view key brings the detail back
            await pilot.pause()
            assert detail.region.width and "all layers" in text_of(app.query_one(TabBar))
    run(go())


def test_overview_rows_and_options():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("i")
            await settle(app, pilot)
            await pilot.press("o")
            await pilot.pause()
            view = app.query_one(OverviewView)
            text = text_of(view)
            for name in app.session.names:
                assert name in text
            assert "shared axis" in text and "█" in text
            assert view.data.overview.rows[1].grad_norm is not None
            await pilot.press("x")
            await pilot.pause()
            assert "own axes" in text_of(view)
            await pilot.press("a")                           # only the nodes without parameters
            await pilot.pause()
            shown = [r.node for r in view.data.overview.rows]
            assert "hidden1.relu1" in shown and "hidden1.dense1" not in shown and "input" not in shown
    run(go())


def test_init_examples_open_on_the_overview_and_flag_their_lesson(tmp_path):
    from netc.tui import opens_on_overview
    assert opens_on_overview("examples/init_tanh_small.net") and not opens_on_overview(DIGITS)

    async def go():
        app = DebuggerApp(open_session(str(EXAMPLES / "init_tanh_large.net")), overview=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("i")
            await settle(app, pilot)
            assert app.view == "overview"
            graph = text_of(app.query_one(NodeList))
            sym = FLAGS["saturated"][0]
            assert f"{sym} tanh1" in graph and "saturated" in graph          # symbol and legend
            rows = [line for line in text_of(app.query_one(OverviewView)).splitlines() if "tanh" in line]
            assert len(rows) == 6 and all(line.startswith(sym) for line in rows)
    run(go())


def test_loss_panel_shows_validation_per_epoch():
    async def go():
        app = DebuggerApp(open_session(DIGITS, epochs=2))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("c")
            await settle(app, pilot)
            assert app.session.finished
            history = app.session.trainer.position.history
            loss = app.query_one(LossView)
            text = text_of(loss)
            assert "val loss" in text and "acc" in text
            for e in history:
                assert f"{100 * e.val_accuracy:.1f}%" in text
            assert f"{100 * history[-1].val_accuracy:.1f}%" in loss.border_subtitle
    run(go())


def test_lint_warnings_on_start_and_in_a_panel():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert "1 lint warning: w shows it" in app.query_one(MessageLine).message[0]
            await pilot.press("w")
            await pilot.pause()
            text = text_of(app.query_one(WarningsView))
            assert "bias-before-batchnorm" in text and "digits.net:9:5" in text
    run(go())


def test_long_comments_wrap_in_the_source_panel():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            source = app.query_one(SourceView)
            width = source.scrollable_content_region.width
            assert all(line.cell_len <= width for line in source._lines)
            text = text_of(source)
            # the comment of line 3 is longer than the panel: all of it is there, over two rows
            assert "bundled data set" in text and '"path.csv", ...' in text
            assert len(source._lines) > len(source.source_lines)
    run(go())


def test_growing_the_terminal_redraws_every_panel_to_its_new_width():
    """A browser (textual-serve) or a resized window starts small: nothing may stay drawn for
    the small size (names cut short, source wrapped narrow) once there is room."""
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=(60, 20)) as pilot:
            await pilot.pause()
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            await pilot.resize_terminal(160, 48)
            await pilot.pause()
            await pilot.pause(0.1)
            graph = text_of(app.query_one(NodeList))
            assert "hidden1.batchnorm1" in graph and "…" not in graph
            source = app.query_one(SourceView)
            width = source.scrollable_content_region.width
            assert max(line.cell_len for line in source._lines) >= width - 10  # wrapped to the new width
            assert overflowing(app) == []
    run(go())
