"""An op's form in other engines: its PyTorch code (`TorchForm`) and its ONNX nodes (`OnnxGraph`).

These are facts of the op, so they live on its kernel class next to the NumPy forward and
backward (`Kernel.torch_form`, `Kernel.onnx_form`); nothing here imports torch or onnx. The
exporter writes the torch forms out as `model.py`, the torch engine builds its module from the
same text, and the ONNX exporter runs each kernel's `onnx_form` against an `OnnxGraph`.

An op without a faithful form in an engine says why in `no_torch_reason` / `no_onnx_reason`
instead; the registry test fails for an op that has neither a form nor a reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..init import init_std


@dataclass(frozen=True)
class TorchForm:
    """How one node reads in a generated PyTorch module.

    module: the constructor of the node's submodule as Python source (`nn.Linear(64, 128)`), or
        None when the node is plain code in `forward` (the input, add, concat).
    call: the node's expression in `forward`; `{self}` is the submodule (`self.dense1`), `{0}`,
        `{1}` the inputs' variables: `"{self}({0})"`, `"{0} + {1}"`.
    init: statements (with `{self}`) that give the submodule's parameters netc's initialization.
    names: netc parameter/buffer key -> key in the submodule's state_dict (`"W": "weight"`).
    transposed: the netc keys whose torch tensor is the transpose of netc's array (dense's W is
        (in, out), nn.Linear's weight (out, in)).
    helpers: classes of `netc.runtime.torchnet.modules` the module needs (copied into model.py).

    A `stochastic` op's submodule draws with torch's generator; an engine that must reproduce
    netc's draws wraps it (netc.runtime.torchnet.build.SharedMask).
    """

    module: str | None
    call: str = "{self}({0})"
    init: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    transposed: frozenset[str] = frozenset()
    helpers: tuple[str, ...] = ()


class OnnxGraph(Protocol):
    """What a kernel's `onnx_form` may call: add nodes and constant tensors to the graph being built.

    `node(op_type, inputs, **attributes) -> output name` adds one ONNX node (standard domain, the
    exporter's opset) with one output; `const(key, array) -> name` adds an initializer named
    after the current netc node (`dense1.W`); `scalar(value) -> name` a 0-d constant in the
    graph's float type. Names are ONNX value names (strings).
    """

    def node(self, op_type: str, inputs: list[str], **attributes: Any) -> str: ...

    def const(self, key: str, array: Any) -> str: ...

    def scalar(self, value: float) -> str: ...


def init_statements(name: str, weight: str, fan_in: int, fan_out: int, std: float, value: float = 0.0,
                    gain: float = 1.0, maps: bool = False) -> tuple[str, ...]:
    """The torch statements drawing `weight` (an expression such as `{self}.weight`) as netc's
    initializer `name` does (see netc.runtime.init): the same distribution, torch's generator.
    `maps`: the weight is a stack of maps (maxout's (k, D, N)), each drawn on its own."""
    if name == "zeros":
        return (f"nn.init.zeros_({weight})  # zeros",)
    if name == "constant":
        return (f"nn.init.constant_({weight}, {float(value)!r})  # constant",)
    if name == "orthogonal":
        if maps:
            return (f"for w in {weight}: nn.init.orthogonal_(w, gain={float(gain)!r})  # orthogonal, per map",)
        return (f"nn.init.orthogonal_({weight}, gain={float(gain)!r})  # orthogonal",)
    if name == "uniform":
        a = 1.0 / math.sqrt(fan_in)
        return (f"nn.init.uniform_({weight}, -{a!r}, {a!r})  # uniform: U(-1/sqrt(fan_in), 1/sqrt(fan_in))",)
    rule = {"he": "N(0, 2/fan_in)", "lecun": "N(0, 1/fan_in)", "xavier": "N(0, 2/(fan_in+fan_out))",
            "normal": "N(0, std^2)"}[name]
    return (f"nn.init.normal_({weight}, std={init_std(name, fan_in, fan_out, std)!r})  # {name}: {rule}",)
