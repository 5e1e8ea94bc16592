"""Checkpoints: parameters, buffers, optimizer state, the run's position and the spec's hash, in one
.npz file written atomically (a temporary file renamed into place: a killed run never leaves a
truncated checkpoint)."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..spec.diagnostics import NetcError
from .train import Position, Trainer

FORMAT = 1


class CheckpointError(NetcError):
    """A checkpoint that cannot be used: missing, corrupt, or made from another spec (bad input,
    reported as `netc: error: ...`)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


def spec_hash(text: str) -> str:
    """The hash that ties a checkpoint to the spec text it was trained from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def save(path: str | Path, trainer: Trainer, spec_text: str) -> None:
    """Write the trainer's full state to `path` atomically."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    for k, v in trainer.model.state_dict().items():
        arrays[f"model/{k}"] = v
    for name, st in trainer.optimizer.state.items():
        for k, v in st.items():
            arrays[f"optim/{name}/{k}"] = np.asarray(v)
    if trainer.best_state is not None:
        for k, v in trainer.best_state.items():
            arrays[f"best/{k}"] = v
    meta = {"format": FORMAT, "spec_hash": spec_hash(spec_text), "seed": trainer.seed,
            "dtype": trainer.model.dtype.name, "optimizer_steps": trainer.optimizer.steps,
            "position": trainer.position.to_dict()}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
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


def read(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """A checkpoint's metadata and arrays; CheckpointError if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except Exception as e:  # zip, JSON or key errors: all mean an unusable file
        raise CheckpointError(f"{path}: not a netc checkpoint ({type(e).__name__})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')} is not supported")
    return meta, arrays


def weights(path: str | Path, spec_text: str) -> dict[str, np.ndarray]:
    """The parameters and buffers a run saved in `path` ends with, checked against the spec: the
    best epoch's when early stopping kept them, else the latest."""
    meta, arrays = read(path)
    _check_spec(path, meta, spec_text)
    best = {k[len("best/"):]: v for k, v in arrays.items() if k.startswith("best/")}
    return best or {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}


def restore(path: str | Path, trainer: Trainer, spec_text: str) -> None:
    """Put a saved run back into `trainer` (model, optimizer, best weights, position)."""
    meta, arrays = read(path)
    _check_spec(path, meta, spec_text)
    model_state = {k[6:]: v for k, v in arrays.items() if k.startswith("model/")}
    trainer.model.load_state_dict(model_state)
    trainer.optimizer.state = {}
    for k, v in arrays.items():
        if k.startswith("optim/"):
            _, name, key = k.split("/", 2)
            trainer.optimizer.state.setdefault(name, {})[key] = v.copy()
    trainer.optimizer.steps = meta["optimizer_steps"]
    best = {k[5:]: v for k, v in arrays.items() if k.startswith("best/")}
    trainer.best_state = best or None
    trainer.position = Position.from_dict(meta["position"])
    trainer.seed = meta["seed"]


def _check_spec(path, meta: dict, spec_text: str) -> None:
    if meta["spec_hash"] != spec_hash(spec_text):
        raise CheckpointError(f"{path} was saved from a different version of the spec",
                              "the model, data or train sections changed since it was saved: use "
                              "weights saved from this version of the file, or restore the version "
                              "the checkpoint was made from")
