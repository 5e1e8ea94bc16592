"""Model expansion: block calls and `repeat` unrolled, names given, `add`/`concat` resolved.

The result is the flat stream of layers the compiler turns into a graph, each layer carrying the
span of the statement that made it and the spans of the block calls it came through.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import ast
from .bind import bind, evaluate_args
from .diagnostics import Collector, Span, closest, did_you_mean
from .schema import ALIASES, DROPOUT_DEFAULT_P, STATEMENTS, lookup
from .values import ValueError_, evaluate

MAX_NODES = 100_000


@dataclass(frozen=True)
class Layer:
    """One node of the expanded model."""

    name: str                 # full node name: 'dense1', 'hidden1.dense1', 'h1'
    op: str                   # the op (a key of the runtime's kernel registry)
    attrs: dict[str, Any]     # every parameter of the op, defaults filled in
    span: Span                # the statement that made it
    calls: tuple[Span, ...]   # the block-call statements it came through, outermost first
    group: str                # the block-call path: '' at top level, 'hidden1', 'res1.hidden1'
    ref: str | None = None    # add/concat: the full name of the other input
    ref_span: Span | None = None


@dataclass
class _Scope:
    prefix: str
    env: dict
    calls: tuple[Span, ...]
    parent: "_Scope | None" = None
    counters: Counter = field(default_factory=Counter)


class _TooBig(Exception):
    pass


class Expander:
    """Expands one model section against the file's blocks, recording errors in `errors`."""

    def __init__(self, blocks: dict[str, ast.Section], errors: Collector):
        self.blocks = blocks
        self.errors = errors
        self.layers: list[Layer] = []
        self.nodes: dict[str, Span] = {}          # full node name -> span of its statement
        self.call_outputs: dict[str, str] = {}    # full call name -> full name of its last node
        self.claimed: dict[str, Span] = {}       # every node and call name -> its span
        self.pending_refs: list[tuple[_Scope, str, Span, str, list[str]]] = []
        self.stack: list[str] = []
        self.expanded: set[str] = set()           # the blocks a call expanded (their bodies checked)

    def expand(self, model: ast.Section) -> list[Layer]:
        """The model's layers in stream order."""
        scope = _Scope(prefix="", env={}, calls=())
        try:
            self._body(model.body, scope)
        except _TooBig:
            self.errors.error(f"the model expands to more than {MAX_NODES} nodes", model.kind_span,
                              "check the repeat counts")
            return self.layers
        self._check_input(model)
        self._report_unresolved()
        for block in self.blocks.values():
            if block.name not in self.expanded:
                self._misspelt_parameters(block, block.body)
        return self.layers

    # --- statements --------------------------------------------------------------------------

    def _body(self, body: tuple[ast.Statement, ...], scope: _Scope) -> None:
        for stmt in body:
            if stmt.keyword == "repeat":
                self._repeat(stmt, scope)
            elif stmt.keyword in self.blocks and lookup("model", stmt.keyword) is None:
                self._call(stmt, scope)
            else:
                self._layer(stmt, scope)

    def _repeat(self, stmt: ast.Statement, scope: _Scope) -> None:
        call = bind(stmt, STATEMENTS["model"]["repeat"], scope.env, self.errors)
        if stmt.alias is not None:
            self.errors.error("repeat cannot be named with 'as'", stmt.alias_span,
                              "put the statements in a block and name the block call")
        if stmt.body is None:
            self.errors.error("repeat needs a { } body", stmt.keyword_span, "e.g. repeat 3 { dense 64; relu }")
            return
        if call is None:
            return
        for _ in range(call.values["count"]):
            before = len(self.errors.items)
            self._body(stmt.body, scope)
            if len(self.errors.items) > before:
                break  # the same mistakes would repeat on every pass

    def _call(self, stmt: ast.Statement, scope: _Scope) -> None:
        block = self.blocks[stmt.keyword]
        if stmt.body is not None:
            self.errors.error(f"a call of block '{block.name}' takes no {{ }} body", stmt.body_span)
        if block.name in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(block.name):] + [block.name])
            self.errors.error(f"recursive block call: {chain}", stmt.keyword_span,
                              "a block cannot call itself, directly or through other blocks")
            return
        env = self._bind_block(stmt, block, scope)
        full = self._name(stmt, scope, block.name)
        if full is None:
            return
        if env is None:
            return
        inner = _Scope(prefix=full + ".", env=env, calls=scope.calls + (stmt.span,), parent=scope)
        self.stack.append(block.name)
        self.expanded.add(block.name)
        self._body(block.body, inner)
        self.stack.pop()
        if self.layers:  # an empty block's output is the stream it was given
            self.call_outputs[full] = self.layers[-1].name

    def _bind_block(self, stmt: ast.Statement, block: ast.Section, scope: _Scope) -> dict | None:
        """The block's parameters bound from the call's arguments, or None if they don't fit."""
        args = evaluate_args(stmt, scope.env, self.errors)
        if args is None:
            return None
        positional, keywords = args
        params = block.params or ()
        names = [p.name for p in params]
        env, ok = {}, True
        if len(positional) > len(params):
            self.errors.error(f"block '{block.name}' takes {len(params)} positional argument"
                              f"{'s' if len(params) != 1 else ''} ({', '.join(names) or 'none'}), "
                              f"got {len(positional)}", positional[len(params)][1],
                              f"the block is declared at line {block.span.line}")
            ok = False
        for p, value_span in zip(params, positional):
            env[p.name] = value_span
        for key, (value, span, name_span) in keywords.items():
            if key not in names:
                self.errors.error(f"unknown argument '{key}' for block '{block.name}'", name_span,
                                  did_you_mean(key, names) if names else "the block takes no arguments")
                ok = False
            elif key in env:
                self.errors.error(f"block '{block.name}': {key} is given twice", name_span)
                ok = False
            else:
                env[key] = (value, span)
        for p in params:
            if p.name in env:
                continue
            if p.default is None:
                self.errors.error(f"block '{block.name}' needs argument '{p.name}'", stmt.keyword_span,
                                  f"the block is declared at line {block.span.line}: "
                                  f"block {block.name}({', '.join(names)})")
                ok = False
            else:
                try:
                    env[p.name] = evaluate(p.default, {})
                except ValueError_:
                    ok = False  # reported when the block definition is checked
        return env if ok else None

    def _layer(self, stmt: ast.Statement, scope: _Scope) -> None:
        schema = lookup("model", stmt.keyword)
        if schema is None:
            self._unknown(stmt)
            return
        if stmt.body is not None:
            self.errors.error(f"{stmt.keyword} takes no {{ }} body", stmt.body_span,
                              "only repeat and sections have a body")
        call = bind(stmt, schema, scope.env, self.errors)
        op = schema.keyword
        if op == "input" and (scope.parent is not None or self.layers):
            scope.counters[op] += 1
            self.errors.error("input must be the model's first statement", stmt.keyword_span)
            return
        full = self._name(stmt, scope, op, unnamed="input" if op == "input" else None)
        if full is None:
            return
        if call is None:
            return
        attrs = dict(call.values)
        ref = None
        if "keep" in attrs:  # dropout, dropout2d: P or keep=
            attrs = self._dropout(attrs, call)
            if attrs is None:
                return
        if op in ("add", "concat"):
            ref = self._resolve(attrs["node"], scope)
            if ref is None:
                self.pending_refs.append((scope, attrs["node"], call.spans["node"], op,
                                          self._visible_names(scope)))
                return
        self.nodes[full] = stmt.span
        self.layers.append(Layer(full, op, attrs, stmt.span, scope.calls, scope.prefix[:-1], ref,
                                 call.spans.get("node")))
        if len(self.layers) > MAX_NODES:
            raise _TooBig()

    def _misspelt_parameters(self, block: ast.Section, body) -> None:
        """In a block no call expanded (each call had a mistake, or there is none), the misspelt
        parameters (`dense widht` where the block takes width) found anyway, so they are reported
        with the file's other mistakes, not after those are fixed: each statement holding a bare
        name close to a parameter is bound without the parameters' values, and only the errors
        at those names are kept (the others would be about the missing values)."""
        params = [p.name for p in block.params or ()]
        for stmt in body or ():
            if stmt.keyword == "repeat":
                self._misspelt_parameters(block, stmt.body)
                continue
            schema = lookup("model", stmt.keyword)
            bare = {(a.value if isinstance(a, ast.Keyword) else a) for a in stmt.args}
            suspects = {e.span for e in bare if isinstance(e, ast.Ident) and e.name not in params
                        and closest(e.name, params)}
            if schema is None or not suspects or stmt.keyword in self.blocks:
                continue
            scratch = Collector()
            bind(stmt, schema, {}, scratch, names=params)
            self.errors.items += [d for d in scratch.items if d.span in suspects]

    def _dropout(self, attrs: dict, call) -> dict | None:
        p, keep = attrs.pop("p"), attrs.pop("keep")
        if p is not None and keep is not None:
            self.errors.error(f"{call.keyword}: give either P (the drop probability) or keep=, not both",
                              call.spans["keep"])
            return None
        attrs["p"] = 1.0 - keep if keep is not None else (DROPOUT_DEFAULT_P if p is None else p)
        return attrs

    def _unknown(self, stmt: ast.Statement) -> None:
        for section in ("data", "train"):
            if stmt.keyword in STATEMENTS[section]:
                # `regularize activity l1=V`: the model's own form is the statement `activity`
                first = stmt.positional[0] if stmt.positional else None
                hint = None
                if isinstance(first, ast.Ident) and lookup("model", first.name) is not None:
                    hint = f"in the model, {first.name} is a statement of its own: write '{first.name} ...'"
                self.errors.error(f"'{stmt.keyword}' belongs in the {section} section, not in the model",
                                  stmt.keyword_span, hint)
                return
        known = list(STATEMENTS["model"]) + list(ALIASES) + list(self.blocks)
        self.errors.error(f"unknown model statement '{stmt.keyword}'", stmt.keyword_span,
                          did_you_mean(stmt.keyword, known))

    # --- names -------------------------------------------------------------------------------

    def _name(self, stmt: ast.Statement, scope: _Scope, kind: str, unnamed: str | None = None) -> str | None:
        """The full name of a node or block call: `as NAME`, else its kind and position in the
        scope (every statement of that kind counts, named or not); None if the name is taken."""
        scope.counters[kind] += 1
        local = stmt.alias or unnamed or f"{kind}{scope.counters[kind]}"
        full = scope.prefix + local
        return full if self._claim(full, stmt.alias_span or stmt.keyword_span) else None

    def _claim(self, full: str, span: Span) -> bool:
        """Reserve a node or call name; an error if it is taken."""
        taken = self.claimed.get(full)
        if taken is not None:
            self.errors.error(f"the name '{full}' is already used", span,
                              f"first used at line {taken.line}; pick another name with 'as'")
            return False
        self.claimed[full] = span
        return True

    def _resolve(self, name: str, scope: _Scope) -> str | None:
        s = scope
        while s is not None:
            full = s.prefix + name
            if full in self.nodes:
                return full
            if full in self.call_outputs:
                return self.call_outputs[full]
            s = s.parent
        return None

    def _visible_names(self, scope: _Scope) -> list[str]:
        """The names `add`/`concat` could use at this point, as they would be written there."""
        names, s = [], scope
        while s is not None:
            names += [n[len(s.prefix):] for n in (*self.nodes, *self.call_outputs) if n.startswith(s.prefix)]
            s = s.parent
        return names

    def _report_unresolved(self) -> None:
        for scope, name, span, op, earlier in self.pending_refs:
            later = self._resolve(name, scope)
            if later is not None:
                self.errors.error(f"{op} refers to '{name}', which comes later in the model", span,
                                  f"{op} can only use an earlier node ('{name}' is at line "
                                  f"{self.nodes[later].line})")
            else:
                hint = did_you_mean(name, earlier) if earlier else "no earlier node can be used here"
                self.errors.error(f"{op} refers to unknown node '{name}'", span, hint)

    def _check_input(self, model: ast.Section) -> None:
        if not any(layer.op == "input" for layer in self.layers) and not any(
                s.keyword == "input" for s in model.body):
            self.errors.error("the model has no input statement", model.name_span or model.kind_span,
                              "start the model with 'input N', N the number of input features")
