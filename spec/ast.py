"""The AST: frozen dataclasses, each carrying the span of the text it came from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .diagnostics import Source, Span


@dataclass(frozen=True)
class Number:
    span: Span
    value: Union[int, float]


@dataclass(frozen=True)
class String:
    span: Span
    value: str


@dataclass(frozen=True)
class Ident:
    """A bare name: a block parameter, an option (`he`), `true`/`false`, or a node name."""

    span: Span
    name: str


@dataclass(frozen=True)
class TupleExpr:
    span: Span
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class BinOp:
    span: Span
    op: str  # + - * /
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Neg:
    span: Span
    operand: "Expr"


Expr = Union[Number, String, Ident, TupleExpr, BinOp, Neg]


@dataclass(frozen=True)
class Keyword:
    """A `name=value` argument."""

    span: Span
    name: str
    name_span: Span
    value: Expr


Arg = Union[Expr, Keyword]


@dataclass(frozen=True)
class Statement:
    """`keyword positional* name=value* [as NAME] [{ body }]`."""

    span: Span
    keyword: str
    keyword_span: Span
    args: tuple[Arg, ...]
    alias: str | None
    alias_span: Span | None
    body: tuple["Statement", ...] | None
    body_span: Span | None

    @property
    def positional(self) -> tuple[Expr, ...]:
        return tuple(a for a in self.args if not isinstance(a, Keyword))

    @property
    def keywords(self) -> tuple[Keyword, ...]:
        return tuple(a for a in self.args if isinstance(a, Keyword))


@dataclass(frozen=True)
class Param:
    """A block parameter, with its default value if it has one."""

    span: Span
    name: str
    default: Expr | None


@dataclass(frozen=True)
class Section:
    """`model NAME {...}`, `data {...}`, `train {...}` or `block NAME(params) {...}`."""

    span: Span
    kind: str
    kind_span: Span
    name: str | None
    name_span: Span | None
    params: tuple[Param, ...] | None
    body: tuple[Statement, ...]


@dataclass(frozen=True)
class SpecFile:
    source: Source
    sections: tuple[Section, ...]
