"""`netc run` and `netc eval`: train with progress, metrics and checkpoints; evaluate saved weights.

A run that fails at run time (a non-finite loss) names the node and spec line (exit 1); Ctrl-C,
SIGTERM and SIGHUP stop it cleanly (exit 130, 143, 129), writing the checkpoint first when --save
is given. The --save path is checked and locked before training (runtime/savefile.py).
"""
from __future__ import annotations

import argparse
import contextlib
import math
import shlex
import sys
import time
from pathlib import Path

from . import engines
from .compiler.datafit import describe_labels
from .compiler.lints import target_scale_hint
from .compiler.network import data_facts, describe_dataset
from .prepare import build_model, cast_dataset, dtype_of, fail, prepare
from .report import Report
from .runtime import checkpoint, divergence, savefile
from .runtime.divergence import DivergenceWatch, constant_prediction_loss
from .runtime.model import NodeError
from .runtime.train import Trainer, TrainingError
from .signals import StopRequests
from .spec.diagnostics import EXIT_OK, EXIT_RUN_FAILED, Diagnostic, NetcError, printable
from .spec.settings import DataSettings, optimizer_text


def run(args) -> int:
    """`netc run`: train, printing progress and metrics; optionally save and resume checkpoints.
    The exit status, or a NetcError for bad input (2) and a run that failed (1)."""
    completed = False
    try:
        status = _run(args)
        completed = True
        return status
    except NetcError as e:
        if engines.rank() != 0:  # every rank meets the same error: rank 0 alone reports it
            return e.status
        raise
    finally:
        engines.finish(wait=completed)


def _run(args) -> int:
    started = time.perf_counter()
    mode = "json" if args.json else ("quiet" if args.quiet else "table")
    engines.check_options(args)
    lead = engines.rank() == 0  # under torchrun only rank 0 prints, saves and keeps records
    report = Report(mode) if lead else Report("quiet", out=_Discard(), err=_Discard())
    if args.save is not None and not args.save:
        fail(None, "--save needs a checkpoint path", None, "e.g. --save run.ckpt")
    if args.resume is not None and not args.resume:
        fail(None, "--resume needs a checkpoint path")
    # a resumed run maps string labels and scales the target as its checkpoint was trained
    net, train, data, ds = prepare(args.file, args.set, args.epochs, args.seed,
                                   warnings=not args.quiet and lead, data_seed=getattr(args, "data_seed", None),
                                   weights=args.resume)
    if getattr(args, "engine", "numpy") == "torch":
        engines.check_batch(net, train)
    if getattr(args, "bootstrap", None) is not None:  # a bagging ensemble's member
        from .runtime.data import bootstrap
        ds = bootstrap(ds, train.seed, args.bootstrap)
    with contextlib.ExitStack() as stack:
        # from here on SIGINT, SIGTERM and SIGHUP ask the loop to stop after a batch (and save)
        stop = stack.enter_context(StopRequests())
        if args.save and lead:
            _claim(args, net, data, stack)
        if not lead:
            args = argparse.Namespace(**{**vars(args), "save": None, "log": None, "tensorboard": None,
                                         "plot": None})
        return _train(args, net, train, data, ds, report, stop, started)


