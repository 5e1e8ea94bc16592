"""`netc run --tensorboard DIR`: TensorBoard event files written with tensorboardX (the optional
extra `netc[tensorboard]`): scalars every epoch, and every N epochs a histogram of each node's
activations and of the gradient at its output (one fixed training batch, evaluation mode, so the
run itself is not disturbed) and of every parameter."""
from __future__ import annotations

import numpy as np

from .extras import ObserverError, require

PROBE = 256  # examples in the batch the histograms are measured on


class TensorBoardLogger:
    """Writes one run's events to `logdir` (created if missing)."""

    def __init__(self, logdir: str, every: int, model, dataset, train):
        tbx = require("tensorboardX", "tensorboard", "--tensorboard")
        try:
            self.writer = tbx.SummaryWriter(logdir=str(logdir))
        except OSError as e:
            raise ObserverError(f"--tensorboard {logdir}: cannot write there ({e.strerror or e})") from None
        self.every, self.model, self.dataset = max(1, int(every)), model, dataset
        self.x = dataset.x_train[:PROBE].astype(model.dtype)
        self.y = dataset.y_train[:PROBE]

    def start(self, history) -> None:
        for r in history:
            self._scalars(r)

    def epoch(self, r, trainer) -> None:
        self._scalars(r)
        if r.epoch % self.every == 0 or r.epoch == 1:
            self._histograms(r.epoch)
        self.writer.flush()

    def _scalars(self, r) -> None:
        for tag, v in (("loss/train", r.train_loss), ("loss/validation", r.val_loss),
                       ("accuracy/train", r.train_accuracy), ("accuracy/validation", r.val_accuracy),
                       ("learning_rate", getattr(r, "lr", None))):
            if v is not None and np.isfinite(v):
                self.writer.add_scalar(tag, float(v), r.epoch)

    def _histograms(self, epoch: int) -> None:
        m = self.model
        m.forward(self.x, training=False)
        m.loss(self.y)
        grads = m.backward()
        for step in m.steps:
            out = m.outputs[step.index]
            if out is not None and np.all(np.isfinite(out)):
                self.writer.add_histogram(f"activations/{step.name}", out, epoch)
            g = m.grad_outputs[step.index]
            if g is not None and np.all(np.isfinite(g)):
                self.writer.add_histogram(f"output_gradients/{step.name}", g, epoch)
        for name, w in m.params.items():
            if np.all(np.isfinite(w)):
                self.writer.add_histogram(f"weights/{name}", w, epoch)
            if name in grads and np.all(np.isfinite(grads[name])):
                self.writer.add_histogram(f"weight_gradients/{name}", grads[name], epoch)

    def finish(self, status, trainer, wall, message) -> None:
        self.writer.close()
