"""Every example in the help (`netc --help` and each command's) runs as written on the bundled
examples: the commands are read from the help text itself, so an example that stops working, or a
new command without examples, fails here."""
from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import EXAMPLES, require
from netc import cli


def _parsers() -> dict[str | None, object]:
    """The top-level parser (key None) and each command's."""
    top = cli._parser()
    sub = next(a for a in top._actions if a.__class__.__name__ == "_SubParsersAction")
    return {None: top, **sub.choices}


def help_examples(command: str | None) -> list[str]:
    """The example lines of a command's help text, as a user reads them."""
    text = _parsers()[command].format_help()
    assert "\nexamples:\n" in text, f"netc {command or ''} --help has no examples"
    block = text.split("\nexamples:\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if not line.startswith("  netc "):
            break
        lines.append(line.strip())
    return lines


COMMANDS = list(_parsers())


def test_every_command_has_examples():
    for command in COMMANDS:
        assert help_examples(command), command


def _debug(argv: list[str]) -> None:
    """`netc debug ...`: everything the command checks (file, data, weights, breakpoints), then the
    debugger itself, stepped one node and quit under Textual's pilot."""
    require("textual")
    from netc.tui import opens_on_overview
    from netc.tui.app import DebuggerApp
    from netc.tui.session import open_session
    args = cli._parser().parse_args(argv)
    session = open_session(args.file, args.weights, args.breaks, args.seed, args.epochs, args.set)
    assert len(session.breakpoints) == len(args.breaks)
    app = DebuggerApp(session, overview=args.overview or opens_on_overview(args.file))

    async def go():
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("n")
            await pilot.pause()
            assert app.session.snapshot is not None
            await pilot.press("q")
    asyncio.run(go())


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c or "netc")
def test_help_examples_run(command, tmp_path, monkeypatch, capsys):
    """Each example of the command, in order (a --resume follows its --save), in a folder holding
    a copy of examples/, exits 0 without a traceback."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for line in help_examples(command):
        if "|" in line:  # a shell pipeline: netc's part through this interpreter
            require("dot")
            r = subprocess.run(line.replace("netc ", f"{shlex.quote(sys.executable)} -m netc ", 1),
                               shell=True, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, (line, r.stderr)
            continue
        argv = shlex.split(line)[1:]
        if argv[0] == "debug":
            _debug(argv)
            continue
        status = cli.main(argv)
        out = capsys.readouterr()
        assert status == 0, (line, out.err[-2000:])
        assert "Traceback" not in out.err, line
