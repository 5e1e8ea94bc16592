"""Run records: one folder per run, in plain files a person can read and a tool can compare.

    meta.json        what ran: model name, spec file and hash, seed, engine, dtype, label, overrides,
                     data set, netc version, start time
    spec.net         the spec text as it was run
    settings.json    the resolved train and data settings (after --set, --epochs, --seed)
    metrics.jsonl    one JSON object per finished epoch (the keys of `netc run --json`)
    summary.json     how the run ended: status (completed, failed, interrupted), best epoch, final
                     metrics, wall time, the failure message

Every file is written atomically (a temporary file renamed into place), so a record read while a
run is going on is never half-written; `metrics.jsonl` is appended to, one flushed line per epoch.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..spec.diagnostics import NetcError

FORMAT, VERSION = "netc-run-record", 1
DEFAULT_ROOT = "runs"
EPOCH_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "lr")


class RecordError(NetcError):
    """A folder that is not a readable run record, or one that cannot be written: `message` says
    which file and why (exit 2)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


def plain(value: Any) -> Any:
    """`value` as JSON-ready data: dataclasses and mappings become dicts, tuples lists, NumPy
    scalars Python numbers, non-finite floats None (JSON has no NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def spec_hash(text: str) -> str:
    """The first 16 hex digits of the spec text's SHA-256: equal texts, equal hashes."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def epoch_record(r) -> dict:
    """One epoch's metrics (an EpochResult) as the JSON object `metrics.jsonl` holds."""
    return plain({k: getattr(r, k, None) for k in EPOCH_KEYS})


def default_dir(name: str, root: str = DEFAULT_ROOT, now: _dt.datetime | None = None) -> Path:
    """`runs/NAME-YYYYMMDD-HHMMSS/`, with `-2`, `-3`, ... appended if that folder exists."""
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{_safe(name)}-{stamp}"
    path, k = base, 2
    while path.exists():
        path, k = Path(f"{base}-{k}"), k + 1
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "run"


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(plain(data), indent=1) + "\n")
    os.replace(tmp, path)


