"""What every command that trains or inspects a network does first: compile the file, apply the
command line's overrides, load the data and check that it fits the network, each failure raised
as a NetcError (located in the spec where it can be; exit 2) before any work starts."""
from __future__ import annotations

import dataclasses
import sys

import numpy as np

from .compiler import load_path
from .compiler.lints import run_lints
from .compiler.lower import lower
from .compiler.network import augment_mismatch, data_facts, describe_dataset, input_mismatch
from .runtime import memory
from .runtime.data import DataError, load_data
from .runtime.model import Model
from .spec import overrides
from .spec.diagnostics import EXIT_BAD_INPUT, NetcError
from .spec.settings import TrainSettings

# Overflow and NaN are detected and reported by netc itself (naming the node and its line);
# NumPy's warnings about them would only clutter the output.
np.seterr(all="ignore")


def fail(network, message: str, span=None, hint: str | None = None, status: int = EXIT_BAD_INPUT):
    """Raise a NetcError located in `network`'s spec at `span` (or, without a network, a
    command-line error: `netc: error: ...`) ending the command with `status`."""
    raise NetcError(message, span, hint, source=network.source if network is not None else None,
                    status=status)


def prepare(path: str, sets: list[str], epochs: int | None, seed: int | None, warnings: bool = True,
            data_seed: int | None = None, whole_split_batch: bool = False):
    """The compiled network (its `warnings` those of the lints pass, run once here with the data and
    the overridden settings), its (overridden) settings and its data, all checked to fit. The data
    is split and shuffled with the run's seed, or with `data_seed` when given (an ensemble's
    members share one split while their seeds differ). With `whole_split_batch` (netc stats, which
    measures one batch), a batch larger than the training split becomes the whole split, said on
    stderr, instead of an error."""
    net = load_path(path, check_data=False, lint=False)  # the lints run once, below
    if net.data is None:
        fail(net, "the file has no data section: there is nothing to train on", net.spec.model_span,
              "add one, e.g. data { source digits; standardize }")
    extra = list(sets) + ([f"epochs={epochs}"] if epochs is not None else []) + \
        ([f"seed={seed}"] if seed is not None else [])
    train, data = overrides.apply(net.train, net.data, extra)
    try:
        dataset = load_data(data, seed=train.seed if data_seed is None else data_seed,
                            base_dir=net.base_dir, default_classes=net.output_width)
    except DataError as e:
        raise e.located(net.source, e.span_in(net.spec.data_spans)) from None
    except MemoryError:
        fail(net, "the data is too large to load in memory", net.spec.data_spans.get("source"))
    # the lints pass, once, now that the data (and any --set) is known: the data-aware ones too
    lints = run_lints(net.graph, train, data, data_facts(dataset, net.spec), net.spec.train_spans)
    net.warnings = lints  # what the network's readers (the debugger's warnings panel) show
    for w in lints if warnings else ():
        print(w.render(net.source), file=sys.stderr)
    n = len(dataset.x_train)
    if whole_split_batch and train.batch > n:
        print(f"netc: batch {train.batch} is more than the training split's {n} examples: "
              f"using all {n}", file=sys.stderr)
        train = dataclasses.replace(train, batch=n)
    check_fit(net, dataset, train)
    return net, train, data, dataset


