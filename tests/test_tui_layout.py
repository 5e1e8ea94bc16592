"""`netc debug` at every terminal size: the layout per size class, numbers never cut, the notice
below the minimum, the all-layers overview, the flags in the graph, validation figures in the loss
panel, lint warnings and wrapped comments, an image node's channels as heatmaps, the footer.
Snapshots (SVG, tests/__snapshots__) at 80x24, 100x30, 120x40 and 160x48."""
from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest

pytest.importorskip("textual")

from netc.runtime.overview import FLAGS  # noqa: E402
from netc.tui.app import DebuggerApp  # noqa: E402
from netc.tui.channels_view import ChannelsView  # noqa: E402
from netc.tui.layout import MIN_SIZE, size_class  # noqa: E402
from netc.tui.lines import Lines, ScrollLines  # noqa: E402
from netc.tui.loss_view import LossView  # noqa: E402
from netc.tui.nodes import UPDATE_ROW, NodeList  # noqa: E402
from netc.tui.overview_view import OverviewView  # noqa: E402
from netc.tui.panes import TabBar, TooSmall, WarningsView  # noqa: E402
from netc.tui.session import open_session  # noqa: E402
from netc.tui.source_view import SourceView  # noqa: E402
from netc.tui.status import MessageLine  # noqa: E402

from conftest import EXAMPLES, ROOT  # noqa: E402

# The snapshots run in float64: float32 sums round differently on CPUs whose BLAS kernels differ,
# enough to flip the last digit shown of a figure now and then; float64's rounding (1e-16) all but never
# reaches the 4th digit.
DIGITS = str(EXAMPLES / "digits.net")
CNN = str(EXAMPLES / "digits_cnn.net")
TO_CNN_BATCHNORM = ["n"] * 6   # input, conv_bn1.{conv1, batchnorm1, relu1}, conv_bn2.{conv1, batchnorm1}
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
    app = DebuggerApp(open_session("examples/digits.net", dtype=np.float64))

    async def into_the_first_iteration(pilot):
        for _ in range(15):                                  # forward, loss, into the backward pass
            await pilot.press("n")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=into_the_first_iteration)


