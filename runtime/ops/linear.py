"""Affine ops: input, dense, maxout."""
from __future__ import annotations

import math

import numpy as np

from ..init import init_weights
from .base import Kernel, RuntimeSpecError, ShapeError, register, require_vector, shape_str
from .forms import TorchForm, init_statements


@register
class Input(Kernel):
    """The network's input: `input D` takes (B, D); `input C H W` takes images (B, C, H, W) or flat
    rows (B, C*H*W), reshaped row-major (a view, no copy) to (B, C, H, W).
    """

    op = "input"
    arity = 0
    category = "input"
    penalized = ()
    mode_dependent = False

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        dims = (attrs["features"], attrs.get("height"), attrs.get("width"))
        if dims[1] is None and dims[2] is None:
            return (dims[0],)
        if dims[1] is None or dims[2] is None:
            raise ShapeError("input takes one number (a vector's width) or three (C H W: an image's "
                             "channels, height and width)", hint="write e.g. 'input 64' or 'input 1 8 8'")
        return dims

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        shape = self.out_shape
        if x.shape[1:] == shape:
            return x
        if x.ndim == 2 and x.shape[1] == math.prod(shape):
            return x.reshape((x.shape[0],) + shape)
        if len(shape) == 1:
            raise RuntimeSpecError(f"input expects examples of {shape[0]} features, got an array of "
                                   f"shape {x.shape}",
                                   hint=f"the data's feature count must match 'input {shape[0]}'")
        raise RuntimeSpecError(f"input expects images {shape_str(shape)} ({math.prod(shape)} features "
                               f"per example), got an array of shape {x.shape}",
                               hint=f"flat examples need C*H*W = {math.prod(shape)} features")

    def backward(self, ctx, dy, state):
        return [dy], {}

    def torch_form(self):
        if len(self.out_shape) == 1:
            return TorchForm(None, call="{0}")  # the forward's argument itself
        # flat rows (B, C*H*W) become images, row-major as netc's reshape
        return TorchForm(None, call="{0}.reshape(-1, " + ", ".join(map(str, self.out_shape)) + ")")

    def onnx_form(self, g, xs, state):
        if len(self.out_shape) == 1:
            return xs[0]
        return g.node("Reshape", [xs[0], g.const("shape", np.array([-1, *self.out_shape], np.int64))])


@register
class Dense(Kernel):
    """Affine map y = x W + b: x (B, D) -> (B, N); W (D, N), b (N,).

    `dropconnect=P` (Wan et al.'s DropConnect): in training each weight is dropped with
    probability P and the survivors are scaled by 1/(1-P) (inverted, like dropout), one mask per
    batch drawn from the forward's `rng` (the run's dropout generator); evaluation uses the full
    W, the expected training weight. The gradient of W is masked the same way.
    """

    op = "dense"
    params = ("W", "b")
    category = "linear"
    penalized = ("W",)  # the bias is not penalized
    unit_axes = {"W": (0,)}  # W (in, out): a unit's incoming weights are a column
    # the facts of the schema's defaults (dropconnect=0); a node with dropconnect=P > 0 sets its own
    mode_dependent = False
    stochastic = False

    def __init__(self, attrs, in_shapes):
        super().__init__(attrs, in_shapes)
        if self.attrs["dropconnect"] > 0:
            # this node's facts: training draws a mask of its weights, evaluation does not
            self.mode_dependent = self.stochastic = True

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        require_vector("dense", in_shapes[0])
        return (attrs["units"],)

    def param_shapes(self):
        shapes = {"W": (self.in_widths[0], self.out_width)}
        if self.attrs["bias"]:
            shapes["b"] = (self.out_width,)
        return shapes

    def init_state(self, rng, dtype):
        d, n = self.in_widths[0], self.out_width
        state = {"W": init_weights(self.attrs["init"], (d, n), d, n, rng, dtype, std=self.attrs["std"],
                                   value=self.attrs["value"], gain=self.attrs["gain"])}
        if self.attrs["bias"]:
            state["b"] = np.zeros(n, dtype)
        return state

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        ctx.x = x
        W = state["W"]
        ctx.mask = None
        if training and self.attrs["dropconnect"] > 0.0:
            ctx.mask = self.weight_mask(rng, W.dtype)
            W = W * ctx.mask
        ctx.W = W  # the weights this forward used (masked in training with dropconnect)
        y = x @ W
        if self.attrs["bias"]:
            y += state["b"]
        return y

    def weight_mask(self, rng, dtype):
        """A training mask of W's shape (D, N): 0 where a weight is dropped (a uniform draw below
        p), 1/(1-p) where it is kept; what dropconnect's forward multiplies W by."""
        p = float(self.attrs["dropconnect"])
        # NOTE: Generator.random draws float32 or float64 directly; other dtypes go via float64.
        draw = dtype if dtype in (np.float32, np.float64) else np.float64
        mask = rng.random(self.param_shapes()["W"], dtype=draw)
        np.greater_equal(mask, p, out=mask)  # keep where the draw is >= p, as in dropout
        mask *= 1.0 / (1.0 - p)
        return mask.astype(dtype, copy=False)

    def backward(self, ctx, dy, state):
        dW = ctx.x.T @ dy
        if ctx.mask is not None:
            dW *= ctx.mask  # a dropped weight did not act, so it gets no gradient
        grads = {"W": dW}
        if self.attrs["bias"]:
            grads["b"] = dy.sum(axis=0)
        dx = dy @ ctx.W.T if getattr(ctx, "need_input_grad", True) else None
        return [dx], grads

    def fold_affine(self, state, scale, shift):
        """This layer followed by y * scale + shift (per output unit): W * scale, b * scale + shift."""
        b = state["b"] * scale if self.attrs["bias"] else 0.0
        return {"W": state["W"] * scale, "b": b + shift}

    def torch_form(self):
        d, n, bias = self.in_widths[0], self.out_width, self.attrs.get("bias", True)
        init = init_statements(self.attrs["init"], "{self}.weight", d, n, self.attrs.get("std", 0.01),
                               self.attrs["value"], self.attrs["gain"])
        p = float(self.attrs["dropconnect"])
        if p > 0:
            return TorchForm(f"DropConnectLinear({d}, {n}, p={p!r}{'' if bias else ', bias=False'})",
                             init=init + (("nn.init.zeros_({self}.bias)",) if bias else ()),
                             names={"W": "weight", "b": "bias"} if bias else {"W": "weight"},
                             transposed=frozenset({"W"}), helpers=("DropConnectLinear",))
        return TorchForm(f"nn.Linear({d}, {n}{'' if bias else ', bias=False'})",
                         init=init + (("nn.init.zeros_({self}.bias)",) if bias else ()),
                         names={"W": "weight", "b": "bias"} if bias else {"W": "weight"},
                         transposed=frozenset({"W"}))

    def onnx_form(self, g, xs, state):
        y = g.node("MatMul", [xs[0], g.const("W", state["W"])])
        return g.node("Add", [y, g.const("b", state["b"])]) if self.attrs.get("bias", True) else y


