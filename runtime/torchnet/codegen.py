"""A plan as the source of a standalone PyTorch module (`model.py`), written from the kernels' torch
forms. Imports neither torch nor onnx: the text is data until someone executes it.

The module reads as if a person wrote it: one attribute per netc node named after it (dots become
underscores), `forward` as straight-line code in the graph's order with add and concat as plain
expressions, each line commented with the .net line that made the node, and `reset_parameters`
giving netc's initialization. `state_names` maps netc's parameter names to the module's
state_dict keys, so netc's weights load with `load_state_dict(strict=True)`.
"""
from __future__ import annotations

import ast
import keyword
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ...spec.diagnostics import NetcError
from ..losses import LOSSES
from ..ops.base import Kernel
from ..ops.forms import TorchForm

HELPERS_FILE = Path(__file__).with_name("modules.py")

# Names an attribute or local variable of the generated module must not take (nn.Module's own
# attributes and the names model.py itself uses).
RESERVED = {"self", "x", "torch", "nn", "training", "forward", "train", "eval", "to", "cpu", "cuda",
            "type", "float", "double", "half", "apply", "parameters", "buffers", "modules",
            "children", "state_dict", "load_state_dict", "reset_parameters", "zero_grad", "loss",
            "extra_repr", "output", "target", "dump_patches", "call_super_init"}


class FormMissing(NetcError):
    """A node whose op has no faithful form in the target (`engine`: "PyTorch" or "ONNX"), located
    at the node's statement (`netc export` adds the file)."""

    def __init__(self, step, engine: str, reason: str | None):
        self.step, self.engine, self.reason = step, engine, reason
        super().__init__(f"{step.op} has no faithful {engine} form" + (f": {reason}" if reason else ""), step.span)


@dataclass(frozen=True)
class StateName:
    """One parameter or buffer in both naming schemes: netc's `hidden1.dense1.W` and the module's
    `hidden1_dense1.weight`; `transposed` when the torch tensor is the transpose of netc's array."""

    netc: str
    torch: str
    transposed: bool
    param: bool


def torch_forms(plan) -> list[TorchForm]:
    """Every step's torch form, in plan order; FormMissing for the first op that has none."""
    forms = []
    for step in plan.steps:
        if type(step.kernel).torch_form is Kernel.torch_form:
            raise FormMissing(step, "PyTorch", step.kernel.no_torch_reason)
        forms.append(step.kernel.torch_form())
    return forms


def identifiers(plan) -> list[str]:
    """A distinct Python identifier per step, from its node name: `hidden1.dense1` -> `hidden1_dense1`."""
    taken: set[str] = set()
    out = []
    for step in plan.steps:
        name = re.sub(r"\W", "_", step.name)
        if name[0].isdigit():
            name = "n_" + name
        while name in taken or name in RESERVED or keyword.iskeyword(name):
            name += "_"
        taken.add(name)
        out.append(name)
    return out


def class_name(model_name: str) -> str:
    """The module class's name: the model's name in CamelCase (`every_op` -> `EveryOp`)."""
    parts = [p for p in re.split(r"\W|_", model_name) if p]
    name = "".join(p[0].upper() + p[1:] for p in parts) or "Net"
    return name if name.isidentifier() and not name[0].isdigit() else "Net" + name


def state_names(plan) -> list[StateName]:
    """Every parameter and buffer of the plan under both names, in plan order."""
    idents = identifiers(plan)
    out = []
    for step, form, ident in zip(plan.steps, torch_forms(plan), idents):
        params = step.kernel.param_shapes()
        for key in (*params, *step.kernel.buffer_shapes()):
            out.append(StateName(f"{step.name}.{key}", f"{ident}.{form.names[key]}",
                                 key in form.transposed, key in params))
    return out


def _where(step) -> str:
    via = f" via {step.calls[0].line}" if step.calls else ""
    return f"line {step.span.line}{via}: {step.label}"


