"""The training loop, as one iteration engine: `Trainer.iteration()` is a generator of phases (each
node's forward, the loss, each node's backward in reverse order, the update, and the epoch's end)
that every driver runs: `netc run` drains it (`run_epoch`), the debugger's stepper pauses on it
(runtime/stepper.py) and `netc stats` runs one iteration of it. No other code steps the model
through an iteration.

    trainer = Trainer(model, dataset, settings, shuffle=True)
    for phase in trainer.iteration():          # one minibatch, from where the position is
        phase.kind, phase.step, phase.loss    # 'forward', step, None ... 'update', None, 0.71

The trainer's state (weights, buffers, optimizer moments, the position with its early-stopping
bookkeeping and history, the best weights, the seed) is declared once, in runtime/state.py;
checkpoints, the stepper's replay and restart all go through that declaration.

The iteration's order (batch, forward, loss, backward, update, epoch) is written once, here; what
each step does on an engine is a method (`batch_arrays`, `forward_pass`, `batch_loss`,
`backward_pass`, `update`, `record_batch`, `evaluate`), which the PyTorch engine
(runtime/torchnet/engine.py, `netc run --engine torch`) overrides: it runs the network forward and
backward in one call each, so its iteration pauses at the loss, the update and the epoch only.

Randomness is derived from (seed, counter) pairs, so any point of a run can be reproduced without
replaying what came before: epoch e shuffles with default_rng([seed, 12, e]) and iteration t
draws its dropout masks from default_rng([seed, 11, t]), its augmentation from
default_rng([seed, 13, t]) and its mixup weight and partners from default_rng([seed, 17, t]).
Augmentation and mixup act on training iterations only (never on `evaluate`).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator

import numpy as np

from ..spec.diagnostics import EXIT_RUN_FAILED, NetcError
from ..spec.settings import TrainSettings
from . import mixup
from .data.augment import augment_batch
from .model import Model, NodeError
from .optim import make_optimizer
from .schedules import add_penalty_grads, clip, learning_rate, max_norm, penalty

EVAL_BATCH = 1024
FORWARD, LOSS, BACKWARD, UPDATE, EPOCH = "forward", "loss", "backward", "update", "epoch"
PHASES = (FORWARD, LOSS, BACKWARD, UPDATE)  # the pauses of an iteration, in order (EPOCH closes some)


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
    the global iteration count (with the epoch, the counter of the run's random numbers),
    early-stopping bookkeeping and the history so far."""

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
        """The inverse of to_dict (runtime/state.py checks a checkpoint's values before this)."""
        d = dict(d)
        d["history"] = [EpochResult(**h) for h in d["history"]]
        return Position(**d)


@dataclass(frozen=True)
class Batch:
    """The iteration a phase belongs to: its global index, epoch, batch within the epoch (all
    0-based), the number of batches in that epoch, the learning rate and the mode."""

    iteration: int
    epoch: int
    index: int
    count: int
    lr: float
    training: bool


@dataclass(frozen=True)
class Phase:
    """One pause of the engine. `kind` is FORWARD or BACKWARD (with `step`, the plan step that just
    ran), LOSS (`loss` is the batch's loss plus `penalty`, the weight penalty and the ops' activity
    penalties; the iteration ends
    there when it is not finite), UPDATE (the optimizer has stepped and the batch is counted;
    `before` holds the parameters as they were if the iteration was asked to `watch`) or EPOCH
    (`result`, the finished epoch's metrics after validation). The model's arrays hold the rest."""

    kind: str
    batch: Batch
    step: object = None
    loss: float | None = None
    penalty: float = 0.0
    before: dict | None = None
    result: EpochResult | None = None

    @property
    def finite(self) -> bool:
        """Whether the loss (if there is one yet) is a finite number."""
        return self.loss is None or math.isfinite(self.loss)


