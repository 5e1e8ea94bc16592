"""What the experiment commands check before any training: optional libraries (with the pip command
that installs them) and output paths that must be writable."""
from __future__ import annotations

import os
from pathlib import Path

from ..spec.diagnostics import NetcError


class ObserverError(NetcError):
    """An observer that cannot start (an output path that cannot be written, a missing extra):
    raised before any training, with a hint (exit 2)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


def require(module: str, extra: str, what: str):
    """Import an optional library or raise ObserverError naming the pip command."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ObserverError(f"{what} needs {module.split('.')[0]}, which is not installed",
                            f"pip install 'netc[{extra}]'") from None


def check_writable_file(path: str, option: str) -> Path:
    """Refuse, before training, an output file whose folder is missing or read-only or that is a
    folder itself."""
    p = Path(path)
    if p.is_dir():
        raise ObserverError(f"{option} {path} is a folder", f"name a file, e.g. {option} {p / 'curves.png'}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ObserverError(f"{option} {path}: the folder {parent} does not exist",
                            f"create it first (mkdir -p {parent}) or name a file in an existing folder")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ObserverError(f"{option} {path}: cannot write there (permission denied)")
    return p
