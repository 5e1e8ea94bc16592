"""PyTorch modules for netc ops that torch.nn has no exact equivalent of.

`netc export --to torch` copies the source of the classes a network needs into its model.py, so
this file imports only torch and each class stands alone.
"""
import torch
from torch import nn


class VanillaDropout(nn.Module):
    """Dropout without rescaling (netc's mode=vanilla): (B, D) -> (B, D).

    Training zeroes each unit with probability p and leaves the survivors as they are;
    evaluation multiplies by 1 - p, so both modes have the same expected output. (nn.Dropout is
    the inverted form: it scales the survivors by 1 / (1 - p) in training instead.)
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x * (1.0 - self.p)
        if self.p == 0.0:
            return x
        return x * (torch.rand_like(x) >= self.p).to(x.dtype)

    def extra_repr(self):
        return f"p={self.p}"


class VanillaDropout2d(nn.Module):
    """Dropout of whole channels without rescaling (netc's dropout2d mode=vanilla):
    (B, C, H, W) -> (B, C, H, W).

    Training zeroes each (example, channel) with probability p and leaves the survivors as they
    are; evaluation multiplies by 1 - p. (nn.Dropout2d is the inverted form.)
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x * (1.0 - self.p)
        if self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], x.shape[1], 1, 1, dtype=x.dtype, device=x.device) >= self.p
        return x * keep.to(x.dtype)

    def extra_repr(self):
        return f"p={self.p}"


class Maxout(nn.Module):
    """k affine maps of width N and their element-wise maximum: (B, D) -> (B, N).

    weight (k, D, N) and bias (k, N): y = max_j (x @ weight[j] + bias[j]).
    """

    def __init__(self, in_features: int, out_features: int, k: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(k, out_features)) if bias else None

    def forward(self, x):
        z = torch.matmul(x, self.weight)  # (B, D) @ (k, D, N) -> (k, B, N)
        if self.bias is not None:
            z = z + self.bias[:, None, :]
        return z.max(dim=0).values

    def extra_repr(self):
        k, d, n = self.weight.shape
        return f"in_features={d}, out_features={n}, k={k}, bias={self.bias is not None}"


class GaussianNoise(nn.Module):
    """Additive Gaussian noise in training (netc's `gaussian_noise S`): (B, *) -> (B, *).

    Training adds std * N(0, 1) to every entry; evaluation is the identity. torch.nn has no such
    layer (Keras's GaussianNoise is the same thing).
    """

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x):
        if not self.training or self.std == 0.0:
            return x
        return x + self.std * torch.randn_like(x)

    def extra_repr(self):
        return f"std={self.std}"


class ActivityRegularization(nn.Module):
    """netc's `activity l1=A l2=B` (an activity penalty): the identity, plus a penalty on its input in training.

    In training the penalty (A * sum|x| + B / 2 * sum x^2) / batch is kept in `self.penalty` (add
    it to the loss to report what netc reports) and its gradient is added to x's gradient in the
    backward pass, as netc does; in evaluation there is no penalty (`self.penalty` is 0).
    """

    def __init__(self, l1: float, l2: float):
        super().__init__()
        self.l1, self.l2 = l1, l2
        self.penalty = 0.0

    def forward(self, x):
        if not self.training:
            self.penalty = 0.0
            return x
        b = x.shape[0]
        with torch.no_grad():
            self.penalty = float((self.l1 * x.abs().sum() + 0.5 * self.l2 * (x * x).sum()) / b)
            grad = (self.l1 * torch.sign(x) + self.l2 * x) / b
        if not x.requires_grad:
            return x
        y = x.view_as(x)
        y.register_hook(lambda dy: dy + grad)  # the penalty's gradient joins the one from above
        return y

    def extra_repr(self):
        return f"l1={self.l1}, l2={self.l2}"


class DropConnectLinear(nn.Linear):
    """nn.Linear with DropConnect (netc's `dense N dropconnect=P`): (B, D) -> (B, N).

    In training each weight is dropped with probability p and the survivors are scaled by
    1 / (1 - p), one mask per forward; evaluation uses the full weight. Set `mask` (the shape of
    `weight`, already scaled) to use given draws instead of torch's (netc's own, for parity).
    """

    def __init__(self, in_features: int, out_features: int, p: float, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        self.p = p
        self.mask = None

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return nn.functional.linear(x, self.weight, self.bias)
        mask = self.mask
        if mask is None:
            mask = (torch.rand_like(self.weight) >= self.p).to(self.weight.dtype) / (1.0 - self.p)
        return nn.functional.linear(x, self.weight * mask, self.bias)

    def extra_repr(self):
        return super().extra_repr() + f", p={self.p}"
