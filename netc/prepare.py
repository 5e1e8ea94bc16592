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
from .compiler.datafit import data_problems
from .compiler.network import data_facts
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
            data_seed: int | None = None, whole_split_batch: bool = False, weights: str | None = None):
    """The compiled network (its `warnings` those of the lints pass, run once here with the data and
    the overridden settings), its (overridden) settings and its data, all checked to fit. The data
    is split and shuffled with the run's seed, or with `data_seed` when given (an ensemble's
    members share one split while their seeds differ). With `whole_split_batch` (netc stats, which
    measures one batch), a batch larger than the training split becomes the whole split, said on
    stderr, instead of an error. `weights`: a checkpoint the command will use (--weights,
    --resume): the data is loaded with its string-label classes and target statistics
    (runtime/checkpoint.py data_facts), so it is mapped and scaled as those weights were trained
    (a bad checkpoint: CheckpointError, exit 2)."""
    net = load_path(path, check_data=False, lint=False)  # the lints run once, below
    if net.data is None:
        fail(net, "the file has no data section: there is nothing to train on", net.spec.model_span,
              "add one, e.g. data { source digits; standardize }")
    extra = list(sets) + ([f"epochs={epochs}"] if epochs is not None else []) + \
        ([f"seed={seed}"] if seed is not None else [])
    train, data = overrides.apply(net.train, net.data, extra)
    saved = {}
    if weights:
        from .runtime import checkpoint
        saved = checkpoint.data_facts(weights)
    try:
        dataset = load_data(data, seed=train.seed if data_seed is None else data_seed,
                            base_dir=net.base_dir, default_classes=net.output_width,
                            **saved)
    except DataError as e:
        raise e.located(net.source, e.span_in(net.spec.data_spans)) from None
    except MemoryError:
        fail(net, "the data is too large to load in memory", net.spec.data_spans.get("source"))
    # the lints pass, once, now that the data (and any --set) is known: the data-aware ones too
    lints = run_lints(net.graph, train, data, data_facts(dataset, net.spec), net.spec.train_spans)
    n = len(dataset.x_train)
    if whole_split_batch and train.batch > n:
        print(f"netc: batch {train.batch} is more than the training split's {n} examples: "
              f"using all {n}", file=sys.stderr)
        train = dataclasses.replace(train, batch=n)
    # the data pass's checks (compiler/datafit.py), as netc check runs them
    problems = data_problems(net.graph, dataset, train, data, net.spec.train_spans, net.spec.data_spans,
                             file_data=net.data, file_batch=net.train.batch)
    net.warnings = lints + [d for d in problems if d.severity != "error"]  # the debugger's panel shows them
    for d in problems:  # the first error ends the command (netc check lists them all)
        if d.severity == "error":
            # before any warning is printed, as netc check does: a lint often says the same thing
            # (an output narrower than the classes is [class-count] and this error)
            raise NetcError(d.message, d.span, d.hint, source=net.source if d.span else None)
    for w in net.warnings if warnings else ():
        print(w.render(net.source), file=sys.stderr)
    return net, train, data, dataset


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
    try:
        memory.check_fits(memory_estimate(plan, train, dtype, dataset, evaluates_train), plan)
    except memory.MemoryLimitError as e:
        raise e.located(net.source) from None
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
