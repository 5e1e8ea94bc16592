"""The training loop: minibatches, penalties, clipping, schedules, validation, early stopping, and
a position that a checkpoint can save and restore exactly.

Randomness is derived from (seed, counter) pairs, so any point of a run can be reproduced without
replaying what came before: epoch e shuffles with default_rng([seed, 12, e]) and iteration t
draws its dropout masks from default_rng([seed, 11, t]).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ..spec.diagnostics import EXIT_RUN_FAILED, NetcError
from ..spec.schema import CLASSIFICATION_LOSSES
from .model import Model, NodeError
from .optim import make_optimizer
from .schedules import add_penalty_grads, clip, learning_rate, penalty

EVAL_BATCH = 1024


class TrainingError(NetcError):
    """A run that cannot go on (a non-finite loss): `message`, and the step to blame if known."""

    status = EXIT_RUN_FAILED

    def __init__(self, message: str, step=None, hint: str | None = None):
        super().__init__(message, step.span if step is not None else None, hint)
        self.step = step


@dataclass(frozen=True)
class EpochResult:
    """One epoch's metrics (accuracies None for regression, validation None without validation data)."""

    epoch: int
    train_loss: float
    train_accuracy: float | None
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    lr: float


@dataclass
class Position:
    """Where a run is: completed epochs, batches done in the current epoch and their running sums,
    the global iteration count, early-stopping bookkeeping and the history so far."""

    epoch: int = 0
    batch: int = 0
    iteration: int = 0
    loss_sum: float = 0.0
    correct: float = 0.0
    seen: int = 0
    epoch_seconds: float = 0.0
    best_value: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[EpochResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain values, for a checkpoint's metadata."""
        d = asdict(self)
        d["history"] = [asdict(h) for h in self.history]
        return d

    @staticmethod
    def from_dict(d: dict) -> "Position":
        """The inverse of to_dict."""
        d = dict(d)
        d["history"] = [EpochResult(**h) for h in d["history"]]
        return Position(**d)


class Trainer:
    """Trains `model` on a Dataset with the train section's settings."""

    def __init__(self, model: Model, dataset, settings: dict):
        self.model = model
        self.data = dataset
        self.settings = settings
        self.seed = settings["seed"]
        self.optimizer = make_optimizer(settings["optimizer"])
        self.classification = settings["loss"] in CLASSIFICATION_LOSSES
        self.position = Position()
        self.best_state: dict[str, np.ndarray] | None = None
        # the fewest examples a training batch may hold (batchnorm needs 2): the ops' own fact
        self.min_batch = max(s.kernel.min_batch for s in model.steps)

    @property
    def minimize(self) -> bool:
        stop = self.settings["early_stop"]
        return not (stop and stop["metric"] == "val_accuracy")

    # --- one epoch ------------------------------------------------------------------------------

    def batches(self, epoch: int):
        """The epoch's minibatch index arrays, in order (shuffled with the epoch's own seed)."""
        n = len(self.data.x_train)
        order = np.arange(n)
        if self.settings.get("shuffle", True):
            order = np.random.default_rng([self.seed, 12, epoch]).permutation(n)
        size = self.settings["batch"]
        chunks = [order[i:i + size] for i in range(0, n, size)]
        if len(chunks) > 1 and len(chunks[-1]) < self.min_batch:
            chunks.pop()  # too small for an op (batchnorm cannot normalize one example): drop it
        return chunks

    def dropout_rng(self, iteration: int) -> np.random.Generator:
        """The generator of iteration `iteration`'s dropout masks (the same on every replay)."""
        return np.random.default_rng([self.seed, 11, iteration])

    def current_lr(self) -> float:
        """The learning rate of the current epoch under the schedule."""
        s = self.settings
        return learning_rate(s["optimizer"]["lr"], s["schedule"], self.position.epoch, s["epochs"])

    def loss_with_penalty(self, yb: np.ndarray) -> float:
        """The last forward's loss plus the weight penalty; TrainingError if it is not finite."""
        m, pos = self.model, self.position
        loss = m.loss(yb) + penalty(m.weights, self.settings["regularize"])
        if not math.isfinite(loss):
            step = m.first_nonfinite()
            where = f"'{step.name}' (line {step.span.line})" if step else f"the {self.settings['loss']} loss"
            raise TrainingError(f"the loss became {loss} at epoch {pos.epoch + 1}, iteration "
                                f"{pos.iteration + 1}; the first non-finite value came from {where}",
                                step, "lower the learning rate, add clip norm 1.0, or standardize the inputs")
        return loss

    def update(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """Penalty gradients, clipping and the optimizer's step; advances the iteration count."""
        add_penalty_grads(self.model.weights, grads, self.settings["regularize"])
        clip(grads, self.settings["clip"])
        self.optimizer.step(self.model.params, grads, lr)
        self.position.iteration += 1

    def train_step(self, xb: np.ndarray, yb: np.ndarray, lr: float) -> float:
        """Forward, loss, backward and update on one batch; returns the batch loss (with penalty)."""
        self.model.forward(xb, training=True, rng=self.dropout_rng(self.position.iteration))
        loss = self.loss_with_penalty(yb)
        self.update(self.model.backward(), lr)
        return loss

    def record_batch(self, loss: float, yb: np.ndarray, k: int) -> None:
        """Add a finished batch (the k-th of the epoch, 0-based) to the epoch's running sums."""
        pos = self.position
        pos.loss_sum += loss * len(yb)
        pos.seen += len(yb)
        if self.classification:
            pos.correct += self.model.loss_fn.accuracy(self.model.outputs[-1], yb) * len(yb)
        pos.batch = k + 1

    def end_epoch(self, lr: float, seconds: float) -> EpochResult:
        """Validate, record the epoch's metrics, move to the next epoch, track the best weights."""
        pos = self.position
        val_loss, val_acc = self.evaluate(self.data.x_val, self.data.y_val)
        result = EpochResult(pos.epoch + 1, pos.loss_sum / max(pos.seen, 1),
                             pos.correct / pos.seen if self.classification and pos.seen else None,
                             val_loss, val_acc, seconds, lr)
        pos.history.append(result)
        pos.epoch += 1
        pos.batch = pos.seen = 0
        pos.loss_sum = pos.correct = pos.epoch_seconds = 0.0
        self._track_best(result)
        return result

    def run_epoch(self, on_batch: Callable | None = None,
                  should_stop: Callable[[], bool] | None = None) -> EpochResult | None:
        """Train the current epoch from where the position is; None if `should_stop` interrupted it."""
        pos = self.position
        lr = self.current_lr()
        chunks = self.batches(pos.epoch)
        start = time.perf_counter() - pos.epoch_seconds
        for k in range(pos.batch, len(chunks)):
            idx = chunks[k]
            yb = self.data.y_train[idx]
            loss = self.train_step(self.data.x_train[idx], yb, lr)
            self.record_batch(loss, yb, k)
            pos.epoch_seconds = time.perf_counter() - start
            if on_batch:
                on_batch(pos.epoch, k + 1, len(chunks), pos.loss_sum / pos.seen,
                         pos.seen / max(pos.epoch_seconds, 1e-9))
            if should_stop and should_stop():
                return None
        return self.end_epoch(lr, time.perf_counter() - start)

    def evaluate(self, x, y) -> tuple[float | None, float | None]:
        """Loss and accuracy (None for regression) in evaluation mode over (x, y), in chunks."""
        if x is None or len(x) == 0:
            return None, None
        m = self.model
        total, correct = 0.0, 0.0
        for i in range(0, len(x), EVAL_BATCH):
            xb, yb = x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]
            m.forward(xb, training=False)
            total += m.loss(yb) * len(xb)
            if self.classification:
                correct += m.loss_fn.accuracy(m.outputs[-1], yb) * len(xb)
        return total / len(x), (correct / len(x) if self.classification else None)

    # --- early stopping ------------------------------------------------------------------------

    def _track_best(self, r: EpochResult) -> None:
        pos, stop = self.position, self.settings["early_stop"]
        metric = "val_loss" if self.minimize else "val_accuracy"
        value = getattr(r, metric)
        if value is None:
            value = r.train_loss
        delta = stop["min_delta"] if stop else 0.0
        better = pos.best_value is None or (value < pos.best_value - delta if self.minimize
                                            else value > pos.best_value + delta)
        if better:
            pos.best_value, pos.best_epoch, pos.bad_epochs = value, r.epoch, 0
            if stop:
                self.best_state = self.model.state_dict()
        else:
            pos.bad_epochs += 1
            if stop and pos.bad_epochs >= stop["patience"]:
                pos.stopped_early = True

    def finished(self, epochs: int) -> bool:
        """Whether the run is over: all epochs done, or early stopping ran out of patience."""
        return self.position.epoch >= epochs or self.position.stopped_early

    def restore_best(self) -> None:
        """With early stopping, put back the best epoch's weights."""
        if self.settings["early_stop"] and self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def final_result(self) -> EpochResult | None:
        """The metrics of the weights the run ends with: the best epoch's with early stopping,
        else the last epoch's."""
        hist = self.position.history
        if not hist:
            return None
        if self.settings["early_stop"] and self.position.best_epoch is not None:
            return hist[self.position.best_epoch - 1]
        return hist[-1]


__all__ = ["Trainer", "TrainingError", "EpochResult", "Position", "NodeError"]
