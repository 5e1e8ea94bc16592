"""The compiler's passes, in order, and the one place that runs them.

Each pass is a named function from a plain value to a plain value:

| pass     | function                      | from -> to                                                       |
|----------|-------------------------------|------------------------------------------------------------------|
| check    | netc.spec.check.check         | Source -> CheckedSpec (parsed, validated, typed settings)        |
| expand   | netc.spec.check.expand        | CheckedSpec -> CheckedSpec with `layers` (blocks, repeats unrolled) |
| graph    | compiler.graph.build_graph    | layers -> nx.DiGraph (a node per layer, stream and add/concat edges) |
| shapes   | compiler.graph.infer_shapes   | nx.DiGraph -> nx.DiGraph with each node's kernel (built once), shape, params |
| data     | compiler.datafit.check_data   | (CheckedSpec, graph) -> DataFacts (the data loaded once, checked as a run checks it: data_problems) |
| lints    | compiler.lints.run_lints      | (graph, settings, DataFacts, spans) -> warnings (run once per command) |
| lower    | compiler.lower.lower          | Network -> Plan (the graph's kernels in execution order)         |

`compile_source` runs check to lints and returns the Network; `lower` is run by whoever executes
the network (the runtime's Model takes its Plan). The errors of check, expand, graph and shapes are
collected and reported together; a pass after them runs only on a file without errors.
"""
from __future__ import annotations

from pathlib import Path

from ..spec.check import check, expand, unique
from ..spec.diagnostics import Collector, Diagnostic, Source, Span, SpecError
from .graph import build_graph, infer_shapes
from .lints import run_lints
from .lower import lower
from .datafit import check_data as data_pass, describe_labels
from .network import Network, augment_mismatch, read_source

PASSES = ("check", "expand", "graph", "shapes", "data", "lints", "lower")
FUNCTIONS = {"check": check, "expand": expand, "graph": build_graph, "shapes": infer_shapes,
             "data": data_pass, "lints": run_lints, "lower": lower}


def compile_source(source: Source, base_dir: Path | str = ".", check_data: bool = True,
                   lint: bool = True) -> Network:
    """Run the passes check, expand, graph, shapes, data (with `check_data`) and lints (with
    `lint`: a command that changes the settings first runs them itself, once) on `source`.

    Relative data paths are resolved against `base_dir`. Raises SpecError with every error found.
    """
    errors = Collector()
    try:
        spec = check(source, errors)
        spec = expand(spec, errors)
        if errors.has_errors:
            raise SpecError(unique(errors.items), source)
        graph = infer_shapes(build_graph(spec.model_name, spec.layers), errors)
    except RecursionError:
        raise SpecError([Diagnostic("error", "the file nests too deeply", Span.point(1, 1),
                                    "expressions, repeats and block calls nest a few hundred levels at most")],
                        source) from None
    facts, description, dataset, data_warnings = None, None, None, []
    if check_data and spec.data is not None and not errors.has_errors:
        facts, description, dataset, data_warnings = data_pass(spec, graph, Path(base_dir), errors)
    in_node = graph.graph.get("input")
    if (spec.data is not None and spec.data.augment and in_node is not None and dataset is None
            and not errors.has_errors):  # with the data loaded, the data pass checked it
        wrong = augment_mismatch(tuple(graph.nodes[in_node]["shape"][1:]), spec.data.augment, description)
        if wrong:
            errors.error(wrong[0], spec.data_spans.get(f"augment.{wrong[2]}") or spec.data_spans.get("augment"),
                         wrong[1])
    if errors.has_errors:
        raise SpecError(errors.items, source)
    warnings = (run_lints(graph, spec.train, spec.data, facts, spec.train_spans) if lint else []) + data_warnings
    labels = describe_labels(dataset, spec.train.classification) if dataset is not None else None
    return Network(spec.model_name, graph, spec.data, spec.train, warnings, source, Path(base_dir), spec,
                   description, dataset, labels)


def load_path(path: str | Path, check_data: bool = True, lint: bool = True) -> Network:
    """Read a `.net` file and compile it; raises SpecError (missing file, not UTF-8, bad spec)."""
    return compile_source(read_source(path), Path(path).parent, check_data, lint)