def check_fit(net, ds, train: TrainSettings) -> None:
    """Exit 2 with a located message if the data does not fit the network or the settings."""
    g = net.graph
    in_span = g.nodes[g.graph["input"]]["span"]
    out_span = g.nodes[g.graph["output"]]["span"]
    src = net.data.source
    name = src.params.get("path") or src.params.get("images") or src.name
    labels = src.params.get("labels") or name  # an IDX source keeps its labels in a file of their own
    mismatch = input_mismatch(net.input_shape, ds.features, name)
    if mismatch:
        fail(net, mismatch[0], in_span, mismatch[1])
    wrong = ds.augment and augment_mismatch(net.input_shape, ds.augment, describe_dataset(ds))
    if wrong:
        if ds.augment != net.data.augment:  # it came from --set
            fail(None, f"{wrong[0]} (augment from the command line)", None, wrong[1])
        spans = net.spec.data_spans
        fail(net, wrong[0], spans.get(f"augment.{wrong[2]}") or spans.get("augment"), wrong[1])
    if len(net.output_shape) != 1:
        fail(net, f"the model's output is an image {'x'.join(map(str, net.output_shape))}, but the loss "
                  f"{train.loss} takes a vector per example", out_span,
             "end the model with flatten (or globalpool) and dense")
    loss, width = train.loss, net.output_width
    ys = [ds.y_train] + ([ds.y_val] if ds.y_val is not None else [])
    if train.classification:
        if any(y.ndim != 1 for y in ys):
            fail(net, f"{loss} needs one class label per example, but the labels of {labels} have shape "
                       f"{ys[0].shape}", net.spec.train_spans.get("loss") or out_span,
                  "for one-hot labels y, store y.argmax(axis=1) instead")
        if any(y.dtype.kind not in "iu" for y in ys):
            whole = all(np.all(np.isfinite(y)) and np.all(y == np.round(y)) for y in ys)
            hint = ("the labels are written as floats (0.0, 1.0): write them as integers (0, 1), "
                    "or store y.astype(int)") if whole else "use loss mse for a regression target"
            if whole and min(float(y.min()) for y in ys if len(y)) < 0:
                hint = "class labels count from 0: map them to 0..K-1 (e.g. -1/1 to 0/1)"
            fail(net, f"{loss} needs integer class labels, but the labels of {labels} are "
                       f"{'floats' if whole else 'not whole numbers'}",
                  net.spec.train_spans.get("loss") or out_span, hint)
        top = max(int(y.max()) for y in ys if len(y))
        low = min(int(y.min()) for y in ys if len(y))
        limit = 2 if loss == "bce" else width
        if low < 0 or top >= limit:
            what = "0 and 1" if loss == "bce" else f"0..{width - 1} for an output {width} wide"
            hint = f"end the model with dense {top + 1}" if loss != "bce" and low >= 0 else None
            if low < 0:
                hint = "class labels count from 0: map them to 0..K-1 (e.g. -1/1 to 0/1)"
            fail(net, f"the labels of {labels} go from {low} to {top}, but {loss} needs labels in {what}",
                  out_span, hint)
        if loss == "bce" and width != 1:
            fail(net, f"bce needs an output 1 wide, not {width}", out_span, "end the model with dense 1")
    else:
        target_width = 1 if ds.y_train.ndim == 1 else ds.y_train.shape[1]
        one_hot = (ds.y_train.ndim == 1 and ds.y_train.dtype.kind in "iu" and ds.classes is not None
                   and width > 1)
        if one_hot and ds.classes > width:
            fail(net, f"{loss}: the labels of {labels} have {ds.classes} classes but the output is {width} "
                      f"wide (mse reads class labels as one-hot rows)", out_span, f"end the model with dense {ds.classes}")
        if not one_hot and target_width != width:
            fail(net, f"{loss}: the targets of {labels} are {target_width} wide but the output is {width}",
                  out_span, f"end the model with dense {target_width}")
    n = len(ds.x_train)
    if train.batch > n:
        message = f"batch {train.batch} is larger than the training split ({n} examples)"
        hint = f"use a batch of at most {n}, or a larger split"
        if train.batch != net.train.batch:  # it came from the command line
            fail(None, f"{message} (batch from the command line)", None, hint)
        fail(net, message, net.spec.train_spans.get("batch"), hint)


def cast_dataset(ds, dtype):
    """The dataset with its inputs in the run's dtype, converted once."""
    conv = {"x_train": ds.x_train.astype(dtype)}
    if ds.x_val is not None:
        conv["x_val"] = ds.x_val.astype(dtype)
    return dataclasses.replace(ds, **conv)


def build_model(net, train: TrainSettings, dtype=np.float32, weights: str | None = None, dataset=None,
                evaluates_train: bool = False) -> Model:
    """The network's Model with the (overridden) train settings' loss and seed, and saved weights
    if `weights` names a checkpoint (a bad checkpoint raises CheckpointError, exit 2). A run whose
    memory estimate (see memory_estimate) exceeds the available memory raises MemoryLimitError
    (exit 2) before anything is allocated."""
    from .runtime import checkpoint
    plan = lower(net, train.loss)
    memory.check_fits(memory_estimate(plan, train, dtype, dataset, evaluates_train))
    model = Model(plan, seed=train.seed, dtype=dtype)
    if weights:
        model.load_state_dict(checkpoint.weights(weights, net.source.text, model, train))
    return model


def memory_estimate(plan, train: dict, dtype=np.float32, dataset=None,
                    evaluates_train: bool = False) -> memory.MemoryEstimate:
    """The memory a run of `plan` needs: one training batch, one evaluation chunk (of the
    validation split, or of the training split too when `evaluates_train`, as netc eval does),
    and the data. Without a dataset the chunk is the largest the trainer evaluates."""
    from .runtime.train import EVAL_BATCH
    if dataset is None:
        rows = EVAL_BATCH
    else:
        rows = len(dataset.x_val) if dataset.x_val is not None else 0
        if evaluates_train:
            rows = max(rows, len(dataset.x_train))
    data = memory.dataset_bytes(dataset, dtype) if dataset is not None else 0
    return memory.estimate(plan, train, dtype, data_bytes=data, eval_batch=min(EVAL_BATCH, rows))


def dtype_of(args) -> type:
    """The array type the --dtype option asks for."""
    return np.float64 if getattr(args, "dtype", "float32") == "float64" else np.float32
