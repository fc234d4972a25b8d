"""Reading IDX files, the array format of MNIST and Fashion-MNIST.

An IDX file is a big-endian header followed by the raw array, C order:

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions, ndim
    then        ndim big-endian uint32 sizes
    then        prod(sizes) elements, each big-endian

so MNIST's images start with magic 0x00000803 (uint8, 3 dims: count, rows, cols) and its
labels with 0x00000801.  The published files are gzip-compressed; `read_idx` recognises
gzip by its first two bytes (0x1f 0x8b), not by the file name.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .files import MAX_DEFLATE_RATIO

# type byte -> big-endian element dtype
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file is not a well-formed IDX file (bad magic, truncated, wrong size)."""


def _data_size(path: Path) -> tuple[bool, int]:
    """(is gzip, bytes of IDX content): the file size, or for gzip the size its trailer records.

    A gzip stream ends with ISIZE, the uncompressed length mod 2**32, so the content's size is
    known before decompressing anything: what lets `read_idx` refuse a header that announces
    more data than the file holds before allocating it.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(2) != _GZIP_MAGIC:
            return False, size
        if size < 18:                     # 10-byte header + 8-byte trailer at least
            raise IDXError(f"{path}: truncated gzip file ({size} bytes)")
        f.seek(-4, os.SEEK_END)
        return True, struct.unpack("<I", f.read(4))[0]


def read_idx_header(f, path="<stream>") -> tuple[np.dtype, tuple[int, ...]]:
    """Read the magic number and sizes from the start of the open binary stream `f`.

    Returns `(big-endian dtype, shape)` and leaves `f` at the first data byte.
    Raises `IDXError` naming `path` for a bad magic number or a truncated header.
    """
    magic = f.read(4)
    if len(magic) < 4:
        raise IDXError(f"{path}: truncated IDX header ({len(magic)} bytes, expected at least 4)")
    zero, type_code, ndim = struct.unpack(">HBB", magic)
    if zero != 0 or type_code not in IDX_DTYPES:
        raise IDXError(
            f"{path}: bad IDX magic number 0x{magic.hex()}; expected 0x0000TTNN with type TT "
            f"in {{{', '.join(f'0x{t:02X}' for t in IDX_DTYPES)}}} (e.g. 0x00000803 for MNIST images)"
        )
    raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise IDXError(f"{path}: truncated IDX header: {ndim} dimensions announced, "
                       f"only {len(raw)} of {4 * ndim} size bytes present")
    shape = struct.unpack(f">{ndim}I", raw)
    return IDX_DTYPES[type_code], shape


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) into a native-endian numpy array.

    Args:
        path: file name; gzip is detected from the content.

    Returns:
        A writable array of the stored shape and type, e.g. `(60000, 28, 28) uint8` for
        MNIST's training images and `(60000,) uint8` for its labels.

    Raises:
        FileNotFoundError: no such file.
        IDXError (a ValueError): bad magic number, truncated header or data, trailing bytes,
            or a corrupt gzip stream.  The sizes in the header are checked against the
            file's size (for gzip, the size its trailer records) before anything is allocated.

    Example (a 2 x 3 uint8 file written by hand: magic 0x00000802, then the sizes 2 and 3):
        >>> from pathlib import Path
        >>> header = bytes([0, 0, 0x08, 2]) + np.array([2, 3], ">u4").tobytes()
        >>> Path("tiny-idx2-ubyte").write_bytes(header + bytes(range(6)))
        18
        >>> read_idx("tiny-idx2-ubyte")
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    path = Path(os.fspath(path))
    try:
        gz, content = _data_size(path)
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            dtype, shape = read_idx_header(f, path)
            n = math.prod(shape)                      # Python ints: no overflow for absurd headers
            want = n * dtype.itemsize
            have = content - (4 + 4 * len(shape))
            # gzip records the size mod 2**32, and deflate shrinks by at most ~1032:1.
            expected = want % 2**32 if gz else want
            if have < expected or (gz and want > MAX_DEFLATE_RATIO * path.stat().st_size):
                raise IDXError(f"{path}: truncated IDX data: header says shape {shape} of {dtype.name} "
                               f"({want:,} bytes), file holds {max(have, 0):,}{' decompressed' if gz else ''}")
            if have > expected:
                raise IDXError(f"{path}: wrong size: {have - expected:,} bytes left after the {want:,} data bytes "
                               f"that shape {shape} of {dtype.name} needs")
            out = np.empty(n, dtype=dtype)
            got = f.readinto(memoryview(out).cast("B")) if n else 0
            if got < want:
                raise IDXError(f"{path}: truncated IDX data: header says shape {shape} of "
                               f"{dtype.name} ({want} bytes), file holds {got}")
            if f.read(1):
                raise IDXError(f"{path}: wrong size: bytes left after the {want} data bytes "
                               f"that shape {shape} of {dtype.name} needs")
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise IDXError(f"{path}: corrupt or truncated gzip stream ({e})") from e
    if dtype.itemsize > 1:
        # Swap the bytes in place and relabel as native order: no second copy of the data.
        out = out.byteswap(inplace=True).view(dtype.newbyteorder("="))
    else:
        out = out.view(dtype.newbyteorder("="))
    return out.reshape(shape)
