"""The data pass and whether loaded data fits a network and its train settings: the one set of
data checks (`data_problems`) that `netc check` (the pass list's data pass, `check_data`) and
every command that loads data (`netc run`, eval, stats, debug, ...: netc/prepare.py) run, so
`netc check` rejects exactly what a run would.

Each problem is a located Diagnostic: an error where the data cannot train the network, a warning
where it can but the file is probably not what its author meant (a label column that is plainly
not a label)."""
from __future__ import annotations

from pathlib import Path

import networkx as nx

from ..spec.check import CheckedSpec
from ..spec.diagnostics import Collector, Diagnostic
from ..spec.schema import CLASSIFICATION_LOSSES
from ..spec.settings import DataSettings, TrainSettings
from .network import augment_mismatch, data_facts, describe_dataset, input_mismatch

# A "label" column with this many distinct values, most examples their own class, is not a label.
MANY_CLASSES = 100
LABEL_CODE = "label-column"


def data_problems(graph, ds, train: TrainSettings, data: DataSettings, train_spans: dict, data_spans: dict,
                  file_data: DataSettings | None = None, file_batch: int | None = None) -> list[Diagnostic]:
    """Every way the Dataset `ds` does not fit the compiled `graph` with these (overridden) train
    and data settings, errors first: the input's width, an augment that cannot act on the
    examples, the labels or targets against the loss and the output, the batch against the
    training split; and as warnings, a label column that is plainly not a label. `train_spans` /
    `data_spans` locate the statements; `file_data` / `file_batch`: the file's own settings,
    when a command line's --set may have changed them (an error of a setting that came from the
    command line has no span in the file)."""
    out: list[Diagnostic] = []

    def error(message, span, hint=None):
        out.append(Diagnostic("error", message, span, hint))

    in_node, out_node = graph.graph["input"], graph.graph["output"]
    in_span, out_span = graph.nodes[in_node]["span"], graph.nodes[out_node]["span"]
    src = data.source.params
    name = src.get("path") or src.get("images") or data.source.name
    labels = src.get("labels") or name  # an IDX source keeps its labels in a file of their own
    in_shape = tuple(graph.nodes[in_node]["shape"][1:])
    out_shape = tuple(graph.nodes[out_node]["shape"][1:])
    mismatch = input_mismatch(in_shape, ds.features, name, ds.example_shape)
    if mismatch:
        error(mismatch[0], in_span, mismatch[1])
        return out
    wrong = data.augment and augment_mismatch(in_shape, data.augment, describe_dataset(ds))
    if wrong:
        if file_data is not None and data.augment != file_data.augment:
            error(f"{wrong[0]} (augment from the command line)", None, wrong[1])
        else:
            error(wrong[0], data_spans.get(f"augment.{wrong[2]}") or data_spans.get("augment"), wrong[1])
    if len(out_shape) != 1:
        error(f"the model's output is an image {'x'.join(map(str, out_shape))}, but the loss "
              f"{train.loss} takes a vector per example", out_span,
              "end the model with flatten (or globalpool) and dense")
        return out
    loss, width = train.loss, out_shape[0]
    loss_span = train_spans.get("loss") or out_span
    column = _label_column(ds)
    ys = [ds.y_train] + ([ds.y_val] if ds.y_val is not None else [])
    if loss in CLASSIFICATION_LOSSES and data.standardize_target:
        span = data_spans.get("standardize_target")
        error(f"standardize target is for a regression target, but {loss} takes class labels"
              + ("" if span else " (standardize_target from the command line)"), span,
              "remove it, or use loss mse for a regression target")
        return out
    if loss in CLASSIFICATION_LOSSES:
        out += _class_label_problems(ds, ys, loss, width, labels, column, loss_span, out_span)
    else:
        target_width = 1 if ds.y_train.ndim == 1 else ds.y_train.shape[1]
        one_hot = (ds.y_train.ndim == 1 and ds.y_train.dtype.kind in "iu" and ds.classes is not None
                   and width > 1)
        if one_hot and ds.classes > width:
            error(f"{loss}: the labels of {labels} have {ds.classes} classes but the output is {width} "
                  f"wide (mse reads class labels as one-hot rows)", out_span, f"end the model with dense {ds.classes}")
        if not one_hot and target_width != width:
            error(f"{loss}: the targets of {labels} are {target_width} wide but the output is {width}",
                  out_span, f"end the model with dense {target_width}")
    n = len(ds.x_train)
    if train.batch > n:
        message = f"batch {train.batch} is larger than the training split ({n} examples)"
        hint = f"use a batch of at most {n}, or a larger split"
        if file_batch is not None and train.batch != file_batch:
            error(f"{message} (batch from the command line)", None, hint)
        else:
            error(message, train_spans.get("batch"), hint)
    return sorted(out, key=lambda d: d.severity != "error")


