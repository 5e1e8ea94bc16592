"""`netc stats` and `netc gradcheck`: one batch through the network, seen node by node."""
from __future__ import annotations

from .compiler.lower import lower
from .prepare import build_model, cast_dataset, dtype_of, prepare
from .runtime.model import NodeError
from .runtime.train import Trainer
from .spec.diagnostics import EXIT_OK, EXIT_RUN_FAILED


def stats(args) -> int:
    """`netc stats FILE`: one forward and backward pass on one batch, a row of statistics per node.

    It is the debugger's stepper run through the first iteration's forward, loss and backward
    (the engine `netc run` drains), stopped before the update."""
    from .runtime.stats import STAT_KEYS, node_record
    from .runtime.stepper import Stepper
    if getattr(args, "plot", None):  # before any work: a figure that cannot be drawn or written
        from .experiments.plots import check_path
        check_path(args.plot)
    sets = list(args.set) + [f"batch={args.batch}"] if args.batch else list(args.set)
    net, train, data, ds = prepare(args.file, sets, None, args.seed, whole_split_batch=True, weights=args.weights)
    channels = getattr(args, "channels", False)
    if channels:
        _check_images(net)
    model = build_model(net, train, dtype_of(args), weights=args.weights, dataset=ds)
    trainer = Trainer(model, cast_dataset(ds, model.dtype), train, shuffle=data.shuffle)
    stepper = Stepper(trainer, history=1, state_budget=0, training=args.mode == "train")
    size = len(trainer.batches(0)[0])
    seen, loss = {}, None
    try:
        last = model.steps[0].index  # the backward pass ends at the first node: stop there
        while (snap := stepper.next()) is not None:
            if snap.node is not None:
                seen[snap.node] = snap  # the backward pause has the gradient too
            elif snap.phase == "loss":
                loss = snap
            if snap.phase == "backward" and snap.index == last:
                break
    except NodeError as e:
        raise e.located(net.source) from None
    records = [node_record(step.name, step.op, seen[step.name].shape, seen[step.name].activation,
                           seen[step.name].gradient) for step in model.steps]
    params = _param_rows(model, train) if getattr(args, "params", False) else None
    per_channel = {step.name: seen[step.name].activation.channels for step in model.steps} if channels else {}
    if args.json:
        import json
        rows = [{k: r[k] for k in STAT_KEYS} for r in records]
        if channels:  # an image node's summary and table, null for a vector node
            for row in rows:
                cs = per_channel[row["name"]]
                row["channels"] = None if cs is None else {"summary": cs.summary(), "table": cs.table()}
        print(json.dumps({"nodes": rows, "params": params} if params is not None else rows, indent=1))
    else:
        title = f"{args.mode} mode, batch of {size}, loss {loss.loss - loss.penalty:.4f}"
        if loss.penalty:  # netc run and netc debug report the loss with the penalties
            kinds = ([f"{train.regularize.kind} "] if train.regularize else []) + \
                (["activity "] if any(s.kernel.adds_penalty for s in model.steps) else [])
            title += f" + {'and '.join(kinds)}penalty {loss.penalty:.4f} = {loss.loss:.4f}"
        if loss.nonfinite:
            title += " (not finite: no backward pass)"
        print(_stats_table(records, title))
        if channels:
            print()
            print(_channels_tables(records, per_channel))
        if params is not None:
            print()
            print(_params_table(params))
    if getattr(args, "plot", None):
        from .experiments.plots import layer_histograms, layer_steps
        layers = [(step.name, model.outputs[step.index]) for step in layer_steps(model.steps)]
        layer_histograms(layers, args.plot, f"{net.name}: activations per layer, {args.mode} mode, "
                                            f"batch of {size}")
        if not args.json:
            print(f"\nfigure: {args.plot}")
    return EXIT_OK


def _check_images(net) -> None:
    """`--channels` on a network without image nodes: a located error at its input statement."""
    from .prepare import fail
    shapes = {name: d["shape"] for name, d in net.graph.nodes(data=True)}
    if any(len(s) == 4 for s in shapes.values()):
        return
    name, d = next((n, d) for n, d in net.graph.nodes(data=True) if d["op"] == "input")
    fail(net, f"--channels: no node of this network is an image (B, C, H, W); its input '{name}' is a "
              f"vector of {d['shape'][-1]} features, so there are no channels",
         d["span"], "per-channel statistics need an image input, `input C H W` (the digits: `input 1 8 8`, "
                    "as in examples/digits_cnn.net); without --channels, netc stats shows every node")


def _channels_tables(records: list[dict], per_channel: dict) -> str:
    """The --channels tables: for each image node, a summary line (the range over channels of the
    per-channel mean and variance, and over every (example, channel) of the per-example ones),
    then a row per channel."""
    def num(v):
        return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"

    def span(lo, hi):
        return f"{num(lo)} .. {num(hi)}"
    out = ["per channel: mean and variance over (batch, H, W); per example: their range over the batch's",
           "examples, each (example, channel) over (H, W) alone. After batchnorm (training mode) each",
           "channel has mean 0 and variance 1; after instancenorm each (example, channel) has."]
    head = ["channel", "mean", "var", "example mean", "example var"]
    for r in records:
        cs = per_channel.get(r["name"])
        if cs is None:
            continue
        sm = cs.summary()
        out += ["", f"{r['name']}  {r['op']}  (" + ", ".join(map(str, r["shape"])) + ")  channels: mean "
                f"{span(*sm['channel_mean'])}, var {span(*sm['channel_var'])}; per example: mean "
                f"{span(*sm['example_mean'])}, var {span(*sm['example_var'])}"]
        body = [[str(t["channel"]), num(t["mean"]), num(t["var"]),
                 span(t["example_mean_min"], t["example_mean_max"]), span(t["example_var_min"], t["example_var_max"])]
                for t in cs.table()]
        widths = [max(len(c) for c in col) for col in zip(head, *body)]
        out += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in [head]]
        out.append("  ".join("─" * w for w in widths))
        out += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in body]
    return "\n".join(out)