def _train(args, net, train, data, ds, report, stop, started) -> int:
    mode = report.mode
    eval_train = bool(getattr(args, "eval_train", False))
    model = build_model(net, train, dtype_of(args), dataset=ds, evaluates_train=eval_train)
    if getattr(args, "engine", "numpy") == "torch":
        trainer = engines.torch_trainer(model, cast_dataset(ds, model.dtype), train, args.device,
                                        shuffle=data.shuffle)
    else:
        trainer = Trainer(model, cast_dataset(ds, model.dtype), train, shuffle=data.shuffle)
    if args.resume:
        checkpoint.restore(args.resume, trainer, net.source.text)
        _check_resume(args, trainer, train)
    if train.early_stop and ds.x_val is None:
        fail(net, "early_stop watches the validation metrics, but there is no validation data",
              net.spec.train_spans.get("early_stop"), "use split 0.8 (or a validation file)")
    observers = _observers(args, net, train, data, ds, model)
    opt = train.optimizer
    labels = describe_labels(ds, train.classification)
    report.start([describe_dataset(ds, train.classification)] + ([labels] if labels else []) + [
                  f"{net.name}: {net.param_count:,} parameters · {train.loss} · {optimizer_text(opt)} "
                  f"· batch {train.batch} · {train.epochs} epoch{'s' if train.epochs != 1 else ''} "
                  f"· seed {train.seed}"], classification=trainer.classification, eval_train=eval_train,
                 mode_dependent=any(step.kernel.mode_dependent for step in model.steps))
    watch = DivergenceWatch(constant_prediction_loss(train.loss, ds.y_train, net.output_width))
    for r in trainer.position.history:
        report.epoch(r)
        watch.observe(r)
    observers.start(trainer.position.history)
    try:
        while not trainer.finished(train.epochs):
            r = trainer.run_epoch(
                on_batch=lambda e, k, n, loss, speed: report.batch(e, train.epochs, k, n, loss, speed),
                should_stop=lambda: trainer.stop_agreed(stop.requested))
            if r is None:
                break
            report.epoch(r, trainer.evaluate(trainer.data.x_train, ds.y_train) if eval_train else None)
            _warn_divergence(watch.observe(r), net, data, ds)
            observers.epoch(r, trainer)
            if args.save:
                _save(args.save, trainer, net.source.text)
    except (TrainingError, NodeError) as e:
        observers.finish("failed", trainer, time.perf_counter() - started, e.message)
        if args.save:
            print(printable(f"netc: the last good checkpoint is {args.save}"), file=sys.stderr)
        step = getattr(e, "step", None)
        # no node holds a non-finite value: the loss itself overflowed; point at its statement
        span = step.span if step is not None else (net.spec.train_spans.get("loss")
                                                   or net.graph.nodes[net.graph.graph["output"]]["span"])
        fail(net, e.message, span, _divergence_hint(getattr(e, "hint", None), net, data, ds),
             status=EXIT_RUN_FAILED)
    if stop.requested:
        observers.finish("interrupted", trainer, time.perf_counter() - started)
        # the handlers stay installed: a second signal during this save stops it, and the
        # checkpoint module removes its half-written temporary file
        if args.save:
            _save(args.save, trainer, net.source.text)
        pos = trainer.position
        what = "interrupted" if stop.name == "Ctrl-C" else f"stopped by {stop.name}"
        _say(f"\n{what} at epoch {pos.epoch + 1}, batch {pos.batch}" +
             (f"; saved {args.save} (continue with: "
              f"{_go_on(args, args.save, None if args.epochs is None else str(args.epochs))})" if args.save else
              "; nothing was saved. Next time add --save CKPT: the run is saved after every epoch and "
              "on Ctrl-C, and --resume CKPT continues it where it stopped"))
        if mode == "json":  # the last line still closes the stream: the metrics so far
            report.finish(trainer.final_result(), pos.best_epoch, net.param_count,
                          time.perf_counter() - started, interrupted=True)
        return stop.status
    # The checkpoint keeps the last epoch's weights (so --resume continues the run exactly) and,
    # with early stopping, the best ones beside them (which `netc eval` and `--weights` use).
    trainer.restore_best()
    note = None
    if trainer.position.stopped_early:
        note = f"early stop after epoch {trainer.position.epoch}, best weights restored"
    weights, after = _ending(args, trainer, train)
    extra = {}
    if ds.target_scaling is not None:  # what the user reads, in the target's own units too
        from .posthoc import target_units_line, target_units_mse
        mse = target_units_mse(model, trainer.data, ds)  # the NumPy model (--engine torch keeps it in step)
        after = (target_units_line(mse),) + after
        extra = {TARGET_UNITS_KEYS[k]: v for k, v in mse.items()}
    report.finish(trainer.final_result(), trainer.position.best_epoch, net.param_count,
                  time.perf_counter() - started, note, weights=weights, after=after, extra=extra)
    observers.finish("completed", trainer, time.perf_counter() - started)
    if observers.record_path is not None and mode != "json":
        print(f"run record: {observers.record_path}")
    return EXIT_OK


