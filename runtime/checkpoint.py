"""Checkpoints: the trainer's state as runtime/state.py declares it, in one .npz file.

Layout (format 1): an uncompressed .npz archive with one array per entry of each array part of
the declaration (`model/NODE.PARAM`, `optim/PARAM/SLOT`, `best/NODE.PARAM`) and `meta`, UTF-8
JSON as bytes: {"format": 1, "spec_hash": ..., "dtype": "float32", and each plain part of the
declaration (`optimizer_steps`, `position`, `seed`)}.

Writing is atomic (a temporary file renamed into place: a killed run never leaves a truncated
checkpoint). Reading trusts nothing: the file is checked against the compiled network before any
of it is used -- the format version and the metadata's types, the spec's hash, then every entry's
name, shape and dtype from the .npy headers (bounded in size), and only then the data, read to
exactly the size the network implies. Nothing is unpickled (allow_pickle is never set) and no
entry name is ever used as a path. The first mismatch is reported as a CheckpointError.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..spec.diagnostics import NetcError
from ..spec.parser import canonical_text
from . import state as trainstate
from .state import StateError

FORMAT = 1
META = "meta"                    # the metadata entry's name
MAX_META = 16 * 2**20            # bytes of metadata JSON (a long history is a few hundred KB)
MAX_NPY_HEADER = 10_000          # bytes of one .npy header (NumPy's own default limit)
MAX_ENTRIES = 100_000            # entries in the archive's directory
HEADER_KEYS = ("format", "spec_hash", "dtype")
DTYPES = ("float32", "float64")
MISFIT = ("the checkpoint does not fit this network: use one saved by netc from this file (it "
          "may have been saved from another network, or altered)")


class CheckpointError(NetcError):
    """A checkpoint that cannot be used: missing, corrupt, forged, or made from another spec (bad
    input, reported as `netc: error: ...`, exit 2)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


def spec_hash(text: str) -> str:
    """The hash that ties a checkpoint to the spec it was trained from: of the spec's tokens
    (spec.parser.canonical_text), so a comment, blank lines, indentation or CRLF line endings
    added since do not orphan the checkpoint, and any change to a statement does."""
    canonical = canonical_text(text)
    return _sha(text if canonical is None else "netc-spec-tokens-1\n" + canonical)


def _legacy_spec_hash(text: str) -> str:
    """The hash checkpoints written before December 2026 carry: of the exact text."""
    return _sha(text)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --- writing -------------------------------------------------------------------------------------

