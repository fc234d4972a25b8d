"""Files that are never half-written and never trusted blindly.

Two habits every PMT file reader and writer shares:

* **Atomic writes.** `atomic_write(path, data)` (and `atomic_open(path)` for streams) write
  to a temporary file in the target's folder, flush it to disk, give it the mode an ordinary
  `open(path, "w")` would have given (0666 minus the umask: `tempfile` would leave 0600),
  and rename it over the target.  A crash, a full disk or a Ctrl-C mid-write leaves the old
  file as it was, never a truncated one under the real name.
* **Sizes checked before allocation.** A file's header announces how much data follows
  (an `.npy` member's shape, an IDX file's dimensions, a word2vec header's count and
  dimension).  The announced size is compared with the bytes actually present *before*
  anything is allocated, so a 30-byte file cannot ask for 7 TiB.  `read_npz` does this for
  every member of an `.npz` archive.

Example:
    >>> import json
    >>> atomic_write("runs/a/config.json", json.dumps({"lr": 0.001}))
    PosixPath('runs/a/config.json')
    >>> with atomic_open("runs/a/vectors.bin") as f:
    ...     f.write(b"2 3\\n")          # a word2vec header: 2 words, 3 dimensions
    4
    >>> np.savez("runs/a/last.npz", **{"model/W": np.eye(2)})
    >>> read_npz("runs/a/last.npz")                 # every member's size checked first
    {'model/W': array([[1., 0.],
           [0., 1.]])}
"""
from __future__ import annotations

import functools
import math
import os
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["atomic_write", "atomic_open", "file_mode", "existing_ancestor", "check_writable_place", "read_npz",
           "NpzError"]

# Deflate cannot shrink data by more than ~1032:1, so a compressed member (or gzip file)
# announcing more is a lie.
MAX_DEFLATE_RATIO = 1032


class NpzError(ValueError):
    """An .npz archive is unreadable, truncated, or announces more data than it holds."""


@functools.lru_cache(maxsize=1)
def file_mode() -> int:
    """The mode `open(path, "w")` gives a new file here: 0o666 minus the process umask."""
    mask = os.umask(0)   # the only portable way to read the umask is to set it ...
    os.umask(mask)       # ... and put it back at once (read once: other threads may be writing)
    return 0o666 & ~mask


def existing_ancestor(path) -> Path:
    """`path` if it exists, else its nearest existing parent: where creating it would begin.

    What decides, before any work, whether an output can be written there: it must be a
    folder (not a file in the way) that this process may write into.

    Example:
        >>> existing_ancestor("runs/not/yet/made.npz") == Path(".")
        True
    """
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_place(path, name: str | None = None) -> Path:
    """Refuse, before any work, a folder `path` that could not be created or written in.

    Its nearest existing ancestor must be a folder this process may write into; returns that
    ancestor.  `name` starts the messages (default: the path), e.g. "--out models/x".

    Example:
        >>> check_writable_place("runs/new/folder") == Path(".")
        True
    """
    place = existing_ancestor(path)
    where = name or str(path)
    if not place.is_dir():
        raise NotADirectoryError(f"{where}: {place} is a file, not a folder")
    if not os.access(place, os.W_OK | os.X_OK):
        raise PermissionError(f"{where}: cannot write in {place} (permission denied)")
    return place


@contextmanager
def atomic_open(path):
    """Open a temporary binary file that replaces `path` when the block ends without error.

    Parent folders are created.  On any exception (KeyboardInterrupt included) the temporary
    file is removed and `path` keeps its previous content.

    Example:
        >>> with atomic_open("out/vectors.bin") as f:
        ...     f.write(b"2 3\\n")
        4
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path, data) -> Path:
    """Write `data` (str as UTF-8, or bytes) to `path` atomically; returns the path."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def _member_header(z: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path):
    """(shape, dtype, header bytes) of one `.npy` member, read without touching its data."""
    with z.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        except (ValueError, EOFError, OSError, SyntaxError) as e:
            raise NpzError(f"{path}: member {info.filename!r} is not a valid .npy array: {e}") from None
        return shape, dtype, f.tell()


def _check_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path):
    """Refuse a member whose .npy header announces more bytes than the archive holds for it."""
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise NpzError(f"{path}: member {info.filename!r} says {info.file_size:,} bytes but stores "
                       f"{info.compress_size:,}: the archive is corrupt")
    if info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1):
        raise NpzError(f"{path}: member {info.filename!r} claims {info.file_size:,} bytes from "
                       f"{info.compress_size:,} compressed ones: the archive is corrupt")
    shape, dtype, header = _member_header(z, info, path)
    if dtype.hasobject:
        raise NpzError(f"{path}: member {info.filename!r} holds Python objects (pickle), which PMT never "
                       f"loads; save numeric arrays only")
    need = math.prod(shape) * dtype.itemsize   # Python ints: no overflow for absurd shapes
    if header + need != info.file_size:
        raise NpzError(f"{path}: member {info.filename!r} announces shape {shape} of {dtype} "
                       f"({need:,} bytes) but holds {info.file_size - header:,} bytes of data: "
                       f"the file is truncated or corrupt")


def read_npz(path, members=None) -> dict:
    """The arrays of an `.npz` archive, each member's header checked against its size first.

    Args:
        path: an archive written by `np.savez` / `np.savez_compressed`.
        members: names of the arrays to read (default: all); absent ones are left out.

    Returns:
        `{member name without ".npy": ndarray}`, read eagerly, so truncation surfaces here.

    Raises:
        FileNotFoundError: no such file.  NpzError (a ValueError): not a zip, a member that
            is not an array or announces more data than it holds, object arrays, corruption.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise NpzError(f"{path} is a folder, not an .npz file")
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if members is None or info.filename[:-len(".npy")] in members:
                    _check_member(z, info, path)
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files if members is None or k in members}
    except NpzError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        raise NpzError(f"{path}: not a readable .npz archive (truncated or corrupt?): "
                       f"{type(e).__name__}: {e}") from None
