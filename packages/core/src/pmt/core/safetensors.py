"""safetensors: named arrays in a file that PyTorch, Hugging Face and Rust tools read, and that
loading can never run code from.  Written from the format's public specification, numpy only.

Layout of a file:

    bytes 0 .. 8         N, the length of the header: an unsigned 64-bit little-endian integer
    bytes 8 .. 8+N       the header: UTF-8 JSON, an object that begins with '{' (it may be padded
                         at the end with spaces, 0x20)
                           {"__metadata__": {"key": "value", ...},          optional, strings only
                            "<name>": {"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]},
                            ...}
    bytes 8+N .. end     the data area: every tensor's bytes, little-endian, C (row-major) order,
                         at [begin, end) counted from the start of the data area

What the loader checks before it trusts a number (each failure is a `SafetensorsError` naming the
file and the problem): the header length is at most `MAX_HEADER_BYTES` and inside the file; the
header is UTF-8 JSON, an object, without duplicate keys; `__metadata__` maps strings to strings;
each entry has a known dtype, a shape of non-negative integers and two integer offsets with
begin <= end; end - begin = prod(shape) × itemsize; and the entries tile the data area exactly:
no overlap, no hole, no trailing bytes (a file is then exactly what its header says, and a
crafted file cannot make the reader touch bytes outside it or hide a second payload).

The writer pads the header with spaces so the data area starts at a multiple of 8 bytes and
stores tensors by decreasing itemsize, so every tensor starts at a multiple of its itemsize
(a reader that maps the file can view it in place).

Example:
    >>> save_safetensors("w.safetensors", {"w": np.ones((2, 3), np.float32)}, {"note": "demo"})
    PosixPath('w.safetensors')
    >>> load_safetensors("w.safetensors")["w"].shape
    (2, 3)
    >>> safetensors_metadata("w.safetensors")
    {'note': 'demo'}
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .files import atomic_open
from .checkpoint import CheckpointError

__all__ = ["SafetensorsError", "save_safetensors", "load_safetensors", "safetensors_metadata", "DTYPES",
           "MAX_HEADER_BYTES"]

# The specification's dtype names and the little-endian numpy type of each.  BF16 has no numpy
# type: it is read as float32 (exact: bfloat16 is the top half of a float32) and never written.
DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2",
          "U32": "<u4", "I32": "<i4", "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8"}
_BF16 = "BF16"
_NAME_OF = {np.dtype(v).newbyteorder("<"): k for k, v in DTYPES.items()}
_ITEMSIZE = {**{k: np.dtype(v).itemsize for k, v in DTYPES.items()}, _BF16: 2}
_ENTRY_KEYS = {"dtype", "shape", "data_offsets"}

# The reference implementation refuses headers above 100 MB; a real model's header is a few
# hundred bytes per tensor, so this bounds the JSON parser's work without rejecting any model.
MAX_HEADER_BYTES = 100 * 2**20
_ALIGN = 8


class SafetensorsError(CheckpointError):
    """A .safetensors file is malformed, or the tensors given to `save_safetensors` cannot be stored."""


# ---------------------------------------------------------------------------------------- writing
def _little_endian(path, name, value) -> tuple[str, np.ndarray]:
    """(dtype name, C-contiguous little-endian array) for one tensor to store."""
    a = np.asarray(value)
    key = a.dtype.newbyteorder("<")
    if key not in _NAME_OF:
        raise SafetensorsError(f"{path}: tensor {name!r} has dtype {a.dtype}; safetensors stores "
                               f"{', '.join(sorted(DTYPES))}")
    # A strided view or a big-endian array is stored as its C-order little-endian copy: the
    # values saved are the values given, in the layout the format prescribes.
    return _NAME_OF[key], np.asarray(a, dtype=key, order="C")


def save_safetensors(path, tensors, metadata=None) -> Path:
    """Write `tensors` (and string `metadata`) to `path` in the safetensors format, atomically.

    Args:
        path: target file (parent folders are created); conventionally `*.safetensors`.
        tensors: mapping name -> array-like of a dtype in `DTYPES` (bool, int8..64, uint8..64,
            float16/32/64).  Any layout is accepted; the file holds C-order little-endian bytes.
        metadata: optional mapping str -> str, stored as the header's `__metadata__`.
    Returns:
        the path written, as a `Path`.
    Raises:
        SafetensorsError: a name that is not a string or is "__metadata__", an unsupported
            dtype (object, complex, strings...), metadata that is not str -> str.

    Example:
        >>> from pmt.core.examples.linear_demo import LinearClassifier
        >>> model = LinearClassifier(4, 3)
        >>> save_safetensors("model.safetensors", model.state_dict(), {"epoch": "3"})
        PosixPath('model.safetensors')
    """
    path = Path(path)
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise SafetensorsError(f"{path}: metadata must be a dict of str -> str, got {type(metadata).__name__}")
        bad = [(k, v) for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            k, v = bad[0]
            raise SafetensorsError(f"{path}: metadata must map str -> str (the format stores text only); "
                                   f"got {k!r}: {type(v).__name__} {v!r}")
    arrays = []
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError(f"{path}: tensor names must be strings other than '__metadata__', got {name!r}")
        arrays.append((name, *_little_endian(path, name, value)))
    # Largest itemsize first: with the data area 8-aligned, each tensor starts at a multiple of its
    # own itemsize.  sorted() is stable, so equal itemsizes keep the caller's order.
    arrays.sort(key=lambda t: -t[2].itemsize)
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name, dtype, a in arrays:
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-(8 + len(text)) % _ALIGN)                    # pad: data area starts 8-aligned

    with atomic_open(path) as f:                               # never a half-written file
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for _, _, a in arrays:
            f.write(a.reshape(-1).view(np.uint8).data)         # the raw bytes, no copy
    return path


# ---------------------------------------------------------------------------------------- reading
def _no_duplicates(path):
    """json object hook that refuses a key seen twice (the specification disallows duplicates)."""
    def hook(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                raise SafetensorsError(f"{path}: header has the key {k!r} twice")
            seen[k] = v
        return seen
    return hook


def _no_constants(path):
    def hook(name):
        raise SafetensorsError(f"{path}: header holds the non-JSON constant {name}")
    return hook


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_entry(path, name, e, data_size) -> tuple[str, tuple, int, int]:
    """(dtype name, shape, begin, end) of one header entry, after checking every field."""
    where = f"{path}: tensor {name!r}"
    if not isinstance(e, dict):
        raise SafetensorsError(f"{where}: entry must be an object with dtype, shape and data_offsets, got {e!r}")
    if set(e) != _ENTRY_KEYS:
        missing, extra = sorted(_ENTRY_KEYS - set(e)), sorted(set(e) - _ENTRY_KEYS)
        raise SafetensorsError(f"{where}: entry must have exactly dtype, shape and data_offsets"
                               + (f"; missing {missing}" if missing else "")
                               + (f"; unexpected {extra}" if extra else ""))
    dtype, shape, offsets = e["dtype"], e["shape"], e["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _ITEMSIZE:
        raise SafetensorsError(f"{where}: unknown or unsupported dtype {dtype!r} (this reader knows "
                               f"{', '.join(sorted(_ITEMSIZE))})")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise SafetensorsError(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise SafetensorsError(f"{where}: data_offsets must be two integers 0 <= begin <= end, got {offsets!r}")
    begin, end = offsets
    need = math.prod(shape) * _ITEMSIZE[dtype]                     # Python ints: no overflow
    if end - begin != need:
        raise SafetensorsError(f"{where}: shape {shape} of {dtype} needs {need} bytes, data_offsets "
                               f"[{begin}, {end}] hold {end - begin}")
    if end > data_size:
        raise SafetensorsError(f"{where}: data_offsets [{begin}, {end}] run past the end of the data area "
                               f"({data_size} bytes; truncated file?)")
    return dtype, tuple(shape), begin, end


def _check_tiling(path, entries, data_size):
    """The byte ranges must cover [0, data_size) exactly once, in some order."""
    pos, prev = 0, None
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin < pos:
            raise SafetensorsError(f"{path}: tensors {prev!r} and {name!r} overlap in the data area "
                                   f"(byte {begin} < {pos})")
        if begin > pos:
            raise SafetensorsError(f"{path}: bytes [{pos}, {begin}) of the data area belong to no tensor")
        pos, prev = end, name
    if pos != data_size:
        raise SafetensorsError(f"{path}: the last {data_size - pos} bytes of the data area belong to no tensor")


def _read_header(f, path, size) -> tuple[dict, dict, int]:
    """(entries {name: (dtype, shape, begin, end)}, metadata, start of the data area) of an open file."""
    if size < 8:
        raise SafetensorsError(f"{path}: file is {size} bytes, too short for the 8-byte header length "
                               f"(not a safetensors file?)")
    n = int.from_bytes(f.read(8), "little")
    if n > MAX_HEADER_BYTES:
        raise SafetensorsError(f"{path}: header length {n:,} bytes exceeds the limit of {MAX_HEADER_BYTES:,} "
                               f"(not a safetensors file?)")
    if 8 + n > size:
        raise SafetensorsError(f"{path}: header length {n:,} runs past the end of the file ({size:,} bytes; "
                               f"truncated or not a safetensors file?)")
    raw = f.read(n)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SafetensorsError(f"{path}: header is not UTF-8 text ({e})") from None
    if not text.startswith("{"):
        raise SafetensorsError(f"{path}: header must be a JSON object starting with '{{', got {text[:20]!r}")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates(path), parse_constant=_no_constants(path))
    except json.JSONDecodeError as e:
        raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from None
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise SafetensorsError(f"{path}: __metadata__ must map strings to strings, got {meta!r}"[:300])
    data_size = size - 8 - n
    entries = {name: _check_entry(path, name, e, data_size) for name, e in header.items()}
    _check_tiling(path, entries, data_size)
    return entries, meta, 8 + n


def _open(path):
    path = Path(path)
    if not path.is_file():
        raise SafetensorsError(f"{path}: no such file")
    return path, open(path, "rb")


def safetensors_metadata(path) -> dict:
    """The `__metadata__` strings of a safetensors file (reads and checks only the header).

    Example:
        >>> _ = save_safetensors("model.safetensors", {"w": np.zeros(3, np.float32)}, {"format": "pt"})
        >>> safetensors_metadata("model.safetensors")
        {'format': 'pt'}
    """
    path, f = _open(path)
    with f:
        return _read_header(f, path, os.fstat(f.fileno()).st_size)[1]


def load_safetensors(path) -> dict:
    """Read every tensor of a safetensors file into numpy arrays (native byte order).

    Args:
        path: a `.safetensors` file (written by PMT, `safetensors.torch.save_file`, Hugging Face...).
    Returns:
        {name: ndarray} in the file's header order.  The arrays are writable views of one buffer
        holding the file's data area (one read, no per-tensor copy).  BF16 tensors come back as
        float32.
    Raises:
        SafetensorsError: see the module docstring for every check.

    Example:
        >>> from pmt.core.examples.linear_demo import LinearClassifier
        >>> _ = save_safetensors("model.safetensors", LinearClassifier(4, 3).state_dict())
        >>> w = load_safetensors("model.safetensors")
        >>> {name: (a.shape, a.dtype.name) for name, a in w.items()}
        {'W': ((4, 3), 'float32'), 'b': ((3,), 'float32')}
        >>> model = LinearClassifier(4, 3); model.load_state_dict(w)
    """
    path, f = _open(path)
    with f:
        size = os.fstat(f.fileno()).st_size
        entries, _, start = _read_header(f, path, size)
        data = bytearray(size - start)
        if f.readinto(data) != len(data):
            raise SafetensorsError(f"{path}: file shrank while being read")
    out = {}
    for name, (dtype, shape, begin, end) in entries.items():
        if dtype == _BF16:
            # bfloat16 = the high 16 bits of a float32: shift them back into place.
            bits = np.frombuffer(data, "<u2", (end - begin) // 2, begin).astype(np.uint32) << 16
            out[name] = bits.view(np.float32).reshape(shape)
            continue
        dt = np.dtype(DTYPES[dtype])
        a = np.frombuffer(data, dt, (end - begin) // dt.itemsize, begin) if end > begin else np.empty(0, dt)
        out[name] = a.reshape(shape).astype(dt.newbyteorder("="), copy=False)
    return out
