"""`netc debug`: the Textual step debugger, driven with the pilot (keys pressed, widgets read)."""
from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import textwrap

import pytest

from conftest import require  # noqa: E402

require("textual")

from textual import events  # noqa: E402

from netc import cli  # noqa: E402
from netc.runtime import checkpoint  # noqa: E402
from netc.tui.app import DebuggerApp  # noqa: E402
from netc.tui.check_view import CheckView  # noqa: E402
from netc.tui.history_view import HistoryView  # noqa: E402
from netc.tui.lines import Lines  # noqa: E402
from netc.tui.modes_view import ModesView  # noqa: E402
from netc.tui.nodes import NodeList  # noqa: E402
from netc.tui.screens import BreakpointScreen, HelpScreen  # noqa: E402
from netc.tui.session import open_session  # noqa: E402
from netc.tui.source_view import SourceView  # noqa: E402
from netc.tui.status import MessageLine, StatusBar  # noqa: E402

from conftest import EXAMPLES, ROOT  # noqa: E402

DIGITS = str(EXAMPLES / "digits.net")
SIZE = (120, 40)

# No normalization and a learning rate of 1e30: the first update sends the weights past float32's
# range, and the second iteration's last dense layer overflows.
BLOWUP = """\
# blowup.net: no normalization and a huge learning rate
data {
    source digits
    split 0.8
}

model blowup {
    input 64
    dense 32
    relu
    dense 10
}

train {
    loss cross_entropy
    optimizer sgd lr=1e30
    batch 64
    epochs 1
    seed 0
}
"""


def run(coro):
    return asyncio.run(coro)


async def settle(app, pilot) -> None:
    """Wait until a run, a worker and the repaints are over."""
    for _ in range(2000):
        if not app.running and not app.busy:
            break
        await pilot.pause(0.01)
    await app.workers.wait_for_complete()
    await pilot.pause()


def text_of(widget: Lines) -> str:
    return "\n".join(line.plain for line in widget._lines)


def message(app) -> str:
    return app.query_one(MessageLine).message[0]


# --- stepping and what the widgets show ---------------------------------------------------------------

def test_stepping_changes_what_is_shown():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            numbers = app.query_one("#act-numbers", Lines)
            assert "–" in text_of(numbers)                   # nothing has run
            await pilot.press("n")                           # input forward
            await pilot.press("n")                           # hidden1.dense1 forward
            await pilot.pause()
            snap = app.session.snapshot
            assert (snap.phase, snap.node) == ("forward", "hidden1.dense1")
            first = text_of(numbers)
            assert f"{snap.activation.mean:.4g}" in first
            assert app.query_one(NodeList).state.current == "hidden1.dense1"
            assert "hidden1.dense1" in text_of(app.query_one("#node-title", Lines))
            status = text_of(app.query_one(StatusBar))
            assert "iter 1" in status and "forward hidden1.dense1" in status and "mode train" in status
            await pilot.press("space")
            await pilot.pause()
            assert app.session.snapshot.node == "hidden1.batchnorm1"
            assert text_of(numbers) != first
            hist = app.query_one("#act-hist")
            assert any(c in text_of(hist) for c in "▁▂▃▄▅▆▇█")
    run(go())


def test_highlighted_source_line_is_the_nodes_statement():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            steps = app.session.steps
            source = app.query_one(SourceView)
            for step in steps:
                await pilot.press("n")
                await pilot.pause()
                assert app.session.snapshot.node == step.name
                assert source.highlighted_line == step.span.line
                assert source._kind[step.span.line] == "current"
                for call in step.calls:  # the block call it came through is marked too
                    assert source._kind[call.line] == "call"
            await pilot.press("n")                           # the loss: its train statement
            await pilot.pause()
            assert source.highlighted_line == app.session.net.spec.train_spans["loss"].line
    run(go())


