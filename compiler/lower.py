"""Lowering: the compiled graph to a Plan, a flat list of steps each bound to its kernel.

The plan is what the runtime executes: step i reads the outputs of earlier steps (`inputs`, the
stream first) and carries the span of the statement that made it, so run-time errors and the
debugger point at the user's line.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..runtime.ops import Kernel
from ..spec.diagnostics import Span
from .render import op_label


@dataclass(frozen=True)
class Step:
    """One node of the plan: its kernel and the indices of the steps it reads."""

    index: int
    name: str
    op: str
    kernel: Kernel
    inputs: tuple[int, ...]
    span: Span
    calls: tuple[Span, ...]
    label: str  # the op as written: 'dense 128 init=xavier'


@dataclass(frozen=True)
class Plan:
    """The executable form of a network: steps in execution order and the loss's name."""

    steps: tuple[Step, ...]
    loss: str
    source_name: str

    def index(self, name: str) -> int:
        """The position of the node `name` in the plan; KeyError if there is none."""
        for step in self.steps:
            if step.name == name:
                return step.index
        raise KeyError(name)

    def __str__(self) -> str:
        """A readable listing: `%3 hidden1.relu1 = relu <- %2    # line 11 via 17`."""
        rows = []
        for s in self.steps:
            args = ", ".join(f"%{i}" for i in s.inputs) or "x"
            where = f"line {s.span.line}" + (f" via {s.calls[0].line}" if s.calls else "")
            rows.append(f"%{s.index} {s.name} = {s.label} <- {args}".ljust(60) + f"  # {where}")
        rows.append(f"loss = {self.loss}(%{len(self.steps) - 1}, y)")
        return "\n".join(rows)


def lower(network, loss: str | None = None) -> Plan:
    """The lower pass: the network's graph as a Plan (each node's kernel, built by the shapes pass
    and bound to its input shapes), with the train section's loss unless `loss` overrides it."""
    g = network.graph
    position = {name: i for i, name in enumerate(network.order)}
    steps = []
    for i, name in enumerate(network.order):
        a = g.nodes[name]
        inputs = tuple(position[p] for p in a["inputs"])  # the stream first, as the kernel was built
        kernel = a["kernel"]
        steps.append(Step(i, name, a["op"], kernel, inputs, a["span"], a["calls"], op_label(a)))
    return Plan(tuple(steps), loss or network.train.loss, network.source.name)
