"""Batch norm over the global batch of a torchrun job, on every backend.

PyTorch's `nn.SyncBatchNorm` computes the statistics over all ranks' parts, but only for GPU
tensors: on the CPU (gloo) its forward raises "SyncBatchNorm expected input tensor to be on GPU"
(torch 2.13). Without it each rank would normalize its own part with that part's statistics, and
a data-parallel step would no longer be one process's step on the global batch. So on the CPU
netc uses `CpuSyncBatchNorm`: the same statistics with two differentiable all-reduces (the sum
and count, then the sum of squared deviations), whose backward all-reduces the gradients, so the
step equals the single process's up to the order of summation.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class _AllReduceSum(torch.autograd.Function):
    """The sum of a tensor over all ranks, differentiable: the gradient of the sum reaching each
    rank is summed over the ranks too (every rank's loss depends on every rank's part)."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """x summed over the ranks of the default process group, with autograd through it."""
    return _AllReduceSum.apply(x)


class CpuSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are over every rank's part of the batch: (B, C) or
    (B, C, H, W), per feature or channel; running statistics as nn.BatchNorm (EMA with
    `momentum`, the cumulative average when momentum is None; the variance unbiased). Evaluation,
    and training outside a process group, is plain batch norm."""

    def _check_input_dim(self, x):
        if x.dim() not in (2, 4):
            raise ValueError(f"expected a 2-D or 4-D input, got {x.dim()}-D")

    def forward(self, x):
        self._check_input_dim(x)
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        local = x.numel() // x.shape[1]
        sums = all_reduce_sum(torch.cat([x.sum(dims), x.new_tensor([float(local)])]))
        n = sums[-1]
        mean = sums[:-1] / n
        u = x - mean.reshape(shape)
        var = all_reduce_sum((u * u).sum(dims)) / n  # the biased variance of the global batch
        y = u * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                count = float(n)
                self.running_mean.mul_(1 - f).add_(mean.detach(), alpha=f)
                self.running_var.mul_(1 - f).add_(var.detach() * (count / (count - 1)), alpha=f)
        return y


def synchronize_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` with every batch norm computing its statistics over all ranks: PyTorch's
    SyncBatchNorm on CUDA, CpuSyncBatchNorm elsewhere; the same parameters and buffers (so the
    state_dict's keys and the optimizer's parameters do not change)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert(module)


def _convert(module: nn.Module) -> nn.Module:
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        out = CpuSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean, out.running_var = module.running_mean, module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.training = module.training
    for name, child in module.named_children():
        out.add_module(name, _convert(child))
    return out


__all__ = ["CpuSyncBatchNorm", "synchronize_batchnorm"]
