"""The one error the data layer raises for problems the user must fix."""
from __future__ import annotations

from ...spec.diagnostics import NetcError

STATEMENTS = ("source", "split", "validation", "standardize", "minmax", "labels", "standardize_target")


class DataError(NetcError):
    """A data problem the user must fix, reported at the data statement it concerns.

    Attributes:
        message: what is wrong; when a file is involved it starts with the path as written in
            the .net file, and names the line/row and column where that applies.
        statement: which data statement it concerns: one of STATEMENTS (the data settings' keys:
            'standardize_target' is `standardize target`).
        param: the statement's parameter at fault ('label', 'images', 'n', ...) or None.
        path: the resolved path of the file involved, or None.
        hint: how to fix it, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        statement: str = "source",
        param: str | None = None,
        path: str | None = None,
        hint: str | None = None,
    ):
        assert statement in STATEMENTS, statement
        super().__init__(message, hint=hint)
        self.statement = statement
        self.param = param
        self.path = path

    def span_in(self, spans: dict):
        """The span of the statement (or its parameter) this error concerns, from a spec's data
        spans (`CheckedSpec.data_spans`); the source statement's when nothing closer is known."""
        return spans.get(f"{self.statement}.{self.param or 'path'}") or spans.get(self.statement) \
            or spans.get("source")

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} (hint: {self.hint})"