def check_data(spec: CheckedSpec, graph: nx.DiGraph, base_dir: Path, errors: Collector):
    """The data pass: load the data once, check it as a run would (`data_problems`: its width
    against `input N`, its labels against the loss and the output, the batch against the
    training split), and return its facts for the lints: (DataFacts, a
    description, the Dataset, the data warnings); a data problem becomes an error at the
    statement it concerns, recorded in `errors`."""
    from ..runtime.data import DataError, load_data  # numpy-heavy: only when asked

    out = graph.graph["output"]
    default_classes = graph.nodes[out]["shape"][1] if out else None
    try:
        ds = load_data(spec.data, seed=spec.train.seed, base_dir=base_dir, default_classes=default_classes)
    except MemoryError:
        errors.error("the data is too large to load in memory", spec.data_spans.get("source"))
        return None, None, None, []
    except DataError as e:
        errors.error(e.message, e.span_in(spec.data_spans), e.hint)
        return None, None, None, []
    if graph.graph["input"] is None or out is None:
        return data_facts(ds, spec), describe_dataset(ds, spec.train.classification), ds, []
    problems = data_problems(graph, ds, spec.train, spec.data, spec.train_spans, spec.data_spans)
    for d in problems:
        if d.severity == "error":
            errors.error(d.message, d.span, d.hint)
    warnings = [d for d in problems if d.severity != "error"]
    return data_facts(ds, spec), describe_dataset(ds, spec.train.classification), ds, warnings


def _label_column(ds) -> str:
    """How the labels were chosen, for messages: "column 5 ('species'), the last (label=last, the
    default)", or "" when the source has no label column (npz, IDX, bundled sets)."""
    return getattr(ds, "label_column", None) or ""


