"""Lints: warnings about networks that compile but teach a lesson (the course's common mistakes).

Each lint is a function (graph, train settings, data settings, data facts) -> warnings; `LINTS` lists them all.
Lints recognize ops by the facts the op registry declares (category, batch statistics, suited
inits), not by name, so a new op of a known kind is linted without touching this file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from ..runtime.ops import KERNELS
from ..spec.diagnostics import Diagnostic, Span
from ..spec.schema import SYMMETRIC_INITS
from ..spec.settings import DataSettings, TrainSettings
from .graph import stream_successors
from .train_lints import train_warnings

SCALE_RATIO_LIMIT = 100.0
# The losses that take logits and apply their own squashing (softmax, sigmoid) or margin.
LOGIT_LOSSES = ("cross_entropy", "bce", "hinge")
# A dropout rate on the raw input above this drops too much of what there is to learn from
# (Srivastava et al. 2014 keep 80% of the inputs, i.e. p = 0.2).
INPUT_DROPOUT_LIMIT = 0.5
# batchnorm's momentum is the new batch's weight (PyTorch); Keras/ONNX count the old one's, 0.9/0.99.
MOMENTUM_LIMIT = 0.9
# The learning rate from which each optimizer almost surely diverges (usual ranges: adam and
# rmsprop 1e-4..1e-2, sgd 1e-3..1).
LR_LIMITS = {"adam": 0.1, "rmsprop": 0.1, "sgd": 10.0}
# The optimizers whose step is about lr per parameter whatever the gradient's scale: with a
# regression loss a large lr can be right (landscape_raw.net: weights in the hundreds), so their
# limit holds for the classification (logit) losses only.
STEP_SIZED = ("adam", "rmsprop")
# Batch statistics over this many values or fewer per unit are noise (2 values normalize to -1 and
# +1 whatever they were); on images each unit (channel) also sees its H*W pixels.
BATCH_STATS_MIN = 2
# A regression target this large (its training mean or std, in its own units) makes mse and its
# gradients millions of times those of standardized targets: "targets in the thousands".
TARGET_SCALE_LIMIT = 1000.0


@dataclass(frozen=True)
class DataFacts:
    """What the lints need to know of the data: the label classes and raw feature ranges."""

    features: int
    classes: int | None
    scale_ratio: float | None  # largest / smallest raw feature range (constant features ignored)
    source_span: Span | None
    target_scale: float | None = None  # a real regression target's max(|mean|, std), as trained on


def _warn(code: str, message: str, span: Span, hint: str) -> Diagnostic:
    return Diagnostic("warning", f"{message} [{code}]", span, hint, code)


def _kernel(g: nx.DiGraph, n: str):
    """The registry's kernel class of node n: the lints ask it for the op's facts."""
    return KERNELS[g.nodes[n]["op"]]


def double_softmax(g: nx.DiGraph, train: TrainSettings, data: DataSettings | None, facts: DataFacts | None,
                   spans=None):
    out = g.graph["output"]
    if out and _kernel(g, out).category == "output" and train.loss == "cross_entropy":
        op = g.nodes[out]["op"]
        yield _warn("double-softmax", f"{op} right before a cross_entropy loss", g.nodes[out]["span"],
                    f"cross_entropy takes logits and applies the softmax itself; remove this {op}")


def _batch_normalizers(g, n) -> list[str]:
    """The stream successors of n that normalize with batch statistics (batchnorm)."""
    return [s for s in stream_successors(g, n) if _kernel(g, s).category == "normalization"
            and _kernel(g, s).batch_stats]


def bias_before_batchnorm(g, train, data, facts, spans=None):
    for n, a in g.nodes(data=True):
        if _kernel(g, n).category == "linear" and a["attrs"].get("bias"):
            for s in _batch_normalizers(g, n)[:1]:
                norm = g.nodes[s]["op"]
                yield _warn("bias-before-batchnorm", f"{a['op']} with a bias directly before {norm}",
                            a["span"], f"{norm} subtracts the mean, which cancels the bias: "
                                       "write bias=false")


def dropout_before_batchnorm(g, train, data, facts, spans=None):
    for n, a in g.nodes(data=True):
        kernel = _kernel(g, n)
        # a regularizer whose forward differs in evaluation (dropout, noise): an activity penalty
        # is the identity in both modes and shifts nothing
        if kernel.category == "regularizer" and kernel.mode_dependent:
            for s in _batch_normalizers(g, n)[:1]:
                norm = g.nodes[s]["op"]
                yield _warn("dropout-before-batchnorm", f"{a['op']} directly before {norm}", a["span"],
                            f"{a['op']} changes the variance between training and evaluation, so "
                            f"{norm}'s running statistics no longer fit at evaluation; put {a['op']} "
                            "after the activation")


# The init= schemes the lint checks, and the units each was derived for (for the hint). Which
# scheme suits which activation is the activation's own fact (`inits`).
DERIVED_FOR = {"he": "ReLU", "xavier": "tanh/sigmoid", "lecun": "tanh/sigmoid"}


def init_activation(g, train, data, facts, spans=None):
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
            if s == g.graph["output"] and train.loss == "bce" and _probability(kernel):
                break  # the sigmoid should go (sigmoid-before-bce), not its init change
            if kernel.category == "activation" and kernel.inits and init not in kernel.inits:
                better = kernel.inits[0]
                yield _warn("init-activation", f"init={init} feeding {act}", a["span"],
                            f"{init} initialization is derived for {DERIVED_FOR[init]}; "
                            f"use init={better} for {act}")
                break


def symmetric_init(g, train, data, facts, spans=None):
    """A hidden linear layer whose weights all start equal (init=zeros or init=constant): its
    units are copies of each other (the output layer is not checked: a zero-initialized last
    layer is a common, harmless choice)."""
    for n, a in g.nodes(data=True):
        init = a["attrs"].get("init")
        if _kernel(g, n).category != "linear" or init not in SYMMETRIC_INITS or n == g.graph["output"]:
            continue
        units = a["shape"][1]
        if units < 2:
            continue
        what = "zeros" if init == "zeros" else f"the value {a['attrs'].get('value', 0.0):g}"
        yield _warn("symmetric-init", f"init={init}: the {units} units of this {a['op']} start identical",
                    a["span"], f"every weight starts as {what}, so the units compute the same output and get "
                               "the same gradient unless the layer after them tells them apart (if it "
                               "is all-equal too, they stay copies forever): use a random init such as "
                               "he, xavier or orthogonal")


def class_count(g, train, data, facts, spans=None):
    out = g.graph["output"]
    if not out:
        return
    width = g.nodes[out]["shape"][1]
    span = g.nodes[out]["span"]
    loss = train.loss
    if loss == "bce" and width != 1:
        yield _warn("class-count", f"bce on {width} output units", span,
                    "bce scores one unit per example (a logit); end the model with dense 1")
    elif loss in ("cross_entropy", "hinge") and facts is not None and facts.classes is not None \
            and facts.classes != width:
        yield _warn("class-count", f"the output is {width} wide but the data has {facts.classes} classes",
                    span, f"end the model with dense {facts.classes} for {loss}")


def feature_scale(g, train, data, facts, spans=None):
    if facts is None or facts.scale_ratio is None or data is None:
        return
    if facts.scale_ratio > SCALE_RATIO_LIMIT and not (data.standardize or data.minmax):
        yield _warn("feature-scale", f"input features' ranges differ by {facts.scale_ratio:.0f}x",
                    facts.source_span, "large-scale features dominate the first layer and slow training: "
                                       "add 'standardize' (or 'minmax') to the data section")


def target_scale_hint(facts: DataFacts | None, data: DataSettings | None) -> str | None:
    """The advice for a regression target in the thousands that is not standardized (the
    target-scale lint, and the hint of a run that diverges), or None."""
    if facts is None or facts.target_scale is None or data is None or data.standardize_target:
        return None
    if facts.target_scale < TARGET_SCALE_LIMIT:
        return None
    return (f"the regression target is about {facts.target_scale:.3g} in size: add 'standardize target' "
            "to the data section (training sees it with mean 0 and std 1; netc reports the mse in "
            "the target's own units)")


def target_scale(g, train, data, facts, spans=None):
    hint = target_scale_hint(facts, data) if not train.classification else None
    if hint:
        yield _warn("target-scale", f"the regression target is unscaled and large (about "
                    f"{facts.target_scale:.3g}): the first mse is about {facts.target_scale ** 2:.0e}, "
                    f"and its gradients as large", facts.source_span, hint)


def _probability(kernel) -> bool:
    """Whether an activation squashes into (0, 1): its declared saturation range lies within [0, 1]."""
    sat = kernel.saturation if kernel.category == "activation" else None
    return bool(sat) and all(isinstance(b, (int, float)) for b in sat) and 0 <= sat[0] and sat[1] <= 1


def sigmoid_before_bce(g, train, data, facts, spans=None):
    out = g.graph["output"]
    if out and train.loss == "bce" and _probability(_kernel(g, out)):
        op = g.nodes[out]["op"]
        yield _warn("sigmoid-before-bce", f"{op} right before a bce loss", g.nodes[out]["span"],
                    f"bce takes a logit and applies the sigmoid itself (a second one squashes the "
                    f"outputs and slows learning); remove this {op}")


def activation_on_logits(g, train, data, facts, spans=None):
    out = g.graph["output"]
    loss = train.loss
    # only for a loss the file names: a file without one may be a fragment measured, not trained
    if out and loss in ("cross_entropy", "hinge") and _kernel(g, out).category == "activation" \
            and "loss" in (spans or {}) and not _statistics_only(data):
        op = g.nodes[out]["op"]
        yield _warn("activation-on-logits", f"{op} on the logits of a {loss} loss", g.nodes[out]["span"],
                    f"{loss} wants unbounded scores of either sign; {op} clips or squashes them: "
                    f"remove this {op} so the model ends with its linear layer")


def _rate(attrs: dict) -> float | None:
    """A dropout's rate from its attributes (p, or 1 - keep), None when neither is known."""
    if attrs.get("p") is not None:
        return float(attrs["p"])
    return 1.0 - float(attrs["keep"]) if attrs.get("keep") is not None else None


