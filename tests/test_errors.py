"""One error hierarchy: every error netc reports derives from NetcError, carries message, span and
hint, renders through the diagnostics renderer, and ends a command with the exit status its class
declares (the statuses defined once, in netc.spec.diagnostics)."""
from __future__ import annotations

import argparse

import pytest

from netc import cli
from netc.runtime.breakpoints import BreakpointError
from netc.runtime.checkpoint import CheckpointError
from netc.runtime.data import DataError
from netc.runtime.model import NodeError
from netc.runtime.ops.base import RuntimeSpecError, ShapeError
from netc.runtime.train import TrainingError
from netc.spec import diagnostics
from netc.spec.diagnostics import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, Diagnostic,
                                   NetcError, Source, Span, SpecError)
from netc.spec.overrides import OverrideError
from netc.spec.values import ValueError_

SOURCE = Source("m.net", "model m {\n    input 4\n    dense 3 intt=he\n}\n")
SPAN = Span(3, 13, 3, 17)


class _Step:  # what NodeError and TrainingError read of a plan step
    name, span, calls = "dense1", SPAN, ()


def every_error():
    """One instance of every error class, and the exit status it must end a command with."""
    return [
        (SpecError([Diagnostic("error", "unknown parameter 'intt' for dense", SPAN, "did you mean 'init'?")],
                   SOURCE), EXIT_BAD_INPUT),
        (ShapeError("add: widths differ", "make them equal"), EXIT_BAD_INPUT),
        (RuntimeSpecError("batchnorm needs 2 examples"), EXIT_RUN_FAILED),
        (NodeError(_Step(), "overflow", "lower lr"), EXIT_RUN_FAILED),
        (TrainingError("the loss became nan", _Step(), "lower lr"), EXIT_RUN_FAILED),
        (TrainingError("the loss became nan"), EXIT_RUN_FAILED),
        (CheckpointError("x.ckpt: no such checkpoint"), EXIT_BAD_INPUT),
        (OverrideError("--set: unknown setting 'lrr'", "did you mean 'lr'?"), EXIT_BAD_INPUT),
        (DataError("d.csv: no such file", hint="check the path"), EXIT_BAD_INPUT),
        (ValueError_("dense: units must be an integer >= 1, got 0", SPAN), EXIT_BAD_INPUT),
        (BreakpointError("breakpoint 'x': no node named 'x'"), EXIT_BAD_INPUT),
    ]


@pytest.mark.parametrize("error, status", every_error(), ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v))
def test_every_error_is_a_netc_error_with_message_span_hint_and_status(error, status):
    assert isinstance(error, NetcError)
    assert error.message and isinstance(error.message, str)
    assert hasattr(error, "span") and hasattr(error, "hint")
    assert error.status == status


def test_errors_that_know_their_statement_carry_its_span():
    assert NodeError(_Step(), "overflow").span == SPAN
    assert TrainingError("nan", _Step()).span == SPAN
    assert TrainingError("nan").span is None
    assert ValueError_("bad", SPAN).span == SPAN


def test_exit_statuses_are_defined_once():
    assert (EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED) == (0, 1, 2, 130)
    import netc.prepare
    import netc.run
    for module in (cli, netc.prepare, netc.run):  # they import the constants, never restate them
        for name in ("EXIT_RUN_FAILED", "EXIT_BAD_INPUT", "EXIT_FAILED"):
            value = getattr(module, name, None)
            assert value is None or value is getattr(diagnostics, name)


def test_one_renderer_located_and_unlocated():
    located = NetcError("unknown parameter 'intt' for dense", SPAN, "did you mean 'init'?", source=SOURCE)
    assert located.render() == Diagnostic("error", located.message, SPAN, located.hint).render(SOURCE)
    assert located.render().splitlines()[:3] == [
        "m.net:3:13: error: unknown parameter 'intt' for dense",
        "     3 |     dense 3 intt=he",
        "       |             ^~~~"]
    assert NetcError("--set: unknown setting 'x'", hint="valid: a, b").render() == \
        "netc: error: --set: unknown setting 'x'\n  hint: valid: a, b"
    # located later, by the layer that knows the source (a data error at its statement)
    e = DataError("d.csv: no such file").located(SOURCE, Span(2, 5, 2, 10))
    assert e.render().startswith("m.net:2:5: error: d.csv: no such file")


def test_spec_error_keeps_its_full_report():
    e = every_error()[0][0]
    assert str(e) == e.render() and e.render().endswith("1 error")
    assert e.message == "unknown parameter 'intt' for dense" and e.span == SPAN


@pytest.mark.parametrize("error, status", every_error(), ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v))
def test_the_command_line_catches_the_base_class(monkeypatch, capsys, error, status):
    def handler(args):
        raise error
    parser = argparse.ArgumentParser()
    parser.set_defaults(handler=handler)
    monkeypatch.setattr(cli, "_parser", lambda: parser)
    assert cli.main([]) == status
    err = capsys.readouterr().err
    assert error.message in err and "Traceback" not in err


def test_status_can_be_set_for_one_error():
    assert NetcError("cannot write the checkpoint", status=EXIT_RUN_FAILED).status == EXIT_RUN_FAILED
    assert NetcError("x").status == EXIT_BAD_INPUT


def test_every_public_exception_class_derives_from_netc_error():
    """A new error class outside the hierarchy would escape the command line's one handler."""
    import ast as pyast

    from conftest import ROOT
    outside = []
    for folder in ("spec", "compiler", "runtime", "netc", "tui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in pyast.walk(pyast.parse(path.read_text())):
                if isinstance(node, pyast.ClassDef) and not node.name.startswith("_") and node.name != "NetcError":
                    bases = {b.id if isinstance(b, pyast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if bases & {"Exception", "BaseException", "ValueError", "RuntimeError", "TypeError"} \
                            and "NetcError" not in bases:
                        outside.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert outside == []
