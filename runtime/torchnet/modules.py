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
