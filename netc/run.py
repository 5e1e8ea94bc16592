"""`netc run` and `netc eval`: compile, load the data, check it fits the network, train or evaluate.

Every failure the user can fix is printed as a diagnostic (exit 2); a run that fails at run time
(a non-finite loss) names the node and spec line (exit 1); Ctrl-C stops cleanly (exit 130).
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import numpy as np

from .compiler import load_path
from .compiler.lower import lower
from .compiler.lints import run_lints
from .compiler.network import data_facts, describe_dataset
from .report import Report
from .runtime import checkpoint
from .runtime.data import DataError, load_data
from .runtime.model import Model, NodeError
from .runtime.train import Trainer, TrainingError
from .spec import overrides
from .spec.diagnostics import Diagnostic, SpecError
from .spec.schema import CLASSIFICATION_LOSSES

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

# Overflow and NaN are detected and reported by netc itself (naming the node and its line);
# NumPy's warnings about them would only clutter the output.
np.seterr(all="ignore")


class Stop(Exception):
    """Ends a command with a message already printed and an exit status."""

    def __init__(self, status: int):
        self.status = status


def _fail(network, message: str, span=None, hint: str | None = None, status: int = EXIT_BAD_INPUT):
    """Print a located error (or `netc: error: ...` when no file is involved) and stop."""
    if network is None:
        print(f"netc: error: {message}" + (f"\n  hint: {hint}" if hint else ""), file=sys.stderr)
    else:
        print(Diagnostic("error", message, span, hint).render(network.source), file=sys.stderr)
    raise Stop(status)


def prepare(path: str, sets: list[str], epochs: int | None, seed: int | None, warnings: bool = True):
    """The compiled network, its (overridden) settings and its data, all checked to fit."""
    try:
        net = load_path(path, check_data=False)
    except SpecError as e:
        print(e.render(), file=sys.stderr)
        raise Stop(EXIT_BAD_INPUT)
    if net.data is None:
        _fail(net, "the file has no data section: there is nothing to train on", net.spec.model_span,
              "add one, e.g. data { source digits; standardize }")
    extra = list(sets) + ([f"epochs={epochs}"] if epochs is not None else []) + \
        ([f"seed={seed}"] if seed is not None else [])
    try:
        train, data = overrides.apply(net.train, net.data, extra)
    except overrides.OverrideError as e:
        print(f"netc: error: {e.message}" + (f"\n  hint: {e.hint}" if e.hint else ""), file=sys.stderr)
        raise Stop(EXIT_BAD_INPUT)
    try:
        dataset = load_data(data, seed=train["seed"], base_dir=net.base_dir, default_classes=net.output_width)
    except DataError as e:
        span = net.spec.data_spans.get(f"{e.statement}.{e.param or 'path'}") or \
            net.spec.data_spans.get(e.statement) or net.spec.data_spans.get("source")
        _fail(net, e.message, span, e.hint)
    except MemoryError:
        _fail(net, "the data is too large to load in memory", net.spec.data_spans.get("source"))
    # the lints again, now that the data (and any --set) is known: the data-aware ones too
    lints = run_lints(net.graph, train, data, data_facts(dataset, net.spec))
    for w in lints if warnings else ():
        print(w.render(net.source), file=sys.stderr)
    check_fit(net, dataset, train)
    return net, train, data, dataset


def check_fit(net, ds, train: dict) -> None:
    """Exit 2 with a located message if the data does not fit the network or the settings."""
    g = net.graph
    in_span = g.nodes[g.graph["input"]]["span"]
    out_span = g.nodes[g.graph["output"]]["span"]
    src = net.data["source"]
    name = src.get("path") or src.get("images") or src["kind"]
    if ds.features != net.input_width:
        _fail(net, f"{name} has {ds.features} features but the model's input is {net.input_width} wide",
              in_span, f"write input {ds.features}")
    loss, width = train["loss"], net.output_width
    ys = [ds.y_train] + ([ds.y_val] if ds.y_val is not None else [])
    if loss in CLASSIFICATION_LOSSES:
        if any(y.ndim != 1 for y in ys):
            _fail(net, f"{loss} needs one class label per example, but the labels of {name} have shape "
                       f"{ys[0].shape}", net.spec.train_spans.get("loss") or out_span,
                  "for one-hot labels y, store y.argmax(axis=1) instead")
        if any(y.dtype.kind not in "iu" for y in ys):
            whole = all(np.all(np.isfinite(y)) and np.all(y == np.round(y)) for y in ys)
            hint = ("the labels are written as floats (0.0, 1.0): write them as integers (0, 1), "
                    "or store y.astype(int)") if whole else "use loss mse for a regression target"
            if whole and min(float(y.min()) for y in ys if len(y)) < 0:
                hint = "class labels count from 0: map them to 0..K-1 (e.g. -1/1 to 0/1)"
            _fail(net, f"{loss} needs integer class labels, but the labels of {name} are "
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
            _fail(net, f"the labels of {name} go from {low} to {top}, but {loss} needs labels in {what}",
                  out_span, hint)
        if loss == "bce" and width != 1:
            _fail(net, f"bce needs an output 1 wide, not {width}", out_span, "end the model with dense 1")
    else:
        target_width = 1 if ds.y_train.ndim == 1 else ds.y_train.shape[1]
        if target_width != width:
            _fail(net, f"{loss}: the targets of {name} are {target_width} wide but the output is {width}",
                  out_span, f"end the model with dense {target_width}")
    n = len(ds.x_train)
    if train["batch"] > n:
        message = f"batch {train['batch']} is larger than the training split ({n} examples)"
        hint = f"use a batch of at most {n}, or a larger split"
        if train["batch"] != net.train["batch"]:  # it came from the command line
            _fail(None, f"{message} (batch from the command line)", None, hint)
        _fail(net, message, net.spec.train_spans.get("batch"), hint)


def run(args) -> int:
    """`netc run`: train, printing progress and metrics; optionally save and resume checkpoints."""
    try:
        return _run(args)
    except Stop as s:
        return s.status


def _run(args) -> int:
    started = time.perf_counter()
    mode = "json" if args.json else ("quiet" if args.quiet else "table")
    report = Report(mode)
    _check_save_path(args.save, args.file)
    if args.resume is not None and not args.resume:
        _fail(None, "--resume needs a checkpoint path")
    net, train, data, ds = prepare(args.file, args.set, args.epochs, args.seed, warnings=not args.quiet)
    dtype = np.float64 if args.dtype == "float64" else np.float32
    model = Model(lower(net, train["loss"]), seed=train["seed"], dtype=dtype)
    trainer = Trainer(model, _cast(ds, dtype), {**train, "shuffle": data["shuffle"]})
    if args.resume:
        try:
            checkpoint.restore(args.resume, trainer, net.source.text)
        except checkpoint.CheckpointError as e:
            _fail(None, e.message, None, e.hint)
    if train["early_stop"] and ds.x_val is None:
        _fail(net, "early_stop watches the validation metrics, but there is no validation data",
              net.spec.train_spans.get("early_stop"), "use split 0.8 (or a validation file)")
    opt = train["optimizer"]
    report.start([describe_dataset(ds),
                  f"{net.name}: {net.param_count:,} parameters · {train['loss']} · {opt['name']} "
                  f"lr={opt['lr']:g} · batch {train['batch']} · {train['epochs']} epoch{'s' if train['epochs'] != 1 else ''} "
                  f"· seed {train['seed']}"])
    for r in trainer.position.history:
        report.epoch(r)
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
            if args.save:
                _save(args.save, trainer, net.source.text)
    except (TrainingError, NodeError) as e:
        if args.save:
            print(f"netc: the last good checkpoint is {args.save}", file=sys.stderr)
        step = getattr(e, "step", None)
        _fail(net, e.message, step.span if step is not None else None, getattr(e, "hint", None),
              status=EXIT_FAILED)
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted["flag"]:
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
    trainer.restore_best()
    if args.save:
        _save(args.save, trainer, net.source.text)
    note = None
    if trainer.position.stopped_early:
        note = f"early stop after epoch {trainer.position.epoch}, best weights restored"
    report.finish(trainer.final_result(), trainer.position.best_epoch, net.param_count,
                  time.perf_counter() - started, note)
    return EXIT_OK


def _check_save_path(save: str | None, spec_path: str) -> None:
    """Refuse, before any training, a --save path that could not be written or would destroy the spec."""
    if save is None:
        return
    if not save:
        _fail(None, "--save needs a checkpoint path", None, "e.g. --save run.ckpt")
    target = Path(save)
    if target.exists() and target.resolve() == Path(spec_path).resolve():
        _fail(None, f"--save {save} would overwrite the .net file itself", None, "e.g. --save run.ckpt")
    if target.is_dir():
        _fail(None, f"--save {save} is a directory", None, f"name a file in it, e.g. --save {target / 'run.ckpt'}")
    parent = target.parent
    for folder in (parent, *parent.parents):
        if folder.exists():
            if not folder.is_dir():
                _fail(None, f"--save {save}: {folder} is not a directory")
            break


def _save(path: str, trainer, spec_text: str) -> None:
    """Write a checkpoint; a failure to write is reported as a clean error (exit 1)."""
    try:
        checkpoint.save(path, trainer, spec_text)
    except OSError as e:
        _fail(None, f"cannot write the checkpoint {path}: {e.strerror or e}", status=EXIT_FAILED)


def _cast(ds, dtype):
    """The dataset with its inputs (and float targets) in the run's dtype, converted once."""
    import dataclasses
    conv = {"x_train": ds.x_train.astype(dtype)}
    if ds.x_val is not None:
        conv["x_val"] = ds.x_val.astype(dtype)
    return dataclasses.replace(ds, **conv)


