"""Dropout, inverted and vanilla: element-wise on any shape (dropout), or whole channels of
images (dropout2d)."""
from __future__ import annotations

import numpy as np

from .base import Kernel, register, require_image
from .forms import TorchForm


@register
class Dropout(Kernel):
    """Zero each unit with probability p (the probability of DROPPING) in training.

    mode=inverted: training scales survivors by 1/(1-p), evaluation is the identity.
    mode=vanilla: training does not scale, evaluation multiplies by (1-p).
    Either way the expected training output equals the evaluation output. The mask is drawn from
    the `rng` given to forward (a unit is kept where a uniform draw is >= p), so the same seeded
    generator gives the same mask. p = 0 is exactly the identity and draws nothing.
    x (B, D) -> (B, D), or (B, C, H, W) -> (B, C, H, W) element-wise.
    """

    op = "dropout"
    category = "regularizer"
    penalized = ()
    mode_dependent = True
    stochastic = True

    def _mask_shape(self, x: np.ndarray) -> tuple[int, ...]:
        """The shape of the mask drawn per batch (broadcast over x)."""
        return x.shape

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        p = float(self.attrs["p"])
        inverted = self.attrs["mode"] == "inverted"
        if p == 0.0:
            ctx.mask = None
            return x
        if not training:
            ctx.mask = None if inverted else 1.0 - p
            return x if inverted else x * (1.0 - p)
        # NOTE: Generator.random draws float32 or float64 directly; other dtypes go via float64.
        draw = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        mask = rng.random(self._mask_shape(x), dtype=draw)
        np.greater_equal(mask, p, out=mask)  # keep where the draw is >= p, as 1.0 or 0.0, in place
        if inverted:
            mask *= 1.0 / (1.0 - p)
        mask = mask.astype(x.dtype, copy=False)
        ctx.mask = mask
        return x * mask

    def backward(self, ctx, dy, state):
        if ctx.mask is None:
            return [dy], {}
        return [dy * ctx.mask], {}

    def torch_form(self):
        p = float(self.attrs["p"])
        if self.attrs.get("mode", "inverted") == "inverted":
            return TorchForm(f"nn.Dropout(p={p!r})")
        return TorchForm(f"VanillaDropout(p={p!r})", helpers=("VanillaDropout",))

    def onnx_form(self, g, xs, state):
        if self.attrs.get("mode", "inverted") == "inverted" or float(self.attrs["p"]) == 0.0:
            return xs[0]
        return g.node("Mul", [xs[0], g.scalar(1.0 - float(self.attrs["p"]))])


@register
class Dropout2d(Dropout):
    """Dropout of whole channels: x (B, C, H, W) -> (B, C, H, W); one draw per (example,
    channel), shared by its H x W pixels (PyTorch's Dropout2d). Modes and scaling as dropout."""

    op = "dropout2d"
    # evaluation is dropout's (the identity, or the 1 - p scaling): its ONNX form is dropout's

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        require_image("dropout2d", in_shapes[0])
        return in_shapes[0]

    def _mask_shape(self, x):
        return x.shape[:2] + (1, 1)

    def torch_form(self):  # not dropout's: whole channels, not units
        p = float(self.attrs["p"])
        if self.attrs.get("mode", "inverted") == "inverted":
            return TorchForm(f"nn.Dropout2d(p={p!r})")
        return TorchForm(f"VanillaDropout2d(p={p!r})", helpers=("VanillaDropout2d",))
