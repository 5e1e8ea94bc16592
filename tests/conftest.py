"""Shared test helpers: paths to the examples and a way to compile text expecting errors."""
from __future__ import annotations

from pathlib import Path

import pytest

import netc

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ALL_EXAMPLES = sorted(EXAMPLES.rglob("*.net"))


def errors_of(text: str, **kw) -> list[netc.Diagnostic]:
    """The error diagnostics compiling `text` raises (fails the test if it compiles)."""
    with pytest.raises(netc.SpecError) as info:
        netc.loads(text, name="t.net", **kw)
    return info.value.errors


def one_error(text: str, **kw) -> netc.Diagnostic:
    """The single error of `text` (fails if there are none or several)."""
    errs = errors_of(text, **kw)
    assert len(errs) == 1, [e.message for e in errs]
    return errs[0]
