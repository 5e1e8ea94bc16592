"""Training that diverges but stays finite: a loss that grows by orders of magnitude, or stays far
above what a constant prediction scores. A non-finite loss stops the run (train.py); these runs
go on to the end and exit 0, so without a warning a loss of 3.6e12 passes unnoticed.

    watch = DivergenceWatch(constant_prediction_loss(loss_name, y_train, width))
    for each epoch: message = watch.observe(result)   # a warning once, else None
"""
from __future__ import annotations

import math

import numpy as np

from .losses import make_loss

GROWTH = 100.0        # the training loss grew this many times over its lowest value so far
ABOVE_BASELINE = 10.0  # ... or stays this many times above the loss of a constant prediction
PATIENCE = 2           # ... for this many epochs in a row
SAMPLE = 10_000        # labels used to compute the baseline


def constant_prediction_loss(loss_name: str, y: np.ndarray, width: int) -> float | None:
    """The loss of the best trivial model, the yardstick of a run that learns nothing: for a
    classification loss, all-zero logits (every class equally likely: log K for cross entropy);
    for a regression loss, always predicting the mean target. None if it cannot be computed."""
    loss = make_loss(loss_name)
    y = np.asarray(y)[:SAMPLE]
    if len(y) == 0:
        return None
    if loss.classification:
        out = np.zeros((len(y), width))
    else:
        target = y.reshape(len(y), -1).astype(np.float64)
        out = np.broadcast_to(target.mean(axis=0), target.shape).copy()
        if out.shape[1] != width:
            return None
    try:
        value = float(loss.forward(out, y))
    except Exception:  # a label the loss rejects is reported elsewhere, with its file
        return None
    return value if math.isfinite(value) else None


class DivergenceWatch:
    """Looks at each epoch's training loss and warns (once) when the run diverges.

    `baseline` is `constant_prediction_loss` (None: only the growth rule applies).
    """

    def __init__(self, baseline: float | None):
        self.baseline = baseline
        self.lowest: tuple[int, float] | None = None  # (epoch, loss)
        self.above = 0
        self.warned = False

    def observe(self, result) -> str | None:
        """The warning this epoch's result (an EpochResult) calls for, or None."""
        loss = result.train_loss
        if self.warned or loss is None or not math.isfinite(loss):
            return None
        message = None
        if self.lowest is not None and loss > GROWTH * max(self.lowest[1], 1e-12):
            epoch, low = self.lowest
            message = (f"the training loss grew from {low:.4g} (epoch {epoch}) to {loss:.4g} "
                       f"(epoch {result.epoch}): training is diverging")
        if self.baseline is not None and loss > ABOVE_BASELINE * max(self.baseline, 1e-12):
            self.above += 1
            if self.above >= PATIENCE and message is None:
                message = (f"the training loss is {loss:.4g} after {result.epoch} epochs, "
                           f"{loss / self.baseline:.3g} times the {self.baseline:.4g} of a constant "
                           "prediction: training is diverging")
        else:
            self.above = 0
        if self.lowest is None or loss < self.lowest[1]:
            self.lowest = (result.epoch, loss)
        if message:
            self.warned = True
        return message


HINT = "lower the learning rate (by 10x or more), add clip norm 1.0, or standardize the inputs"
