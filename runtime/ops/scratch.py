"""Scratch arrays that kernels reuse from call to call, for buffers that live only inside one
forward or backward call (a convolution's chunk of im2col patches and of their gradients).

Why: allocating and freeing a few MiB every call makes the C allocator hand the pages back to the
system and fault them in again (page faults cost more than the copy that fills them), which made
the digits CNN's conv backward several times slower than its arithmetic. A scratch array is kept
per thread and per name, and grows to the largest size asked for.
"""
from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialized C-contiguous array of `shape` and `dtype`, in memory reused by the next
    call with the same `name` in this thread. The caller must finish with it before that call:
    never return it, save it on a ctx, or hold it across a call to another kernel."""
    pool = _local.__dict__.setdefault("pool", {})
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = pool.get(name)
    if raw is None or raw.nbytes < nbytes:
        raw = pool[name] = np.empty(nbytes, np.uint8)
    return raw[:nbytes].view(dtype).reshape(shape)
