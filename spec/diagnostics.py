"""Diagnostics: source spans, errors and warnings, and their `FILE:LINE:COL` rendering with a caret;
the base class of every error netc reports (`NetcError`) and the exit statuses of its commands."""
from __future__ import annotations

from dataclasses import dataclass, field


MAX_SHOWN = 120  # characters of a source line shown under a diagnostic

# The exit statuses of every netc command, defined here once (the CLI, `netc run`, the debugger and
# every NetcError subclass read them from here).
EXIT_OK = 0
EXIT_RUN_FAILED = 1      # a run that failed at run time (a non-finite loss, a node's requirement)
EXIT_BAD_INPUT = 2       # the file, the data, the options, a checkpoint
EXIT_INTERRUPTED = 130   # Ctrl-C (128 + SIGINT)
EXIT_HANGUP = 129        # SIGHUP, handled like Ctrl-C (netc/signals.py)
EXIT_TERMINATED = 143    # SIGTERM, handled like Ctrl-C

# C0 controls but newline and tab, DEL, and the C1 controls: a file name holding an escape
# sequence must not drive the user's terminal (clear the screen, retitle the window, ...).
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0))}


def printable(text: str) -> str:
    """`text` with control characters (other than newline and tab) written as `\\xNN`, safe to
    print to a terminal: paths and names from the user's files go through it."""
    return text.translate(_CONTROLS)


@dataclass(frozen=True)
class Span:
    """A region of the source: 1-based line and column of its first and last character (end exclusive)."""

    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(line: int, column: int) -> "Span":
        """A one-character span at (line, column)."""
        return Span(line, column, line, column + 1)

    def to_dict(self) -> dict:
        """The span as plain values (for JSON)."""
        return {"line": self.line, "column": self.column,
                "end_line": self.end_line, "end_column": self.end_column}


@dataclass(frozen=True)
class Source:
    """The text of a spec and the name it is reported under (a path or `<string>`)."""

    name: str
    text: str
    lines: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "lines", tuple(self.text.splitlines()))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, or '' past the end."""
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else ""


@dataclass(frozen=True)
class Diagnostic:
    """One error or warning at a span, with an optional hint and a short code (lints have codes)."""

    severity: str  # "error" or "warning"
    message: str
    span: Span | None
    hint: str | None = None
    code: str | None = None

    def render(self, source: Source | None) -> str:
        """`FILE:LINE:COL: severity: message`, then the source line, a caret under the span, the hint."""
        name = printable(source.name) if source else "<string>"
        message, hint = printable(self.message), self.hint and printable(self.hint)
        if self.span is None:
            head = f"{name}: {self.severity}: {message}"
            return head + (f"\n  hint: {hint}" if hint else "")
        sp = self.span
        out = [f"{name}:{sp.line}:{sp.column}: {self.severity}: {message}"]
        text = source.line_text(sp.line) if source else ""
        if text.strip():
            shown = "".join(c if c.isprintable() else " " for c in text.expandtabs(1))
            width = sp.end_column - sp.column if sp.end_line == sp.line else len(text) - sp.column + 1
            width = max(1, min(width, len(shown) - sp.column + 2, 60))
            col = sp.column
            if len(shown) > MAX_SHOWN:  # a very long line: show a window around the column
                start = max(0, col - 1 - MAX_SHOWN // 2)
                shown = ("…" if start else "") + shown[start:start + MAX_SHOWN] + "…"
                col = col - start + (1 if start else 0)
            out.append(f"  {sp.line:>4} | {shown}")
            out.append("       | " + " " * (col - 1) + "^" + "~" * (width - 1))
        if hint:
            out.append(f"  hint: {hint}")
        return "\n".join(out)


def sort_key(d: Diagnostic) -> tuple:
    """Order diagnostics by position; those without a span come first."""
    return (0, 0, 0) if d.span is None else (1, d.span.line, d.span.column)


class NetcError(Exception):
    """The base of every error netc reports to its user (the command line catches this one class).

    - `message`: what went wrong, in one line.
    - `span`: where in the spec (line and column), or None when unknown or no file is involved.
    - `hint`: the one thing to do next, or None.
    - `source`: the spec the span points into, or None (then the error renders as
      `netc: error: MESSAGE`, the form of command-line problems).
    - `status`: the exit status a command ends with; each subclass sets its default (bad input,
      2, unless it is a run-time failure), `status=` overrides it for one error.
    """

    status: int = EXIT_BAD_INPUT

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None, *,
                 source: Source | None = None, status: int | None = None):
        super().__init__(message)
        self.message, self.span, self.hint, self.source = message, span, hint, source
        if status is not None:
            self.status = status

    def located(self, source: Source | None, span: Span | None = None) -> "NetcError":
        """This error placed in `source` (at `span` unless it has a span already); returns self."""
        self.source = source
        if self.span is None:
            self.span = span
        return self

    def render(self) -> str:
        """The report a user sees: `FILE:LINE:COL: error: ...` with the caret and the hint when the
        error is located in a spec, else `netc: error: MESSAGE` and the hint."""
        if self.source is None:
            return printable(f"netc: error: {self.message}" + (f"\n  hint: {self.hint}" if self.hint else ""))
        return Diagnostic("error", self.message, self.span, self.hint).render(self.source)


class SpecError(NetcError):
    """A spec that cannot be compiled: carries every diagnostic found (errors and warnings)."""

    def __init__(self, diagnostics: list[Diagnostic], source: Source | None):
        self.diagnostics = sorted(diagnostics, key=sort_key)
        first = next(iter(self.errors or self.diagnostics), None)
        super().__init__(first.message if first else "invalid spec", first.span if first else None,
                         first.hint if first else None, source=source)
        self.args = (self.render(),)  # str(e) is the whole report, as before

    @property
    def errors(self) -> list[Diagnostic]:
        """The diagnostics of severity error."""
        return [d for d in self.diagnostics if d.severity == "error"]

    def render(self) -> str:
        """All diagnostics, rendered, followed by a count line."""
        parts = [d.render(self.source) for d in self.diagnostics]
        n = len(self.errors)
        parts.append(f"{n} error{'s' if n != 1 else ''}")
        return "\n".join(parts)


class Collector:
    """Gathers diagnostics during a pass so all of a file's errors are reported in one run."""

    def __init__(self):
        self.items: list[Diagnostic] = []

    def error(self, message: str, span: Span | None, hint: str | None = None) -> None:
        """Record an error."""
        self.items.append(Diagnostic("error", message, span, hint))

    @property
    def has_errors(self) -> bool:
        """Whether any error was recorded."""
        return any(d.severity == "error" for d in self.items)


def closest(word: str, choices) -> str | None:
    """The one of `choices` a misspelt `word` is closest to, or None when none is close."""
    import difflib

    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices) -> str | None:
    """A hint naming the closest of `choices` to a misspelt `word`, or listing them when none is close."""
    choices = sorted(set(choices))
    close = closest(word, choices)
    if close:
        return f"did you mean '{close}'?"
    if len(choices) <= 12:
        return "expected one of: " + ", ".join(choices)
    return None
