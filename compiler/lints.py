"""Lints: warnings about networks that compile but teach a lesson (the course's common mistakes).

Each lint is a function (graph, network settings, data facts) -> warnings; `LINTS` lists them all.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

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


def double_softmax(g: nx.DiGraph, train: dict, data: dict | None, facts: DataFacts | None):
    out = g.graph["output"]
    if out and g.nodes[out]["op"] == "softmax" and train["loss"] == "cross_entropy":
        yield _warn("double-softmax", "softmax right before a cross_entropy loss", g.nodes[out]["span"],
                    "cross_entropy takes logits and applies the softmax itself; remove this softmax")


def bias_before_batchnorm(g, train, data, facts):
    for n, a in g.nodes(data=True):
        if a["op"] in ("dense", "maxout") and a["attrs"].get("bias"):
            if any(g.nodes[s]["op"] == "batchnorm" for s in stream_successors(g, n)):
                yield _warn("bias-before-batchnorm", f"{a['op']} with a bias directly before batchnorm",
                            a["span"], "batchnorm subtracts the mean, which cancels the bias: "
                                       "write bias=false")


def dropout_before_batchnorm(g, train, data, facts):
    for n, a in g.nodes(data=True):
        if a["op"] == "dropout" and any(g.nodes[s]["op"] == "batchnorm" for s in stream_successors(g, n)):
            yield _warn("dropout-before-batchnorm", "dropout directly before batchnorm", a["span"],
                        "dropout changes the variance between training and evaluation, so batchnorm's "
                        "running statistics no longer fit at evaluation; put dropout after the activation")


# init -> activations it is not meant for, and the init to use instead
INIT_MISMATCH = {"he": ({"tanh", "sigmoid"}, "xavier"), "xavier": ({"relu"}, "he"), "lecun": ({"relu"}, "he")}
PASS_THROUGH = {"dropout"}


def init_activation(g, train, data, facts):
    for n, a in g.nodes(data=True):
        if a["op"] not in ("dense", "maxout") or a["attrs"].get("init") not in INIT_MISMATCH:
            continue
        bad, better = INIT_MISMATCH[a["attrs"]["init"]]
        node = n
        while True:
            nexts = stream_successors(g, node)
            if len(nexts) != 1 or g.nodes[nexts[0]]["op"] not in PASS_THROUGH:
                break
            node = nexts[0]
        for s in stream_successors(g, node):
            act = g.nodes[s]["op"]
            if act in bad:
                yield _warn("init-activation", f"init={a['attrs']['init']} feeding {act}", a["span"],
                            f"{a['attrs']['init']} initialization is derived for "
                            f"{'ReLU' if better == 'xavier' else 'tanh/sigmoid'}; use init={better} for {act}")
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
