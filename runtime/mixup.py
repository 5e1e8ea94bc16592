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

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Mix:
    """One batch's draw: the weight `lam` of the batch itself and the permutation `perm` of its
    partner examples. `rows`, when given, are the batch's rows this process computes (one rank's
    part of the global batch under torchrun, `part`): the inputs, targets and accuracy are then
    those rows' own, while their partners may be any of the batch's rows."""

    lam: float
    perm: np.ndarray
    rows: np.ndarray | None = None

    def part(self, rows: np.ndarray) -> "Mix":
        """The same draw for a process that computes only the batch's rows `rows`."""
        return replace(self, rows=np.asarray(rows))

    def _own(self, a: np.ndarray) -> np.ndarray:
        return a if self.rows is None else a[self.rows]

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """lam * x + (1 - lam) * x[perm] for the whole batch `x` (its `rows` only, when given), a
        new array in x's dtype."""
        mixed = self.lam * self._own(x) + (1.0 - self.lam) * x[self._own(self.perm)]
        return mixed.astype(x.dtype, copy=False)

    def targets(self, loss, y: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The mixed targets for `loss` given the whole batch's labels or targets `y` and the
        output `out` (B, N) of the batch (of its `rows`, when given): lam * T + (1 - lam) * T[perm]
        with T = loss.target_array(y, out), row by row."""
        y = np.asarray(y)
        own = loss.target_array(self._own(y), out)
        partners = loss.target_array(self._own(y[self.perm]), out)
        return self.lam * own + (1.0 - self.lam) * partners

    def accuracy(self, loss, out: np.ndarray, y: np.ndarray) -> float:
        """The accuracy against the mixed targets, as the authors' code counts it: lam times the
        accuracy on the batch's own labels plus (1 - lam) times that on the partners' labels
        (`y`: the whole batch's labels; `out`: the output of the batch, or of its `rows`)."""
        y = np.asarray(y)
        return (self.lam * loss.accuracy(out, self._own(y))
                + (1.0 - self.lam) * loss.accuracy(out, self._own(y[self.perm])))


def draw(alpha: float, batch: int, rng: np.random.Generator) -> Mix:
    """A batch's mixing draw: lam ~ Beta(alpha, alpha), then a permutation of `batch` examples."""
    lam = float(rng.beta(alpha, alpha))
    return Mix(lam, rng.permutation(batch))
