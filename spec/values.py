"""Evaluating argument expressions and checking values against the schema's parameter types."""
from __future__ import annotations

import math
from typing import Any, Mapping

from . import ast
from .diagnostics import NetcError, Span, did_you_mean
from .schema import P


class Symbol(str):
    """A bare identifier used as a value: an option name (`he`), `true`/`false`, a node name."""


class Text(str):
    """A string literal."""


class ValueError_(NetcError):
    """A value that cannot be evaluated or does not fit its parameter (at `span`)."""

    def __init__(self, message: str, span: Span, hint: str | None = None):
        super().__init__(message, span, hint)


# A block parameter's binding: its value and the span of the argument that gave it, so an error
# about a bad value points at the call site that passed it.
Env = Mapping[str, tuple[Any, Span]]


def _short(n: int) -> str:
    text = str(n)
    return text if len(text) <= 24 else f"{text[:10]}...{text[-4:]} ({len(text)} digits)"


def evaluate(expr: ast.Expr, env: Env) -> tuple[Any, Span]:
    """The value of an expression and the span to blame for it; raises ValueError_."""
    if isinstance(expr, ast.Number):
        if isinstance(expr.value, int) and abs(expr.value) > 10**15:  # as for arithmetic below
            raise ValueError_(f"the integer {_short(expr.value)} is out of range", expr.span,
                              "integers go up to 10**15; write a large value as a real number, e.g. 1e30")
        if not math.isfinite(expr.value):
            raise ValueError_(f"number {expr.value} is out of range", expr.span)
        return expr.value, expr.span
    if isinstance(expr, ast.String):
        return Text(expr.value), expr.span
    if isinstance(expr, ast.Ident):
        if expr.name in env:
            return env[expr.name]
        if expr.name in ("true", "false"):
            return expr.name == "true", expr.span
        return Symbol(expr.name), expr.span
    if isinstance(expr, ast.TupleExpr):
        return tuple(evaluate(i, env)[0] for i in expr.items), expr.span
    if isinstance(expr, ast.Neg):
        v = _number(evaluate(expr.operand, env), "-", expr.operand.span, env)
        return -v, expr.span
    if isinstance(expr, ast.BinOp):
        a = _number(evaluate(expr.left, env), expr.op, expr.left.span, env)
        b = _number(evaluate(expr.right, env), expr.op, expr.right.span, env)
        if expr.op == "/" and b == 0:
            raise ValueError_("division by zero", expr.right.span)
        result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[expr.op]()
        if isinstance(result, float) and not math.isfinite(result):
            raise ValueError_("arithmetic result is out of range", expr.span)
        if isinstance(result, int) and abs(result) > 10**15:
            raise ValueError_("arithmetic result is out of range", expr.span)
        return result, expr.span
    raise AssertionError(expr)


def _number(value_span: tuple[Any, Span], op: str, span: Span, env: Env):
    value, _ = value_span
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = None
        if isinstance(value, Symbol):
            hint = did_you_mean(value, env.keys()) if env else "only numbers and block parameters take arithmetic"
        raise ValueError_(f"'{op}' needs numbers, but {describe_value(value)} is not a number", span, hint)
    return value


def describe_value(value: Any) -> str:
    """A value as the user wrote it, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Text):
        return f'"{value}"'
    if isinstance(value, Symbol):
        return f"'{value}'"
    if isinstance(value, tuple):
        return "(" + ", ".join(describe_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def coerce(param: P, value: Any, span: Span, context: str) -> Any:
    """`value` converted to the parameter's type and checked against its range; raises ValueError_.

    `context` names the statement for the message ("dropout: p must be ...").
    """
    def bad(expected: str | None = None, hint: str | None = None):
        what = expected or param.describe()
        return ValueError_(f"{context}: {param.name} must be {what}, got {describe_value(value)}", span,
                           hint)

    t = param.type
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if isinstance(value, float):
            if not value.is_integer():
                raise bad()
            value = int(value)
        _check_range(param, value, bad)
        return value
    if t == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        value = float(value)
        _check_range(param, value, bad)
        return value
    if t == "bool":
        if isinstance(value, bool):
            return value
        raise bad()
    if t == "choice_int":  # one of the choices, or an integer in range (conv's pad=)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not value.is_integer():
                raise bad()
            _check_range(param, int(value), bad)
            return int(value)
        if isinstance(value, str) and value in param.choices:
            return str(value)
        raise bad(hint=did_you_mean(value, param.choices) if isinstance(value, str) else None)
    if t == "choice":
        if isinstance(value, bool) and "true" in param.choices:
            return "true" if value else "false"
        if isinstance(value, str) and value in param.choices:
            return str(value)
        hint = did_you_mean(value, param.choices) if isinstance(value, str) else None
        raise bad(hint=hint)
    if t == "string":
        if isinstance(value, Text):
            return str(value)
        hint = f'write it in double quotes: "{value}"' if isinstance(value, Symbol) else None
        raise bad(hint=hint)
    if t == "floats":
        if not isinstance(value, tuple) or len(value) != param.length:
            raise bad()
        items = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise bad()
            _check_range(param, float(v), bad)
            items.append(float(v))
        return tuple(items)
    if t == "word":
        if isinstance(value, (Text, Symbol)):
            return str(value)
        raise bad()
    if t == "node":
        if isinstance(value, Symbol):
            return str(value)
        raise bad()
    raise AssertionError(t)


def _check_range(param: P, value, bad) -> None:
    if param.min is not None and (value < param.min or (param.min_open and value == param.min)):
        raise bad()
    if param.max is not None and (value > param.max or (param.max_open and value == param.max)):
        raise bad()
