"""After training: `netc eval --mc N` (Monte Carlo dropout) and `netc recalibrate` (batch-norm
population statistics), both on saved weights; the numerics are in runtime/inference.py."""
from __future__ import annotations

import json

import numpy as np

from .compiler.network import describe_dataset
from .prepare import build_model, cast_dataset, dtype_of, fail, prepare
from .runtime import inference
from .runtime.train import Trainer
from .spec.diagnostics import EXIT_OK


def mc_dropout(net, model, ds, passes: int, seed: int) -> dict:
    """Monte Carlo dropout on the validation split (the training split without one): accuracy (or
    MSE) of the averaged prediction and the predictive spread, beside plain evaluation.
    A network without a stochastic op is refused (exit 2): its MC average is its evaluation."""
    if not inference.stochastic_nodes(model):
        fail(net, "--mc: this network has no dropout, so every pass is the same: Monte Carlo dropout "
                  "equals plain evaluation", net.graph.nodes[net.graph.graph["output"]]["span"],
             "add dropout to the model, or leave out --mc")
    split, x, y = ("validation", ds.x_val, ds.y_val) if ds.x_val is not None else ("train", ds.x_train, ds.y_train)
    x = x.astype(model.dtype)
    lf = model.loss_fn
    rng = np.random.default_rng([seed, 14])
    mc = inference.mc_predict(model, x, passes, rng, lf.probabilities)
    plain = lf.probabilities(np.concatenate([model.forward(x[i:i + 1024], training=False)
                                             for i in range(0, len(x), 1024)]))
    out = {"split": split, "passes": passes}
    if lf.classification:
        yt = np.asarray(y).reshape(len(y), -1)[:, 0] if np.asarray(y).ndim > 1 else np.asarray(y)
        pred = lf.predict_probabilities(mc.mean)
        picked = pred if mc.mean.shape[1] > 1 else np.zeros(len(pred), int)
        rows = np.arange(len(pred))
        out.update({
            "mc_accuracy": float(np.mean(pred == yt)),
            "eval_accuracy": float(np.mean(lf.predict_probabilities(plain) == yt)),
            # how much the passes disagree: the std across passes of the chosen class's probability
            "spread": float(mc.std[rows, picked].mean()),
            "entropy": float(np.mean(-(mc.mean * np.log(np.clip(mc.mean, 1e-12, 1))).sum(axis=1)))
            if mc.mean.shape[1] > 1 else None,
            "max_abs_difference_to_eval": float(np.abs(mc.mean - plain).max()),
        })
    else:
        t = np.asarray(y, dtype=np.float64).reshape(mc.mean.shape)
        mean, spread, scaling = mc.mean, mc.std, getattr(ds, "target_scaling", None)
        if scaling is not None:  # `standardize target`: everything in the target's own units
            from .runtime.data.prepare import unscale_target
            mean, plain, t = (unscale_target(scaling, a) for a in (mc.mean, plain, t))
            spread = mc.std * (scaling["std"] if mc.std.shape[1] == len(scaling["std"]) else scaling["std"][0])
            out["target_units"] = True
        out.update({"mc_mse": float(np.mean((mean - t) ** 2)), "eval_mse": float(np.mean((plain - t) ** 2)),
                    "spread": float(spread.mean()),
                    "max_abs_difference_to_eval": float(np.abs(mean - plain).max())})
    return out


def mc_lines(r: dict) -> list[str]:
    """The MC dropout section of `netc eval`'s report."""
    head = f"Monte Carlo dropout, {r['passes']} passes on the {r['split']} split (dropout on, batch norm in evaluation mode)"
    if "mc_accuracy" in r:
        lines = [head,
                 f"  accuracy of the averaged prediction {100 * r['mc_accuracy']:.2f}%  "
                 f"(evaluation mode: {100 * r['eval_accuracy']:.2f}%)",
                 f"  predictive spread {r['spread']:.4f}  (std across passes of the predicted class's probability, "
                 f"mean over examples)"]
        if r.get("entropy") is not None:
            lines.append(f"  predictive entropy {r['entropy']:.4f} nats (of the averaged probabilities)")
        return lines
    units, form = (" in the target's own units", ".4g") if r.get("target_units") else ("", ".4f")
    return [head, f"  MSE of the averaged prediction{units} {r['mc_mse']:{form}}  (evaluation mode: {r['eval_mse']:{form}})",
            f"  predictive spread {r['spread']:.4f}  (std across passes, mean over examples and outputs)"]


