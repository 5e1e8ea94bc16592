"""Text to AST: the Lark LALR parser, syntax errors turned into netc diagnostics."""
from __future__ import annotations

import functools
import re
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import ast
from .diagnostics import Collector, Diagnostic, Source, Span, SpecError

MAX_SYNTAX_ERRORS = 20
# Python refuses to convert longer digit strings (int_max_str_digits, CVE-2020-10735); no
# setting of a network needs an integer of more than a few digits.
MAX_INT_DIGITS = 4300

# What a terminal is called in a message ("expected a value").
TERMINAL_NAMES = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "LBRACE": "'{'", "RBRACE": "'}'",
    "_NL": "a newline", "SEMICOLON": "';'", "LPAR": "'('", "RPAR": "')'", "EQUAL": "'='",
    "COMMA": "','", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "AS": "'as'",
    "$END": "the end of the file",
}
VALUE_TERMINALS = {"NAME", "NUMBER", "STRING", "LPAR", "MINUS", "PLUS"}


@functools.lru_cache(maxsize=2)
def _parser(start: str = "start") -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True, start=start)


def parse_value(text: str) -> ast.Expr | None:
    """Exactly one value written as in a .net file (`0.01`, `adam`, `(0.9, 0.99)`, `"f.npz"`,
    `width * 2`), by the file's own grammar; None when `text` is anything else or anything more
    (a `;`, a newline, a brace, a comment, a second value)."""
    text = text.strip(" \t")
    try:
        tree = _parser("expr").parse(text)
    except UnexpectedInput:
        return None
    # the lexer skips comments: a value must end where the text ends
    if not isinstance(tree, Tree) or tree.meta.end_pos != len(text):
        return None
    try:
        return _expr(tree)
    except _LiteralError:  # an integer of thousands of digits is no value of any setting
        return None


def canonical_text(text: str) -> str | None:
    """The spec's tokens without its layout: one line per statement, tokens separated by one
    space, no comments. Two texts that differ only in comments, blank lines, indentation, spaces,
    line endings (CRLF) or `;` against a newline give the same string; any other change gives
    another. None when the text does not lex (it is not a spec)."""
    lines, line = [], []
    try:
        for tok in _parser().lex(text):
            if tok.type in ("_NL", "SEMICOLON"):
                if line:
                    lines.append(" ".join(line))
                    line = []
            else:
                line.append(str(tok))
    except UnexpectedInput:
        return None
    if line:
        lines.append(" ".join(line))
    return "\n".join(lines)


def parse(source: Source) -> ast.SpecFile:
    """Parse a spec's text into an AST; raises SpecError with every syntax error found."""
    errors = Collector()
    seen: set = set()

    def on_error(e: UnexpectedInput) -> bool:
        # One error per line and per cause: a mistake often trips the parser on the next tokens too.
        anchor = _previous_nonblank(source.text, e.pos_in_stream)
        if e.line not in seen and ("anchor", anchor) not in seen:
            errors.items.append(_describe(e, source))
        seen.update({e.line, ("anchor", anchor)})
        if isinstance(e, UnexpectedToken):
            if e.token.type == "$END":
                return False
            if anchor >= 0 and source.text[anchor] == "=" and "NUMBER" in e.expected:
                # Recover from a dangling '=' by supplying a value, then retry the token.
                e.interactive_parser.feed_token(Token.new_borrow_pos("NUMBER", "0", e.token))
                e.interactive_parser.feed_token(e.token)
        return len(errors.items) < MAX_SYNTAX_ERRORS

    try:
        tree = _parser().parse(source.text, on_error=on_error)
    except UnexpectedInput as e:  # unrecoverable (end of file): already recorded by on_error
        if not errors.items:
            errors.items.append(_describe(e, source))
        tree = None
    if errors.items or tree is None:
        raise SpecError(errors.items, source)
    try:
        return ast.SpecFile(source, tuple(_section(t) for t in tree.children))
    except _LiteralError as e:
        raise SpecError([e.diagnostic], source) from None


class _LiteralError(Exception):
    """A literal the AST cannot hold (an integer of thousands of digits), with its diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _describe(e: UnexpectedInput, source: Source) -> Diagnostic:
    """A readable diagnostic for one of Lark's parse errors."""
    if isinstance(e, UnexpectedCharacters):
        ch = source.text[e.pos_in_stream] if e.pos_in_stream < len(source.text) else "?"
        hint = {"'": "strings use double quotes", ":": "statements end at a newline or ';'",
                "[": "tuples use parentheses: (0.9, 0.999)", "]": "tuples use parentheses: (0.9, 0.999)"}.get(ch)
        if hint is None and ch == '"':
            hint = "a string must close on the line it opens"
        if hint is None and ch in "\u201c\u201d\u2018\u2019":
            hint = 'a curly quote: strings use straight double quotes "..."'
        if hint is None and ch in "\u00a0\u2002\u2003\u2009":
            hint = "a non-breaking or typographic space: use a plain space"
        if hint is None and ch in "\u2013\u2014\u2212":
            hint = "a typographic dash: use the ASCII minus sign -"
        if hint is None and ord(ch) > 127 and ch.isalpha():
            hint = "names are ASCII letters, digits and _"
        return Diagnostic("error", f"unexpected character {ch!r}", Span.point(e.line, e.column), hint)
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    expected = {t for t in e.expected if not t.startswith("__")}
    if tok.type == "$END":
        line, col = _end_position(source)
        opened = _unclosed_brace(source.text)
        if opened is not None:
            return Diagnostic("error", "unexpected end of file: a '{' is not closed", Span.point(*opened),
                              f"add a '}}' to close the '{{' at line {opened[0]}, column {opened[1]}")
        return Diagnostic("error", "unexpected end of file", Span.point(line, col),
                          "expected " + _expected_text(expected))
    span = Span(tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column + 1)
    before = _previous_nonblank(source.text, tok.start_pos)
    if before >= 0 and source.text[before] == "=" and expected & VALUE_TERMINALS:
        return Diagnostic("error", "missing value after '='", span,
                          "write a value after '=', e.g. p=0.5, init=he, path=\"data.npz\"")
    if tok.type == "LBRACE" and "LBRACE" not in expected:
        return Diagnostic("error", "unexpected '{'", span,
                          "a body's '{' goes on the line of its statement: repeat 3 {")
    if tok.type == "RBRACE" and "RBRACE" not in expected:
        return Diagnostic("error", "unmatched '}'", span, "remove it, or add the '{' it closes")
    if tok.type == "EQUAL":
        return Diagnostic("error", "unexpected '='", span,
                          "parameters are written name=value, after the statement's keyword")
    shown = "end of line" if tok.type == "_NL" else repr(str(tok))
    return Diagnostic("error", f"unexpected {shown}", span, "expected " + _expected_text(expected))


