"""`netc run` and `netc eval`: train with progress, metrics and checkpoints; evaluate saved weights.

A run that fails at run time (a non-finite loss) names the node and spec line (exit 1); Ctrl-C
stops cleanly (exit 130), writing the checkpoint first when --save is given.
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from .compiler.network import describe_dataset
from .prepare import build_model, cast_dataset, dtype_of, fail, prepare
from .report import Report
from .runtime import checkpoint
from .runtime.model import NodeError
from .runtime.train import Trainer, TrainingError
from .spec.diagnostics import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED


def run(args) -> int:
    """`netc run`: train, printing progress and metrics; optionally save and resume checkpoints.
    The exit status, or a NetcError for bad input (2) and a run that failed (1)."""
    started = time.perf_counter()
    mode = "json" if args.json else ("quiet" if args.quiet else "table")
    report = Report(mode)
    _check_save_path(args.save, args.file)
    if args.resume is not None and not args.resume:
        fail(None, "--resume needs a checkpoint path")
    net, train, data, ds = prepare(args.file, args.set, args.epochs, args.seed, warnings=not args.quiet,
                                   data_seed=getattr(args, "data_seed", None))
    if getattr(args, "bootstrap", None) is not None:  # a bagging ensemble's member
        from .runtime.data import bootstrap
        ds = bootstrap(ds, train["seed"], args.bootstrap)
    model = build_model(net, train, dtype_of(args))
    trainer = Trainer(model, cast_dataset(ds, model.dtype), {**train, "shuffle": data["shuffle"]})
    if args.resume:
        checkpoint.restore(args.resume, trainer, net.source.text)
    if train["early_stop"] and ds.x_val is None:
        fail(net, "early_stop watches the validation metrics, but there is no validation data",
              net.spec.train_spans.get("early_stop"), "use split 0.8 (or a validation file)")
    observers = _observers(args, net, train, data, ds, model)
    opt = train["optimizer"]
    report.start([describe_dataset(ds),
                  f"{net.name}: {net.param_count:,} parameters · {train['loss']} · {opt['name']} "
                  f"lr={opt['lr']:g} · batch {train['batch']} · {train['epochs']} epoch{'s' if train['epochs'] != 1 else ''} "
                  f"· seed {train['seed']}"])
    for r in trainer.position.history:
        report.epoch(r)
    observers.start(trainer.position.history)
    interrupted = {"flag": False}

    def on_sigint(signum, frame):
        if interrupted["flag"]:
            raise KeyboardInterrupt
        interrupted["flag"] = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        while not trainer.finished(train["epochs"]):
            r = trainer.run_epoch(
                on_batch=lambda e, k, n, loss, speed: report.batch(e, train["epochs"], k, n, loss, speed),
                should_stop=lambda: interrupted["flag"])
            if r is None:
                break
            report.epoch(r)
            observers.epoch(r, trainer)
            if args.save:
                _save(args.save, trainer, net.source.text)
    except (TrainingError, NodeError) as e:
        observers.finish("failed", trainer, time.perf_counter() - started, e.message)
        if args.save:
            print(f"netc: the last good checkpoint is {args.save}", file=sys.stderr)
        step = getattr(e, "step", None)
        # no node holds a non-finite value: the loss itself overflowed; point at its statement
        span = step.span if step is not None else (net.spec.train_spans.get("loss")
                                                   or net.graph.nodes[net.graph.graph["output"]]["span"])
        hint = getattr(e, "hint", None)
        if hint and data["standardize"]:
            hint = hint.replace(", or standardize the inputs", "").replace(", add clip", " or add clip")
        fail(net, e.message, span, hint, status=EXIT_RUN_FAILED)
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted["flag"]:
        observers.finish("interrupted", trainer, time.perf_counter() - started)
        if args.save:
            _save(args.save, trainer, net.source.text)
        pos = trainer.position
        print(f"\ninterrupted at epoch {pos.epoch + 1}, batch {pos.batch}" +
              (f"; saved {args.save} (continue with --resume {args.save})" if args.save else ""),
              file=sys.stderr)
        if mode == "json":  # the last line still closes the stream: the metrics so far
            report.finish(trainer.final_result(), pos.best_epoch, net.param_count,
                          time.perf_counter() - started, interrupted=True)
        return EXIT_INTERRUPTED
    # The checkpoint keeps the last epoch's weights (so --resume continues the run exactly) and,
    # with early stopping, the best ones beside them (which `netc eval` and `--weights` use).
    trainer.restore_best()
    note = None
    if trainer.position.stopped_early:
        note = f"early stop after epoch {trainer.position.epoch}, best weights restored"
    report.finish(trainer.final_result(), trainer.position.best_epoch, net.param_count,
                  time.perf_counter() - started, note)
    observers.finish("completed", trainer, time.perf_counter() - started)
    if observers.record_path is not None and mode != "json":
        print(f"run record: {observers.record_path}")
    return EXIT_OK


def _observers(args, net, train, data, ds, model):
    """The run record, TensorBoard writer and figure the options ask for, each checked before any
    training (an unwritable path or a missing extra stops here, exit 2)."""
    from .experiments.observers import RunObservers
    return RunObservers(args, net, train, data, ds, model)


def _check_save_path(save: str | None, spec_path: str) -> None:
    """Refuse, before any training, a --save path that could not be written or would destroy the spec."""
    if save is None:
        return
    if not save:
        fail(None, "--save needs a checkpoint path", None, "e.g. --save run.ckpt")
    target = Path(save)
    if target.exists() and target.resolve() == Path(spec_path).resolve():
        fail(None, f"--save {save} would overwrite the .net file itself", None, "e.g. --save run.ckpt")
    if target.is_dir():
        fail(None, f"--save {save} is a directory", None, f"name a file in it, e.g. --save {target / 'run.ckpt'}")
    parent = target.parent
    for folder in (parent, *parent.parents):
        if folder.exists():
            if not folder.is_dir():
                fail(None, f"--save {save}: {folder} is not a directory")
            break


def _save(path: str, trainer, spec_text: str) -> None:
    """Write a checkpoint; a failure to write is reported as a clean error (exit 1)."""
    try:
        checkpoint.save(path, trainer, spec_text)
    except OSError as e:
        fail(None, f"cannot write the checkpoint {path}: {e.strerror or e}", status=EXIT_RUN_FAILED)


def evaluate(args) -> int:
    """`netc eval FILE --weights CKPT`: the validation metrics of saved weights."""
    net, train, data, ds = prepare(args.file, args.set, None, args.seed)
    model = build_model(net, train, dtype_of(args), weights=args.weights)
    trainer = Trainer(model, cast_dataset(ds, model.dtype), {**train, "shuffle": False})
    rows = [("train", *trainer.evaluate(trainer.data.x_train, ds.y_train))]
    if ds.x_val is not None:
        rows.append(("validation", *trainer.evaluate(trainer.data.x_val, ds.y_val)))
    mc = None
    if args.mc:
        from .posthoc import mc_dropout
        mc = mc_dropout(net, model, trainer.data, args.mc, train["seed"])
    if args.json:  # the keys of netc run --json
        import json
        short = {"train": "train", "validation": "val"}
        rec = {f"{short[name]}_{k}": v for name, loss, acc in rows for k, v in (("loss", loss), ("accuracy", acc))}
        if mc is not None:
            rec["mc_dropout"] = mc
        print(json.dumps(rec))
    else:
        print(f"{describe_dataset(ds)}\nweights: {args.weights}\n")
        for name, loss, acc in rows:
            print(f"{name:<10}  loss {loss:.4f}" + (f"  accuracy {100 * acc:.2f}%" if acc is not None else ""))
        if mc is not None:
            from .posthoc import mc_lines
            print()
            print("\n".join(mc_lines(mc)))
    return EXIT_OK