def test_iteration_and_update_show_update_ratios():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("i")
            await settle(app, pilot)
            snap = app.session.snapshot
            assert snap.phase == "update" and snap.iteration == 0
            params = text_of(app.query_one("#params"))
            assert "update/w" in params and "hidden1.dense1.W" in params
            ratio = next(p.update_ratio for p in snap.params if p.name == "hidden1.dense1.W")
            assert f"{ratio:.4g}" in params
            assert len(app.session.stepper.losses) == 1
            assert "iteration 1" in app.query_one("#loss").border_subtitle
    run(go())


# --- breakpoints --------------------------------------------------------------------------------------

def test_breakpoint_stops_continue_at_its_node():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("down", "down", "down")        # select hidden1.relu1
            await pilot.press("b")
            await pilot.pause()
            assert app.session.marks("hidden1.relu1") == (True, False)
            assert app.query_one(NodeList)._lines[3].plain.startswith("●")
            await pilot.press("c")
            await settle(app, pilot)
            snap = app.session.snapshot
            assert (snap.node, snap.phase, snap.iteration) == ("hidden1.relu1", "forward", 0)
            assert "breakpoint hidden1.relu1" in message(app)
            await pilot.press("c")                           # on to the same node, next iteration
            await settle(app, pilot)
            snap = app.session.snapshot
            assert (snap.node, snap.phase, snap.iteration) == ("hidden1.relu1", "forward", 1)
    run(go())


def test_conditional_breakpoint_from_the_command_line():
    async def go():
        session = open_session(DIGITS, breaks=["hidden2.dense1:grad_norm<0.15"])
        app = DebuggerApp(session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("c")
            await settle(app, pilot)
            snap = session.snapshot
            assert (snap.node, snap.phase) == ("hidden2.dense1", "backward")
            assert snap.gradient.norm < 0.15 and snap.iteration > 0
            # at every earlier backward pause of that node the condition was false
            earlier = list(session.stepper.history["hidden2.dense1"])[:-1]
            assert len(earlier) == snap.iteration and all(p.grad_norm >= 0.15 for p in earlier)
            assert "grad_norm" in message(app)
    run(go())


def test_conditional_breakpoint_typed_in_the_ui():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("B")
            await pilot.pause()
            assert isinstance(app.screen, BreakpointScreen)
            await pilot.press(*"nosuchnode", "enter")        # a mistake: explained, the screen stays
            await pilot.pause()
            assert isinstance(app.screen, BreakpointScreen)
            assert "no node named" in str(app.screen.query_one("#break-error").content)
            app.screen.query_one("Input").value = "*:zero_frac>0.4"
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, BreakpointScreen)
            assert [str(b) for b in app.session.breakpoints] == ["*:zero_frac>0.4"]
            await pilot.press("c")
            await settle(app, pilot)
            snap = app.session.snapshot
            assert snap.phase == "forward" and snap.activation.zero_frac > 0.4
            assert snap.node == "hidden1.relu1"              # the first node whose zero fraction is that high
    run(go())


def test_nan_pauses_and_names_node_and_line(tmp_path):
    spec = tmp_path / "blowup.net"
    spec.write_text(BLOWUP)

    async def go():
        app = DebuggerApp(open_session(str(spec)))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("c")
            await settle(app, pilot)
            snap = app.session.snapshot
            assert snap.nonfinite and (snap.node, snap.phase) == ("dense2", "forward")
            text, alarm = app.query_one(MessageLine).message
            assert alarm and app.query_one(MessageLine).has_class("-alarm")
            assert "dense2" in text and "line 11" in text and "dense 10" in text
            source = app.query_one(SourceView)
            assert source.highlighted_line == 11 == app.session.step_of("dense2").span.line
            assert source._kind[11] == "alarm"
            await pilot.press("c")                           # the loss is NaN: the run cannot go on
            await settle(app, pilot)
            assert app.session.stuck
            await pilot.press("n")
            await pilot.pause()
            assert "cannot go on" in message(app)
            await pilot.press("left_square_bracket")         # but it can go back
            await pilot.pause()
            assert not app.session.stuck and app.session.snapshot.iteration == 0
    run(go())


# --- time travel --------------------------------------------------------------------------------------