def dropout_placement(g, train, data, facts, spans=None):
    out, inp = g.graph["output"], g.graph["input"]
    for n, a in g.nodes(data=True):
        kernel = _kernel(g, n)
        if kernel.category != "regularizer" or not kernel.stochastic:
            continue
        if n == out:
            yield _warn("dropout-placement", f"{a['op']} as the last op, right before the loss", a["span"],
                        f"{a['op']} changes the model's outputs at random in training; put it before the "
                        "last linear layer instead")
            continue
        rate = _rate(a["attrs"])
        if inp is not None and rate is not None and rate >= INPUT_DROPOUT_LIMIT and n in stream_successors(g, inp):
            yield _warn("dropout-placement", f"{a['op']} of rate {rate:g} on the input", a["span"],
                        f"dropping {rate:.0%} of the input features loses most of the information; "
                        "on the input use a rate of 0.2 or less")


def batchnorm_momentum(g, train, data, facts, spans=None):
    for n, a in g.nodes(data=True):
        kernel = _kernel(g, n)
        m = a["attrs"].get("momentum")
        if kernel.category == "normalization" and kernel.batch_stats and m is not None and m >= MOMENTUM_LIMIT:
            yield _warn("batchnorm-momentum", f"{a['op']} momentum={m:g}", a["span"],
                        "here momentum is the new batch's weight in the running statistics (as in "
                        f"PyTorch); Keras and ONNX count the old statistics' weight, so momentum={m:g} "
                        f"there is momentum={1 - m:.2g} here: you probably meant momentum={1 - m:.2g}")