def _class_label_problems(ds, ys, loss, width, labels, column, loss_span, out_span) -> list[Diagnostic]:
    import numpy as np  # numpy-heavy: only once data is loaded
    out: list[Diagnostic] = []
    which = f" (the label is {column})" if column else ""
    pick = ("; label=NAME in the source statement picks another column" if column else "")
    if any(y.ndim != 1 for y in ys):
        return [Diagnostic("error", f"{loss} needs one class label per example, but the labels of {labels} "
                           f"have shape {ys[0].shape}", loss_span, "for one-hot labels y, store y.argmax(axis=1) instead")]
    if any(y.dtype.kind not in "iu" for y in ys):
        whole = all(np.all(np.isfinite(y)) and np.all(y == np.round(y)) for y in ys)
        hint = ("the labels are written as floats (0.0, 1.0): write them as integers (0, 1), "
                "or store y.astype(int)") if whole else f"use loss mse for a regression target{pick}"
        if whole and min(float(y.min()) for y in ys if len(y)) < 0:
            hint = "class labels count from 0: map them to 0..K-1 (e.g. -1/1 to 0/1)"
        return [Diagnostic("error", f"{loss} needs integer class labels, but the labels of {labels}{which} "
                           f"are {'floats' if whole else 'real numbers, not whole ones'}", loss_span, hint)]
    present = [y for y in ys if len(y)]
    top = max(int(y.max()) for y in present)
    low = min(int(y.min()) for y in present)
    distinct = len(np.unique(np.concatenate(present)))
    examples = sum(len(y) for y in present)
    not_a_label = distinct >= MANY_CLASSES and distinct > examples / 2
    not_label_hint = ("is this column the label?" + (" label=NAME in the source statement picks another "
                      "column;" if column else "") + " for a numeric target use loss mse")
    limit = 2 if loss == "bce" else width
    if low < 0 or top >= limit:
        what = "0 and 1" if loss == "bce" else f"0..{width - 1} for an output {width} wide"
        hint = f"end the model with dense {top + 1}" if loss != "bce" and low >= 0 else None
        message = f"the labels of {labels}{which} go from {low} to {top}, but {loss} needs labels in {what}"
        if low < 0:
            hint = "class labels count from 0: map them to 0..K-1 (e.g. -1/1 to 0/1)"
        elif low == 1 and top == limit:
            message += ": they look 1-based (1..K)"
            hint = ("add 'labels one_based' to the data section (netc subtracts 1 from every label), "
                    "or store the labels minus 1")
        elif not_a_label:
            message += f": {distinct} distinct values over {examples} examples, which is not a class label"
            hint = not_label_hint
        out.append(Diagnostic("error", message, out_span, hint))
    elif not_a_label:
        out.append(Diagnostic(
            "warning", f"the labels of {labels}{which} have {distinct} distinct values over {examples} "
            f"examples: most examples are a class of their own [{LABEL_CODE}]", loss_span,
            not_label_hint, LABEL_CODE))
    if loss == "bce" and width != 1 and not out:
        out.append(Diagnostic("error", f"bce needs an output 1 wide, not {width}", out_span, "end the model with dense 1"))
    return out


def describe_labels(ds, classification: bool = True) -> str | None:
    """The summary's line on the labels ("labels: ...") or, for real targets or a regression loss
    (`classification` False), the target ("target: ..."): which CSV column they came from, how
    many classes, for string labels the mapping to class indices, 1-based labels shifted, a
    standardized target's statistics (None when there is nothing to say: no CSV column, nothing
    changed)."""
    parts = []
    column = _label_column(ds)
    classes = ds.classes if classification else None
    if column:
        parts.append(column)
    if classes is not None and ds.y_train.ndim == 1:
        parts.append(f"{classes} class{'es' if classes != 1 else ''} found")
    names = getattr(ds, "label_names", None)
    if names and column:
        shown = ", ".join(f"{n}={i}" for i, n in enumerate(names[:12]))
        parts.append(f"strings mapped in sorted order: {shown}" + (", ..." if len(names) > 12 else ""))
    if getattr(ds, "one_based", False):
        parts.append("1-based in the file, shifted to 0..K-1 (labels one_based)")
    scaling = getattr(ds, "target_scaling", None)
    if scaling is not None:
        parts.append(target_scaling_text(scaling))
    if not parts or not column and not getattr(ds, "one_based", False) and scaling is None:
        return None
    return ("target: " if classes is None else "labels: ") + "; ".join(parts)


def target_scaling_text(scaling: dict) -> str:
    """'standardized with the training split's mean 152.1 and std 77.09 (standardize target): the
    losses are in standardized units'."""
    def nums(a):
        vals = [f"{v:.4g}" for v in a]
        return vals[0] if len(vals) == 1 else "(" + ", ".join(vals) + ")"
    return (f"standardized with the training split's mean {nums(scaling['mean'])} and std "
            f"{nums(scaling['std'])} (standardize target): the losses are in standardized units")


__all__ = ["check_data", "data_problems", "describe_labels", "target_scaling_text", "LABEL_CODE", "MANY_CLASSES"]