def _expected_text(expected: set[str]) -> str:
    names = sorted({TERMINAL_NAMES.get(t, t.lower()) for t in expected})
    return " or ".join(names) if len(names) <= 4 else ", ".join(names[:-1]) + " or " + names[-1]


def _previous_nonblank(text: str, pos: int | None) -> int:
    """The index of the last non-blank character before `pos` (-1 if none)."""
    i = (len(text) if pos is None else pos) - 1
    while i >= 0 and text[i] in " \t\r\f\n":
        i -= 1
    return i


def _end_position(source: Source) -> tuple[int, int]:
    lines = source.text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    """The (line, column) of the innermost '{' never closed, skipping strings and comments."""
    stack: list[tuple[int, int]] = []
    line, col, i, n = 1, 1, 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            col += j + 1 - i
            i = j + 1
            continue
        if c == "{":
            stack.append((line, col))
        elif c == "}" and stack:
            stack.pop()
        if c == "\n":
            line, col = line + 1, 1
        else:
            col += 1
        i += 1
    return stack[-1] if stack else None


# --- tree to AST -------------------------------------------------------------------------------

def _span(node) -> Span:
    if isinstance(node, Token):
        return Span(node.line, node.column, node.end_line, node.end_column)
    m = node.meta
    return Span(m.line, m.column, m.end_line, m.end_column)


def _section(t: Tree) -> ast.Section:
    kind, name, params, body = t.children
    return ast.Section(
        span=_span(t), kind=str(kind), kind_span=_span(kind),
        name=str(name) if name is not None else None,
        name_span=_span(name) if name is not None else None,
        params=tuple(_param(p) for p in params.children if p is not None) if params is not None else None,
        body=_body(body),
    )


def _param(t: Tree) -> ast.Param:
    name, default = t.children
    return ast.Param(_span(t), str(name), _expr(default) if default is not None else None)


def _body(t: Tree) -> tuple[ast.Statement, ...]:
    return tuple(_stmt(c) for c in t.children if isinstance(c, Tree))


def _stmt(t: Tree) -> ast.Statement:
    keyword, *rest = t.children
    args, (_, alias, body) = rest[:-3], rest[-3:]
    return ast.Statement(
        span=_span(t), keyword=str(keyword), keyword_span=_span(keyword),
        args=tuple(_arg(a) for a in args),
        alias=str(alias) if alias is not None else None,
        alias_span=_span(alias) if alias is not None else None,
        body=_body(body) if body is not None else None,
        body_span=_span(body) if body is not None else None,
    )


def _arg(t) -> ast.Arg:
    if isinstance(t, Tree) and t.data == "keyword":
        name, value = t.children
        return ast.Keyword(_span(t), str(name), _span(name), _expr(value))
    return _expr(t)


def _expr(t) -> ast.Expr:
    kind = t.data
    if kind == "number":
        text = str(t.children[0])
        is_int = text.isdigit()
        if is_int and len(text) > MAX_INT_DIGITS:
            raise _LiteralError(Diagnostic(
                "error", f"an integer of {len(text):,} digits is too long", _span(t),
                f"integers have at most {MAX_INT_DIGITS} digits; write a large value as a real number, e.g. 1e30"))
        return ast.Number(_span(t), int(text) if is_int else float(text))
    if kind == "string":
        raw = str(t.children[0])[1:-1]
        # Only \" and \\ are escapes: any other backslash is kept, so Windows paths read as written.
        return ast.String(_span(t), re.sub(r'\\(["\\])', r"\1", raw))
    if kind == "ident":
        return ast.Ident(_span(t), str(t.children[0]))
    if kind == "tuple":
        return ast.TupleExpr(_span(t), tuple(_expr(c) for c in t.children if c is not None))
    if kind == "neg":
        return ast.Neg(_span(t), _expr(t.children[1]))
    if kind == "pos":
        return _expr(t.children[1])
    if kind == "binop":
        left, op, right = t.children
        return ast.BinOp(_span(t), str(op), _expr(left), _expr(right))
    raise AssertionError(f"unknown tree {kind}")
