"""Reading MNIST-format IDX files (gzipped or not, detected by the gzip magic bytes).

An IDX file is: two zero bytes, a data-type code, the number of dimensions, each dimension as a
big-endian uint32, then the values big-endian in row-major order.
"""
from __future__ import annotations

import math
import struct

import numpy as np

from .files import FileRef, read_bytes
from .raw import Raw, first_nonfinite, to_labels

# type code -> (big-endian NumPy dtype, name)
IDX_TYPES = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short"),
    0x0C: (">i4", "int"),
    0x0D: (">f4", "float"),
    0x0E: (">f8", "double"),
}
MAX_DIMS = 32  # NumPy arrays have at most 64 dimensions; real IDX files have 1 to 4
_MNIST_HINT = "MNIST files start with the bytes 00 00 08 03 (images) or 00 00 08 01 (labels)"


def read_idx_array(ref: FileRef) -> np.ndarray:
    """The array stored in one IDX file, with the dimensions of its header (native byte order).

    DataError naming the file for a bad magic number, an unknown type code, zero dimensions, a
    truncated header, or a data size that does not match the header's dimensions.
    """
    buf = read_bytes(ref)
    if len(buf) < 4:
        raise ref.error(f"is too short to be an IDX file ({len(buf)} bytes)", hint=_MNIST_HINT)
    if buf[0] != 0 or buf[1] != 0:
        raise ref.error(f"is not an IDX file: it starts with bytes {buf[:4].hex(' ')}, "
                        "expected 00 00 <type> <dimensions>", hint=_MNIST_HINT)
    code, ndim = buf[2], buf[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} ({name})" for c, (_, name) in IDX_TYPES.items())
        raise ref.error(f"has unknown IDX data type 0x{code:02X}", hint=f"known types: {known}")
    if ndim == 0:
        raise ref.error("declares 0 dimensions; expected at least one (the example count)")
    if ndim > MAX_DIMS:
        raise ref.error(f"declares {ndim} dimensions; an IDX file has at most {MAX_DIMS} "
                        "(images have 3: count, rows, columns)", hint=_MNIST_HINT)
    start = 4 + 4 * ndim
    if len(buf) < start:
        raise ref.error(f"is truncated: its header declares {ndim} dimensions but the file has "
                        f"{len(buf)} bytes")
    dims = struct.unpack(f">{ndim}I", buf[4:start])
    dtype, type_name = IDX_TYPES[code]
    count = math.prod(dims)
    need, have = count * np.dtype(dtype).itemsize, len(buf) - start
    if need != have:
        shape = " x ".join(str(d) for d in dims)
        raise ref.error(f"size does not match its header: {shape} values of type {type_name} need "
                        f"{need} bytes of data, the file has {have}")
    array = np.frombuffer(buf, dtype=dtype, count=count, offset=start).reshape(dims)
    return array.astype(array.dtype.newbyteorder("="))


def read_idx(images: FileRef, labels: FileRef) -> Raw:
    """Examples from a pair of IDX files: images (N, d1, d2, ...) and labels (N,).

    Returns x: (N, d1*d2*...) float64 (pixel values as stored, unscaled) and y: (N,) int64
    class indices for integer labels, float64 for real ones. DataError when the counts
    disagree, the labels are not one-dimensional, there are no examples or no pixels, or a
    float file holds NaN/Inf.
    """
    image_array = read_idx_array(images)
    label_array = read_idx_array(labels)
    n = image_array.shape[0]
    if n == 0:
        raise images.error("holds no images (its first dimension is 0)")
    if image_array[0].size == 0:
        raise images.error(f"holds images with no pixels (dimensions {image_array.shape})")
    if label_array.ndim != 1:
        raise labels.error(f"has dimensions {label_array.shape}; a labels file has one dimension",
                           hint="did you swap images= and labels=?")
    if label_array.shape[0] != n:
        raise labels.error(f"has {label_array.shape[0]} labels but {images.written} has {n} images",
                           hint="images and labels must come from the same set (train or test)")
    for ref, array, what in ((images, image_array, "image"), (labels, label_array, "label")):
        bad = first_nonfinite(array)
        if bad is not None:
            raise ref.error(f"{what} {bad[0]} holds {array[bad]}, expected finite numbers")
    shape = tuple(int(d) for d in image_array.shape[1:]) if image_array.ndim > 2 else None
    x = image_array.reshape(n, -1).astype(np.float64)
    return Raw(images.name, x, to_labels(label_array), path=str(images.resolved), example_shape=shape)
