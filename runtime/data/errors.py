"""The one error the data layer raises for problems the user must fix."""
from __future__ import annotations

STATEMENTS = ("source", "split", "validation", "standardize", "minmax")


class DataError(Exception):
    """A data problem the user must fix, reported at the data statement it concerns.

    Attributes:
        message: what is wrong; when a file is involved it starts with the path as written in
            the .net file, and names the line/row and column where that applies.
        statement: which data statement it concerns: 'source', 'split', 'validation',
            'standardize' or 'minmax'.
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
        super().__init__(message)
        self.message = message
        self.statement = statement
        self.param = param
        self.path = path
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} (hint: {self.hint})"