def test_step_back_replays_the_same_losses():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(3):
                await pilot.press("i")
                await settle(app, pilot)
            losses = list(app.session.stepper.losses)
            assert [it for it, _ in losses] == [0, 1, 2]
            await pilot.press("left_square_bracket")         # back to the start of iteration 2 (index 1)
            await pilot.pause()
            snap = app.session.snapshot
            assert (snap.iteration, snap.phase, snap.index) == (1, "forward", 0)
            assert list(app.session.stepper.losses) == losses[:1]
            await pilot.press("i")
            await settle(app, pilot)
            assert app.session.snapshot.loss == losses[1][1]   # exactly the same
            await pilot.press("right_square_bracket")        # on to the start of the next iteration
            await settle(app, pilot)
            snap = app.session.snapshot
            assert (snap.iteration, snap.phase, snap.index) == (2, "forward", 0)
            await pilot.press("i")
            await settle(app, pilot)
            assert list(app.session.stepper.losses) == losses
            await pilot.press("r")
            await pilot.pause()
            assert app.session.snapshot is None and app.session.pending == 0
            await pilot.press("i")
            await settle(app, pilot)
            assert app.session.snapshot.loss == losses[0][1]
    run(go())


# --- the other views ----------------------------------------------------------------------------------

def test_help_screen_lists_the_keys():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            table = app.screen.query_one("#help-keys").content
            keys = " ".join(str(c) for col in table.columns for c in col.cells)
            for word in ("step one node", "breakpoint", "finite differences", "evaluation mode", "percentile"):
                assert word in keys
            await pilot.press("n")                           # app keys are off under the help
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen)
            assert app.session.snapshot is None
    run(go())


def test_compare_modes_shows_batchnorm_and_dropout_differ():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("i")
            await settle(app, pilot)
            await pilot.press("m")
            await settle(app, pilot)
            result = app.query_one(ModesView).result
            row = result.comparison["hidden1.batchnorm1"]
            train, evaluate = row.train, row.eval
            assert abs(train.mean) < 1e-3 and abs(train.std - 1) < 1e-2   # batch statistics
            assert train.mean != evaluate.mean                             # running statistics
            row = result.comparison["hidden1.dropout1"]
            assert row.train.zero_frac > row.eval.zero_frac               # dropout only in training
            row = result.comparison["hidden1.dense1"]
            assert row.train.mean == row.eval.mean                         # before them: the same
            rows = {line.plain.split()[1]: line.plain[0] for line in app.query_one(ModesView)._lines
                    if line.plain[:1] in "=≠" and len(line.plain.split()) > 1}
            assert rows["hidden1.dense1"] == "=" and rows["hidden1.batchnorm1"] == "≠"
            assert "mode train vs eval" in text_of(app.query_one(StatusBar))
    run(go())


def test_gradient_check_shows_small_errors():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*["n"] * 3)                    # inside the first forward pass
            await pilot.press("home", "down")                # select hidden1.dense1
            await pilot.press("g")
            await settle(app, pilot)
            result = app.query_one(CheckView).result
            assert result.node == "hidden1.dense1" and set(result.errors) == {"x0", "W", "b"}
            assert all(err < 1e-6 for err in result.errors.values())
            assert "✓ agrees" in text_of(app.query_one(CheckView))
    run(go())


def test_history_of_a_node():
    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(3):
                await pilot.press("i")
                await settle(app, pilot)
            await pilot.press("home", "down", "down", "h")   # hidden1.batchnorm1
            await pilot.pause()
            view = app.query_one(HistoryView)
            assert view.history[0] == "hidden1.batchnorm1" and len(view.history[1]) == 3
            text = text_of(view)
            assert "over 3 iterations" in text and "percentile" in text
            assert any(c in text for c in "⠁⠂⠄⡀⠈⠐⠠⢀")          # the mean line is drawn
            assert "fraction of exact zeros" not in text       # batchnorm outputs are never exactly 0
            await pilot.press("down", "h")                   # hidden1.relu1: about half are zeros
            await pilot.pause()
            assert "fraction of exact zeros" in text_of(view)
            await pilot.press("escape")                      # back to the run's node and the stats
            await pilot.pause()
            assert app.selected is None and app.view == "stats"
    run(go())