def _param_rows(model, train) -> list[dict]:
    """A row per learned parameter: its size, sparsity, gradient and the update the optimizer would
    make from this batch's gradient (one step of the file's optimizer at its initial learning rate,
    on copies: the model is unchanged). Penalties are left out (the data gradient alone)."""
    import dataclasses

    from .runtime.optim import make_optimizer
    from .runtime.stats import param_stats
    after = {k: v.copy() for k, v in model.params.items()}
    make_optimizer(train.optimizer).step(after, model.grads, train.optimizer.lr)
    rows = []
    for name, w in model.params.items():
        st = param_stats(name, after[name], model.grads.get(name), before=w)
        st = dataclasses.replace(st, **{k: getattr(param_stats(name, w, model.grads.get(name)), k)
                                        for k in ("mean", "std", "norm", "near_zero")})
        rows.append({"name": name, "shape": list(st.shape), "norm": st.norm, "mean": st.mean, "std": st.std,
                     "near_zero": st.near_zero, "grad_norm": st.grad_norm,
                     "grad_sign_agreement": st.grad_sign_agreement, "update_ratio": st.update_ratio})
    return rows


def _params_table(rows: list[dict]) -> str:
    """The --params table: parameter, shape, norm, mean, std, near zero, gradient norm, sign
    agreement of the gradient, update-to-weight ratio."""
    from .runtime.stats import NEAR_ZERO

    def num(v):
        if v is None:
            return "-"
        return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"
    head = ["parameter", "shape", "norm", "mean", "std", f"|w|<{NEAR_ZERO:g}", "grad norm", "grad sign", "update/w"]
    body = [[r["name"], "x".join(map(str, r["shape"])), num(r["norm"]), num(r["mean"]), num(r["std"]),
             f"{100 * r['near_zero']:.1f}%", num(r["grad_norm"]),
             "-" if r["grad_sign_agreement"] is None else f"{100 * r['grad_sign_agreement']:.0f}%",
             num(r["update_ratio"])] for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [head, *body]]
    note = ("grad sign: per unit, the share of its weight gradients with the majority sign (100% = all "
            "move together); update/w: ||one optimizer step|| / ||w||")
    return "\n".join(["parameters (data gradient of this batch; one step of the file's optimizer, not applied)",
                      lines[0], "  ".join("─" * w for w in widths), *lines[1:], note])


def _stats_table(records: list[dict], title: str) -> str:
    cols = [("name", "node"), ("op", "op"), ("shape", "shape"), ("mean", "mean"), ("var", "var"),
            ("std", "std"), ("min", "min"), ("max", "max"), ("zero_frac", "zero"),
            ("saturated_frac", "saturated"), ("grad_mean", "grad mean"), ("grad_var", "grad var"), ("grad_norm", "grad norm")]

    def cell(key, v):
        if v is None:
            return "-"
        if key == "shape":
            return "(" + ", ".join(str(d) for d in v) + ")"
        if key in ("zero_frac", "saturated_frac"):
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
    from .runtime.netcheck import DIRECTIONS, check_network
    net, train, data, ds = prepare(args.file, args.set, None, args.seed)
    n = min(args.batch, len(ds.x_train))
    x, y = ds.x_train[:n], ds.y_train[:n]
    sample = ("every entry on its own" if args.full else
              f"per array {args.entries} entries (the largest gradients and random ones) and "
              f"{DIRECTIONS} random direction{'s' * (DIRECTIONS != 1)}")
    print(f"gradcheck {args.file}: float64, batch {n}, training mode (dropout masks fixed), "
          f"seed {train.seed}, tolerance {args.tolerance:g}, {sample}\n")
    try:
        results = check_network(lower(net, train.loss), x, y, seed=train.seed, entries=args.entries,
                                full=args.full, tolerance=args.tolerance)
    except NodeError as e:
        raise e.located(net.source) from None
    width = max(len(r.name) for r in results) + 2
    bad = 0
    for kind, title in (("param", "parameter"), ("input", "node input (gradient of the loss)")):
        rows = [r for r in results if r.kind == kind]
        if not rows:
            continue
        print(f"{title:<{width}}  entries  worst rel. error")
        for r in rows:
            ok = r.error <= args.tolerance
            bad += not ok
            verdict = "ok (zero gradient)" if r.zero else ("ok" if ok else "FAILED")
            print(f"{r.name:<{width}}  {r.entries:>7}  {r.error:>16.2e}  {verdict}")
        print()
    print(f"{len(results) - bad} of {len(results)} within tolerance {args.tolerance:g}" +
          ("" if not bad else f"; {bad} above it"))
    return EXIT_RUN_FAILED if bad else EXIT_OK
