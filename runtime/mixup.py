"""mixup (the train section's `mixup A`; Zhang, Cisse, Dauphin and Lopez-Paz 2018).

Each training batch is mixed with a shuffled copy of itself: one weight lam ~ Beta(A, A) per batch
and one permutation p of the batch, then

    x~ = lam * x + (1 - lam) * x[p]        t~ = lam * t + (1 - lam) * t[p]

where t is the target in the form the loss reads as a distribution or a value
(`Loss.target_array`): one-hot probability rows for cross_entropy, the 0/1 label as a probability
for bce, the real targets (or one-hot rows) for mse. hinge has no such form and is refused when
the file is checked (spec/settings.py). The trainer draws from a generator keyed by (seed,
iteration), so a run stays reproducible; evaluation never mixes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mix:
    """One batch's draw: the weight `lam` of the batch itself and the permutation `perm` of its
    partner examples."""

    lam: float
    perm: np.ndarray

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """lam * x + (1 - lam) * x[perm], a new array in x's dtype and shape."""
        return (self.lam * x + (1.0 - self.lam) * x[self.perm]).astype(x.dtype, copy=False)

    def targets(self, loss, y: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The mixed targets for `loss` given the labels or targets `y` and the output `out`
        (B, N): lam * T + (1 - lam) * T[perm] with T = loss.target_array(y, out)."""
        t = loss.target_array(y, out)
        return self.lam * t + (1.0 - self.lam) * t[self.perm]

    def accuracy(self, loss, out: np.ndarray, y: np.ndarray) -> float:
        """The accuracy against the mixed targets, as the authors' code counts it: lam times the
        accuracy on the batch's own labels plus (1 - lam) times that on the partners' labels."""
        y = np.asarray(y)
        return self.lam * loss.accuracy(out, y) + (1.0 - self.lam) * loss.accuracy(out, y[self.perm])


def draw(alpha: float, batch: int, rng: np.random.Generator) -> Mix:
    """A batch's mixing draw: lam ~ Beta(alpha, alpha), then a permutation of `batch` examples."""
    lam = float(rng.beta(alpha, alpha))
    return Mix(lam, rng.permutation(batch))