async def until(condition, timeout: float = 10.0) -> None:
    """Let the app's event loop run until `condition()` holds (fails after `timeout` seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_continue_keeps_the_screen_live():
    async def go():
        # moons for 8 epochs: long enough (120 iterations) not to end before the pause, a second to run
        app = DebuggerApp(open_session(str(EXAMPLES / "moons.net"), epochs=8))
        async with app.run_test(size=SIZE) as pilot:
            # Keys are posted as a terminal would send them (pilot.press would wait for the app to
            # be idle, which it is not while it runs).
            app.post_message(events.Key("c", "c"))
            # the event loop runs: steps and repaints (polled, the machine may be busy)
            await until(lambda: app.running == "continue" and app.session.snapshot is not None)
            assert "running" in text_of(app.query_one(StatusBar))
            app.post_message(events.Key("c", "c"))           # a key is handled mid-run: c pauses
            await until(lambda: app.running is None)
            assert not app.session.finished
            paused_at = app.session.snapshot
            await pilot.pause(0.1)
            assert app.session.snapshot is paused_at         # and it stays paused
            await pilot.press("c")
            await settle(app, pilot)                         # to the end of the run
            assert app.session.finished and "training finished" in message(app)
    run(go())


# --- the command line -------------------------------------------------------------------------------

def test_bad_input_exits_2_without_the_ui(tmp_path, capsys):
    broken = tmp_path / "broken.net"
    broken.write_text("model m {\n    input 4\n    dense\n}\n")
    assert cli.main(["debug", str(broken)]) == 2
    assert "broken.net:3" in capsys.readouterr().err
    assert cli.main(["debug", DIGITS, "--weights", str(tmp_path / "missing.npz")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert cli.main(["debug", DIGITS, "--break", "hiden1.relu1"]) == 2
    assert "did you mean 'hidden1.relu1'" in capsys.readouterr().err
    assert cli.main(["debug", DIGITS, "--break", "hidden1.relu1:zero>1"]) == 2
    assert "unknown statistic 'zero'" in capsys.readouterr().err


def test_weights_are_loaded(tmp_path):
    session = open_session(DIGITS)
    session.model.params["dense1.b"][...] = 0.25
    path = tmp_path / "w.npz"
    checkpoint.save(path, session.trainer, session.net.source.text)
    loaded = open_session(DIGITS, weights=str(path))
    assert (loaded.model.params["dense1.b"] == 0.25).all()


def test_netc_run_does_not_import_textual():
    code = textwrap.dedent("""
        import sys
        from netc import cli
        cli._parser().parse_args(["run", "x.net"])
        import netc.run, netc.tui, netc.tui.session
        assert not any(m == "textual" or m.startswith("textual.") for m in sys.modules), "textual imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_loss_plot_shows_the_runtimes_moving_average():
    """The TUI computes no figures: the loss plot draws the stepper's LossCurve as it is."""
    from netc.tui.fmt import num
    from netc.tui.loss_view import LossView

    async def go():
        app = DebuggerApp(open_session(DIGITS))
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(3):
                await pilot.press("i")
                await until(lambda: app.running is None)
            await settle(app, pilot)
            curve = app.session.stepper.loss_curve()
            view = app.query_one(LossView)
            assert view.curve is curve and len(curve.raw) == 3
            assert f"average {num(curve.average[-1])}" in view.border_subtitle
            assert all(math.isfinite(v) for v in curve.average)
    run(go())


def test_pressing_i_repeatedly_runs_that_many_iterations():
    async def go():
        app = DebuggerApp(open_session(DIGITS, epochs=3))
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(3):  # posted at once, as fast typing would: handled while it runs
                app.post_message(events.Key("i", "i"))
            await until(lambda: app.running is None and app.session.snapshot is not None
                        and app.session.snapshot.iteration == 2)
            await pilot.pause(0.2)
            assert app.session.snapshot.iteration == 2 and app.session.snapshot.phase == "update"
    run(go())