def prepare_dir(path: str | Path) -> Path:
    """Make sure a record can be written at `path` before any training: the folder is created (it
    must be new or empty, or an earlier record, which is replaced); raises RecordError if not."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise RecordError(f"--log {path}: exists and is not a folder", "name a new folder, e.g. --log runs/mine")
    # netc's own lock and temporary files (a --save path inside the record folder) do not count
    theirs = [f for f in p.iterdir() if not (f.name.startswith(".") and f.name.endswith((".lock", ".tmp")))] \
        if p.is_dir() else []
    if theirs and not (p / "meta.json").is_file():
        raise RecordError(f"--log {path}: the folder is not empty and holds no run record",
                          "name a new folder; netc only replaces its own records")
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".netc-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise RecordError(f"--log {path}: cannot write there ({e.strerror or e})") from None
    for old in ("metrics.jsonl", "summary.json"):
        (p / old).unlink(missing_ok=True)
    return p


class RunRecorder:
    """Writes one run's record as the run goes: `start` before the first epoch, `epoch` after each,
    `finish` once at the end (whatever the outcome)."""

    def __init__(self, path: str | Path):
        self.path = prepare_dir(path)

    def start(self, meta: dict, spec_text: str, settings: dict, history=()) -> None:
        """Write meta.json, spec.net and settings.json; epochs already done (a resumed run) first."""
        _write_json(self.path / "meta.json", {"format": FORMAT, "version": VERSION,
                                              "spec_hash": spec_hash(spec_text),
                                              "started": _dt.datetime.now().isoformat(timespec="seconds"),
                                              **meta})
        (self.path / "spec.net").write_text(spec_text)
        _write_json(self.path / "settings.json", settings)
        for r in history:
            self.epoch(r)

    def epoch(self, r) -> None:
        """Append one finished epoch to metrics.jsonl (flushed, so a reader sees it at once)."""
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(epoch_record(r)) + "\n")

    def finish(self, status: str, final=None, best_epoch: int | None = None, wall: float = 0.0,
               message: str | None = None, **extra) -> None:
        """Write summary.json: status is 'completed', 'failed' or 'interrupted'."""
        _write_json(self.path / "summary.json", {
            "status": status, "best_epoch": best_epoch,
            "final": epoch_record(final) if final is not None else None,
            "wall_seconds": round(wall, 3), "message": message, **extra})


@dataclass(frozen=True)
class Record:
    """A run record read back: its folder, meta, settings, per-epoch metrics and summary."""

    path: Path
    meta: dict
    settings: dict
    epochs: tuple[dict, ...]
    summary: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        """'completed', 'failed', 'interrupted', or 'running' when no summary was written."""
        return self.summary.get("status", "running")

    @property
    def label(self) -> str:
        """The variant this run belongs to (the compare label, or the model name and overrides)."""
        if self.meta.get("label"):
            return self.meta["label"]
        sets = " ".join(self.meta.get("overrides") or ())
        return (Path(self.meta.get("file") or self.meta.get("name", "?")).name + (" " + sets if sets else ""))

    def curve(self, key: str) -> list[float | None]:
        """The metric `key` per epoch, in epoch order (None where it was not finite or absent)."""
        return [e.get(key) for e in self.epochs]

    def best_epoch(self) -> int | None:
        """The run's best epoch as `netc run` reported it (its summary's `best_epoch`: the epoch
        early_stop's metric was best, the validation loss by default), so `netc compare` and `netc
        runs` count what the run printed. A run that left no summary (killed): the epoch with the
        best validation metric (accuracy for classification, else loss), or training loss
        without validation data."""
        best = self.summary.get("best_epoch") if isinstance(self.summary, dict) else None
        if isinstance(best, int) and not isinstance(best, bool) and best > 0:
            return best
        rows = [e for e in self.epochs]
        if not rows:
            return None
        key, better = _watch(rows)
        vals = [(e[key], e["epoch"]) for e in rows if e.get(key) is not None]
        if not vals:
            return None
        return (max if better > 0 else min)(vals, key=lambda t: (better * t[0], -t[1]))[1]


def _watch(rows: list[dict]) -> tuple[str, int]:
    if any(e.get("val_accuracy") is not None for e in rows):
        return "val_accuracy", 1
    if any(e.get("val_loss") is not None for e in rows):
        return "val_loss", -1
    return "train_loss", -1


def read(path: str | Path) -> Record:
    """The record in folder `path`; raises RecordError naming the file when it is not one."""
    p = Path(path)
    if not p.is_dir():
        raise RecordError(f"{path}: not a folder", "netc run --log DIR writes a run record there")
    meta = _read_json(p / "meta.json")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RecordError(f"{p / 'meta.json'}: not a netc run record")
    if meta.get("version") != VERSION:
        raise RecordError(f"{p / 'meta.json'}: record format version {meta.get('version')!r}; "
                          f"this netc reads version {VERSION}")
    settings = _read_json(p / "settings.json") if (p / "settings.json").exists() else {}
    epochs = []
    mfile = p / "metrics.jsonl"
    if mfile.exists():
        for n, line in enumerate(mfile.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                if n == len(mfile.read_text().splitlines()):
                    break  # a line being written as we read: the run is still going
                raise RecordError(f"{mfile}:{n}: not a JSON line") from None
            if isinstance(row, dict):
                epochs.append(row)
    summary = _read_json(p / "summary.json") if (p / "summary.json").exists() else {}
    return Record(p, meta, settings if isinstance(settings, dict) else {}, tuple(epochs),
                  summary if isinstance(summary, dict) else {})


def _read_json(path: Path):
    try:
        if path.stat().st_size > 64 * 2**20:
            raise RecordError(f"{path}: too large for a run record file")
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordError(f"{path}: missing", "is this a folder written by netc run --log?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecordError(f"{path}: unreadable ({e})") from None


def find(paths: list[str | Path]) -> list[Record]:
    """The records in `paths`: each is a record folder or a folder holding record folders (searched
    recursively, sorted by path)."""
    found: list[Record] = []
    for root in paths:
        p = Path(root)
        if (p / "meta.json").is_file():
            found.append(read(p))
            continue
        if not p.is_dir():
            raise RecordError(f"{root}: no such folder")
        for meta in sorted(p.rglob("meta.json")):
            try:
                found.append(read(meta.parent))
            except RecordError:
                continue  # a foreign meta.json in a user's folder: not ours, not an error
    return found