def evaluate(args) -> int:
    """`netc eval FILE --weights CKPT`: the validation metrics of saved weights."""
    try:
        net, train, data, ds = prepare(args.file, args.set, None, args.seed)
        model = Model(lower(net, train["loss"]), seed=train["seed"], dtype=np.float64 if args.dtype == "float64" else np.float32)
        try:
            model.load_state_dict(checkpoint.weights(args.weights, net.source.text))
        except checkpoint.CheckpointError as e:
            _fail(None, e.message, None, e.hint)
        trainer = Trainer(model, _cast(ds, model.dtype), {**train, "shuffle": False})
        rows = [("train", *trainer.evaluate(trainer.data.x_train, ds.y_train))]
        if ds.x_val is not None:
            rows.append(("validation", *trainer.evaluate(trainer.data.x_val, ds.y_val)))
        if args.json:  # the keys of netc run --json
            import json
            short = {"train": "train", "validation": "val"}
            print(json.dumps({f"{short[name]}_{k}": v for name, loss, acc in rows
                              for k, v in (("loss", loss), ("accuracy", acc))}))
        else:
            print(f"{describe_dataset(ds)}\nweights: {args.weights}\n")
            for name, loss, acc in rows:
                print(f"{name:<10}  loss {loss:.4f}" + (f"  accuracy {100 * acc:.2f}%" if acc is not None else ""))
        return EXIT_OK
    except Stop as s:
        return s.status


