"""Writing a file so that it is either the old one or the complete new one, never half of each.

The bytes go to a temporary file in the target's folder, are flushed to disk, and the temporary
file is renamed over the target (`os.replace` is atomic on POSIX and Windows).  An error or a
crash mid-write leaves the previous file untouched and removes the temporary one.

Example:
    >>> with atomic_write("runs/x/notes.txt") as f:   # creates runs/x/
    ...     f.write(b"all or nothing")
    14
    >>> open("runs/x/notes.txt", "rb").read()
    b'all or nothing'
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_write"]


@contextmanager
def atomic_write(path):
    """Open a binary file object that replaces `path` when the block ends without an error.

    Args:
        path: the target file; missing parent folders are created.
    Yields:
        a binary file object open for writing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
