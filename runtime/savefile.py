"""Where a checkpoint may be written, checked before a run trains: netc never replaces a file it
did not write, never writes to a device, and keeps one run per checkpoint path.

    check_destination(path, protected={...}, overwrite=False, resume=None)  # SaveError if unsafe
    with SaveLock(path) as lock: ...   # exclusive for the run; a second run gets SaveError
    remove_stale_temporaries(path)     # `.NAME.*.tmp` left by a run killed mid-write

A checkpoint is written as a temporary `.NAME.XXXXXXXX.tmp` beside it, then renamed into place
(runtime/checkpoint.py); the lock is the file `.NAME.lock` beside it, holding the owner's pid.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import tempfile
import zipfile
from pathlib import Path

from ..spec.diagnostics import NetcError


class SaveError(NetcError):
    """A --save destination netc refuses: `message` and a `hint` (exit 2)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, None, hint)


def is_checkpoint(path: str | Path) -> bool:
    """Whether `path` is a regular file holding a netc checkpoint (an .npz archive whose `meta`
    entry is netc's JSON metadata). Reads only the archive's directory and that entry; never
    unpickles."""
    import json

    import numpy as np
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) or not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("meta.npy")
            if info.file_size > 1 << 24:  # metadata is a few KB; do not inflate a bomb
                return False
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
        return isinstance(meta, dict) and "format" in meta and "spec_hash" in meta
    except Exception:  # anything unreadable is not a checkpoint netc wrote
        return False


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_destination(path: str, protected: dict[str, str] | None = None, overwrite: bool = False,
                      resume: str | None = None) -> None:
    """Refuse (SaveError) a --save `path` that netc must not write, before any training:

    - a directory, or anything but a regular file (a device such as /dev/full, a FIFO, a socket);
    - one of the `protected` files (path -> what it is, e.g. 'the .net file', 'the data file');
    - an existing file that is not a netc checkpoint;
    - an existing netc checkpoint, unless `overwrite` or it is the `resume` file;
    - a folder that cannot be created or written (probed by creating a temporary file there).
    """
    if not path:
        raise SaveError("--save needs a checkpoint path", "e.g. --save run.ckpt")
    target = Path(path)
    for folder in target.parents:
        if folder.exists():
            if not folder.is_dir():
                raise SaveError(f"--save {target}: {folder} is not a directory")
            break
    for other, what in (protected or {}).items():
        if _same(target, Path(other)):
            raise SaveError(f"--save {path} would overwrite {what}", "e.g. --save run.ckpt")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise SaveError(f"--save {path}: {e.strerror}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise SaveError(f"--save {path} is a directory",
                            f"name a file in it, e.g. --save {target / 'run.ckpt'}")
        if not stat.S_ISREG(mode):
            raise SaveError(f"--save {path} is not a regular file (a device, pipe or socket)",
                            "netc writes checkpoints to regular files only, e.g. --save run.ckpt")
        if not is_checkpoint(target):
            raise SaveError(f"--save {path} exists and is not a netc checkpoint; netc will not replace it",
                            "choose another name, or move the file away yourself")
        if not overwrite and not (resume and _same(target, Path(resume))):
            raise SaveError(f"--save {path} already holds a netc checkpoint",
                            f"add --overwrite to replace it, or --resume {path} to continue that run")
    _probe_folder(target)


def _probe_folder(target: Path) -> None:
    """Create the checkpoint's folder if needed and prove a file can be written in it."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise SaveError(f"--save {target}: cannot write in {parent}: {e.strerror or e}",
                        "choose a folder you can write to") from None


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the `.NAME.XXXXXXXX.tmp` files a killed run left beside checkpoint `path`; call
    it only while holding the path's SaveLock (no other netc run is writing one). Returns them."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    # tempfile.mkstemp names: the prefix, 8 characters of [a-z0-9_], the suffix
    pattern = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}" + re.escape(".tmp"))
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        candidate = folder / name
        if pattern.fullmatch(name) and stat.S_ISREG(os.lstat(candidate).st_mode):
            try:
                candidate.unlink()
                removed.append(candidate)
            except OSError:
                pass
    return removed


class SaveLock:
    """An exclusive lock (fcntl.flock) on a checkpoint path for a run's duration, held on the
    file `.NAME.lock` beside it (the checkpoint itself is replaced by rename at every save, so
    it cannot carry the lock). Entering raises SaveError naming the pid of a run that holds it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lock_path = self.path.parent / f".{self.path.name}.lock"
        self.fd: int | None = None

    def __enter__(self) -> "SaveLock":
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_pid(fd)
                os.close(fd)
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise SaveError(f"--save {self.path}: cannot lock it: {e.strerror}") from None
                who = f"pid {holder}" if holder else "another process"
                raise SaveError(f"--save {self.path} is in use by another netc run ({who})",
                                "wait for that run to finish, or save to another path") from None
            # The holder we waited on may have deleted the lock file on release: our lock on the
            # deleted inode would exclude nobody, so lock the file that is there now instead.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.lock_path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.lock_path)  # while still holding it: see __enter__
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text) if text.isdigit() else None
    except (OSError, UnicodeDecodeError):
        return None
