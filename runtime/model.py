"""The executor: a plan's parameters and buffers, and the forward, loss and backward passes.

    model = Model(plan, seed=0)               # float32; dtype=np.float64 on request
    out = model.forward(x, training=True)     # (B, out_width); every node's output is kept
    loss = model.loss(y)                       # the plan's loss on the last forward
    grads = model.backward()                   # {'dense1.W': ..., ...}; node gradients kept too
    model.output('hidden1.relu1'), model.grad_output('hidden1.relu1'), model['dense1.W']
"""
from __future__ import annotations

import numpy as np

from ..spec.diagnostics import EXIT_RUN_FAILED, NetcError
from .losses import make_loss
from .memory import NodeMemoryError
from .ops.base import Ctx, RuntimeSpecError


class NodeError(NetcError):
    """A run-time failure inside a node: carries the step (name, span) and the kernel's message;
    located at the step's statement."""

    status = EXIT_RUN_FAILED

    def __init__(self, step, message: str, hint: str | None = None):
        super().__init__(message, step.span, hint)
        where = f"line {step.span.line}" + (f" (via line {step.calls[0].line})" if step.calls else "")
        self.args = (f"{step.name} ({where}): {message}",)
        self.step = step


class Model:
    """A plan bound to parameter and buffer arrays, with the results of the last passes.

    Parameters and buffers are named `NODE.PARAM` (`dense1.W`, `batchnorm1.running_mean`);
    `weights` are the parameters the kernels declare penalized (what `regularize` acts on).
    `seed` seeds the initialization and the default dropout generator. Arrays are `dtype`
    (float32 by default).
    """

    def __init__(self, plan, seed: int = 0, dtype=np.float32):
        self.plan = plan
        self.steps = plan.steps
        self.dtype = np.dtype(dtype)
        self.seed = seed
        init_rng = np.random.default_rng([seed, 10])
        self.state = []
        for s in self.steps:
            try:
                self.state.append(s.kernel.init_state(init_rng, self.dtype))
            except MemoryError:
                raise NodeMemoryError(s, "initialization") from None
        self.rng = np.random.default_rng([seed, 11])
        self.loss_fn = make_loss(plan.loss)
        self.params = {f"{s.name}.{k}": self.state[s.index][k] for s in self.steps
                       for k in s.kernel.param_shapes()}
        self.weights = {f"{s.name}.{k}": self.state[s.index][k] for s in self.steps
                        for k in s.kernel.penalized if k in s.kernel.param_shapes()}
        # for each weight, the axes of one unit's incoming weights (the max-norm constraint's)
        self.weight_axes = {f"{s.name}.{k}": s.kernel.unit_axes[k] for s in self.steps
                            for k in s.kernel.penalized if k in s.kernel.param_shapes()}
        self.buffers = {f"{s.name}.{k}": self.state[s.index][k] for s in self.steps
                        for k in s.kernel.buffer_shapes()}
        # Per step, what every pass needs, looked up once (the passes run thousands of times and
        # small networks spend a noticeable share of a step on lookups): index, kernel, input
        # indices, state; for backward also the gradients' names and whether the input needs one.
        self._runs = [(s.index, s.kernel, s.inputs, self.state[s.index]) for s in self.steps]
        self._backs = [(s.index, s.kernel, s.inputs, self.state[s.index],
                        {k: f"{s.name}.{k}" for k in s.kernel.param_shapes()},
                        # the network's input needs no gradient: the first layer skips that product
                        self.steps[s.inputs[0]].inputs != ())
                       for s in reversed(self.steps) if s.inputs]
        self._back_of = {back[0]: back for back in self._backs}
        self._penalizing = [s.index for s in self.steps if s.kernel.adds_penalty]
        n = len(self.steps)
        self.outputs: list[np.ndarray | None] = [None] * n
        self.ctxs: list[Ctx | None] = [None] * n
        self.grad_outputs: list[np.ndarray | None] = [None] * n
        self.grads: dict[str, np.ndarray] = {}
        self.training = True
        self.last_loss: float | None = None

    # --- parameters ------------------------------------------------------------------------

    def __getitem__(self, name: str) -> np.ndarray:
        """A parameter or buffer by name (the live array)."""
        if name in self.params:
            return self.params[name]
        if name in self.buffers:
            return self.buffers[name]
        raise KeyError(f"no parameter or buffer '{name}'")

    def __setitem__(self, name: str, value) -> None:
        """Copy `value` into the parameter or buffer `name` (shapes must match)."""
        target = self[name]
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(f"{name} has shape {target.shape}, got {value.shape}")
        target[...] = value

    def reinitialize(self) -> None:
        """Put every parameter and buffer back to its seeded initial value, in place."""
        init_rng = np.random.default_rng([self.seed, 10])
        for step in self.steps:
            for k, v in step.kernel.init_state(init_rng, self.dtype).items():
                self.state[step.index][k][...] = v

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by name."""
        return {k: v.copy() for k, v in {**self.params, **self.buffers}.items()}

    def load_state_dict(self, values: dict[str, np.ndarray]) -> None:
        """Set every parameter and buffer from `values` (as `state_dict` returns)."""
        missing = set(self.params) | set(self.buffers)
        missing -= set(values)
        if missing:
            raise KeyError(f"missing values for: {', '.join(sorted(missing))}")
        for k, v in values.items():
            self[k] = v

    # --- passes ---------------------------------------------------------------------------------

    def forward(self, x, training: bool = True, rng: np.random.Generator | None = None) -> np.ndarray:
        """Run every step on the batch x (B, input_width); returns the last node's output.

        `training` selects the mode (batch statistics and dropout masks in training, running
        statistics and no dropout in evaluation). Dropout masks come from `rng` (the model's
        own generator if None). Raises NodeError naming the node for a run-time failure.
        """
        x = np.asarray(x, dtype=self.dtype)
        self.training = training
        rng = self.rng if rng is None else rng
        outputs, ctxs = self.outputs, self.ctxs  # forward_step, inlined: the same work
        i = 0
        try:
            for i, kernel, inputs, state in self._runs:
                # the last pass's output and saved arrays (a conv's padded input) go first, so a
                # step never holds two generations of them at once
                outputs[i] = ctxs[i] = None
                ctx = Ctx()
                outputs[i] = kernel.forward(ctx, [outputs[j] for j in inputs] if inputs else [x],
                                            state, training, rng)
                ctxs[i] = ctx
        except RuntimeSpecError as e:
            raise NodeError(self.steps[i], e.message, e.hint) from None
        return outputs[-1]

    def forward_step(self, step, x, training: bool, rng) -> np.ndarray:
        """Run one step (its inputs must have run); keeps its output and saved context."""
        xs = [x] if not step.inputs else [self.outputs[j] for j in step.inputs]
        self.outputs[step.index] = self.ctxs[step.index] = None  # as in forward
        ctx = Ctx()
        try:
            y = step.kernel.forward(ctx, xs, self.state[step.index], training, rng)
        except RuntimeSpecError as e:
            raise NodeError(step, e.message, e.hint) from None
        except MemoryError:
            raise NodeMemoryError(step, "forward") from None
        self.outputs[step.index] = y
        self.ctxs[step.index] = ctx
        return y

    def loss(self, y) -> float:
        """The loss of the last forward's output against the targets y; also sets `last_loss`."""
        try:
            self.last_loss = float(self.loss_fn.forward(self.outputs[-1], np.asarray(y)))
        except RuntimeSpecError as e:
            raise NodeError(self.steps[-1], e.message, e.hint) from None
        return self.last_loss

    def op_penalty(self) -> float:
        """The terms the ops add to the training loss for the last forward (activity penalties:
        ops whose `adds_penalty` fact is true); 0.0 after an evaluation-mode forward. The
        gradients of these terms are part of `backward`'s."""
        return sum((self.steps[i].kernel.penalty(self.ctxs[i]) for i in self._penalizing), 0.0)

    def backward(self) -> dict[str, np.ndarray]:
        """Gradients of the last loss: by parameter name (returned and kept in `grads`) and by
        node output (`grad_output(name)`)."""
        self.start_backward()
        for back in self._backs:
            self._backward(*back)
        return self.grads

    def start_backward(self) -> None:
        """Seed the backward pass with the loss's gradient at the last node; clears old gradients."""
        self.grad_outputs = [None] * len(self.steps)
        self.grad_outputs[-1] = self.loss_fn.backward().astype(self.dtype, copy=False)
        self.grads = {}

    def backward_step(self, step) -> None:
        """Backward through one step: its input gradients accumulate into their producers."""
        if step.inputs:
            self._backward(*self._back_of[step.index])

    def _backward(self, i, kernel, inputs, state, names, need_input_grad) -> None:
        dy = self.grad_outputs[i]
        if dy is None:
            return
        ctx = self.ctxs[i]
        ctx.need_input_grad = need_input_grad
        try:
            dxs, dparams = kernel.backward(ctx, dy, state)
        except MemoryError:
            raise NodeMemoryError(self.steps[i], "backward") from None
        grad_outputs = self.grad_outputs
        for j, dx in zip(inputs, dxs):
            if dx is not None:
                prev = grad_outputs[j]
                grad_outputs[j] = dx if prev is None else prev + dx
        grads = self.grads
        for k, g in dparams.items():
            grads[names[k]] = g

    # --- inspection --------------------------------------------------------------------------

    def output(self, name: str) -> np.ndarray:
        """The output of node `name` in the last forward pass."""
        return self.outputs[self.plan.index(name)]

    def grad_output(self, name: str) -> np.ndarray | None:
        """The gradient of the last loss with respect to node `name`'s output."""
        return self.grad_outputs[self.plan.index(name)]

    def first_nonfinite(self):
        """The first step (in execution order) whose last output holds a NaN or Inf, or None."""
        for step in self.steps:
            out = self.outputs[step.index]
            if out is not None and not np.isfinite(out).all():
                return step
        return None
