"""Reading a CSV file (plain or gzipped) into inputs and labels.

The first non-blank line decides the delimiter (comma, else semicolon, else tab, else runs of
whitespace) and, with header=auto, whether it is a header (any cell that is not a number).
Numbers are parsed by NumPy's fast reader; only when that fails is the file walked again in
Python to name the line and column at fault.
"""
from __future__ import annotations

import csv
import difflib
import re

import numpy as np

from .files import FileRef, read_text
from .raw import Raw, first_nonfinite

# A label cell written with a decimal point, an exponent, nan or inf is a real number.
_REAL_SYNTAX = re.compile(r"[.eEnNiI]")
_DELIMITERS = (",", ";", "\t")


def read_csv(ref: FileRef, label: str, header: bool | str,
             label_names: tuple[str, ...] | None = None) -> Raw:
    """Examples from a CSV file: one row per example, one column of which is the label.

    label: 'first', 'last' or a column name (which needs a header row).
    header: 'auto' (the first row is a header when any cell is not a number), True or False.
    Returns x: (N, columns - 1) float64 and y: (N,) labels, int64 when every label cell is
    written as a non-negative integer, float64 otherwise. feature_names come from the header.
    A label column with a cell that is not a number holds class names (`setosa`, ...): they are
    mapped to 0..K-1 in sorted order (`label_names` on the result), or, given `label_names` (the
    mapping a checkpoint was trained with, or the training file's for a validation file), in
    that order, a name outside it being an error. Nothing in the file is ever executed.
    DataError (naming the file, and the line and column where they apply) for a bad label or
    header setting, fewer than two columns, no data rows, ragged rows, cells that are not
    numbers, and NaN/Inf values.
    """
    if header not in ("auto", True, False):
        raise ref.error(f"header={header!r} is not one of auto, true, false", param="header")
    if not isinstance(label, str) or not label:
        raise ref.error(f"label={label!r} is not first, last or a column name", param="label")
    lines = [(no, line) for no, line in enumerate(read_text(ref).splitlines(), 1) if line.strip()]
    if not lines:
        raise ref.error("has no rows (only blank lines)")
    delimiter = _delimiter(lines[0][1])
    first = [c.strip() for c in _cells(lines[0][1], delimiter)]
    has_header = header is True or (header == "auto" and _looks_like_header(first, label))
    names = tuple(first) if has_header else None
    body = lines[1:] if has_header else lines
    width = len(first)
    if width < 2:
        raise ref.error(f"has {width} column, expected at least two (features and a label)",
                        hint=_delimiter_hint(delimiter))
    if not body:
        raise ref.error("has a header row but no data rows")
    label_col = _label_column(ref, label, names, width)
    described = _column(label_col, names) + (
        f", the {label} column (label={label}{', the default' if label == 'last' else ''})"
        if label in ("first", "last") else f" (label={label})")
    cells = _label_cells(body, delimiter, label_col)
    # class names when no label is a number; a column mixing numbers and names is an error (a
    # typo, more likely than a class named like a number), reported at its first name
    strings = cells is not None and (label_names is not None or not any(_is_number(c) for c in cells))
    table = _parse(ref, body, delimiter, width, lines[0][0], names, header_forbidden=header is False,
                   text_col=label_col if strings else None, label_col=label_col)
    feature_cols = [c for c in range(width) if c != label_col]
    bad = first_nonfinite(table)
    if bad is not None:
        row, col = bad
        raise ref.error(f"line {body[row][0]}, {_column(col, names)}: {table[row, col]} is not a "
                        "finite number", hint="remove or impute missing values before training")
    x = np.ascontiguousarray(table[:, feature_cols])
    feature_names = tuple(names[c] for c in feature_cols) if names else None
    if strings:
        y, mapping = _map_names(ref, body, cells, label_names, label_col, names)
        return Raw(ref.name, x, y, feature_names=feature_names, path=str(ref.resolved), classes=len(mapping),
                   class_names=mapping, label_column=described, label_names=mapping)
    y = table[:, label_col]
    if _written_as_integers(body, delimiter, label_col) and y.min() >= 0:
        # NOTE: float64 -> int64 of a value at or above 2**63 wraps to a negative class silently
        if y.max() >= 2.0 ** 63:
            row = int(np.argmax(y))
            cell = _cells(body[row][1], delimiter)[label_col].strip()
            raise ref.error(f"line {body[row][0]}, {_column(label_col, names)}: the label {cell} is "
                            "too large for a class index (at most 2**63 - 1)",
                            hint="class labels count from 0; for a regression target write it as "
                                 "a real number (e.g. 1.5e20) and use loss mse")
        y = y.astype(np.int64)
    return Raw(ref.name, x, y, feature_names=feature_names, path=str(ref.resolved), label_column=described)


# Class names are data: bounded so a hostile file cannot fill the checkpoint's metadata.
MAX_CLASS_NAMES = 10_000
MAX_CLASS_NAME = 200


def _label_cells(body: list[tuple[int, str]], delimiter: str | None, col: int) -> list[str] | None:
    """The label column's cells, stripped, or None when a row is too short to have one (the
    table's own parse then reports the ragged row)."""
    out = []
    for _, line in body:
        cells = _cells(line, delimiter)
        if col >= len(cells):
            return None
        out.append(cells[col].strip())
    return out