def stats(args) -> int:
    """`netc stats FILE`: one forward and backward pass on one batch, a row of statistics per node."""
    from .runtime.stats import STAT_KEYS, activation_stats, gradient_stats, node_record
    try:
        sets = list(args.set) + [f"batch={args.batch}"] if args.batch else list(args.set)
        net, train, data, ds = prepare(args.file, sets, None, args.seed)
        dtype = np.float64 if args.dtype == "float64" else np.float32
        model = Model(lower(net, train["loss"]), seed=train["seed"], dtype=dtype)
        if args.weights:
            try:
                model.load_state_dict(checkpoint.weights(args.weights, net.source.text))
            except checkpoint.CheckpointError as e:
                _fail(None, e.message, None, e.hint)
        trainer = Trainer(model, _cast(ds, dtype), {**train, "shuffle": data["shuffle"]})
        idx = trainer.batches(0)[0]
        training = args.mode == "train"
        try:
            model.forward(trainer.data.x_train[idx], training=training, rng=trainer.dropout_rng(0))
            loss = model.loss(ds.y_train[idx])
            model.backward()
        except NodeError as e:
            _fail(net, e.message, e.step.span, e.hint, status=EXIT_FAILED)
        records = []
        for step in model.steps:
            out = model.outputs[step.index]
            g = model.grad_outputs[step.index]
            records.append(node_record(step.name, step.op, out.shape, activation_stats(out, step.op),
                                       gradient_stats(g) if g is not None else None))
        if args.json:
            import json
            print(json.dumps([{k: r[k] for k in STAT_KEYS} for r in records], indent=1))
        else:
            print(_stats_table(records, f"{args.mode} mode, batch of {len(idx)}, loss {loss:.4f}"))
        return EXIT_OK
    except Stop as s:
        return s.status


