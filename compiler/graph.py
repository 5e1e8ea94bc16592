"""The graph and shapes passes: the expanded model as a networkx graph, then every node's kernel,
output shape and parameters inferred.

Shape rules come from the op registry (`netc.runtime.ops.KERNELS`), the one place op knowledge lives.
"""
from __future__ import annotations

import networkx as nx

from ..runtime.ops import KERNELS, ShapeError
from ..spec.diagnostics import Collector
from ..spec.expand import Layer

STREAM, OTHER = 0, 1  # edge ports: the stream input and the node named by add/concat


def build_graph(name: str, layers: tuple[Layer, ...]) -> nx.DiGraph:
    """The graph pass: a DiGraph with a node per layer, in stream order (graph attribute `order`).

    Node attributes: op, attrs (the op's parameters), span, calls, group, index, ref. Edges carry
    `port` (0 for the stream, 1 for the other input of add/concat). A layer with no stream before
    it (an earlier error, already reported) gets no stream edge; the shapes pass skips it.
    """
    g = nx.DiGraph(name=name, order=[], input=None, output=None)
    previous = None
    for layer in layers:
        g.add_node(layer.name, op=layer.op, attrs=dict(layer.attrs), span=layer.span, calls=layer.calls,
                   group=layer.group, index=len(g.graph["order"]), ref=layer.ref, ref_span=layer.ref_span)
        if layer.op != "input" and previous is not None:
            g.add_edge(previous, layer.name, port=STREAM)
        if layer.ref is not None and layer.ref in g and layer.ref != layer.name:
            g.add_edge(layer.ref, layer.name, port=OTHER)
        g.graph["order"].append(layer.name)
        previous = layer.name
    return g


def infer_shapes(g: nx.DiGraph, errors: Collector) -> nx.DiGraph:
    """The shapes pass: each node's kernel, built once from its attributes and input shapes (the
    op registry `KERNELS` holds the shape rules), and from it the node's output `shape`
    ((None, *per_example): None is the batch, so (None, 128) for a vector, (None, 16, 8, 8) for an
    image), `params` and `buffers` (name -> shape), `param_count`, `kernel` and `inputs` (the
    nodes it reads, the stream first). Shape errors are recorded in `errors`.

    A node whose kernel refuses its inputs is reported and bypassed: the stream goes on from its
    input, as if it were not there, so later nodes are still checked; a node that reads a bypassed
    node by name (add, concat) is skipped (its problem is already reported). The finished graph
    holds only nodes with shapes: `order`, `input` and `output` name those.
    """
    shape: dict[str, tuple[int, ...]] = {}  # per-example output shapes
    bypass: dict[str, str | None] = {}  # a node that failed -> the node standing in for its output
    previous = None
    for name in g.graph["order"]:
        a = g.nodes[name]
        # the inputs as the graph pass defined them (the previous layer, then the add/concat
        # reference), read from the layers rather than the edges: `concat a` right after `a` has
        # the same node at both ports, and a DiGraph keeps one edge per pair
        stream = [] if a["op"] == "input" or previous is None else [bypass.get(previous, previous)]
        previous = name
        inputs = stream + ([a["ref"]] if a["ref"] is not None else [])
        if (a["op"] != "input" and not stream) or (a["ref"] is not None and a["ref"] not in g) \
                or any(i is None or i not in shape for i in inputs):
            bypass[name] = stream[0] if stream else None  # an earlier error: already reported
            continue
        try:
            kernel = KERNELS[a["op"]](a["attrs"], tuple(shape[i] for i in inputs))
        except ShapeError as e:
            message = f"{name}: {e.message}" if e.name_node else e.message
            errors.error(message, a["ref_span"] or a["span"], e.hint)
            bypass[name] = stream[0] if stream else None
            continue
        if stream and a["op"] != "input" and stream[0] not in g.pred[name]:
            g.add_edge(stream[0], name, port=STREAM)  # the stream goes on around a bypassed node
        shape[name] = kernel.out_shape
        a.update(kernel=kernel, inputs=tuple(inputs), shape=(None,) + kernel.out_shape, params=kernel.param_shapes(),
                 buffers=kernel.buffer_shapes(), param_count=kernel.param_count())
    if bypass:  # only with errors: keep the graph consistent for whoever looks at it
        g.remove_nodes_from(bypass)
        g.graph["order"] = [n for n in g.graph["order"] if n in shape]
        for i, n in enumerate(g.graph["order"]):
            g.nodes[n]["index"] = i
    if g.graph["order"]:
        g.graph["input"] = g.graph["order"][0]
        g.graph["output"] = g.graph["order"][-1]
    return g


def example_shape(g: nx.DiGraph, node: str) -> tuple[int, ...]:
    """The per-example output shape of `node`: (D,) or (C, H, W) (its `shape` without the batch)."""
    return tuple(g.nodes[node]["shape"][1:])


def stream_successors(g: nx.DiGraph, node: str) -> list[str]:
    """The nodes that take `node` as their stream input."""
    return [dst for dst in g.successors(node) if g.edges[node, dst]["port"] == STREAM]