def _map_names(ref: FileRef, body, cells: list[str], given: tuple[str, ...] | None, col: int,
               names) -> tuple[np.ndarray, tuple[str, ...]]:
    """(N,) int64 class indices of string labels, and the names in index order (sorted, or
    `given`)."""
    for (no, _), cell in zip(body, cells):
        if not cell:
            raise ref.error(f"line {no}, {_column(col, names)}: the label is empty",
                            hint="every row needs a label; remove or fill the rows without one")
        if len(cell) > MAX_CLASS_NAME:
            raise ref.error(f"line {no}, {_column(col, names)}: a label of {len(cell)} characters "
                            f"(at most {MAX_CLASS_NAME})", hint="is this column the label?")
    mapping = tuple(given) if given is not None else tuple(sorted(set(cells)))
    if len(mapping) > MAX_CLASS_NAMES:
        raise ref.error(f"{_column(col, names)} has {len(mapping)} distinct labels (at most "
                        f"{MAX_CLASS_NAMES} class names)", hint="is this column the label? label=NAME picks another")
    index = {name: i for i, name in enumerate(mapping)}
    for (no, _), cell in zip(body, cells):
        if cell not in index:
            shown = ", ".join(mapping[:10]) + (", ..." if len(mapping) > 10 else "")
            raise ref.error(f"line {no}, {_column(col, names)}: the label {cell!r} is not one of the "
                            f"classes {shown}", hint="the weights (or the training file) know only these "
                            "classes: use data with the same class names")
    return np.array([index[c] for c in cells], dtype=np.int64), mapping


def _looks_like_header(first: list[str], label: str) -> bool:
    """header=auto: whether the first row is a header, i.e. has a cell that is not a number. With
    label=first or label=last only the feature cells count: a row of numbers with a name in the
    label column (`5.1,3.5,setosa`) is an example whose class is a string."""
    if label not in ("first", "last") or len(first) < 2:
        return not all(_is_number(c) for c in first)
    features = first[1:] if label == "first" else first[:-1]
    return not all(_is_number(c) for c in features)


def _delimiter(line: str) -> str | None:
    return next((d for d in _DELIMITERS if d in line), None)


def _delimiter_hint(delimiter: str | None) -> str:
    shown = {None: "whitespace", "\t": "tab"}.get(delimiter, repr(delimiter))
    return f"columns were split on {shown}; separate them with commas"


def _cells(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _column(col: int, names: tuple[str, ...] | None) -> str:
    return f"column {col + 1}" + (f" ({names[col]!r})" if names else "")


def _label_column(ref: FileRef, label: str, names: tuple[str, ...] | None, width: int) -> int:
    if label == "first":
        return 0
    if label == "last":
        return width - 1
    if names is None:
        raise ref.error(f"label={label!r} names a column, but the file has no header row",
                        hint="add a header row, set header=true, or use label=first or label=last",
                        param="label")
    if label in names:
        return names.index(label)
    close = difflib.get_close_matches(label, names, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    raise ref.error(f"has no column named {label!r}", hint=f"{guess}columns: {', '.join(names)}",
                    param="label")


def _parse(ref: FileRef, body: list[tuple[int, str]], delimiter: str | None, width: int,
           width_line: int, names: tuple[str, ...] | None, header_forbidden: bool,
           text_col: int | None = None, label_col: int | None = None) -> np.ndarray:
    """(rows, width) float64; on failure, finds the first bad line and cell for the message.
    `width_line` is the line the expected width was read from (the header, when there is one).
    Column `text_col` (string labels) is not parsed: it holds 0."""
    cols = [c for c in range(width) if c != text_col]
    try:
        table = np.loadtxt([line for _, line in body], delimiter=delimiter, comments=None,
                           quotechar='"', dtype=np.float64, ndmin=2,
                           usecols=cols if text_col is not None else None)
        if text_col is not None and table.shape[1] == len(cols):
            return np.insert(table, text_col, 0.0, axis=1)
        if table.shape[1] == width:
            return table
    except ValueError:
        pass
    rows = []
    for index, (no, line) in enumerate(body):
        cells = _cells(line, delimiter)
        if len(cells) != width:
            raise ref.error(f"line {no} has {len(cells)} columns, expected {width} "
                            f"like line {width_line}",
                            hint=_delimiter_hint(delimiter) if len(cells) == 1 else None)
        row = []
        for col, cell in enumerate(cells):
            if col == text_col:
                row.append(0.0)
                continue
            try:
                row.append(float(cell))
            except ValueError:
                what = "is empty" if not cell.strip() else f"{cell.strip()!r} is not a number"
                hint = None
                if index == 0 and header_forbidden:
                    hint = "the first row looks like a header; set header=true or header=auto"
                elif col == label_col and cell.strip():
                    hint = ("the label column mixes numbers and names: write every label as a "
                            "number, or every label as a class name")
                    stray = _stray_number(body, delimiter, col)
                    if stray is not None:  # mostly names: the number is the odd one out
                        no, what = stray[0], f"{stray[1]!r} is a number among class names"
                raise ref.error(f"line {no}, {_column(col, names)}: {what}", hint=hint) from None
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(rows), width)


def _stray_number(body: list[tuple[int, str]], delimiter: str | None, col: int) -> tuple[int, str] | None:
    """The first (line, cell) of column `col` written as a number when most of its cells are
    names (a class name column with a stray 2), else None."""
    numbers, names = [], 0
    for no, line in body:
        cells = _cells(line, delimiter)
        cell = cells[col].strip() if col < len(cells) else ""
        if _is_number(cell):
            numbers.append((no, cell))
        elif cell:
            names += 1
    return numbers[0] if numbers and len(numbers) < names else None


def _written_as_integers(body: list[tuple[int, str]], delimiter: str | None, col: int) -> bool:
    """Whether every cell of column `col` is written without a decimal point, exponent, nan, inf."""
    cells = np.loadtxt([line for _, line in body], delimiter=delimiter, comments=None,
                       quotechar='"', dtype=str, usecols=[col], ndmin=1)
    return not any(_REAL_SYNTAX.search(c) for c in cells)