class _Discard:
    """A stream that drops what is written (the report of a torchrun rank other than 0)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _ending(args, trainer, train: dict) -> tuple[str, tuple[str, ...]]:
    """Which weights the run ends with ('best' or 'last') and the summary's lines saying so, where
    they are saved and how to go on from them."""
    pos = trainer.position
    best = bool(train.early_stop) and trainer.best_state is not None
    if best and pos.best_epoch != pos.epoch:
        how = (f"early stopping ended the run at epoch {pos.epoch} and restored them" if pos.stopped_early else
               f"early_stop restores them at the end; the run went on to epoch {pos.epoch} without stopping early")
        what = f"weights: epoch {pos.best_epoch}'s, the best by {train.early_stop.metric} ({how})"
    elif best:
        what = f"weights: the last epoch's ({pos.epoch}), also the best by {train.early_stop.metric}"
    else:
        what = f"weights: the last epoch's ({pos.epoch})"
    file = printable(args.file)
    if args.save:
        ckpt = printable(args.save)
        lines = [what + f"; saved in {ckpt}", f"  evaluate them: netc eval {file} --weights {ckpt}"]
        if pos.stopped_early:
            lines.append("  (early stopping ended the run: raise its patience to train longer)")
        else:
            lines.append(f"  train further: {_go_on(args, args.save, 'N')} (N > {pos.epoch})")
    else:
        lines = [what + "; not saved (--save CKPT keeps them, for netc eval --weights CKPT and "
                 "netc run --resume CKPT)"]
    return ("best" if best else "last"), tuple(lines)


def _check_resume(args, trainer, train) -> None:
    """A resumed run must have epochs left to train: a checkpoint that already holds the epochs
    asked for (or was ended by early stopping) is refused (exit 2) rather than replayed with
    nothing trained and the header's epoch count contradicting its rows."""
    pos = trainer.position
    ckpt, file = printable(args.resume), printable(args.file)
    further = _go_on(args, args.resume, "N")
    if pos.stopped_early:
        fail(None, f"{ckpt}: early stopping already ended this run at epoch {pos.epoch}: there is "
                   "nothing left to train", None,
             f"evaluate it with netc eval {file} --weights {ckpt}, or start a new run with more patience")
    if pos.epoch >= train.epochs:
        held = f"{pos.epoch} epoch{'s' if pos.epoch != 1 else ''}"
        fail(None, f"{ckpt} already has {held} and this run asks for {train.epochs}: there is nothing "
                   "to train", None,
             f"to train further pass --epochs N with N > {pos.epoch}: {further}; to evaluate it as "
             f"it is: netc eval {file} --weights {ckpt}")


def _go_on(args, ckpt: str, epochs: str | None) -> str:
    """The command that continues the run saved in `ckpt` and keeps what it trains: the checkpoint
    resumed and saved again (saving over the --resume file needs no --overwrite), with the options
    that made the run what it is (--seed, --set, --dtype, which --resume requires unchanged,
    --engine, --device) and `--epochs epochs` when given."""
    words = ["netc", "run", args.file, "--resume", ckpt, "--save", ckpt]
    if args.seed is not None:
        words += ["--seed", str(args.seed)]
    for item in args.set:
        words += ["--set", item]
    if getattr(args, "dtype", "float32") != "float32":
        words += ["--dtype", args.dtype]
    if getattr(args, "engine", "numpy") != "numpy":
        words += ["--engine", args.engine] + (["--device", args.device] if getattr(args, "device", None) else [])
    if epochs is not None:
        words += ["--epochs", epochs]
    return printable(" ".join(shlex.quote(str(w)) for w in words))


def _observers(args, net, train, data, ds, model):
    """The run record, TensorBoard writer and figure the options ask for, each checked before any
    training (an unwritable path or a missing extra stops here, exit 2)."""
    from .experiments.observers import RunObservers
    return RunObservers(args, net, train, data, ds, model)


def _claim(args, net, data: dict, stack: contextlib.ExitStack) -> None:
    """Check the --save path (SaveError, exit 2, if netc must not write it), lock it for the run
    (released by `stack`) and remove the temporary files a killed run left beside it."""
    protected = {args.file: "the .net file itself"}
    for path in data_files(data, net.base_dir):
        protected[str(path)] = f"the data file {path}"
    # the other checks first (the lock file goes beside the checkpoint), then the lock, then
    # whether an existing checkpoint may be replaced: a running run reports its pid, not this
    savefile.check_destination(args.save, protected, overwrite=True, resume=args.resume)
    stack.enter_context(savefile.SaveLock(args.save))
    savefile.check_destination(args.save, protected, overwrite=args.overwrite, resume=args.resume)
    removed = savefile.remove_stale_temporaries(args.save)
    if removed and not args.quiet:
        _say(f"netc: removed {len(removed)} temporary file{'s' if len(removed) != 1 else ''} "
             f"a stopped run left beside {args.save}")


def data_files(data: DataSettings, base_dir) -> list[Path]:
    """The files a data section reads (the source's path, IDX images and labels, the validation
    file), resolved as the data loader resolves them."""
    src = data.source
    out = []
    for written in [src.params.get(k) for k in ("path", "images", "labels")] + [data.validation]:
        if isinstance(written, str) and written:
            p = Path(written).expanduser()
            out.append(p if p.is_absolute() else Path(base_dir) / p)
    return out