def batchnorm_batch(g, train, data, facts, spans=None):
    """A batch-statistics normalization whose statistics see too few values per unit: on vectors
    the batch itself (B values per feature), on images B*H*W per channel, so `batch 2` is fine
    for a batchnorm on 8x8 images and not for one on vectors."""
    batch = train.batch
    for n, a in g.nodes(data=True):
        kernel = _kernel(g, n)
        if kernel.category != "normalization" or not kernel.batch_stats:
            continue
        shape = g.nodes[n]["shape"][1:]  # per example: (D,) or (C, H, W)
        per_unit = batch * math.prod(shape[1:])  # the values each unit's statistics are taken over
        if per_unit > BATCH_STATS_MIN:
            continue
        what = f"{shape[0]} features" if len(shape) == 1 else f"{'x'.join(map(str, shape))} images"
        if per_unit < kernel.min_batch:
            consequence = "one value per statistic has no variance: training stops at the first batch"
        else:
            consequence = (f"each unit is normalized over {per_unit} values, so its outputs are "
                           "nearly fixed (two values become -1 and +1) and the running statistics are noise")
        yield _warn("batchnorm-batch", f"{a['op']} on {what} with batch {batch}: {consequence}",
                    a["span"], "use a larger batch (32 is usual), or layernorm, "
                               "which normalizes each example on its own; on images a small batch is fine "
                               "(the statistics run over H and W too)")