def save(path: str | Path, trainer, spec_text: str) -> None:
    """Write the trainer's full state (every part of runtime/state.py's PARTS) to `path` atomically."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "spec_hash": spec_hash(spec_text), "dtype": trainer.model.dtype.name}
    for part in trainstate.PARTS:
        value = part.get(trainer)
        if isinstance(part.kind, trainstate.Value):
            assert part.name not in HEADER_KEYS, part.name
            meta[part.name] = part.kind.to_plain(value)
        else:
            for key, a in part.kind.flatten(value).items():
                arrays[f"{part.name}/{key}"] = np.asarray(a)
    arrays[META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --- reading -------------------------------------------------------------------------------------

class _Archive:
    """An opened checkpoint whose directory and metadata have been checked; entries by key."""

    def __init__(self, path: str | Path):
        self.path = path
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise CheckpointError(f"{path}: no such checkpoint") from None
        except OSError as e:
            raise CheckpointError(f"{path}: cannot read it ({e.strerror or e})") from None
        if not stat.S_ISREG(mode):
            raise CheckpointError(f"{path}: not a regular file", "a checkpoint is a file written by --save")
        try:
            self.zip = zipfile.ZipFile(path)
        except Exception:  # not a zip archive, or a damaged one
            raise CheckpointError(*_unreadable(path)) from None
        infos = self.zip.infolist()
        if len(infos) > MAX_ENTRIES:
            self.fail(f"it holds {len(infos)} entries")
        self.entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not info.filename.endswith(".npy") or info.filename[:-4] in self.entries:
                self.fail(f"unexpected entry {info.filename!r}")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.fail(f"entry {info.filename!r} uses an unsupported compression")
            self.entries[info.filename[:-4]] = info
        if META not in self.entries:
            self.fail("it has no metadata")
        self.meta = self._read_meta()

    def fail(self, why: str):
        raise CheckpointError(f"{self.path}: not a netc checkpoint ({why})")

    def close(self) -> None:
        self.zip.close()

    def header(self, key: str) -> tuple[tuple[int, ...], np.dtype, bool, int]:
        """(shape, dtype, fortran order, bytes of the header) of entry `key`, from its .npy header."""
        try:
            with self.zip.open(self.entries[key]) as f:
                version = np.lib.format.read_magic(f)
                read = {(1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read is None:
                    self.fail(f"entry {key!r} has .npy version {version}")
                shape, fortran, dtype = read(f, max_header_size=MAX_NPY_HEADER)
                offset = f.tell()
        except CheckpointError:
            raise
        except Exception as e:  # a damaged header, a header over the limit, a bad CRC
            self.fail(f"entry {key!r} is unreadable: {type(e).__name__}")
        dtype = np.dtype(dtype)
        if dtype.hasobject or dtype.kind not in "fiub" or dtype.byteorder == ">":
            raise CheckpointError(f"{self.path}: entry {key!r} holds {dtype.str} values, not numbers", MISFIT)
        return tuple(int(n) for n in shape), dtype, bool(fortran), offset

    def array(self, key: str) -> np.ndarray:
        """Entry `key`'s data, read to exactly the size its (already checked) header declares."""
        shape, dtype, fortran, offset = self.header(key)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if self.entries[key].file_size != offset + nbytes:
            self.fail(f"entry {key!r} holds {self.entries[key].file_size - offset} bytes of data, "
                      f"its header says {nbytes}")
        try:
            with self.zip.open(self.entries[key]) as f:
                f.seek(offset)
                data = f.read(nbytes)
        except Exception as e:
            self.fail(f"entry {key!r} is damaged: {type(e).__name__}")
        if len(data) != nbytes:
            self.fail(f"entry {key!r} is truncated")
        a = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
        return np.array(a, order="C", copy=True)  # writeable, contiguous, owned

    def _read_meta(self) -> dict:
        shape, dtype, _, _ = self.header(META)
        if dtype != np.uint8 or len(shape) != 1:
            self.fail("its metadata is not text")
        if shape[0] > MAX_META:
            self.fail(f"its metadata is {shape[0]} bytes, more than {MAX_META}")
        try:
            meta = json.loads(self.array(META).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            self.fail("its metadata is not JSON")
        if not isinstance(meta, dict) or "format" not in meta:
            self.fail("its metadata is not netc's")
        fmt = meta["format"]
        if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt != FORMAT:
            raise CheckpointError(f"{self.path}: checkpoint format {fmt!r:.20} is not supported "
                                  f"(this netc reads format {FORMAT})")
        if not isinstance(meta.get("spec_hash"), str):
            self.fail("its metadata has no spec hash")
        if meta.get("dtype") not in DTYPES:
            self.fail(f"its dtype {meta.get('dtype')!r:.20} is not one of {', '.join(DTYPES)}")
        return meta


# what every zip archive (and so every .npz) starts with: a local file header
ZIP_MAGIC = b"PK\x03\x04"
NOT_A_CHECKPOINT = "a checkpoint is the file netc run --save CKPT writes"


def _unreadable(path) -> tuple[str, str]:
    """The message and hint for a file that zipfile cannot open: empty, a zip archive cut short (a
    copy or download that did not finish, a full disk: netc's own saves are atomic, so it is
    never one of them half-written), or not a zip archive at all."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(ZIP_MAGIC))
    except OSError:
        head = b""
    if not head:
        return f"{path}: not a netc checkpoint: the file is empty", NOT_A_CHECKPOINT
    if head == ZIP_MAGIC:
        return (f"{path}: not a netc checkpoint: it is truncated or damaged (a zip archive whose "
                "end is missing)",
                "it was probably cut short by a copy, download or disk that ran out: copy it again, "
                "or use an earlier checkpoint (netc's own saves are never left half-written)")
    return f"{path}: not a netc checkpoint: it is not a zip archive (.npz)", NOT_A_CHECKPOINT


def peek(path: str | Path) -> dict:
    """A checkpoint's checked metadata (format, spec_hash, dtype and the plain parts, unchecked),
    reading only its directory and metadata; CheckpointError if it is not a netc checkpoint."""
    archive = _Archive(path)
    archive.close()
    return archive.meta


def load(path: str | Path, trainer, spec_text: str, cast: bool = False) -> dict:
    """Every part of the state saved in `path`, checked against `trainer`'s network (the
    templates of runtime/state.py) before any array is read: {part name: value}, ready for
    Part.set. `cast` accepts float32 arrays for a float64 network and the reverse (for weights
    read into a model of another dtype; a resumed run needs the dtype it was saved with)."""
    archive = _Archive(path)
    try:
        return _load(archive, trainer, spec_text, cast)
    except StateError as e:
        raise CheckpointError(f"{path}: {e.message}", e.hint or MISFIT) from None
    finally:
        archive.close()


def _load(archive: _Archive, trainer, spec_text: str, cast: bool) -> dict:
    path, meta = archive.path, archive.meta
    if meta["spec_hash"] not in (spec_hash(spec_text), _legacy_spec_hash(spec_text)):
        raise CheckpointError(f"{path} was saved from a different version of the spec",
                              "a statement of the model, data or train sections changed since it "
                              "was saved (comments and layout do not count): use "
                              "weights saved from this version of the file, or restore the version "
                              "the checkpoint was made from")
    dtype = trainer.model.dtype.name
    if not cast and meta["dtype"] != dtype:
        raise CheckpointError(f"{path} was saved by a {meta['dtype']} run; this run is {dtype}",
                              f"add --dtype {meta['dtype']} to continue it")
    array_parts = [p for p in trainstate.PARTS if not isinstance(p.kind, trainstate.Value)]
    value_parts = [p for p in trainstate.PARTS if isinstance(p.kind, trainstate.Value)]
    descs: dict[str, dict] = {p.name: {} for p in array_parts}
    for key in archive.entries:
        if key == META:
            continue
        part, sep, rest = key.partition("/")
        if part not in descs or not sep:
            raise StateError(f"unexpected entry {key!r}")
        shape, dt, _, _ = archive.header(key)
        descs[part][rest] = (shape, dt)
    for p in array_parts:  # every name, shape and dtype, before any data is read
        p.kind.check(p.name, descs[p.name], p.template(trainer), cast)
    values = {}
    for p in value_parts:
        if p.name not in meta and p.kind.optional:
            values[p.name] = None
            continue
        if p.name not in meta:
            raise StateError(f"the metadata has no {p.name}")
        values[p.name] = p.kind.parse(meta[p.name], p.name)
    for key in meta:
        if key not in HEADER_KEYS and key not in values:
            raise StateError(f"unexpected metadata entry {key!r:.60}")
    _check_finite_metadata(values)
    for p in array_parts:
        flat = {k: archive.array(f"{p.name}/{k}") for k in descs[p.name]}
        values[p.name] = p.kind.unflatten(flat)
    return values


def _check_finite_metadata(values: dict) -> None:
    pos = values.get("position")
    if pos is not None and pos.best_value is not None and math.isnan(pos.best_value):
        raise StateError("position.best_value is NaN")


def restore(path: str | Path, trainer, spec_text: str) -> None:
    """Put a saved run back into `trainer` (every part of the declaration), after checking all of
    it; CheckpointError (and `trainer` untouched) if anything does not fit."""
    values = load(path, trainer, spec_text)
    try:
        for p in trainstate.PARTS:
            p.set(trainer, values[p.name])
    except StateError as e:
        raise CheckpointError(f"{path}: {e.message}", e.hint or MISFIT) from None


def data_facts(path: str | Path) -> dict:
    """What the data must be loaded with for the weights in `path`, read from the metadata alone
    (JSON) before the data is loaded, so the data is mapped and scaled as the weights know it:
    {"label_names": the string labels' classes in index order, or None (numbered labels, or a
    checkpoint from before they were kept); "target_scaling": the target's training statistics
    with `standardize target`, or None} (keyword arguments of netc's prepare and load_data).
    CheckpointError if it is not a netc checkpoint or they are malformed."""
    meta = peek(path)
    try:
        return {"label_names": trainstate.parse_label_names(meta.get("label_names"), "label_names"),
                "target_scaling": trainstate.parse_target_scaling(meta.get("target_scaling"), "target_scaling")}
    except StateError as e:
        raise CheckpointError(f"{path}: {e.message}", MISFIT) from None


def weights(path: str | Path, spec_text: str, model, settings) -> dict[str, np.ndarray]:
    """The parameters and buffers a run saved in `path` ends with -- the best epoch's when early
    stopping kept them, else the latest -- in `model`'s dtype, after checking the whole
    checkpoint against the network and the train settings (`settings`, for the optimizer's
    state)."""
    from .train import Trainer
    values = load(path, Trainer(model, None, settings, shuffle=False), spec_text, cast=True)
    chosen = values.get("best") or values["model"]
    return {k: v.astype(model[k].dtype, copy=False) for k, v in chosen.items()}