def recalibrate(args) -> int:
    """`netc recalibrate FILE --weights CKPT`: recompute every batch norm's running statistics as
    population statistics over the training split and report the metrics before and after."""
    net, train, data, ds = prepare(args.file, args.set, None, args.seed, weights=args.weights)
    model = build_model(net, train, dtype_of(args), weights=args.weights)
    nodes = inference.batch_stat_nodes(model)
    if not nodes:
        fail(net, "recalibrate: this network has no batch norm, so there are no running statistics "
                  "to recompute", net.spec.model_span, "recalibrate applies to networks with batchnorm")
    trainer = Trainer(model, cast_dataset(ds, model.dtype), train, shuffle=False)
    xs = trainer.data
    split = "validation" if ds.x_val is not None else "train"
    x_eval, y_eval = (xs.x_val, ds.y_val) if ds.x_val is not None else (xs.x_train, ds.y_train)
    before = trainer.evaluate(x_eval, y_eval)
    batch = args.batch or train.batch
    old = inference.recalibrate(model, xs.x_train, batch)
    after = trainer.evaluate(x_eval, y_eval)
    changes = {}
    for name, (m0, v0) in old.items():
        m1, v1 = model[f"{name}.running_mean"], model[f"{name}.running_var"]
        changes[name] = {"mean_shift": float(np.abs(m1 - m0).max()),
                         "var_ratio_min": float((v1 / np.maximum(v0, 1e-30)).min()),
                         "var_ratio_max": float((v1 / np.maximum(v0, 1e-30)).max())}
    result = {"split": split, "batch": batch, "before": {"loss": before[0], "accuracy": before[1]},
              "after": {"loss": after[0], "accuracy": after[1]}, "nodes": changes}
    if args.save:  # a checkpoint of these weights, for netc eval/stats/debug --weights
        from .runtime import checkpoint
        checkpoint.save(args.save, trainer, net.source.text)
        result["saved"] = args.save
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    print(f"{describe_dataset(ds)}\nweights: {args.weights}\n")
    print(f"population statistics over {len(xs.x_train)} training examples in batches of {batch} "
          f"(mean of batch means; mean of batch variances x B/(B-1)):")
    for name, c in changes.items():
        print(f"  {name}: running mean moved by up to {c['mean_shift']:.4g}; running variance x "
              f"{c['var_ratio_min']:.3g} .. {c['var_ratio_max']:.3g}")
    acc = lambda a: "" if a is None else f"  accuracy {100 * a:.2f}%"  # noqa: E731
    print(f"\n{split:<10} before  loss {before[0]:.4f}{acc(before[1])}")
    print(f"{split:<10} after   loss {after[0]:.4f}{acc(after[1])}")
    return EXIT_OK


def target_units_mse(model, data, ds) -> dict[str, float]:
    """With `standardize target`: the mean squared error of `model`'s predictions (netc's NumPy
    Model: with --engine torch, the trainer's reference, kept in step) in the target's own units
    (predictions and targets turned back with the training split's mean and std), in evaluation
    mode, per split present: {'train': ..., 'validation': ...}. `data`: the dataset in the model's
    dtype (cast_dataset), `ds` the loaded one (its standardized targets and statistics)."""
    from .runtime.data.prepare import unscale_target
    from .runtime.train import EVAL_BATCH
    out = {}
    m = model
    for name, x, y in (("train", data.x_train, ds.y_train), ("validation", data.x_val, ds.y_val)):
        if x is None or len(x) == 0:
            continue
        total, count = 0.0, 0
        for i in range(0, len(x), EVAL_BATCH):
            pred = unscale_target(ds.target_scaling, np.asarray(m.forward(x[i:i + EVAL_BATCH], training=False),
                                                                np.float64))
            true = unscale_target(ds.target_scaling, y[i:i + EVAL_BATCH]).reshape(pred.shape)
            total += float(np.sum((pred - true) ** 2))
            count += pred.size
        out[name] = total / count
    return out


def target_units_line(mse: dict[str, float]) -> str:
    """'mse in the target's own units: train 2871, validation 3341 (validation rmse 57.8)': what
    the losses (in standardized units) are in the target's own units; `mse` as target_units_mse
    gives it."""
    last = "validation" if "validation" in mse else "train"
    return (f"mse in the target's own units: {', '.join(f'{k} {v:.4g}' for k, v in mse.items())} "
            f"({last} rmse {mse[last] ** 0.5:.4g}); the losses above are in standardized units")
