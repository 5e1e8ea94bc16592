"""`netc landscape`: the loss around the weights along two directions (terminal map and
`--plot`), and with `--logit` the notes' L2-vs-KL figure. Numerics: runtime/landscape.py."""
from __future__ import annotations

import json

import numpy as np

from .prepare import build_model, dtype_of, fail, prepare
from .runtime import landscape as ls
from .spec.diagnostics import EXIT_OK, NetcError

SHADES = " .:-=+*#%@"


def text_map(land: ls.Landscape, width: int = 61) -> str:
    """The grid as characters, darker for a higher loss (log scale), `o` at the weights, `x` at the
    lowest point; the axes' ranges below."""
    z = np.log10(np.maximum(land.loss, 1e-300))
    lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
    span = hi - lo or 1.0
    rows = []
    jmin, imin = np.unravel_index(np.nanargmin(land.loss), land.loss.shape)
    ci, cj = int(np.argmin(np.abs(land.alphas))), int(np.argmin(np.abs(land.betas)))
    for j in range(len(land.betas) - 1, -1, -1):
        line = ""
        for i in range(len(land.alphas)):
            if (i, j) == (ci, cj):
                line += "o"
            elif (i, j) == (imin, jmin):
                line += "x"
            elif not np.isfinite(z[j, i]):
                line += "!"
            else:
                line += SHADES[min(len(SHADES) - 1, int((z[j, i] - lo) / span * len(SHADES)))]
        rows.append("  │" + "".join(c * 2 for c in line))
    a, b = land.alphas, land.betas
    rows.append("  └" + "─" * (2 * len(a)))
    return "\n".join([
        f"loss along {land.labels[1]} (up) and {land.labels[0]} (right); darker = higher (log scale), "
        f"o = the weights, x = the lowest point",
        *rows,
        f"  {land.labels[0]}: {a[0]:g} .. {a[-1]:g}   {land.labels[1]}: {b[0]:g} .. {b[-1]:g}",
        f"  loss at the weights {land.center:.4g}; lowest {np.nanmin(land.loss):.4g}; highest {np.nanmax(land.loss):.4g}",
    ])


def landscape(args) -> int:
    """`netc landscape FILE [--weights CKPT] [--params A B] [--plot FIG]`, or `--logit`."""
    if args.logit:
        return _logit(args)
    if not args.file:
        raise NetcError("netc landscape needs a .net file (or --logit for the divergence figure)")
    if args.plot:
        from .experiments.plots import check_path
        check_path(args.plot)
    net, train, data, ds = prepare(args.file, args.set, None, args.seed, weights=args.weights)
    model = build_model(net, train, dtype_of(args), weights=args.weights)
    if args.params:
        try:
            d1, d2 = (ls.coordinate_direction(model, p) for p in args.params)
        except ls.DirectionError as e:
            fail(None, e.message, None, e.hint)
        labels = tuple(args.params)
        default_range = 1.0
    else:
        penalized = {f"{s.name}.{k}" for s in model.steps for k in getattr(s.kernel, "penalized", ())}
        rng = np.random.default_rng([train.seed, 16])
        d1, d2 = ls.random_direction(model, rng, penalized), ls.random_direction(model, rng, penalized)
        labels = ("random direction 1", "random direction 2")
        default_range = 1.0
    r = args.range or default_range
    grid = np.linspace(-r, r, args.steps)
    n = min(args.examples, len(ds.x_train))
    land = ls.loss_grid(model, ds.x_train[:n], ds.y_train[:n], d1, d2, grid, grid, labels)
    if args.json:
        print(json.dumps({"alphas": land.alphas.tolist(), "betas": land.betas.tolist(),
                          "loss": [[None if not np.isfinite(v) else float(v) for v in row] for row in land.loss],
                          "center": land.center, "directions": list(labels), "examples": n}))
    else:
        print(f"{net.name}: {train.loss} on {n} training examples, evaluation mode, "
              f"{'weights ' + args.weights if args.weights else 'initial weights (seed ' + str(train.seed) + ')'}")
        print(text_map(land))
    if args.plot:
        _plot(land, args.plot, f"{net.name}: {train.loss} around the "
                               f"{'trained' if args.weights else 'initial'} weights")
        if not args.json:
            print(f"\nfigure: {args.plot}")
    return EXIT_OK


def _plot(land: ls.Landscape, path: str, title: str) -> None:
    from .experiments.plots import _pyplot
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    z = np.log10(np.maximum(land.loss, 1e-300))
    cs = ax.contour(land.alphas, land.betas, z, levels=20, cmap="viridis")
    fig.colorbar(cs, ax=ax, label="log10 loss")
    ax.plot([0], [0], "o", color="crimson", label="the weights")
    ax.set_xlabel(land.labels[0])
    ax.set_ylabel(land.labels[1])
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _logit(args) -> int:
    """The L2 and KL divergences of a sigmoid output for a target p, against the output y and
    against its argument z: both convex in y, only KL convex in z."""
    p = args.target
    if not 0 <= p <= 1:
        raise NetcError(f"--target {p}: a probability is between 0 and 1")
    z = np.linspace(-8, 8, 161)
    d = ls.divergences_of_logit(p, z)
    if args.json:
        print(json.dumps({"target": p, "z": z.tolist(), "y": d["y"].tolist(), "l2": d["l2"].tolist(),
                          "kl": d["kl"].tolist()}))
    else:
        from .experiments.textplot import curves
        print(curves({"L2 (y - p)^2": list(d["l2"]), "KL": list(d["kl"])},
                     f"divergence of y = sigmoid(z) from the target p = {p:g}, against z from -8 to 8 "
                     f"(KL is convex in z; L2 flattens on both sides, so it is not)", x_range=("z = -8", "8")))
        # the second derivative's sign says convexity: KL's is >= 0 everywhere, L2's is not
        for name in ("l2", "kl"):
            curv = np.diff(d[name], 2)
            print(f"  {name.upper()}: second difference from {curv.min():.3g} to {curv.max():.3g} "
                  f"({'convex' if curv.min() >= -1e-12 else 'not convex'} in z)")
    if args.plot:
        from .experiments.plots import _pyplot, check_path
        check_path(args.plot)
        plt = _pyplot()
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        order = np.argsort(d["y"])
        for key, label in (("l2", "L2"), ("kl", "KL")):
            a1.plot(d["y"][order], d[key][order], label=label)
            a2.plot(z, d[key], label=label)
        a1.set_xlabel("sigmoid output y")
        a2.set_xlabel("its argument z")
        for ax in (a1, a2):
            ax.set_ylabel("divergence")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(f"L2 and KL divergence for a target p = {p:g}")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        plt.close(fig)
    return EXIT_OK
