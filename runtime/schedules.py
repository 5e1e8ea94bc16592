"""What the train section does to the gradient and the learning rate: weight penalties, clipping
and per-epoch learning-rate schedules."""
from __future__ import annotations

import math

import numpy as np


def penalty(weights: dict[str, np.ndarray], reg) -> float:
    """The regularization term added to the loss: l1 * sum|W| + (l2 / 2) * sum W^2 over `weights`
    (a Model's `weights`: the parameters its kernels declare penalized, not biases, slopes or
    normalization parameters).

    `reg` is the `regularize` setting (netc.spec.settings.Regularize) or None. With this
    convention the gradient gains l2 * W (PyTorch's weight_decay=l2) and l1 * sign(W).
    """
    if not reg:
        return 0.0
    total = 0.0
    for w in weights.values():
        if reg.l1:
            total += reg.l1 * float(np.abs(w).sum())
        if reg.l2:
            total += 0.5 * reg.l2 * float(np.vdot(w, w))
    return total


def add_penalty_grads(weights: dict[str, np.ndarray], grads: dict[str, np.ndarray], reg) -> None:
    """Add the penalty's gradient to the gradients of `weights` (a Model's `weights`), in place."""
    if not reg:
        return
    for name, w in weights.items():
        g = grads.get(name)
        if g is not None:
            if reg.l2:
                g += reg.l2 * w
            if reg.l1:
                g += reg.l1 * np.sign(w)


def max_norm(weights: dict[str, np.ndarray], axes: dict[str, tuple[int, ...]], setting) -> None:
    """Rescale, in place, each output unit's incoming weights whose L2 norm exceeds `maxnorm` to
    that norm: the norm over `axes[name]` of each weight (a dense W's column), as
    torch.renorm(weight, 2, 0, maxnorm) does on torch's (out, in) layout, with its factor
    maxnorm / (norm + 1e-7). `setting` is the `constrain` setting (netc.spec.settings.Constrain)
    or None."""
    if not setting:
        return
    limit = setting.maxnorm
    for name, w in weights.items():
        norm = np.sqrt(np.square(w, dtype=np.float64).sum(axis=axes[name], keepdims=True))
        factor = np.where(norm > limit, limit / (norm + 1e-7), 1.0)
        w *= factor.astype(w.dtype, copy=False)


def clip(grads: dict[str, np.ndarray], setting) -> None:
    """Clip in place: each entry to [-V, V] (`value`) or the global norm to V (`norm`); `setting` is
    the `clip` setting (netc.spec.settings.Clip) or None."""

    if not setting:
        return
    limit = setting.limit
    if setting.kind == "value":
        for g in grads.values():
            np.clip(g, -limit, limit, out=g)
        return
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if norm > limit:
        scale = limit / (norm + 1e-6)  # torch.nn.utils.clip_grad_norm_'s epsilon
        for g in grads.values():
            g *= scale


def learning_rate(base: float, schedule, epoch: int, epochs: int) -> float:
    """The learning rate for 0-based `epoch`: step, exponential or cosine (to min_lr over `epochs`);
    `schedule` is the `schedule` setting (a netc.spec.settings.Choice) or None."""
    if not schedule:
        return base
    kind = schedule.name
    if kind == "step":
        return base * schedule.gamma ** (epoch // schedule.every)
    if kind == "exponential":
        return base * schedule.gamma ** epoch
    lo = schedule.min_lr
    return lo + (base - lo) * (1 + math.cos(math.pi * epoch / max(epochs, 1))) / 2