class Trainer:
    """Trains `model` on a Dataset with the train section's settings; `shuffle` (the data section's
    `shuffle`) reshuffles the training split every epoch."""

    def __init__(self, model: Model, dataset, settings: TrainSettings, *, shuffle: bool):
        self.model = model
        self.data = dataset
        self.settings = settings
        self.shuffle = shuffle
        self.seed = settings.seed
        self.optimizer = make_optimizer(settings.optimizer)
        self.classification = settings.classification
        self.position = Position()
        self.best_state: dict[str, np.ndarray] | None = None
        # the fewest examples a training batch may hold (batchnorm needs 2): the ops' own fact
        self.min_batch = max(s.kernel.min_batch for s in model.steps)
        # the per-example shape the input step takes ((D,) or (C, H, W)): augmentation works on it
        self.input_shape = next(s.kernel.out_shape for s in model.steps if not s.inputs)
        self._chunks: tuple | None = None  # (seed, epoch, that epoch's batches), computed once

    @property
    def minimize(self) -> bool:
        stop = self.settings.early_stop
        return not (stop and stop.metric == "val_accuracy")

    # --- the iteration engine -----------------------------------------------------------------

    def iteration(self, training: bool = True, watch: bool = False) -> Iterator[Phase]:
        """Run the next minibatch of the current epoch, pausing after each phase (see Phase).

        `training=False` runs the batch in evaluation mode (for inspection; such an iteration is
        stopped before its update by its driver). A driver may stop consuming at any pause: what
        has not run yet does not happen (the position moves only at the update). An epoch whose
        last batch has run but that was not closed (an interrupted run) is closed first: then the
        iteration is a lone EPOCH phase.
        """
        pos = self.position
        chunks = self.batches(pos.epoch)
        if pos.batch >= len(chunks):
            b = Batch(pos.iteration, pos.epoch, pos.batch, len(chunks), self.current_lr(), training)
            yield Phase(EPOCH, b, result=self.end_epoch(b.lr, pos.epoch_seconds))
            return
        idx = chunks[pos.batch]
        b = Batch(pos.iteration, pos.epoch, pos.batch, len(chunks), self.current_lr(), training)
        x, y = self.batch_arrays(idx)
        mix = None
        if training:  # augmentation and mixup change training batches only
            x, mix = self.prepare_batch(x, pos.iteration)
        yield from self.forward_pass(b, x, self.dropout_rng(pos.iteration))
        loss, extra = self.batch_loss(y, mix)
        yield Phase(LOSS, b, loss=loss, penalty=extra)
        if not math.isfinite(loss):
            return  # nothing can be learned from it: the driver decides (TrainingError, a halt)
        yield from self.backward_pass(b, loss, extra)
        before = {k: v.copy() for k, v in self.model.params.items()} if watch else None
        self.update(self.model.grads, b.lr)
        self.record_batch(loss, y, mix)
        yield Phase(UPDATE, b, loss=loss, penalty=extra, before=before)
        if pos.batch >= len(chunks):
            yield Phase(EPOCH, b, loss=loss, penalty=extra, result=self.end_epoch(b.lr, pos.epoch_seconds))

    # --- the engine's steps: what another engine (runtime/torchnet/engine.py) replaces ----------

    def batch_arrays(self, idx: np.ndarray):
        """The batch's inputs (in the model's dtype) and targets, for the training rows `idx`."""
        return np.asarray(self.data.x_train[idx], self.model.dtype), self.data.y_train[idx]

    def forward_pass(self, b: Batch, x, rng) -> Iterator[Phase]:
        """Run the batch forward node by node (dropout masks from `rng`), pausing after each."""
        m = self.model
        m.training = b.training
        for step in m.steps:
            m.forward_step(step, x, b.training, rng)
            yield Phase(FORWARD, b, step)

    def batch_loss(self, y, mix: "mixup.Mix | None" = None) -> tuple[float, float]:
        """(the last forward's loss against y, or against y mixed as `mix` says, plus the
        penalties, the penalties: the weight penalty and the ops' activity penalties)."""
        extra = penalty(self.model.weights, self.settings.regularize) + self.model.op_penalty()
        m = self.model
        return m.loss(y if mix is None else mix.targets(m.loss_fn, y, m.outputs[-1])) + extra, extra

    def backward_pass(self, b: Batch, loss: float, extra: float) -> Iterator[Phase]:
        """Backward through the nodes in reverse order, pausing after each."""
        m = self.model
        m.start_backward()
        for step in reversed(m.steps):
            m.backward_step(step)
            yield Phase(BACKWARD, b, step, loss=loss, penalty=extra)

    def batches(self, epoch: int) -> list[np.ndarray]:
        """The epoch's minibatch index arrays, in order (shuffled with the epoch's own seed)."""
        key = (self.seed, epoch)
        if self._chunks is not None and self._chunks[0] == key:
            return self._chunks[1]
        order = self.epoch_order(epoch)
        size = self.settings.batch
        chunks = [order[i:i + size] for i in range(0, len(order), size)]
        if len(chunks) > 1 and len(chunks[-1]) < self.min_batch:
            chunks.pop()  # too small for an op (batchnorm cannot normalize one example): drop it
        self._chunks = (key, chunks)
        return chunks

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The order of the training rows in `epoch`: shuffled with the epoch's own seed (unless
        the data section says shuffle false)."""
        n = len(self.data.x_train)
        if self.shuffle:
            return np.random.default_rng([self.seed, 12, epoch]).permutation(n)
        return np.arange(n)

    def prepare_batch(self, x: np.ndarray, iteration: int) -> tuple[np.ndarray, "mixup.Mix | None"]:
        """Training batch `x` of iteration `iteration` after the data section's `augment` and the
        train section's `mixup` (each from its own generator keyed by (seed, iteration), so a
        replay draws the same), and the mixup draw (None without mixup) that the loss and the
        accuracy need. `x` is returned as it is when neither is set."""
        settings = getattr(self.data, "augment", None)
        if settings is not None:
            x = augment_batch(x, self.input_shape, settings, np.random.default_rng([self.seed, 13, iteration]))
        alpha = self.settings.mixup
        if not alpha:
            return x, None
        mix = mixup.draw(alpha, len(x), np.random.default_rng([self.seed, 17, iteration]))
        return mix.inputs(x), mix

    def dropout_rng(self, iteration: int) -> np.random.Generator:
        """The generator of iteration `iteration`'s dropout masks (the same on every replay)."""
        return np.random.default_rng([self.seed, 11, iteration])

    def current_lr(self) -> float:
        """The learning rate of the current epoch under the schedule."""
        s = self.settings
        return learning_rate(s.optimizer.lr, s.schedule, self.position.epoch, s.epochs)

    def divergence(self, phase: Phase) -> TrainingError:
        """The error for a LOSS phase whose loss is not finite, naming the first node to blame."""
        step = self.model.first_nonfinite()
        where = f"'{step.name}' (line {step.span.line})" if step else f"the {self.settings.loss} loss"
        return TrainingError(f"the loss became {phase.loss} at epoch {phase.batch.epoch + 1}, iteration "
                             f"{phase.batch.iteration + 1}; the first non-finite value came from {where}",
                             step, "lower the learning rate, add clip norm 1.0, or standardize the inputs")

    def update(self, grads: dict, lr: float) -> None:
        """Penalty gradients, clipping, the optimizer's step and the weight constraint; advances the
        iteration count."""
        add_penalty_grads(self.model.weights, grads, self.settings.regularize)
        clip(grads, self.settings.clip)
        self.optimizer.step(self.model.params, grads, lr)
        max_norm(self.model.weights, self.model.weight_axes, self.settings.constrain)
        self.position.iteration += 1

    def record_batch(self, loss: float, yb: np.ndarray, mix: "mixup.Mix | None" = None) -> None:
        """Add the batch that just ran to the epoch's running sums and count it (with mixup, the
        accuracy is counted against the mixed labels, as `Mix.accuracy` says)."""
        pos = self.position
        pos.loss_sum += loss * len(yb)
        pos.seen += len(yb)
        if self.classification:
            fn, out = self.model.loss_fn, self.model.outputs[-1]
            acc = fn.accuracy(out, yb) if mix is None else mix.accuracy(fn, out, yb)
            pos.correct += acc * len(yb)
        pos.batch += 1

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

    # --- the driver of `netc run` --------------------------------------------------------------

    def run_epoch(self, on_batch: Callable | None = None,
                  should_stop: Callable[[], bool] | None = None) -> EpochResult | None:
        """Train the current epoch from where the position is, draining the engine's phases.

        `on_batch(epoch, batches_done, batches, mean_loss, examples_per_second)` is called after
        each update; None is returned if `should_stop()` then says so (the epoch stays open, so a
        checkpoint resumes it exactly). TrainingError for a non-finite loss.
        """
        pos = self.position
        start = time.perf_counter() - pos.epoch_seconds
        while True:
            phases = self.iteration()
            for ph in phases:
                kind = ph.kind
                if kind == UPDATE:
                    pos.epoch_seconds = time.perf_counter() - start
                    if on_batch:
                        on_batch(pos.epoch, pos.batch, ph.batch.count, pos.loss_sum / pos.seen,
                                 pos.seen / max(pos.epoch_seconds, 1e-9))
                    if should_stop and should_stop():
                        phases.close()
                        return None
                elif kind == EPOCH:
                    return ph.result
                elif kind == LOSS and not ph.finite:
                    raise self.divergence(ph)

    def stop_agreed(self, requested: bool) -> bool:
        """Whether to stop after the batch that just ran, given whether this process was asked to
        (a data-parallel engine asks its other processes, so that all stop after the same batch)."""
        return requested

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
        pos, stop = self.position, self.settings.early_stop
        metric = "val_loss" if self.minimize else "val_accuracy"
        value = getattr(r, metric)
        if value is None:
            value = r.train_loss
        delta = stop.min_delta if stop else 0.0
        better = pos.best_value is None or (value < pos.best_value - delta if self.minimize
                                            else value > pos.best_value + delta)
        if better:
            pos.best_value, pos.best_epoch, pos.bad_epochs = value, r.epoch, 0
            if stop:
                self.best_state = self.model.state_dict()
        else:
            pos.bad_epochs += 1
            if stop and pos.bad_epochs >= stop.patience:
                pos.stopped_early = True

    def finished(self, epochs: int) -> bool:
        """Whether the run is over: all epochs done, or early stopping ran out of patience."""
        return self.position.epoch >= epochs or self.position.stopped_early

    def restore_best(self) -> None:
        """With early stopping, put back the best epoch's weights."""
        if self.settings.early_stop and self.best_state is not None:
            self.model.load_state_dict(self.best_state)

    def final_result(self) -> EpochResult | None:
        """The metrics of the weights the run ends with: the best epoch's with early stopping,
        else the last epoch's."""
        hist = self.position.history
        if not hist:
            return None
        if self.settings.early_stop and self.position.best_epoch is not None:
            return hist[self.position.best_epoch - 1]
        return hist[-1]


__all__ = ["Trainer", "TrainingError", "EpochResult", "Position", "Phase", "Batch", "NodeError",
           "PHASES", "FORWARD", "LOSS", "BACKWARD", "UPDATE", "EPOCH"]