@register
class Maxout(Kernel):
    """k affine maps of width N, element-wise max: x (B, D) -> (B, N); W (k, D, N), b (k, N).

    y[b, n] = max_j (x W[j] + b[j])[b, n]. At a tie the first maximal map takes the gradient.
    """

    op = "maxout"
    params = ("W", "b")
    category = "linear"
    penalized = ("W",)
    unit_axes = {"W": (1,)}  # W (k, in, out): each piece of each unit has its own column
    mode_dependent = False

    @classmethod
    def infer_shape(cls, attrs, in_shapes):
        require_vector("maxout", in_shapes[0])
        return (attrs["units"],)

    def param_shapes(self):
        k = self.attrs["k"]
        shapes = {"W": (k, self.in_widths[0], self.out_width)}
        if self.attrs["bias"]:
            shapes["b"] = (k, self.out_width)
        return shapes

    def init_state(self, rng, dtype):
        k, d, n = self.attrs["k"], self.in_widths[0], self.out_width
        state = {"W": init_weights(self.attrs["init"], (k, d, n), d, n, rng, dtype, std=self.attrs["std"],
                                   value=self.attrs["value"], gain=self.attrs["gain"])}
        if self.attrs["bias"]:
            state["b"] = np.zeros((k, n), dtype)
        return state

    def forward(self, ctx, xs, state, training, rng):
        x = xs[0]
        z = np.matmul(x, state["W"])  # (B, D) @ (k, D, N) -> (k, B, N): k GEMMs, W not copied
        if self.attrs["bias"]:
            z += state["b"][:, None, :]
        idx = z.argmax(axis=0)  # (B, N): which map wins each unit
        ctx.x, ctx.idx = x, idx
        return np.take_along_axis(z, idx[None], axis=0)[0]

    def backward(self, ctx, dy, state):
        x, idx, W = ctx.x, ctx.idx, state["W"]
        k = W.shape[0]
        need_dx = getattr(ctx, "need_input_grad", True)
        dx = None
        dW = np.empty_like(W)
        db = np.empty((k, dy.shape[1]), dy.dtype) if self.attrs["bias"] else None
        for j in range(k):  # k is small (2..5): k GEMMs of the routed gradient
            dz = dy * (idx == j)
            np.matmul(x.T, dz, out=dW[j])
            if db is not None:
                dz.sum(axis=0, out=db[j])
            if not need_dx:
                continue
            if dx is None:
                dx = dz @ W[j].T
            else:
                dx += dz @ W[j].T
        grads = {"W": dW}
        if db is not None:
            grads["b"] = db
        return [dx], grads

    def torch_form(self):
        k, d, n, bias = self.attrs["k"], self.in_widths[0], self.out_width, self.attrs.get("bias", True)
        init = init_statements(self.attrs["init"], "{self}.weight", d, n, self.attrs.get("std", 0.01),
                               self.attrs["value"], self.attrs["gain"], maps=True)
        return TorchForm(f"Maxout({d}, {n}, k={k}{'' if bias else ', bias=False'})",
                         init=init + (("nn.init.zeros_({self}.bias)",) if bias else ()),
                         names={"W": "weight", "b": "bias"} if bias else {"W": "weight"},
                         helpers=("Maxout",))

    def onnx_form(self, g, xs, state):
        z = g.node("MatMul", [xs[0], g.const("W", state["W"])])  # (k, B, N)
        if self.attrs.get("bias", True):
            z = g.node("Add", [z, g.const("b", state["b"][:, None, :])])
        return g.node("ReduceMax", [z], axes=[0], keepdims=0)
