"""Figures with matplotlib (the optional extra `netc[plot]`, imported only here): learning curves
over seeds, the per-layer activation histograms of the initialization lectures, and a 2-D
classifier's decision regions. Every function writes the file its path names (PNG, SVG or PDF by
extension) and returns nothing."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .aggregate import Variant
from .extras import require

FORMATS = (".png", ".svg", ".pdf")


def _pyplot():
    require("matplotlib", "plot", "drawing figures")
    import matplotlib
    matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt
    return plt


def check_path(path: str) -> None:
    """Raise ObserverError (before any training) if matplotlib is missing or the format unknown."""
    from .extras import ObserverError, check_writable_file
    if Path(path).suffix.lower() not in FORMATS:
        raise ObserverError(f"--plot {path}: unknown figure format", "end the name with .png, .svg or .pdf")
    check_writable_file(path, "--plot")
    require("matplotlib", "plot", "--plot")


def _band(curves: list[list]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Epoch numbers, mean, min and max over runs of different lengths (NaN where missing)."""
    n = max(len(c) for c in curves)
    a = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        a[i, :len(c)] = [np.nan if v is None else v for v in c]
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.arange(1, n + 1), np.nanmean(a, 0), np.nanmin(a, 0), np.nanmax(a, 0)


def learning_curves(variants: list[Variant], path: str, title: str = "") -> None:
    """Loss (and accuracy) per epoch: for each variant the mean over its seeds and a band from the
    lowest to the highest run, one colour per variant; training dashed, validation solid."""
    plt = _pyplot()
    has_acc = any(e.get("train_accuracy") is not None for v in variants for r in v.records for e in r.epochs)
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(11 if has_acc else 6, 4), squeeze=False)
    panels = [("loss", axes[0][0])] + ([("accuracy", axes[0][1])] if has_acc else [])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, v in enumerate(variants):
        color = colors[k % len(colors)]
        runs = [r for r in v.records if r.epochs]
        if not runs:
            continue
        for metric, ax in panels:
            for split, style in (("train", "--"), ("val", "-")):
                curves = [r.curve(f"{split}_{metric}") for r in runs]
                if all(c is None for cs in curves for c in cs):
                    continue
                x, mean, lo, hi = _band(curves)
                label = f"{v.label} ({'validation' if split == 'val' else 'training'})"
                ax.plot(x, mean, style, color=color, label=label, linewidth=1.5)
                if len(runs) > 1:
                    ax.fill_between(x, lo, hi, color=color, alpha=0.15, linewidth=0)
    from matplotlib.ticker import MaxNLocator
    for metric, ax in panels:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        if metric == "loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    panels[-1][1].legend(fontsize=7)
    seeds = max(len(v.records) for v in variants) if variants else 0
    fig.suptitle(title or (f"mean over {seeds} seeds, band: lowest to highest run" if seeds > 1 else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def layer_histograms(layers: list[tuple[str, np.ndarray]], path: str, title: str = "") -> None:
    """One histogram of activations per layer, side by side on a shared x-axis, each titled with
    the layer's name, mean and standard deviation (the initialization lectures' figure)."""
    plt = _pyplot()
    n = len(layers)
    fig, axes = plt.subplots(1, n, figsize=(max(2.2 * n, 6), 2.8), sharex=True, squeeze=False)
    lo = min(float(a.min()) for _, a in layers)
    hi = max(float(a.max()) for _, a in layers)
    if hi <= lo:
        hi = lo + 1e-6
    bins = np.linspace(lo, hi, 41)
    for ax, (name, a) in zip(axes[0], layers):
        ax.hist(a.ravel(), bins=bins, color="#3b75af")
        ax.set_title(f"{name}\nmean {a.mean():.3g} std {a.std():.3g}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def layer_steps(steps) -> list:
    """The plan steps drawn as "layers": the activations' outputs (what the lectures plot), or every
    node but the input when the network has no activation."""
    acts = [s for s in steps if getattr(s.kernel, "category", None) == "activation"]
    return acts or [s for s in steps if s.index > 0]


def decision_regions(ax, model, x: np.ndarray, y: np.ndarray, classes: int) -> None:
    """Shade the plane by the class the model predicts (evaluation mode) and draw the points."""
    pad = 0.5
    (x0, y0), (x1, y1) = x.min(0) - pad, x.max(0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    grid = np.c_[gx.ravel(), gy.ravel()].astype(model.dtype)
    out = np.concatenate([model.forward(grid[i:i + 4096], training=False) for i in range(0, len(grid), 4096)])
    pred = (out[:, 0] > 0).astype(int) if out.shape[1] == 1 else out.argmax(1)
    cmap = "tab10" if classes > 2 else "coolwarm"
    ax.contourf(gx, gy, pred.reshape(gx.shape), levels=np.arange(-0.5, max(classes, 2)), cmap=cmap, alpha=0.3)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap=cmap, s=8, edgecolors="k", linewidths=0.2,
               vmin=-0.5, vmax=max(classes, 2) - 0.5)
    ax.set_xlabel("feature 1 (as the network sees it)")
    ax.set_ylabel("feature 2")


class RunPlot:
    """`netc run --plot FILE`: the run's learning curves, and for 2-D classification data also the
    decision regions with the training points, written when the run ends."""

    def __init__(self, path: Path, net, dataset, model):
        check_path(str(path))
        self.path, self.net, self.dataset, self.model = path, net, dataset, model
        self.history = []

    def start(self, history) -> None:
        self.history = list(history)

    def epoch(self, r, trainer) -> None:
        self.history.append(r)

    def finish(self, status, trainer, wall, message) -> None:
        if not self.history:
            return
        from .records import Record, epoch_record
        rec = Record(Path("."), {"label": self.net.name}, {}, tuple(epoch_record(r) for r in self.history),
                     {"status": status})
        from .aggregate import group
        variants = group([rec])
        ds = self.dataset
        two_d = ds.features == 2 and ds.classes is not None
        if not two_d:
            learning_curves(variants, str(self.path), title=self.net.name)
            return
        plt = _pyplot()
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
        for split, style in (("train", "--"), ("val", "-")):
            a1.plot([e["epoch"] for e in rec.epochs], rec.curve(f"{split}_loss"), style, label=split)
        a1.set_yscale("log")
        a1.set_xlabel("epoch")
        a1.set_ylabel("loss")
        a1.legend()
        a1.grid(alpha=0.3)
        decision_regions(a2, self.model, ds.x_train, ds.y_train, ds.classes)
        a2.set_title(f"decision regions after {len(self.history)} epochs")
        fig.suptitle(self.net.name)
        fig.tight_layout()
        fig.savefig(self.path, dpi=110)
        plt.close(fig)
