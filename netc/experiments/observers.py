"""What `netc run --log/--tensorboard/--plot` attach to a run: each observer is told when the run
starts, after every epoch and once when it ends, whatever the outcome. `netc run` itself only
calls `RunObservers`; it knows nothing of records, TensorBoard or matplotlib."""
from __future__ import annotations

from pathlib import Path

from .extras import ObserverError, check_writable_file
from .records import RunRecorder, default_dir, plain


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
        self.meta = {"name": net.name, "file": str(Path(args.file).resolve()), "seed": train.seed,
                     "engine": getattr(args, "engine", None) or "numpy",
                     "dtype": getattr(args, "dtype", "float32"), "label": getattr(args, "label", None),
                     "overrides": list(getattr(args, "set", []) or []),
                     "epochs_override": getattr(args, "epochs", None),
                     "data": dataset.name, "examples": {"train": len(dataset.x_train),
                                                        "validation": 0 if dataset.x_val is None else len(dataset.x_val)},
                     "classes": dataset.classes, "parameters": net.param_count, "netc_version": _version(),
                     # what the data was read with: string labels' classes, `standardize target`'s
                     # statistics (the record's losses are in those standardized units)
                     "label_names": list(dataset.label_names) if dataset.label_names else None,
                     "target_scaling": None if dataset.target_scaling is None else
                     {k: [float(v) for v in dataset.target_scaling[k]] for k in ("mean", "std")}}
        self.spec_text = net.source.text
        self.settings = {"train": plain(train.to_dict()), "data": plain(data.to_dict() if data else None)}

    def start(self, history) -> None:
        self.recorder.start(self.meta, self.spec_text, self.settings, history)

    def epoch(self, r, trainer) -> None:
        self.recorder.epoch(r)

    def finish(self, status, trainer, wall, message) -> None:
        pos = getattr(trainer, "position", None)
        self.recorder.finish(status, trainer.final_result() if trainer is not None else None,
                             getattr(pos, "best_epoch", None), wall, message,
                             stopped_early=bool(getattr(pos, "stopped_early", False)))


def _version() -> str:
    from .. import __version__
    return __version__
