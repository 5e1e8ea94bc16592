"""`netc ensemble FILE --seeds K [--bagging]`: K members trained in parallel (one `netc run` child
each, on the split of the file's seed), then evaluated here on the shared validation split: each
member alone and the ensemble, which averages the members' probabilities (outputs for
regression) -- dropout's "implicit ensemble" made explicit, and bagging."""
from __future__ import annotations

import json
import sys

import numpy as np

from ..spec.diagnostics import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, NetcError
from .commands import _out_root, _validate, parse_seeds
from .runner import Job, Progress, default_jobs, run_all


def _metrics(loss_fn, p: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy and loss of averaged probabilities p (or outputs, for regression) against y."""
    if not loss_fn.classification:
        t = np.asarray(y, dtype=np.float64).reshape(p.shape)
        return {"loss": float(np.mean((p - t) ** 2)), "accuracy": None}
    yt = np.asarray(y).reshape(-1) if p.shape[1] > 1 else np.asarray(y).reshape(-1)
    acc = float(np.mean(loss_fn.predict_probabilities(p) == yt))
    if p.shape[1] > 1:  # cross-entropy of the averaged distribution
        nll = float(-np.mean(np.log(np.clip(p[np.arange(len(yt)), yt.astype(int)], 1e-12, 1))))
    else:
        q = np.clip(p[:, 0], 1e-12, 1 - 1e-12)
        nll = float(-np.mean(yt * np.log(q) + (1 - yt) * np.log(1 - q)))
    return {"loss": nll, "accuracy": acc}


def ensemble(args) -> int:
    """Train the members, then print each member's and the ensemble's validation metrics."""
    from ..prepare import build_model, prepare
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as e:
        raise NetcError(f"--seeds {args.seeds}: {e}", hint="e.g. --seeds 5 (seeds 0..4)") from None
    if len(seeds) < 2:
        raise NetcError("an ensemble needs at least 2 members", hint="e.g. --seeds 5")
    totals = _validate([("member", args.file, tuple(args.set))], args.epochs)
    if totals is None:
        return 2
    net, train, data, ds = prepare(args.file, list(args.set), args.epochs, None, warnings=False)
    if ds.x_val is None:
        raise NetcError("an ensemble is judged on validation data, and this file has none",
                        hint="use split 0.8 (or a validation file)")
    data_seed = train.seed
    root = _out_root(args.log, "ensemble")
    jobs = []
    for k, seed in enumerate(seeds):
        rec = root / f"member-seed{seed}"
        extra = ["--save", str(rec / "weights.ckpt"), "--data-seed", str(data_seed)]
        if args.bagging:
            extra += ["--bootstrap", str(k)]
        jobs.append(Job(f"member {k + 1}", args.file, tuple(args.set), seed, rec, epochs=totals["member"],
                        extra=tuple(extra)))
    if not args.json:
        print(f"ensemble: {len(seeds)} members{' (bagging)' if args.bagging else ''}, "
              f"{min(args.jobs or default_jobs(), len(jobs))} at a time; records in {root}", file=sys.stderr)
    finished = run_all(jobs, args.epochs, args.jobs or default_jobs(), Progress(jobs, quiet=args.json))
    done = [j for j in jobs if j.status == "completed" and (j.record / "weights.ckpt").is_file()]
    if not finished:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if len(done) < 2:
        raise NetcError(f"only {len(done)} of {len(jobs)} members finished training: no ensemble",
                        status=EXIT_RUN_FAILED)
    members, probs = [], []
    for j in done:
        model = build_model(net, train, weights=str(j.record / "weights.ckpt"))
        x = ds.x_val.astype(model.dtype)
        out = np.concatenate([model.forward(x[i:i + 1024], training=False) for i in range(0, len(x), 1024)])
        p = model.loss_fn.probabilities(out)
        probs.append(p)
        members.append({"seed": j.seed, **_metrics(model.loss_fn, p, ds.y_val)})
    ens = _metrics(model.loss_fn, np.mean(probs, axis=0), ds.y_val)
    result = {"members": members, "ensemble": ens, "bagging": args.bagging,
              "failed": [j.seed for j in jobs if j not in done], "records": str(root)}
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    key = "accuracy" if ens["accuracy"] is not None else "loss"
    fmt = (lambda v: f"{100 * v:.2f}%") if key == "accuracy" else (lambda v: f"{v:.4f}")
    print(f"{'member':<10}{'seed':>6}  {'val loss':>10}  {'val ' + key if key == 'accuracy' else '':>12}")
    for k, m in enumerate(members, 1):
        print(f"{k:<10}{m['seed']:>6}  {m['loss']:>10.4f}  {fmt(m['accuracy']) if key == 'accuracy' else '':>12}")
    vals = [m[key] for m in members]
    mean = sum(vals) / len(vals)
    best = max(vals) if key == "accuracy" else min(vals)
    print(f"\nensemble of {len(members)} (average of the members' "
          f"{'probabilities' if model.loss_fn.classification else 'outputs'}): val loss {ens['loss']:.4f}"
          + (f", val accuracy {fmt(ens['accuracy'])}" if key == "accuracy" else ""))
    print(f"members: mean {fmt(mean)}, best {fmt(best)}")
    for s in result["failed"]:
        print(f"member with seed {s} failed and is left out", file=sys.stderr)
    return EXIT_OK
