"""Batch-norm folding, the graph pass: an evaluation-mode normalization that is a fixed per-unit
affine map (batchnorm with its running statistics) directly after a layer that is affine per
output unit (dense, conv) merges into that layer, for inference (`netc graph --fold`, `netc export
--fold`). The weights are folded by runtime/fold.py; this pass changes the graph only.

Which ops take part is read from the kernels: a normalization with an `eval_affine` (its
evaluation-mode scale and shift per unit) folds into the layer before it when that layer's
kernel has a `fold_affine` and feeds nothing else. Anything else (a batchnorm after an
activation, a layer whose output is also used by `add`) is left alone.
"""
from __future__ import annotations

import dataclasses

import networkx as nx

from ..runtime.ops import KERNELS
from .graph import example_shape


def fold_pairs(g: nx.DiGraph) -> list[tuple[str, str]]:
    """The (layer, normalization) pairs that fold, in graph order."""
    pairs = []
    for n in g.graph["order"]:
        if KERNELS[g.nodes[n]["op"]].eval_affine is None:
            continue
        preds = list(g.predecessors(n))
        if len(preds) != 1:
            continue
        p = preds[0]
        if KERNELS[g.nodes[p]["op"]].fold_affine is None or g.out_degree(p) != 1:
            continue  # a layer that cannot take the scale, or whose raw output is used elsewhere
        pairs.append((p, n))
    return pairs


def fold_graph(g: nx.DiGraph) -> tuple[nx.DiGraph, list[tuple[str, str]]]:
    """A copy of `g` with every folding pair merged: the normalization's node is gone, its
    consumers read the layer, and the layer has a bias (attribute `folded`: the normalization's
    name). Returns the new graph and the pairs folded."""
    pairs = fold_pairs(g)
    h = g.copy()
    h.graph = dict(g.graph, order=list(g.graph["order"]))
    for layer, norm in pairs:
        for succ in list(h.successors(norm)):
            h.add_edge(layer, succ, port=h.edges[norm, succ]["port"])
            a = h.nodes[succ]
            # the inputs the shapes pass recorded (what lower reads): the layer now stands for the
            # normalization, whose output has the layer's shape, so the consumer's kernel still fits
            a["inputs"] = tuple(layer if i == norm else i for i in a["inputs"])
            if a.get("ref") == norm:  # `add batchnorm1`: now the folded layer's output
                a["ref"] = layer
                a["attrs"] = {**a["attrs"], "node": layer}
        h.remove_node(norm)
        h.graph["order"].remove(norm)
        if h.graph["output"] == norm:
            h.graph["output"] = layer
        a = h.nodes[layer]
        a["attrs"] = {**a["attrs"], "bias": True}
        a["folded"] = norm
        preds = sorted(h.predecessors(layer), key=lambda p: h.edges[p, layer]["port"])
        kernel = KERNELS[a["op"]](a["attrs"], tuple(example_shape(h, p) for p in preds))
        a["kernel"], a["params"], a["param_count"] = kernel, kernel.param_shapes(), kernel.param_count()
    for i, n in enumerate(h.graph["order"]):
        h.nodes[n]["index"] = i
    return h, pairs


def fold_network(network):
    """The compiled network with its batch norms folded (see `fold_graph`), and the pairs."""
    g, pairs = fold_graph(network.graph)
    return dataclasses.replace(network, graph=g), pairs
