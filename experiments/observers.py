"""What `netc run --log/--tensorboard/--plot` attach to a run: each observer is told when the run
starts, after every epoch and once when it ends, whatever the outcome. `netc run` itself only
calls `RunObservers`; it knows nothing of records, TensorBoard or matplotlib."""
from __future__ import annotations

from pathlib import Path

from ..spec.diagnostics import NetcError
from .records import RunRecorder, default_dir, plain


class ObserverError(NetcError):
    """An observer that cannot start (an output path that cannot be written, a missing extra):
    raised before any training, with a hint (exit 2)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


def require(module: str, extra: str, what: str):
    """Import an optional library or raise ObserverError naming the pip command."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ObserverError(f"{what} needs {module.split('.')[0]}, which is not installed",
                            f"pip install 'netc[{extra}]'") from None


def check_writable_file(path: str, option: str) -> Path:
    """Refuse, before training, an output file whose folder is missing or read-only or that is a
    folder itself."""
    p = Path(path)
    if p.is_dir():
        raise ObserverError(f"{option} {path} is a folder", f"name a file, e.g. {option} {p / 'curves.png'}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ObserverError(f"{option} {path}: the folder {parent} does not exist")
    import os
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ObserverError(f"{option} {path}: cannot write there (permission denied)")
    return p


class RunObservers:
    """The observers a `netc run` asked for, driven as one."""

    def __init__(self, args, net, train, data, dataset, model):
        self.items = []
        self.net, self.train, self.data, self.dataset, self.model = net, train, data, dataset, model
        log = getattr(args, "log", None)
        if log is not None:
            path = log or default_dir(net.name)
            self.items.append(_Record(RunRecorder(path), args, net, train, data, dataset))
        if getattr(args, "tensorboard", None):
            from .tensorboard import TensorBoardLogger
            self.items.append(TensorBoardLogger(args.tensorboard, getattr(args, "histogram_every", 5),
                                                model, dataset, train))
        if getattr(args, "plot", None):
            from .plots import RunPlot
            self.items.append(RunPlot(check_writable_file(args.plot, "--plot"), net, dataset, model))

    @property
    def record_path(self) -> Path | None:
        """Where the run record goes, if one is kept."""
        return next((o.recorder.path for o in self.items if isinstance(o, _Record)), None)

    def start(self, history=()) -> None:
        """Before the first epoch (history: the epochs a resumed run already did)."""
        for o in self.items:
            o.start(history)

    def epoch(self, r, trainer) -> None:
        """After each epoch."""
        for o in self.items:
            o.epoch(r, trainer)

    def finish(self, status: str, trainer=None, wall: float = 0.0, message: str | None = None) -> None:
        """Once at the end: status 'completed', 'failed' or 'interrupted'."""
        for o in self.items:
            o.finish(status, trainer, wall, message)


class _Record:
    def __init__(self, recorder: RunRecorder, args, net, train, data, dataset):
        self.recorder = recorder
        self.meta = {"name": net.name, "file": str(Path(args.file).resolve()), "seed": plain(_get(train, "seed")),
                     "engine": getattr(args, "engine", None) or "numpy",
                     "dtype": getattr(args, "dtype", "float32"), "label": getattr(args, "label", None),
                     "overrides": list(getattr(args, "set", []) or []),
                     "epochs_override": getattr(args, "epochs", None),
                     "data": dataset.name, "examples": {"train": len(dataset.x_train),
                                                        "validation": 0 if dataset.x_val is None else len(dataset.x_val)},
                     "classes": dataset.classes, "parameters": net.param_count, "netc_version": _version()}
        self.spec_text = net.source.text
        self.settings = {"train": plain(train), "data": plain(data)}

    def start(self, history) -> None:
        self.recorder.start(self.meta, self.spec_text, self.settings, history)

    def epoch(self, r, trainer) -> None:
        self.recorder.epoch(r)

    def finish(self, status, trainer, wall, message) -> None:
        pos = getattr(trainer, "position", None)
        self.recorder.finish(status, trainer.final_result() if trainer is not None else None,
                             getattr(pos, "best_epoch", None), wall, message,
                             stopped_early=bool(getattr(pos, "stopped_early", False)))


def _get(settings, key):
    return settings[key] if isinstance(settings, dict) else getattr(settings, key)


def _version() -> str:
    from netc import __version__
    return __version__
