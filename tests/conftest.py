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


# Required parameters the kernel tests fill in; everything else comes from the schema's defaults.
KERNEL_TEST_VALUES = {"input": {"features": 5}, "dense": {"units": 4}, "maxout": {"units": 4, "k": 3},
                      "dropout": {"p": 0.5}, "add": {"node": "h"}, "concat": {"node": "h"}}


def kernel_defaults(op: str) -> dict:
    """An op's attributes as the compiler hands them to its kernel: the schema's defaults (the one
    table of parameters), with the required ones filled in for the kernel tests."""
    from netc.spec.schema import lookup
    schema = lookup("model", op)
    attrs = {p.name: p.default for p in (*schema.positional, *schema.keywords) if not p.required}
    attrs.pop("keep", None)  # dropout's keep= is folded into p by the compiler
    attrs.update(KERNEL_TEST_VALUES.get(op, {}))
    return attrs
