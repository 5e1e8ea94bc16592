"""Breakpoints on nodes and on their statistics: `dense2`, `dense2:grad_norm>10`,
`relu1:zero_frac>0.9`, `*:var<1e-8`. A condition is checked in the phase its statistic belongs
to: activation statistics after a node's forward, gradient statistics after its backward."""
from __future__ import annotations

import fnmatch
import operator
import re
from dataclasses import dataclass

from ..spec.diagnostics import NetcError

FORWARD_STATS = ("mean", "var", "std", "min", "max", "zero_frac", "saturated_frac")
BACKWARD_STATS = ("grad_mean", "grad_var", "grad_norm")
OPS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq,
       "!=": operator.ne}
_COND = re.compile(r"^\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*([-+0-9.eE]+|nan|inf)\s*$")


class BreakpointError(NetcError, ValueError):
    """A breakpoint that cannot be read: the message says what is expected."""


@dataclass(frozen=True)
class Breakpoint:
    """Stop at nodes matching `pattern` (a name or glob); with a condition, only when it holds."""

    pattern: str
    stat: str | None = None
    op: str | None = None
    value: float | None = None

    @property
    def phase(self) -> str:
        """'forward' or 'backward': when the condition is checked (plain breakpoints: forward)."""
        return "backward" if self.stat in BACKWARD_STATS else "forward"

    def matches(self, node: str) -> bool:
        """Whether the breakpoint applies to node `node`."""
        return node == self.pattern or fnmatch.fnmatchcase(node, self.pattern)

    def hit(self, node: str, phase: str, stats: dict) -> bool:
        """Whether the run should pause at `node` in `phase` given the node's statistics."""
        if phase != self.phase or not self.matches(node):
            return False
        if self.stat is None:
            return True
        v = stats.get(self.stat)
        return v is not None and OPS[self.op](v, self.value)

    def __str__(self) -> str:
        return self.pattern if self.stat is None else f"{self.pattern}:{self.stat}{self.op}{self.value:g}"


def parse_breakpoint(text: str, nodes: list[str] | None = None) -> Breakpoint:
    """`NODE` or `NODE:STAT OP NUMBER`; with `nodes`, a pattern matching none is an error."""
    pattern, sep, cond = text.partition(":")
    pattern = pattern.strip()
    if not pattern:
        raise BreakpointError(f"breakpoint {text!r}: name a node (or * for all)")
    if nodes is not None and not any(n == pattern or fnmatch.fnmatchcase(n, pattern) for n in nodes):
        import difflib
        close = difflib.get_close_matches(pattern, nodes, n=1)
        raise BreakpointError(f"breakpoint {text!r}: no node named {pattern!r}" +
                              (f"; did you mean {close[0]!r}?" if close else ""),
                              hint="nodes: " + ", ".join(nodes))
    if not sep:
        return Breakpoint(pattern)
    m = _COND.match(cond)
    if not m:
        raise BreakpointError(f"breakpoint {text!r}: write a condition like grad_norm>10 or zero_frac>0.9",
                              hint="NODE:STAT OP NUMBER, with OP one of " + " ".join(OPS))
    stat, op, value = m.groups()
    if stat not in FORWARD_STATS + BACKWARD_STATS:
        import difflib
        close = ([s for s in FORWARD_STATS + BACKWARD_STATS if s.startswith(stat)][:1]
                 or difflib.get_close_matches(stat, FORWARD_STATS + BACKWARD_STATS, n=1, cutoff=0.5))
        raise BreakpointError(f"breakpoint {text!r}: unknown statistic {stat!r}" +
                              (f"; did you mean {close[0]!r}?" if close else ""),
                              hint="statistics: " + ", ".join(FORWARD_STATS + BACKWARD_STATS))
    return Breakpoint(pattern, stat, op, float(value))
