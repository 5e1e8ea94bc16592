"""The expanded model as a networkx graph, with every node's output shape and parameters inferred.

Shape rules come from the op registry (`netc.runtime.ops.KERNELS`), the one place op knowledge lives.
"""
from __future__ import annotations

import networkx as nx

from ..runtime.ops import KERNELS, ShapeError
from ..spec.diagnostics import Collector
from ..spec.expand import Layer

STREAM, OTHER = 0, 1  # edge ports: the stream input and the node named by add/concat


def build_graph(name: str, layers: tuple[Layer, ...], errors: Collector) -> nx.DiGraph:
    """A DiGraph whose nodes are the layers, in stream order (graph attribute `order`).

    Node attributes: op, attrs (the op's parameters), shape ((None, *per_example): None is the
    batch, so (None, 128) for a vector, (None, 16, 8, 8) for an image),
    params and buffers (name -> shape), param_count, span, calls, group, index. Edges carry `port`
    (0 for the stream, 1 for the other input of add/concat). Shape errors are recorded in `errors`.
    """
    g = nx.DiGraph(name=name, order=[], input=None, output=None)
    shape: dict[str, tuple[int, ...]] = {}  # per-example output shapes
    previous = None
    for layer in layers:
        kernel_cls = KERNELS[layer.op]
        inputs = [] if layer.op == "input" else [previous]
        if layer.ref is not None:
            inputs.append(layer.ref)
        if any(i is None or i not in shape for i in inputs):
            continue  # an earlier error (no input before this node): already reported
        try:
            kernel = kernel_cls(layer.attrs, tuple(shape[i] for i in inputs))
        except ShapeError as e:
            message = f"{layer.name}: {e.message}" if e.name_node else e.message
            errors.error(message, layer.ref_span or layer.span, e.hint)
            continue
        shape[layer.name] = kernel.out_shape
        g.add_node(layer.name, op=layer.op, attrs=dict(layer.attrs), shape=(None,) + kernel.out_shape,
                   params=kernel.param_shapes(), buffers=kernel.buffer_shapes(),
                   param_count=kernel.param_count(), span=layer.span, calls=layer.calls,
                   group=layer.group, index=len(g.graph["order"]), ref=layer.ref)
        for port, src in enumerate(inputs):
            g.add_edge(src, layer.name, port=port)
        g.graph["order"].append(layer.name)
        previous = layer.name
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
