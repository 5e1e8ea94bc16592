"""Binding a statement's arguments to its schema entry: positional and keyword parameters, variants,
defaults; every problem recorded as a diagnostic."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ast
from .diagnostics import Collector, Span, closest, did_you_mean
from .schema import MODEL, P, Stmt
from .values import Env, Symbol, Text, ValueError_, coerce, evaluate


@dataclass(frozen=True)
class Call:
    """A statement bound to its schema: canonical keyword, variant, every parameter's value (defaults
    filled in) and the span each value came from."""

    keyword: str
    variant: str | None
    values: dict[str, Any]
    spans: dict[str, Span] = field(default_factory=dict)
    stmt: ast.Statement | None = None


def evaluate_args(stmt: ast.Statement, env: Env, errors: Collector):
    """Evaluate a statement's arguments: ([(value, span)], {name: (value, span, name_span)}), or None
    if any failed (each failure recorded). Also checks that positionals come first and that no
    keyword is given twice."""
    positional, keywords, ok, seen_keyword = [], {}, True, False
    for arg in stmt.args:
        try:
            if isinstance(arg, ast.Keyword):
                seen_keyword = True
                value, span = evaluate(arg.value, env)
                if arg.name in keywords:
                    errors.error(f"{stmt.keyword}: parameter '{arg.name}' is given twice", arg.name_span)
                    ok = False
                keywords[arg.name] = (value, span, arg.name_span)
            else:
                if seen_keyword:
                    errors.error(f"{stmt.keyword}: positional argument after a name=value parameter",
                                 arg.span, "positional arguments come first")
                    ok = False
                positional.append(evaluate(arg, env))
        except ValueError_ as e:
            errors.error(e.message, e.span, e.hint)
            ok = False
    return (positional, keywords) if ok else None


def bind(stmt: ast.Statement, schema: Stmt, env: Env, errors: Collector, names=None) -> Call | None:
    """The statement's arguments checked against `schema`; None (with errors recorded) if they don't fit.
    A bare name that does not fit and is close to one of `names` (by default the block parameters
    in `env`) gets a did-you-mean naming that parameter: `dense widht` in a block taking width."""
    args = evaluate_args(stmt, env, errors)
    if args is None:
        return None
    positional, keywords = args
    name = schema.keyword
    variant = None
    pos_params, kw_params = schema.positional, schema.keywords
    if schema.variants is not None:
        kinds = [k for k in schema.variants if k != "path"]
        if not positional:
            errors.error(f"{name} needs a kind: one of {', '.join(kinds)}", stmt.keyword_span)
            return None
        (head, head_span), positional = positional[0], positional[1:]
        if isinstance(head, Text) and "path" in schema.variants:
            variant = "path"
            positional = [(head, head_span)] + positional
            v = schema.variants["path"]
            pos_params, kw_params = (P("path", "string", doc="file path"),) + v.positional, v.keywords
        elif isinstance(head, Symbol) and head in schema.variants and head != "path":
            variant = str(head)
            pos_params, kw_params = schema.variants[variant].positional, schema.variants[variant].keywords
        else:
            hint = did_you_mean(head, kinds) if isinstance(head, Symbol) else "expected one of: " + ", ".join(kinds)
            if "path" in schema.variants and isinstance(head, Symbol):
                hint = (hint or "") + ' (a file path is a string: "data.csv")'
            if isinstance(head, Symbol) and schema.section != "model" and str(head) in MODEL_KEYWORDS:
                hint = (f"'{head}' is a model statement: write '{head} ...' in the model, after the "
                        "node it applies to")
            errors.error(f"unknown {name} kind '{head!s}'" if isinstance(head, Symbol)
                         else f"{name} needs a kind first", head_span, hint)
            return None
    context = name if variant is None or variant == "path" else f"{name} {variant}"
    params = tuple(env) if names is None else tuple(names)
    return _fill(stmt, context, pos_params, kw_params, positional, keywords, errors, variant, name, params)


MODEL_KEYWORDS = frozenset(s.keyword for s in MODEL)  # a train kind named like one is a misplaced model op


def _fill(stmt, context, pos_params, kw_params, positional, keywords, errors, variant, name, params=()):
    values, spans, ok, tried = {}, {}, True, set()
    if len(positional) > len(pos_params):
        extra_span = positional[len(pos_params)][1]
        takes = ", ".join(p.name for p in pos_params) or "none"
        errors.error(f"{context} takes {len(pos_params)} positional argument"
                     f"{'s' if len(pos_params) != 1 else ''} ({takes}), got {len(positional)}",
                     extra_span, "use name=value for the other parameters" if kw_params else None)
        ok = False
    for param, (value, span) in zip(pos_params, positional):
        tried.add(param.name)
        ok &= _put(param, value, span, context, values, spans, errors, params)
    by_name = {p.name: p for p in (*pos_params, *kw_params)}
    for key, (value, span, name_span) in keywords.items():
        param = by_name.get(key)
        if param is None:
            hint = did_you_mean(key, [p.name for p in kw_params]) if kw_params else None
            owners = [s for s in MODEL if any(p.name == key for p in s.keywords)] if name in MODEL_KEYWORDS else []
            if hint is None and owners:  # `relu dropconnect=0.5`: say which statements have it
                doc = next(p.doc for p in owners[0].keywords if p.name == key)
                hint = f"{key}= is a parameter of {', '.join(s.keyword for s in owners)} ({doc}), not of {context}"
            hint = hint or (f"{context} takes no name=value parameters" if not kw_params else None)
            errors.error(f"unknown parameter '{key}' for {context}", name_span, hint)
            ok = False
            continue
        if param.name in values:
            errors.error(f"{context}: {key} is given twice", name_span)
            ok = False
            continue
        tried.add(param.name)
        ok &= _put(param, value, span, context, values, spans, errors, params)
    for param in (*pos_params, *kw_params):
        if param.name not in values and param.name not in tried:
            if param.required:
                errors.error(f"{context} needs {param.name} ({param.describe()})", stmt.keyword_span,
                             f"e.g. {_example(context, param, param in pos_params)}")
                ok = False
            else:
                values[param.name] = param.default
    return Call(name, variant, values, spans, stmt) if ok else None


def _put(param, value, span, context, values, spans, errors, params=()) -> bool:
    try:
        values[param.name] = coerce(param, value, span, context)
        spans[param.name] = span
        return True
    except ValueError_ as e:
        hint = e.hint
        close = closest(value, params) if isinstance(value, Symbol) and params else None
        if close and not (hint or "").startswith("did you mean"):  # an option's own name wins
            hint = f"did you mean '{close}'? (a parameter of the block)"
        errors.error(e.message, e.span, hint)
        return False


def _example(context: str, param: P, positional: bool) -> str:
    sample = {"int": "1", "float": "0.1", "bool": "true", "string": '"file"', "node": "h1",
              "floats": "(0.9, 0.999)"}.get(param.type, param.choices[0] if param.choices else "1")
    if param.type == "int" and param.name in ("units", "features"):
        sample = "128"
    return f"{context} {sample}" if positional else f"{context} {param.name}={sample}"
