"""Finding and reading data files: path resolution, the errors every file shares, gzip, and npz.

Every reader takes a `FileRef` (the path as written, where it resolved to, and which statement
and parameter named it), so its errors point at the user's statement and name the file.
"""
from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .raw import Raw, first_nonfinite, to_labels

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class FileRef:
    """A data file named by a statement: `written` as in the .net file, `resolved` on disk."""

    written: str
    resolved: Path
    statement: str = "source"
    param: str | None = None

    @property
    def name(self) -> str:
        return Path(self.written).name

    def error(self, message: str, hint: str | None = None, param: str | None = None) -> DataError:
        """A DataError about this file (at `param`, else the parameter that named the file);
        the message starts with the path as written."""
        return DataError(
            f"{self.written}: {message}",
            statement=self.statement,
            param=param or self.param,
            path=str(self.resolved),
            hint=hint,
        )


def resolve(path: str, base_dir: str | Path, statement: str = "source",
            param: str | None = None) -> FileRef:
    """Resolve `path` against `base_dir` (the .net file's folder) unless it is absolute."""
    p = Path(path).expanduser()
    resolved = p if p.is_absolute() else Path(base_dir) / p
    return FileRef(str(path), resolved, statement, param)


def read_bytes(ref: FileRef) -> bytes:
    """The file's contents, gunzipped when they start with the gzip magic bytes 1f 8b.

    Raises DataError for a missing file, a directory, an unreadable file, an empty file and a
    corrupt gzip stream.
    """
    path = ref.resolved
    if not path.exists():
        raise ref.error("file not found", hint=f"looked for {path.resolve()}; relative paths "
                        "are read from the .net file's folder")
    if path.is_dir():
        raise ref.error("is a directory, not a file")
    if not path.is_file():  # a device (/dev/zero), FIFO or socket: reading it may never end
        raise ref.error("is not a regular file (a device, pipe or socket)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ref.error(f"cannot be read: {exc.strerror or exc}") from None
    if not data:
        raise ref.error("is empty")
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ref.error(f"is a corrupt gzip file ({exc})") from None
        if not data:
            raise ref.error("is empty once decompressed")
    return data


def read_text(ref: FileRef) -> str:
    """The file decoded as UTF-8 (a byte-order mark is dropped); DataError if it is not text."""
    data = read_bytes(ref)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ref.error(f"is not a UTF-8 text file (byte {exc.start} cannot be decoded)",
                        hint="is it a binary file given a text extension?") from None


def read_npz(ref: FileRef) -> Raw:
    """Arrays `x` (N, ...) and `y` (N,) or (N, K) from a NumPy .npz archive.

    x is flattened to (N, D) float64; y follows `to_labels` (integer dtype -> int64 classes,
    real dtype -> float64 targets). DataError for a missing key (listing the keys found), an
    object or non-numeric array, mismatched lengths, no examples, and NaN/Inf values.
    """
    data = read_bytes(ref)
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ref.error(f"is not a valid .npz archive ({exc})",
                        hint="write it with numpy.savez(path, x=inputs, y=labels)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ref.error("holds a single array, not an .npz archive with arrays x and y",
                        hint="write it with numpy.savez(path, x=inputs, y=labels)")
    with archive:
        keys = list(archive.files)
        missing = [k for k in ("x", "y") if k not in keys]
        if missing:
            found = ", ".join(keys) if keys else "none"
            wanted = " or ".join(repr(k) for k in missing)
            raise ref.error(f"has no array {wanted} (arrays found: {found})",
                            hint="write it with numpy.savez(path, x=inputs, y=labels)")
        try:
            x, y = archive["x"], archive["y"]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ref.error(f"has an unreadable array ({exc})") from None
    return _check_npz_arrays(ref, x, y)


def _check_npz_arrays(ref: FileRef, x: np.ndarray, y: np.ndarray) -> Raw:
    for key, a in (("x", x), ("y", y)):
        if a.dtype.kind not in "biuf":
            raise ref.error(f"array {key!r} has dtype {a.dtype}, expected numbers")
        if a.ndim == 0:
            raise ref.error(f"array {key!r} is a scalar, expected one row per example")
    if y.ndim > 2:
        raise ref.error(f"array 'y' has shape {y.shape}, expected (N,) or (N, K)")
    if y.dtype.kind == "u" and y.size and int(y.max()) > np.iinfo(np.int64).max:
        # NOTE: uint64 -> int64 would wrap such a label to a negative class silently
        bad = tuple(int(i) for i in np.unravel_index(int(np.argmax(y)), y.shape))
        raise ref.error(f"y[{', '.join(map(str, bad))}] is {y[bad]}, too large for a class index "
                        "(at most 2**63 - 1)", hint="class labels count from 0: store them as int64")
    if len(x) != len(y):
        raise ref.error(f"arrays 'x' and 'y' disagree: {len(x)} inputs but {len(y)} labels")
    if len(x) == 0:
        raise ref.error("has no examples (x has 0 rows)")
    if x[0].size == 0:
        raise ref.error(f"array 'x' has no features (shape {x.shape})")
    for key, a in (("x", x), ("y", y)):
        bad = first_nonfinite(a)
        if bad is not None:
            where = ", ".join(str(i) for i in bad)
            raise ref.error(f"{key}[{where}] is {a[bad]}, expected a finite number",
                            hint="remove or impute missing values before training")
    shape = tuple(int(d) for d in x.shape[1:]) if x.ndim > 2 else None
    x = x.reshape(len(x), -1).astype(np.float64)
    return Raw(ref.name, x, to_labels(y), path=str(ref.resolved), example_shape=shape)