@pytest.mark.parametrize("size", [SIZES[0], SIZES[-1]], ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview_snapshot(snap_compare, monkeypatch, size):
    monkeypatch.chdir(ROOT)
    app = DebuggerApp(open_session("examples/digits.net", dtype=np.float64), overview=True)

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
            assert "or make the font smaller" in " ".join(text_of(notice).split())
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
        # moons: 15 iterations an epoch of a small network (digits' 23 of a wider one took 4x longer)
        app = DebuggerApp(open_session(str(EXAMPLES / "moons.net"), epochs=2))
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


def test_no_lint_warnings_fits_the_smallest_panel():
    async def go():
        app = DebuggerApp(open_session(str(EXAMPLES / "moons.net")))  # no warnings
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("w")
            await pilot.pause()
            view = app.query_one(WarningsView)
            width = view.scrollable_content_region.width
            assert " ".join(text_of(view).split()) == "no lint warnings: netc check finds nothing to say about this file"
            assert len(view._lines) > 1 and all(line.cell_len <= width for line in view._lines)
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


def shown_tiles(view) -> tuple[int, int]:
    """(channels shown, channels in all) from the channels panel's title."""
    m = re.search(r"example 1: (\d+) of (\d+)", view.border_title)
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_channels_fit_every_size(size):
    """An image node's heatmaps at every size: beside the cards from 120x40 up, in pane 4 below;
    as many tiles as the panel holds without scrolling, the rest counted as hidden; no line wider
    than its panel."""
    async def go():
        app = DebuggerApp(open_session(CNN))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.press(*TO_CNN_BATCHNORM)
            await pilot.pause()
            assert app.session.snapshot.node == "conv_bn2.batchnorm1"
            view = app.query_one(ChannelsView)
            if size_class(*size) == "tabbed":
                assert not view.region.height                  # the node pane has no room for them
                await pilot.press("4")
                await pilot.pause()
            assert view.region.height and overflowing(app) == []
            shown, total = shown_tiles(view)
            assert total == 32 and 1 <= shown < total and f"{total - shown} hidden" in view.border_title
            assert len(view._lines) <= view.scrollable_content_region.height   # nothing to scroll to
            heat = [line.plain for line in view._lines if "▀" in line.plain]
            assert sum(h.count("▀") for h in heat) == shown * 8 * 4      # 8x8 maps: 8 cells, 4 rows each
            await pilot.press("n")                             # conv_bn2.relu1
            await pilot.pause()
            assert overflowing(app) == [] and shown_tiles(view) == (shown, total)
    run(go())


def test_stepping_onto_image_nodes_shows_their_channels():
    async def go():
        app = DebuggerApp(open_session(CNN))
        async with app.run_test(size=(160, 48)) as pilot:
            view = app.query_one(ChannelsView)
            await pilot.pause()
            await pilot.press("n")                             # input: one channel
            await pilot.pause()
            assert view.region.height and shown_tiles(view) == (1, 1)
            await pilot.press("n")                             # conv_bn1.conv1
            await pilot.pause()
            snap = app.session.snapshot
            cs = snap.activation.channels
            assert snap.node == "conv_bn1.conv1" and view.channels is cs
            text = text_of(view)
            assert "▀" in text and "of 16" in view.border_title
            shown, _ = shown_tiles(view)
            # the table's row, below the maps (the summary above may wrap onto a line starting "mean")
            mean_row = [line for line in text.splitlines() if line.startswith("mean")][-1]
            from netc.tui.fmt import short
            assert mean_row.split()[1:] == [short(float(m), noise=cs.mean_noise) for m in cs.mean[:shown]]
            await pilot.press("n")                             # conv_bn1.batchnorm1: mean 0, var 1 each
            await pilot.pause()
            text = text_of(view)
            rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line[:4] in ("mean", "var ")}
            assert set(rows["mean"]) == {"≈0"} and set(rows["var"]) == {"1"}
            assert "per channel (B,H,W): mean ≈0, var 1" in " ".join(text.split())
            await pilot.press(*["n"] * 5)                      # maxpool1: 32 maps of 4x4, 2 rows each
            await pilot.pause()
            assert app.session.snapshot.node == "maxpool1" and view.region.height
            heat = [line.plain for line in view._lines if "▀" in line.plain]
            assert len(heat) % 2 == 0 and sum(h.count("▀") for h in heat) == shown_tiles(view)[0] * 4 * 2
            await pilot.press("n")                             # flatten1: a vector
            await pilot.pause()
            assert app.session.snapshot.node == "flatten1"
            assert not view.region.height and not app.query_one("StatsView").has_class("-images")
    run(go())


@pytest.mark.parametrize("size", [SIZES[0], SIZES[-1]], ids=lambda s: f"{s[0]}x{s[1]}")
def test_cnn_node_snapshot(snap_compare, monkeypatch, size):
    monkeypatch.chdir(ROOT)
    app = DebuggerApp(open_session("examples/digits_cnn.net", dtype=np.float64))

    async def to_the_second_batchnorm(pilot):
        await pilot.press(*TO_CNN_BATCHNORM)
        if size_class(*size) == "tabbed":
            await pilot.press("4")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=to_the_second_batchnorm)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_footer_fits_the_width(size):
    """Every key the footer shows is whole on screen; 80 columns drop the minor ones (keys.py),
    which the help screen still lists."""
    from textual.widgets._footer import FooterKey

    from netc.tui.keys import KEYS, MINOR_ACTIONS

    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=size) as pilot:
            for _ in range(500):                           # the footer composes after the first refresh
                await pilot.pause(0.01)
                if app.screen.query(FooterKey):
                    break
            await pilot.pause()
            keys = [k for k in app.screen.query(FooterKey) if k.display]
            assert keys and sum(k.outer_size.width for k in keys) <= size[0]
            shown = {k.action for k in keys}
            main = {k.action for k in KEYS if k.label and not k.minor}
            assert main <= shown
            if size_class(*size) == "tabbed":
                assert not shown & MINOR_ACTIONS
            else:
                assert MINOR_ACTIONS <= shown
    run(go())


async def to_the_mode_comparison(app, pilot) -> None:
    """One iteration, then `m`, until the comparison is shown."""
    await pilot.press("i")
    await settle(app, pilot)
    await pilot.press("m")
    await settle(app, pilot)
    await pilot.pause()