def learning_rate(g, train, data, facts, spans=None):
    opt = train.optimizer
    limit = LR_LIMITS.get(opt.name)
    lr = opt.params.get("lr")
    if limit is None or lr is None or lr < limit:
        return
    if opt.name in STEP_SIZED and train.loss not in LOGIT_LOSSES:
        return  # a regression on unscaled targets needs large weights, and these step about lr each
    spans = spans or {}
    span = spans.get("optimizer.lr") or spans.get("optimizer")
    if span is None:
        return  # an lr given only by --set: nothing in the file to point at
    yield _warn("learning-rate", f"lr={lr:g} is far above {opt.name}'s usual range", span,
                f"{opt.name} usually takes lr below {limit / 10:g} (e.g. {TYPICAL_LR[opt.name]:g}); "
                "a rate this large makes the loss diverge")


TYPICAL_LR = {"adam": 1e-3, "rmsprop": 1e-3, "sgd": 0.1}
# Sources whose labels are random (the schema: "for activation-statistics experiments"): a model on
# them is measured, not trained as a classifier, so what it ends with is no logits mistake.
STATISTICS_SOURCES = ("gaussian",)


def _statistics_only(data: DataSettings | None) -> bool:
    """Whether the data section's source is one for activation statistics (random labels)."""
    return data is not None and data.source.name in STATISTICS_SOURCES


LINTS = [double_softmax, bias_before_batchnorm, dropout_before_batchnorm, init_activation, symmetric_init, class_count,
         feature_scale, sigmoid_before_bce, activation_on_logits, dropout_placement, batchnorm_momentum,
         learning_rate, batchnorm_batch, target_scale]


def run_lints(g: nx.DiGraph, train: TrainSettings, data: DataSettings | None, facts: DataFacts | None,
              train_spans: dict | None = None) -> list[Diagnostic]:
    """The lints pass: every lint's warnings, one per statement and code (a block called twice
    warns once), then the train section's number lints (compiler/train_lints.py). `train_spans`
    locates the train section's settings (the learning-rate lint points at lr=)."""
    seen, out = set(), []
    for lint in LINTS:
        for d in lint(g, train, data, facts, train_spans):
            key = (d.code, d.span)
            if key not in seen:
                seen.add(key)
                out.append(d)
    return sorted(out, key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0)) + \
        train_warnings(train, train_spans or {})
