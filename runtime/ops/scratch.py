"""Scratch arrays that kernels reuse from call to call, for buffers that live only inside one
forward or backward call (a convolution's chunk of im2col patches and of their gradients).

Why: allocating and freeing a few MiB every call makes the C allocator hand the pages back to the
system and fault them in again (page faults cost more than the copy that fills them), which made
the digits CNN's conv backward several times slower than its arithmetic. A scratch array is kept
per thread and per name, and grows to the largest size asked for. A call may leave a token, and
`untouched` tells its owner later whether any call has used the buffer since: a conv's backward
reuses the patches its forward left there when the whole batch was one chunk and no other conv
ran in between (the last conv of a small network).
"""
from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype, owner: object = None) -> np.ndarray:
    """An uninitialized C-contiguous array of `shape` and `dtype`, in memory reused by the next
    call with the same `name` in this thread. The caller must finish with it before that call:
    never return it, save it on a ctx, or hold it across a call to another kernel; it may hold on
    to `owner` (any object) to ask `untouched` later whether the contents are still its own."""
    pool = _local.__dict__.setdefault("pool", {})
    owners = _local.__dict__.setdefault("owners", {})
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = pool.get(name)
    if raw is None or raw.nbytes < nbytes:
        raw = pool[name] = np.empty(nbytes, np.uint8)
    owners[name] = owner
    return raw[:nbytes].view(dtype).reshape(shape)


def untouched(name: str, owner: object, shape: tuple[int, ...], dtype) -> np.ndarray | None:
    """The scratch array `name` as `owner` last asked for it (same shape and dtype), if no call
    has asked for `name` since in this thread: what it wrote there is still there. Else None."""
    if owner is None or _local.__dict__.get("owners", {}).get(name) is not owner:
        return None
    return scratch(name, shape, dtype, owner)