def _stats_table(records: list[dict], title: str) -> str:
    cols = [("name", "node"), ("op", "op"), ("shape", "shape"), ("mean", "mean"), ("var", "var"),
            ("std", "std"), ("min", "min"), ("max", "max"), ("zero_frac", "zero"),
            ("grad_mean", "grad mean"), ("grad_var", "grad var"), ("grad_norm", "grad norm")]

    def cell(key, v):
        if v is None:
            return "-"
        if key == "shape":
            return "(" + ", ".join(str(d) for d in v) + ")"
        if key == "zero_frac":
            return f"{100 * v:.1f}%"
        if isinstance(v, float):
            return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"
        return str(v)

    rows = [[cell(k, r[k]) for k, _ in cols] for r in records]
    head = [h for _, h in cols]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    def line(cells):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([title, line(head), "  ".join("─" * w for w in widths)] + [line(r) for r in rows])


def gradcheck(args) -> int:
    """`netc gradcheck FILE`: analytic against finite-difference gradients of the user's network."""
    from .runtime.netcheck import TOLERANCE, check_network
    try:
        net, train, data, ds = prepare(args.file, args.set, None, args.seed)
        n = min(args.batch, len(ds.x_train))
        x, y = ds.x_train[:n], ds.y_train[:n]
        print(f"gradcheck {args.file}: float64, batch {n}, training mode (dropout masks fixed), "
              f"seed {train['seed']}, tolerance {args.tolerance:g}\n")
        try:
            results = check_network(lower(net, train["loss"]), x, y, seed=train["seed"], entries=args.entries)
        except NodeError as e:
            _fail(net, e.message, e.step.span, e.hint, status=EXIT_FAILED)
        width = max(len(r.name) for r in results) + 2
        bad = 0
        for kind, title in (("param", "parameter"), ("input", "node input (gradient of the loss)")):
            rows = [r for r in results if r.kind == kind]
            if not rows:
                continue
            print(f"{title:<{width}}  probes  worst rel. error")
            for r in rows:
                ok = r.error <= args.tolerance
                bad += not ok
                verdict = "ok (zero gradient)" if r.zero else ("ok" if ok else "FAILED")
                print(f"{r.name:<{width}}  {r.probes:>6}  {r.error:>16.2e}  {verdict}")
            print()
        print(f"{len(results) - bad} of {len(results)} within tolerance {args.tolerance:g}" +
              ("" if not bad else f"; {bad} above it"))
        return EXIT_FAILED if bad else EXIT_OK
    except Stop as s:
        return s.status