def _helper_sources(names: list[str]) -> list[str]:
    """The source of the named classes of modules.py, read without importing it (no torch here)."""
    text = HELPERS_FILE.read_text()
    classes = {n.name: ast.get_source_segment(text, n) for n in ast.parse(text).body
               if isinstance(n, ast.ClassDef)}
    return [classes[n] for n in names]


def module_source(plan, model_name: str, source_name: str, input_width: int, output_width: int) -> str:
    """The text of model.py for the plan: the helper classes it needs, the module class and a
    `loss(output, target)` function with the plan's loss. FormMissing for an op without a form."""
    forms = torch_forms(plan)
    idents = identifiers(plan)
    # flat rows in (an image input reshapes them); the output as the last node's shape
    input_width = math.prod(plan.steps[0].kernel.out_shape)
    output_width = ", ".join(map(str, plan.steps[-1].kernel.out_shape))
    cls = class_name(model_name)
    helpers: list[str] = []
    for f in forms:
        helpers += [h for h in f.helpers if h not in helpers]
    init, reset, body = [], [], []
    var = {}
    for step, form, ident in zip(plan.steps, forms, idents):
        where = _where(step)
        if not step.inputs:
            var[step.index] = "x"
            if form.call == "{0}":
                body.append(f"        # x: {step.name}, {where}")
            else:
                body.append(f"        x = {form.call.format('x')}  # {step.name}, {where}")
            continue
        args = [var[j] for j in step.inputs]
        if form.module is not None:
            init.append(f"        self.{ident} = {form.module}  # {where}")
            reset += [f"        {s.format(self=f'self.{ident}')}" for s in form.init]
        body.append(f"        {ident} = {form.call.format(*args, self=f'self.{ident}')}  # {where}")
        var[step.index] = ident
    loss = LOSSES[plan.loss].torch_code
    lines = [
        f'"""The network `{model_name}` of {source_name} as a PyTorch module, written by `netc export`.',
        "",
        "One attribute per node of netc's graph, named after it (dots become underscores); forward",
        "runs the nodes in the graph's order, and each line's comment is the .net line that made it.",
        "Load netc's weights with model.load_state_dict(safetensors.torch.load_file(",
        "'weights.safetensors'), strict=True); model.eval() for evaluation mode.",
        '"""',
        "import torch",
        "from torch import nn",
        "", "",
    ]
    for h in _helper_sources(helpers):
        lines += [h, "", ""]
    lines += [
        f"class {cls}(nn.Module):",
        f'    """{model_name}: (B, {input_width}) -> (B, {output_width}); the loss ({plan.loss}) is `loss` below."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
        *init,
        "        self.reset_parameters()",
        "",
        "    def reset_parameters(self):",
        '        """netc\'s initialization: its distributions, drawn with torch\'s generator (netc\'s own',
        '        draws are in weights.safetensors)."""',
        *(reset or ["        pass"]),
        "",
        "    def forward(self, x):",
        f'        """x: (B, {input_width}) -> (B, {output_width})."""',
        *body,
        f"        return {var[len(plan.steps) - 1]}",
        "", "",
        "def loss(output, target):",
        f'    """netc\'s `loss {plan.loss}` of the module\'s output and the targets (mean over the batch)."""',
        f"    return {loss}",
        "",
    ]
    return "\n".join(lines)


def to_torch_state(names: list[StateName], state: dict) -> dict:
    """netc's parameters and buffers (by netc name) as the module's state_dict entries (arrays,
    transposed where the module stores the transpose)."""
    return {n.torch: (state[n.netc].T if n.transposed else state[n.netc]) for n in names}


def to_netc_state(names: list[StateName], state: dict) -> dict:
    """The inverse of to_torch_state: the module's entries under netc's names, in netc's layout."""
    return {n.netc: (state[n.torch].T if n.transposed else state[n.torch]) for n in names}
