"""The compiler's explicit pass list: each pass a named function from a plain value to a plain
value, run in order from one place; kernels built once, lints run once per command."""
from __future__ import annotations

import networkx as nx
import pytest

import netc
from conftest import EXAMPLES
from netc.compiler import PASSES, lints, passes
from netc.compiler.graph import build_graph, infer_shapes
from netc.compiler.lower import Plan, lower
from netc.runtime.ops import KERNELS
from netc.spec.check import CheckedSpec, check, expand
from netc.spec.diagnostics import Collector, SpecError
from netc.compiler.network import read_source

DIGITS = EXAMPLES / "digits.net"


def test_the_pass_list_in_order():
    assert PASSES == ("check", "expand", "graph", "shapes", "data", "lints", "lower")
    assert list(passes.FUNCTIONS) == list(PASSES)


def test_each_pass_maps_a_plain_value_to_the_next():
    errors = Collector()
    spec = check(read_source(DIGITS), errors)
    assert isinstance(spec, CheckedSpec) and spec.layers == ()
    spec = expand(spec, errors)
    assert [layer.name for layer in spec.layers][:3] == ["input", "hidden1.dense1", "hidden1.batchnorm1"]
    g = build_graph(spec.model_name, spec.layers)
    assert isinstance(g, nx.DiGraph) and "shape" not in g.nodes["hidden1.dense1"]
    g = infer_shapes(g, errors)
    assert g.nodes["hidden1.dense1"]["shape"] == (None, 128) and not errors.has_errors
    warnings = lints.run_lints(g, spec.train, spec.data, None)
    assert [w.code for w in warnings] == ["bias-before-batchnorm"]
    plan = lower(netc.load(DIGITS, check_data=False))
    assert isinstance(plan, Plan) and [s.name for s in plan.steps] == list(g.graph["order"])


def test_kernels_are_built_once(monkeypatch):
    built = []
    for op, cls in list(KERNELS.items()):
        counted = type(cls.__name__, (cls,), {"__init__": lambda self, *a, _cls=cls, **k: (built.append(self),
                                                                                           _cls.__init__(self, *a, **k))[1]})
        monkeypatch.setitem(KERNELS, op, counted)
    net = netc.load(DIGITS, check_data=False)
    plan = lower(net)
    assert len(built) == len(net.order) == len(plan.steps)
    assert [s.kernel for s in plan.steps] == built  # the plan holds the shapes pass's kernels


def test_lints_run_once_per_command(monkeypatch):
    from netc import prepare
    calls = []

    def counting(g, train, data, facts, spans=None):
        calls.append(facts is not None)
        return iter(())
    monkeypatch.setattr(lints, "LINTS", [counting])
    number_lints = []  # the train section's number lints belong to the same pass
    monkeypatch.setattr(lints, "train_warnings", lambda train, spans: number_lints.append(train) or [])
    prepare.prepare(str(DIGITS), [], 1, None, warnings=False)
    assert calls == [True]  # once, with the data's facts and the final settings
    assert len(number_lints) == 1
    calls.clear()
    netc.load(DIGITS)
    assert calls == [True] and len(number_lints) == 2


def test_errors_of_the_early_passes_are_reported_together():
    text = "model m {\n    input 4\n    dense 3 intt=he\n    add nowhere\n}\ntrain { batch 0 }\n"
    with pytest.raises(SpecError) as info:
        netc.loads(text, check_data=False)
    lines = sorted(d.span.line for d in info.value.errors)
    assert lines == [3, 4, 6]


def test_a_shape_error_is_bypassed_and_later_nodes_still_checked():
    text = ("model m {\n    input 4\n    dense 3 as a\n    dense 5\n    add a\n    relu\n"
            "    concat a\n    dense 2\n    add a\n}\n")
    with pytest.raises(SpecError) as info:
        netc.loads(text, check_data=False)
    # line 5 adds 5 to 3 (an error); the stream goes on from line 4: line 9 adds 2 to 3 (another)
    assert [d.span.line for d in info.value.errors] == [5, 9]