def _say(text: str) -> None:
    """A line on stderr that never fails the run (after SIGHUP the terminal may be gone); under
    torchrun, from rank 0 only."""
    if engines.rank() != 0:
        return
    try:
        print(printable(text), file=sys.stderr, flush=True)
    except OSError:
        pass


def _divergence_hint(hint: str | None, net, data: DataSettings, ds) -> str | None:
    """What to try when a run diverges: `hint` without the advice the file already follows
    (standardized inputs) and, for a regression target in the thousands that is not
    standardized, `standardize target` first (the likeliest cause)."""
    if hint and (data.standardize or data.minmax):
        hint = hint.replace(", or standardize the inputs", "").replace(", add clip", " or add clip")
    scale = target_scale_hint(data_facts(ds, net.spec), data)  # None for class labels
    if scale:
        return scale + (f"; else {hint}" if hint else "")
    return hint


def _warn_divergence(message: str | None, net, data: DataSettings, ds) -> None:
    """Print the divergence watch's warning at the optimizer statement, with what to try."""
    if not message:
        return
    hint = _divergence_hint(divergence.HINT, net, data, ds)
    span = net.spec.train_spans.get("optimizer") or net.spec.train_spans.get("loss")
    _say(Diagnostic("warning", f"{message} [diverging]", span, hint, "diverging").render(net.source))


def _save(path: str, trainer, spec_text: str) -> None:
    """Write a checkpoint; a failure to write is reported as a clean error (exit 1)."""
    try:
        checkpoint.save(path, trainer, spec_text)
    except OSError as e:
        fail(None, f"cannot write the checkpoint {path}: {e.strerror or e}", status=EXIT_RUN_FAILED)


def evaluate(args) -> int:
    """`netc eval FILE --weights CKPT`: the validation metrics of saved weights."""
    # the weights know the string labels' classes and the target's scaling they were trained with
    net, train, data, ds = prepare(args.file, args.set, None, args.seed, weights=args.weights)
    model = build_model(net, train, dtype_of(args), weights=args.weights, dataset=ds, evaluates_train=True)
    trainer = Trainer(model, cast_dataset(ds, model.dtype), train, shuffle=False)
    rows = [("train", *trainer.evaluate(trainer.data.x_train, ds.y_train))]
    if ds.x_val is not None:
        rows.append(("validation", *trainer.evaluate(trainer.data.x_val, ds.y_val)))
    finite = all(v is None or math.isfinite(v) for row in rows for v in row[1:])
    mc = None
    if args.mc:
        from .posthoc import mc_dropout
        mc = mc_dropout(net, model, trainer.data, args.mc, train.seed)
    if args.json:  # the keys of netc run --json; a NaN is null (JSON has no NaN)
        import json
        short = {"train": "train", "validation": "val"}
        rec = {f"{short[name]}_{k}": v for name, loss, acc in rows for k, v in (("loss", loss), ("accuracy", acc))}
        if ds.target_scaling is not None:
            from .posthoc import target_units_mse
            rec.update({TARGET_UNITS_KEYS[k]: v for k, v in target_units_mse(model, trainer.data, ds).items()})
        if mc is not None:
            rec["mc_dropout"] = mc
        print(json.dumps(_json_safe(rec), allow_nan=False))
    else:
        labels = describe_labels(ds, train.classification)
        print(describe_dataset(ds, train.classification) + (f"\n{labels}" if labels else "") +
              f"\nweights: {printable(args.weights)}\n")
        for name, loss, acc in rows:
            print(f"{name:<10}  loss {loss:.4f}" + (f"  accuracy {100 * acc:.2f}%" if acc is not None else "") +
                  (" (standardized target)" if ds.target_scaling is not None else ""))
        if ds.target_scaling is not None:
            from .posthoc import target_units_line, target_units_mse
            print(target_units_line(target_units_mse(model, trainer.data, ds)))
        if mc is not None:
            from .posthoc import mc_lines
            print()
            print("\n".join(mc_lines(mc)))
    if not finite:
        fail(None, f"the loss of the weights in {args.weights} is not finite (they hold NaN or Inf, "
                   "or overflow)", None, "these weights are unusable: train again, e.g. with a lower "
                   "learning rate", status=EXIT_RUN_FAILED)
    return EXIT_OK


# the JSON keys of the mse in the target's units (`standardize target`), by split
TARGET_UNITS_KEYS = {"train": "train_mse_target_units", "validation": "val_mse_target_units"}


def _json_safe(value):
    """`value` with every NaN or infinity (which JSON cannot hold) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
