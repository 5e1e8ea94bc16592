"""Regularizers besides dropout: Gaussian noise on activations (`gaussian_noise S`, alias `noise S`)
and an activity penalty on a node's output (`activity l1=A l2=B`)."""
from __future__ import annotations

import numpy as np

from .base import Kernel, register
from .forms import TorchForm


@register
class Noise(Kernel):
    """Additive Gaussian noise in training: y = x + std * n, n ~ N(0, 1) drawn per entry from the
    `rng` given to forward (the run's dropout generator, so a run is reproducible); evaluation is
    the identity. The expected training output equals the evaluation output. std = 0 is exactly
    the identity and draws nothing. x (B, *shape) -> (B, *shape), element-wise on any shape.

    The noise does not depend on x, so the backward is the identity: dx = dy.
    """

    op = "gaussian_noise"
    category = "regularizer"
    penalized = ()
    mode_dependent = True
    stochastic = True

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        std = float(self.attrs["std"])
        ctx.noise = None
        if not training or std == 0.0:
            return x
        # NOTE: Generator.standard_normal draws float32 or float64 directly; others go via float64.
        draw = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        n = rng.standard_normal(x.shape, dtype=draw)
        n *= std
        ctx.noise = n = n.astype(x.dtype, copy=False)  # kept for inspection (the torch twin's draws)
        return x + n

    def backward(self, ctx, dy, state):
        return [dy], {}

    def torch_form(self):
        return TorchForm(f"GaussianNoise(std={float(self.attrs['std'])!r})", helpers=("GaussianNoise",))

    def onnx_form(self, g, xs, state):
        return xs[0]  # evaluation mode: the identity


@register
class ActivityRegularizer(Kernel):
    """`activity l1=A l2=B`: the identity on the stream, which adds a penalty on the
    output of the node before it to the training loss (Keras's ActivityRegularization):

        penalty = (A * sum|x| + (B / 2) * sum x^2) / batch

    (the weight penalty's form, averaged over the batch like the loss). Backward adds the
    penalty's gradient (A * sign(x) + B * x) / batch to the gradient arriving from the layers
    after it, so the node before gets both. In evaluation mode there is no penalty (as the weight
    penalty is not in the validation loss) and the gradient passes unchanged.
    x (B, *shape) -> (B, *shape).
    """

    op = "activity"
    category = "regularizer"
    penalized = ()
    mode_dependent = False  # the forward is the identity in both modes; only the loss differs
    adds_penalty = True

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        ctx.x = x if training else None
        return x

    def penalty(self, ctx) -> float:
        """The penalty of the last forward's output: 0.0 after an evaluation-mode forward."""
        x = ctx.x
        if x is None:
            return 0.0
        l1, l2 = float(self.attrs["l1"]), float(self.attrs["l2"])
        total = 0.0
        if l1:
            total += l1 * float(np.abs(x).sum())
        if l2:
            total += 0.5 * l2 * float(np.vdot(x, x))
        return total / x.shape[0]

    def backward(self, ctx, dy, state):
        x = ctx.x
        if x is None:
            return [dy], {}
        l1, l2 = float(self.attrs["l1"]), float(self.attrs["l2"])
        scale = 1.0 / x.shape[0]
        dx = dy.copy()
        if l1:
            dx += (l1 * scale) * np.sign(x)
        if l2:
            dx += (l2 * scale) * x
        return [dx], {}

    def torch_form(self):
        l1, l2 = float(self.attrs["l1"]), float(self.attrs["l2"])
        return TorchForm(f"ActivityRegularization(l1={l1!r}, l2={l2!r})",
                         helpers=("ActivityRegularization",))

    def onnx_form(self, g, xs, state):
        return xs[0]  # evaluation mode: the identity, no penalty
