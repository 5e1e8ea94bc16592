"""A plan as a live PyTorch module: the generated model.py source, executed, with netc's weights
and, on request, netc's own dropout masks (so a torch run can be held to the NumPy engine's)."""
from __future__ import annotations

import linecache

import numpy as np
import torch
from torch import nn

from ..losses import LOSSES
from ..ops.base import Ctx
from .codegen import (class_name, identifiers, module_source, state_names, to_netc_state, to_torch_state,
                      torch_forms)

DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


class SharedMask(nn.Module):
    """Wraps a stochastic op's submodule (dropout, noise) so that training draws with the NumPy
    kernel from `rng`, exactly as netc's engine does; evaluation runs the wrapped module.

    NOTE: this relies on netc's element-wise stochastic ops being affine in their input given
    their draws, y = x * mask + shift (dropout: a scaled 0/1 mask and no shift; noise: a mask of
    ones and a Gaussian shift): the kernel's forward of zeros is the shift, and of ones, from the
    same generator state, the mask plus the shift.
    """

    def __init__(self, kernel, inner: nn.Module):
        super().__init__()
        self.kernel, self.inner = kernel, inner
        self.rng: np.random.Generator | None = None

    def forward(self, x):
        if not self.training:
            return self.inner(x)
        dtype = np.float64 if x.dtype == torch.float64 else np.float32
        shape = tuple(x.shape)
        start = self.rng.bit_generator.state
        shift = self.kernel.forward(Ctx(), [np.zeros(shape, dtype)], {}, True, self.rng)
        self.rng.bit_generator.state = start  # the same draws again: the generator moves on once
        mask = self.kernel.forward(Ctx(), [np.ones(shape, dtype)], {}, True, self.rng) - shift
        y = x * torch.from_numpy(np.ascontiguousarray(mask)).to(device=x.device, dtype=x.dtype)
        if np.any(shift):
            y = y + torch.from_numpy(np.ascontiguousarray(shift)).to(device=x.device, dtype=x.dtype)
        return y


class SharedWeightMask:
    """Hands a module that masks its weight (DropConnectLinear, netc's dense dropconnect=P) the
    mask netc's kernel draws from `rng` (its `weight_mask`) before each training forward, in
    torch's layout; the module and its state_dict stay as they are."""

    def __init__(self, kernel, module: nn.Module, transposed: bool):
        self.kernel, self.transposed, self.rng = kernel, transposed, None
        module.register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        if not module.training:
            return
        dtype = np.float64 if module.weight.dtype == torch.float64 else np.float32
        mask = self.kernel.weight_mask(self.rng, dtype)
        mask = np.ascontiguousarray(mask.T if self.transposed else mask)
        module.mask = torch.from_numpy(mask).to(device=module.weight.device, dtype=module.weight.dtype)


def target_loss(name: str):
    """PyTorch's form of netc's loss `name` against targets in the form `Loss.target_array` gives
    (floats of the output's shape: mixup's mixed targets), a function (output, target) -> the
    mean loss as a tensor; None for a loss without that form (hinge)."""
    code = LOSSES[name].torch_target_code
    # the code is the loss table's own text, as the generated model.py's `loss` is
    return eval(f"lambda output, target: {code}", {"nn": nn}) if code else None


class TorchNet:
    """The plan's network as an nn.Module (`module`), its loss (`loss(output, target)`, and
    `target_loss(output, target)` against targets in the form `Loss.target_array` gives, mixup's
    mixed targets; None for a loss without that form), and the names of its parameters in both
    schemes (`names`)."""

    def __init__(self, plan, model_name: str, dtype=np.float32, device: str = "cpu"):
        self.plan = plan
        self.source = module_source(plan, model_name, plan.source_name,
                                    plan.steps[0].kernel.out_width, plan.steps[-1].kernel.out_width)
        filename = f"<netc model {model_name}>"
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
        namespace: dict = {}
        exec(compile(self.source, filename, "exec"), namespace)
        self.dtype = DTYPES[np.dtype(dtype)]
        self.device = torch.device(device)
        self.module: nn.Module = namespace[class_name(model_name)]().to(dtype=self.dtype, device=self.device)
        self.loss = namespace["loss"]
        self.target_loss = target_loss(plan.loss)
        self.names = state_names(plan)
        self.masks: list = []  # SharedMask modules and SharedWeightMask hooks
        # the attributes of the steps whose op adds a penalty to the loss (the op table's fact)
        self._penalizing = [ident for step, ident in zip(plan.steps, identifiers(plan)) if step.kernel.adds_penalty]

    def share_masks(self) -> None:
        """Replace every stochastic op's submodule by a SharedMask drawing netc's masks (set_rng)."""
        for step, form, ident in zip(self.plan.steps, torch_forms(self.plan), identifiers(self.plan)):
            if step.kernel.stochastic and hasattr(step.kernel, "weight_mask"):  # dense dropconnect
                self.masks.append(SharedWeightMask(step.kernel, getattr(self.module, ident), "W" in form.transposed))
            elif step.kernel.stochastic:
                wrapped = SharedMask(step.kernel, getattr(self.module, ident))
                setattr(self.module, ident, wrapped)
                self.masks.append(wrapped)

    def penalty_modules(self) -> list[nn.Module]:
        """The submodules of the steps whose op adds a term to the training loss (the op table's
        `adds_penalty` fact): each keeps the term of its last forward in `penalty`. Looked up in
        `module` as it is now (after a batch-norm conversion, say)."""
        return [getattr(self.module, ident) for ident in self._penalizing]

    def set_rng(self, rng: np.random.Generator) -> None:
        """The generator the shared masks of the next forward pass draw from, in graph order."""
        for m in self.masks:
            m.rng = rng

    def load_netc_state(self, state: dict[str, np.ndarray]) -> None:
        """Set every parameter and buffer from netc's arrays (by netc name); strict."""
        sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in to_torch_state(self.names, state).items()}
        own = self.module.state_dict()
        sd = {k: v.to(device=self.device, dtype=own[k].dtype) for k, v in sd.items()}
        # SharedMask wrappers hold no state, so the module's keys are the generated ones
        self.module.load_state_dict(sd, strict=True)

    def netc_state(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer under netc's names and layout, as NumPy arrays."""
        sd = {k: v.detach().cpu().numpy() for k, v in self.module.state_dict().items()}
        return {k: np.array(v) for k, v in to_netc_state(self.names, sd).items()}

    def parameters_by_netc_name(self) -> dict[str, nn.Parameter]:
        """The module's learned parameters keyed by netc's names."""
        own = dict(self.module.named_parameters())
        return {n.netc: own[n.torch] for n in self.names if n.param}
