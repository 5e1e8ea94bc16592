"""Losses by name (the `loss` statement): a small class each, with forward and analytic backward.

Usage: `loss = make_loss("cross_entropy"); value = loss.forward(out, target); dout =
loss.backward()`. forward returns a Python float and saves what backward needs; backward returns
dL/dout with out's shape and dtype. Each loss is a mean (over the batch, or over all elements for
mse and bce), matching PyTorch's reduction="mean".
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from .ops.base import RuntimeSpecError
from .ops.functional import sigmoid


class Loss(ABC):
    """Base class. `classification` losses also offer `predict` as class labels and `accuracy`."""

    name: ClassVar[str] = ""
    classification: ClassVar[bool] = True
    # The same loss in PyTorch, as an expression of `output` and `target` (torch.nn as `nn`):
    # generated model.py files (and a torch engine) use it.
    torch_code: ClassVar[str] = ""
    # The same loss against targets in `target_array`'s form (float, out's shape: mixup's mixed
    # targets), as an expression of `output` and `target`; empty for a loss without that form.
    torch_target_code: ClassVar[str] = ""

    @abstractmethod
    def forward(self, out: np.ndarray, target: np.ndarray) -> float:
        """The mean loss of the network's output `out` (B, N) against `target`."""

    @abstractmethod
    def backward(self) -> np.ndarray:
        """dL/dout for the last forward: (B, N), out's dtype."""

    def target_array(self, target: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The targets as an array of out's shape and dtype that `forward` reads as they are: the
        form in which two examples' targets can be averaged (mixup). The base form is the targets
        themselves in out's shape (mse, bce: a 0/1 label is a probability)."""
        return _like(out, target, self.name)

    def predict(self, out: np.ndarray) -> np.ndarray:
        """Predicted class per example: out (B, N) -> (B,) int (argmax of the logits)."""
        return out.argmax(axis=1)

    def probabilities(self, out: np.ndarray) -> np.ndarray:
        """What the network's output says per example, as the quantity to average over an
        ensemble or Monte Carlo passes: class probabilities (softmax of the logits) for a
        classification loss, the output itself for regression. (B, N) -> (B, N), float64."""
        z = np.asarray(out, dtype=np.float64)
        if not self.classification:
            return z
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_probabilities(self, p: np.ndarray) -> np.ndarray:
        """Predicted class per example from averaged `probabilities` (B, N) -> (B,)."""
        return p.argmax(axis=1)

    def accuracy(self, out: np.ndarray, target: np.ndarray) -> float:
        """Fraction of examples whose predicted class equals the target: (B, N), (B,) -> float."""
        if not self.classification:
            raise TypeError(f"accuracy does not apply to the regression loss '{self.name}'")
        return float(np.mean(self.predict(out) == np.asarray(target).reshape(-1)))


def _labels(out: np.ndarray, target: np.ndarray, loss: str) -> np.ndarray:
    """Integer labels (B,) in [0, N) for logits (B, N); RuntimeSpecError otherwise."""
    labels = np.asarray(target)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (out.shape[0],):
        raise RuntimeSpecError(f"{loss} needs one integer label per example: got targets of "
                               f"shape {labels.shape} for {out.shape[0]} outputs")
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
            labels = labels.astype(np.intp)
        else:
            raise RuntimeSpecError(f"{loss} needs integer class labels, got {labels.dtype}")
    n = out.shape[1]
    lo, hi = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    if lo < 0 or hi >= n:
        bad = lo if lo < 0 else hi
        raise RuntimeSpecError(f"{loss}: label {bad} is out of range for {n} output units",
                               hint=f"the model's last layer needs one unit per class (0..{n - 1})")
    return labels


def _like(out: np.ndarray, target: np.ndarray, loss: str) -> np.ndarray:
    """target in out's shape and dtype; (B,) is read as (B, 1) for a width-1 output, and (B,)
    integer class labels for an output N > 1 wide as one-hot rows (mse on class labels)."""
    raw = np.asarray(target)
    if raw.ndim == 1 and out.ndim == 2 and out.shape[1] > 1 and raw.shape[0] == out.shape[0] \
            and raw.dtype.kind in "iu":
        if raw.min(initial=0) < 0 or raw.max(initial=0) >= out.shape[1]:
            raise RuntimeSpecError(f"{loss}: class labels must be 0..{out.shape[1] - 1} for an output "
                                   f"{out.shape[1]} wide (one-hot targets)")
        t = np.zeros(out.shape, dtype=out.dtype)
        t[np.arange(len(raw)), raw] = 1
        return t
    t = np.asarray(target, dtype=out.dtype)
    if t.shape != out.shape and t.ndim == 1 and out.shape == (t.shape[0], 1):
        t = t[:, None]
    if t.shape != out.shape:
        raise RuntimeSpecError(f"{loss}: targets of shape {t.shape} do not match the model's "
                               f"output of shape {out.shape}")
    return t


def _probabilities(out: np.ndarray, target) -> np.ndarray | None:
    """target as probability rows when it is a float array of out's shape (B, N), N > 1, else None
    (integer labels). The rows are taken as given: PyTorch does not check that they sum to 1."""
    t = np.asarray(target)
    if t.dtype.kind == "f" and t.shape == out.shape and out.ndim == 2 and out.shape[1] > 1:
        return t.astype(out.dtype, copy=False)
    return None


class CrossEntropy(Loss):
    """Softmax cross-entropy of logits (B, N), mean over the batch, against integer labels (B,)
    or probability rows (B, N) (float; PyTorch's `cross_entropy` with probability targets).

    Value: -sum_j t_j log softmax(logits)_j per example. Gradient: (softmax(logits) * sum_j t_j - t)
    / B, which is (softmax - t) / B for rows summing to 1, and (softmax - onehot(labels)) / B for
    labels.
    """

    name = "cross_entropy"
    torch_code = "nn.functional.cross_entropy(output, target.reshape(-1).long())"
    torch_target_code = "nn.functional.cross_entropy(output, target)"  # probability targets

    def target_array(self, target, out):
        """Labels (B,) as one-hot probability rows (B, N); probability rows as they are."""
        soft = _probabilities(out, target)
        if soft is not None:
            return soft
        y = _labels(out, target, self.name)
        t = np.zeros(out.shape, dtype=out.dtype)
        t[np.arange(len(y)), y] = 1
        return t

    def forward(self, out, target):
        soft = _probabilities(out, target)
        if soft is not None:
            z = out - out.max(axis=1, keepdims=True)  # NOTE: shift so exp cannot overflow
            p = np.exp(z)
            s = p.sum(axis=1, keepdims=True)
            log_p = z - np.log(s)
            p /= s
            self._p, self._y, self._t = p, None, soft
            return float(-(soft * log_p).sum(axis=1).mean())
        y = _labels(out, target, self.name)
        b = out.shape[0]
        z = out - out.max(axis=1, keepdims=True)  # NOTE: shift so exp cannot overflow
        p = np.exp(z)
        s = p.sum(axis=1, keepdims=True)
        # log-softmax of the true class: z_y - log sum exp z (stable: sum >= 1)
        rows = np.arange(b)
        loss = np.log(s[:, 0]) - z[rows, y]
        p /= s
        self._p, self._y, self._rows, self._t = p, y, rows, None
        return float(loss.mean())

    def backward(self):
        if self._t is not None:  # probability rows: d/dz of -sum t log softmax(z)
            g = self._p * self._t.sum(axis=1, keepdims=True)
            g -= self._t
        else:
            g = self._p.copy()
            g[self._rows, self._y] -= 1.0
        g *= 1.0 / g.shape[0]
        return g


class MSE(Loss):
    """Mean squared error over all elements: out (B, N), target (B, N) (or (B,) when N = 1)."""

    name = "mse"
    classification = False
    # integer class labels (B,) for an output N > 1 wide are one-hot rows, as in `_like`
    torch_code = ("nn.functional.mse_loss(output, (nn.functional.one_hot(target.long(), output.shape[1]) "
                  "if target.dim() == 1 and output.shape[1] > 1 and not target.is_floating_point() "
                  "else target.reshape(output.shape)).to(output.dtype))")
    torch_target_code = "nn.functional.mse_loss(output, target)"

    def forward(self, out, target):
        diff = out - _like(out, target, self.name)
        self._diff = diff
        return float(np.mean(diff * diff))

    def backward(self):
        return self._diff * (2.0 / self._diff.size)

    def predict(self, out):
        """The output itself (a regression's prediction): (B, N) -> (B, N)."""
        return out


class BCE(Loss):
    """Binary cross-entropy on logits (PyTorch's BCEWithLogitsLoss), mean over all elements.

    out (B, 1) logits, target (B,) (or (B, 1)) of 0/1 floats; more output columns are read as
    independent binary labels with a target of the same shape. Gradient: (sigmoid(out) - t) / size.
    """

    name = "bce"
    torch_code = ("nn.functional.binary_cross_entropy_with_logits(output, "
                  "target.reshape(output.shape).to(output.dtype))")
    torch_target_code = "nn.functional.binary_cross_entropy_with_logits(output, target)"

    def forward(self, out, target):
        t = _like(out, target, self.name)
        # NOTE: max(x, 0) - x t + log1p(exp(-|x|)) is log(1 + exp(x)) - x t without overflow.
        loss = np.maximum(out, 0) - out * t + np.log1p(np.exp(-np.abs(out)))
        self._out, self._t = out, t
        return float(loss.mean())

    def backward(self):
        g = sigmoid(self._out)
        g -= self._t
        g *= 1.0 / g.size
        return g

    def probabilities(self, out):
        """The probability of class 1 per output column: sigmoid of the logits, float64."""
        return sigmoid(np.asarray(out, dtype=np.float64))

    def predict_probabilities(self, p):
        """1 where the averaged probability exceeds 1/2: (B, 1) -> (B,) (or (B, N) if N > 1)."""
        pred = (p > 0.5).astype(np.intp)
        return pred[:, 0] if pred.shape[1] == 1 else pred

    def predict(self, out):
        """1 where the logit is positive, else 0: out (B, 1) -> (B,) int (or (B, N) if N > 1)."""
        pred = (out > 0).astype(np.intp)
        return pred[:, 0] if pred.shape[1] == 1 else pred

    def accuracy(self, out, target):
        pred = self.predict(out)
        t = np.asarray(target).reshape(pred.shape)
        return float(np.mean(pred == t))


class Hinge(Loss):
    """Multiclass SVM loss, margin 1 (PyTorch's MultiMarginLoss, p=1): logits (B, N), labels (B,).

    Per example: sum over j != y of max(0, 1 - x_y + x_j), divided by N; then the batch mean.
    """

    name = "hinge"
    torch_code = "nn.functional.multi_margin_loss(output, target.reshape(-1).long())"

    def forward(self, out, target):
        y = _labels(out, target, self.name)
        b, n = out.shape
        rows = np.arange(b)
        margins = out - out[rows, y][:, None]
        margins += 1.0
        margins[rows, y] = 0.0
        active = margins > 0
        self._active, self._y, self._dtype = active, y, out.dtype
        return float(np.sum(margins, where=active) / (b * n))

    def target_array(self, target, out):
        """hinge has none: its margin is measured from one true class (mixup refuses it)."""
        raise TypeError("the hinge loss needs one true class per example; its targets do not mix")

    def backward(self):
        active = self._active
        b, n = active.shape
        g = active.astype(self._dtype)
        g[np.arange(b), self._y] = -active.sum(axis=1)
        g *= 1.0 / (b * n)
        return g


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (CrossEntropy, MSE, BCE, Hinge)}


def make_loss(name: str) -> Loss:
    """A new loss object for `name`; ValueError naming the valid losses for an unknown one."""
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss '{name}'; valid: {', '.join(LOSSES)}") from None
