"""Optimizers with PyTorch's update rules; every one has the same signature
`step(params, grads, lr)` and keeps its state (momenta) by parameter name."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Optimizer(ABC):
    """Base: `hyper` holds the settings of the `optimizer` statement; `state` the per-parameter buffers.

    The same rule in PyTorch (for `--engine torch`): the class `torch_class` of torch.optim, built
    with `torch_kwargs()`; `torch_state` maps each of netc's per-parameter state keys to torch's
    ("step" is torch's per-parameter step count, a float tensor there, netc's int64 `t`).
    """

    torch_class: str = ""
    torch_state: dict[str, str] = {}

    def __init__(self, **hyper):
        self.hyper = hyper
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float) -> None:
        """Update every parameter that has a gradient, in place."""
        self.steps += 1
        state, update = self.state, self.update
        for name, g in grads.items():
            s = state.get(name)
            if s is None:  # NOTE: not setdefault(name, {}): that builds a dict per parameter per step
                s = state[name] = {}
            update(name, params[name], g, lr, s)

    def torch_kwargs(self) -> dict:
        """The torch.optim constructor's keyword arguments (all but lr) for these settings."""
        return dict(self.hyper)

    def slots(self, shape: tuple[int, ...], dtype) -> dict[str, tuple]:
        """The state this optimizer keeps for a parameter of `shape` and `dtype`: {name: (shape,
        dtype)} (what a checkpoint's optimizer entries are checked against)."""
        return {}

    @abstractmethod
    def update(self, name: str, w: np.ndarray, g: np.ndarray, lr: float, s: dict) -> None:
        """Update the weight array `w` in place from its gradient `g`; `s` is its own state."""


class SGD(Optimizer):
    """w -= lr * g, with (Nesterov) momentum as torch.optim.SGD (dampening 0)."""

    torch_class = "SGD"
    torch_state = {"momentum": "momentum_buffer"}

    def __init__(self, **hyper):
        super().__init__(**hyper)
        # Read once: update runs per parameter per step, where dict look-ups show in small nets.
        # Both are required: their defaults are the schema's (make_optimizer passes them).
        self.momentum = float(hyper["momentum"])
        self.nesterov = bool(hyper["nesterov"])

    def torch_kwargs(self):
        # torch refuses nesterov without momentum; netc's rule is then plain SGD, as torch's
        return {"momentum": self.momentum, "nesterov": self.nesterov and self.momentum > 0}

    def slots(self, shape, dtype):
        return {"momentum": (tuple(shape), np.dtype(dtype))} if self.momentum else {}

    def update(self, name, w, g, lr, s):
        mu = self.momentum
        if mu:
            buf = s.get("momentum")
            if buf is None:
                buf = s["momentum"] = g.copy()
            else:
                buf *= mu
                buf += g
            g = g + mu * buf if self.nesterov else buf
        step = lr * g
        w -= step if step.dtype == w.dtype else step.astype(w.dtype)


class RMSprop(Optimizer):
    """torch.optim.RMSprop: v = alpha v + (1 - alpha) g^2; w -= lr g / (sqrt(v) + eps)."""

    torch_class = "RMSprop"
    torch_state = {"square_avg": "square_avg"}

    def slots(self, shape, dtype):
        return {"square_avg": (tuple(shape), np.dtype(dtype))}

    def update(self, name, w, g, lr, s):
        alpha, eps = self.hyper["alpha"], self.hyper["eps"]
        v = s.get("square_avg")
        if v is None:
            v = s["square_avg"] = np.zeros_like(w)
        v *= alpha
        v += (1 - alpha) * g * g
        w -= (lr * g / (np.sqrt(v) + eps)).astype(w.dtype, copy=False)


class Adam(Optimizer):
    """torch.optim.Adam: bias-corrected first and second moments."""

    torch_class = "Adam"
    torch_state = {"m": "exp_avg", "v": "exp_avg_sq", "t": "step"}

    def torch_kwargs(self):
        return {**self.hyper, "betas": tuple(self.hyper["betas"])}

    def slots(self, shape, dtype):
        return {"m": (tuple(shape), np.dtype(dtype)), "v": (tuple(shape), np.dtype(dtype)),
                "t": ((), np.dtype(np.int64))}

    def update(self, name, w, g, lr, s):
        b1, b2 = self.hyper["betas"]
        eps = self.hyper["eps"]
        if "m" not in s:
            s["m"], s["v"], s["t"] = np.zeros_like(w), np.zeros_like(w), np.zeros((), np.int64)
        m, v = s["m"], s["v"]
        s["t"] += 1
        t = int(s["t"])
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        step = lr / (1 - b1 ** t)
        denom = np.sqrt(v / (1 - b2 ** t))
        denom += eps
        w -= (step * m / denom).astype(w.dtype, copy=False)


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def make_optimizer(settings) -> Optimizer:
    """The optimizer the `optimizer` statement's settings describe (netc.spec.settings.Choice: its
    `name` and `params`; the learning rate is given to every `step`, so it is not kept)."""
    hyper = {k: v for k, v in settings.params.items() if k != "lr"}
    return OPTIMIZERS[settings.name](**hyper)
