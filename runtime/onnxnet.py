"""A plan's evaluation-mode network as an ONNX model, built from the kernels' ONNX forms.

Imports onnx: load this module only when exporting to ONNX. The graph has one input named after
the network's input node and one output named `output`, both (batch, width) with a symbolic
batch dimension; parameters and buffers are initializers named as in netc (`dense1.W`).
"""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .ops.base import Kernel
from .torchnet.codegen import FormMissing

OPSET = 17
ELEM = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


class Builder:
    """The OnnxGraph a kernel's onnx_form writes to: nodes, initializers and fresh value names,
    each named after the netc node being emitted."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.prefix = ""
        self._count = 0

    def _fresh(self, what: str) -> str:
        self._count += 1
        return f"{self.prefix}/{what}_{self._count}"

    def node(self, op_type: str, inputs: list[str], **attributes) -> str:
        """Add one node of the standard domain; returns its output's name."""
        out = self._fresh(op_type)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attributes))
        return out

    def const(self, key: str, array) -> str:
        """An initializer named `NODE.key`, in the graph's float type (integer arrays as they are)."""
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array = array.astype(self.dtype)
        name = f"{self.prefix}.{key}"
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def scalar(self, value: float) -> str:
        """A 0-d constant in the graph's float type."""
        name = self._fresh("c")
        self.initializers.append(numpy_helper.from_array(np.asarray(value, self.dtype), name))
        return name


def onnx_model(plan, state: list[dict], graph_name: str, dtype=np.float32) -> onnx.ModelProto:
    """The plan in evaluation mode as a checked ONNX model (opset 17), with the given per-step
    state (parameters and buffers); FormMissing names the first op without an ONNX form."""
    b = Builder(dtype)
    elem = ELEM[b.dtype]
    first, last = plan.steps[0], plan.steps[-1]
    outs: list[str] = []
    for step in plan.steps:
        if type(step.kernel).onnx_form is Kernel.onnx_form:
            raise FormMissing(step, "ONNX", step.kernel.no_onnx_reason)
        b.prefix = step.name
        xs = [first.name] if not step.inputs else [outs[j] for j in step.inputs]
        outs.append(step.kernel.onnx_form(b, xs, state[step.index]))
    # the last value is renamed to `output` by an Identity (it may be an initializer-free input)
    b.nodes.append(helper.make_node("Identity", [outs[-1]], ["output"], name="output"))
    graph = helper.make_graph(
        b.nodes, graph_name,
        # the input takes netc's flat rows (an image input reshapes them itself)
        [helper.make_tensor_value_info(first.name, elem, ["batch", math.prod(first.kernel.out_shape)])],
        [helper.make_tensor_value_info("output", elem, ["batch", *last.kernel.out_shape])],
        initializer=b.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="netc")
    model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime releases of the last years
    onnx.checker.check_model(model, full_check=True)
    return model
