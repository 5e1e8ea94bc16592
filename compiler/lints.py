"""Lints: warnings about networks that compile but teach a lesson (the course's common mistakes).

Each lint is a function (graph, network settings, data facts) -> warnings; `LINTS` lists them all.
Lints recognize ops by the facts the op registry declares (category, batch statistics, suited
inits), not by name, so a new op of a known kind is linted without touching this file.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from ..runtime.ops import KERNELS
from ..spec.diagnostics import Diagnostic, Span
from .graph import stream_successors

SCALE_RATIO_LIMIT = 100.0


@dataclass(frozen=True)
class DataFacts:
    """What the lints need to know of the data: the label classes and raw feature ranges."""

    features: int
    classes: int | None
    scale_ratio: float | None  # largest / smallest raw feature range (constant features ignored)
    source_span: Span | None


def _warn(code: str, message: str, span: Span, hint: str) -> Diagnostic:
    return Diagnostic("warning", f"{message} [{code}]", span, hint, code)


def _kernel(g: nx.DiGraph, n: str):
    """The registry's kernel class of node n: the lints ask it for the op's facts."""
    return KERNELS[g.nodes[n]["op"]]


def double_softmax(g: nx.DiGraph, train: dict, data: dict | None, facts: DataFacts | None):
    out = g.graph["output"]
    if out and _kernel(g, out).category == "output" and train["loss"] == "cross_entropy":
        op = g.nodes[out]["op"]
        yield _warn("double-softmax", f"{op} right before a cross_entropy loss", g.nodes[out]["span"],
                    f"cross_entropy takes logits and applies the softmax itself; remove this {op}")


def _batch_normalizers(g, n) -> list[str]:
    """The stream successors of n that normalize with batch statistics (batchnorm)."""
    return [s for s in stream_successors(g, n) if _kernel(g, s).category == "normalization"
            and _kernel(g, s).batch_stats]


def bias_before_batchnorm(g, train, data, facts):
    for n, a in g.nodes(data=True):
        if _kernel(g, n).category == "linear" and a["attrs"].get("bias"):
            for s in _batch_normalizers(g, n)[:1]:
                norm = g.nodes[s]["op"]
                yield _warn("bias-before-batchnorm", f"{a['op']} with a bias directly before {norm}",
                            a["span"], f"{norm} subtracts the mean, which cancels the bias: "
                                       "write bias=false")


def dropout_before_batchnorm(g, train, data, facts):
    for n, a in g.nodes(data=True):
        if _kernel(g, n).category == "regularizer":
            for s in _batch_normalizers(g, n)[:1]:
                norm = g.nodes[s]["op"]
                yield _warn("dropout-before-batchnorm", f"{a['op']} directly before {norm}", a["span"],
                            f"{a['op']} changes the variance between training and evaluation, so "
                            f"{norm}'s running statistics no longer fit at evaluation; put {a['op']} "
                            "after the activation")


# The init= schemes the lint checks, and the units each was derived for (for the hint). Which
# scheme suits which activation is the activation's own fact (`inits`).
DERIVED_FOR = {"he": "ReLU", "xavier": "tanh/sigmoid", "lecun": "tanh/sigmoid"}


def init_activation(g, train, data, facts):
    for n, a in g.nodes(data=True):
        init = a["attrs"].get("init")
        if _kernel(g, n).category != "linear" or init not in DERIVED_FOR:
            continue
        node = n
        while True:  # look through regularizers (dropout): they do not change the scale's purpose
            nexts = stream_successors(g, node)
            if len(nexts) != 1 or _kernel(g, nexts[0]).category != "regularizer":
                break
            node = nexts[0]
        for s in stream_successors(g, node):
            act, kernel = g.nodes[s]["op"], _kernel(g, s)
            if kernel.category == "activation" and kernel.inits and init not in kernel.inits:
                better = kernel.inits[0]
                yield _warn("init-activation", f"init={init} feeding {act}", a["span"],
                            f"{init} initialization is derived for {DERIVED_FOR[init]}; "
                            f"use init={better} for {act}")
                break


def class_count(g, train, data, facts):
    out = g.graph["output"]
    if not out:
        return
    width = g.nodes[out]["shape"][1]
    span = g.nodes[out]["span"]
    loss = train["loss"]
    if loss == "bce" and width != 1:
        yield _warn("class-count", f"bce on {width} output units", span,
                    "bce scores one unit per example (a logit); end the model with dense 1")
    elif loss in ("cross_entropy", "hinge") and facts is not None and facts.classes is not None \
            and facts.classes != width:
        yield _warn("class-count", f"the output is {width} wide but the data has {facts.classes} classes",
                    span, f"end the model with dense {facts.classes} for {loss}")


def feature_scale(g, train, data, facts):
    if facts is None or facts.scale_ratio is None or data is None:
        return
    if facts.scale_ratio > SCALE_RATIO_LIMIT and not (data["standardize"] or data["minmax"]):
        yield _warn("feature-scale", f"input features' ranges differ by {facts.scale_ratio:.0f}x",
                    facts.source_span, "large-scale features dominate the first layer and slow training: "
                                       "add 'standardize' (or 'minmax') to the data section")


LINTS = [double_softmax, bias_before_batchnorm, dropout_before_batchnorm, init_activation, class_count,
         feature_scale]


def run_lints(g: nx.DiGraph, train: dict, data: dict | None, facts: DataFacts | None) -> list[Diagnostic]:
    """Every lint's warnings, one per statement and code (a block called twice warns once)."""
    seen, out = set(), []
    for lint in LINTS:
        for d in lint(g, train, data, facts):
            key = (d.code, d.span)
            if key not in seen:
                seen.add(key)
                out.append(d)
    return sorted(out, key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))