def visible_rows(view) -> list[str]:
    """The rows of a ScrollLines panel as drawn on screen (after its scroll offset), plain."""
    return ["".join(seg.text for seg in view.render_line(y)).rstrip() for y in range(view.scrollable_content_region.height)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_modes_table_fits(size):
    """The mode comparison at every size (80x24 was cut): every column whole (no header word or number
    cut), both modes' std shown, the title whole (wrapped)."""
    from netc.tui.modes_view import ModesView

    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=size) as pilot:
            await to_the_mode_comparison(app, pilot)
            view = app.query_one(ModesView)
            assert overflowing(app) == []
            lines = [line.plain for line in view._lines]
            assert "iteration 1" in " ".join(lines)
            first = next(i for i, l in enumerate(lines) if l[:1] and l[0] in "=≠")
            head = " ".join(lines[first - 2:first]).split()
            assert head.count("train") == 2 and head.count("eval") == 2 and "mean" in head and "std" in head
            names = []
            for line, m in zip([l for l in lines if l[:1] and l[0] in "=≠"], view.result.comparison.rows):
                cells = line.split()
                assert len(cells) == 6, line                  # mark, node, 4 numbers
                assert all(NUMBER.fullmatch(c) or c in ("≈0", "–") for c in cells[2:]), line
                names.append(cells[1])
            assert len(set(names)) == len(view.result.comparison.rows)
    run(go())


def test_overview_names_stay_distinct_and_columns_are_accounted_for():
    """digits_cnn at 80x24: conv_bn1.batchnorm1 and conv_bn2.batchnorm1 shortened apart, and a
    column left out for want of room is named in the legend."""
    async def go():
        app = DebuggerApp(open_session(CNN), overview=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*TO_CNN_BATCHNORM)
            await pilot.pause()
            view = app.query_one(OverviewView)
            assert overflowing(app) == []
            lines = [line.plain for line in view._lines]
            rows = lines[1:1 + len(view.data.overview.rows)]
            names = [row[2:].split()[0] for row in rows]
            assert len(set(names)) == len(names), names
            head, legend = lines[0], " ".join(lines[1 + len(rows):])
            for column in ("upd/w", "histograms"):
                assert column in head or ("left out" in legend and column in legend), (column, legend)
    run(go())


def test_scrolled_panels_say_there_is_more():
    """A panel whose lines go on below its last row says so on that row, until scrolled down;
    the help screen says it in its border."""
    from netc.tui.modes_view import ModesView

    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=(80, 24)) as pilot:
            await to_the_mode_comparison(app, pilot)
            view = app.query_one(ModesView)
            assert len(view._lines) > view.size.height
            assert "↓" in visible_rows(view)[-1] and "more" in visible_rows(view)[-1]
            view.scroll_end(animate=False)
            await pilot.pause()
            assert "more" not in visible_rows(view)[-1]
            await pilot.press("question_mark")
            await pilot.pause()
            box = app.screen.query_one("#help-box")
            assert box.max_scroll_y > 0 and "↓" in str(box.border_subtitle)
    run(go())


@pytest.mark.parametrize("size", [(100, 30), (120, 40), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_overview_histograms_where_there_is_room(size):
    async def go():
        app = DebuggerApp(open_session(DIGITS), overview=True)
        async with app.run_test(size=size) as pilot:
            await pilot.press("i")
            await settle(app, pilot)
            lines = text_of(app.query_one(OverviewView)).splitlines()
            assert "histogram" in lines[0] or "shared axis" in lines[0], lines[0]
            assert overflowing(app) == []
    run(go())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_other_views_say_how_to_get_back_to_the_node(size):
    async def go():
        app = DebuggerApp(open_session(DIGITS), overview=True)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            detail = app.query_one("#detail")
            title = str(detail.border_title)
            assert "s node" in title and "↑↓" in title, title
            assert len(title) + 4 <= detail.region.width
            await pilot.press("s")
            await pilot.pause()
            assert "s node" not in str(detail.border_title)
    run(go())


def test_update_note_is_whole_at_80x24():
    """The update's 'what happens' note: what its card's rows cannot hold goes on under them (it
    was cut after 'the step's size over the')."""
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("i")
            await settle(app, pilot)
            note = app.query_one("#grad-numbers")
            assert app.selected_row() == UPDATE_ROW and len(note._lines) <= note.size.height
            shown = text_of(note) + " " + app.query_one("#grad-hist").empty
            assert "over the weights' size." in " ".join(shown.split())
    run(go())
