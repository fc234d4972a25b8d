"""Reading a text8-style corpus: a zip holding one text file, or a plain text file.

text8 (and its stand-in gutenberg8) is one line of lower-case words separated by single
spaces.  Other corpora are accepted as they come: the bytes are decoded as UTF-8 (undecodable
bytes become U+FFFD rather than an error), optionally lower-cased, and split on any run of
whitespace, so empty lines, tabs and non-ASCII words are fine.  Each line is a *sentence*:
context windows never cross a line break (text8 is a single line, so for it this changes
nothing).

The corpus is kept as word ids (`int32`, 4 bytes a token) rather than Python strings
(~60 bytes a token): text8's 17M tokens fit in 68 MB.
"""
from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

# The names `--corpus` understands besides a path: dataset name -> zip file inside it.
KNOWN_CORPORA = {"text8": "text8.zip", "gutenberg8": "gutenberg8.zip"}


def resolve_corpus(source) -> Path:
    """The file behind `source`: an existing path, or a dataset name from `KNOWN_CORPORA`.

    Names go through `pmt.core.datasets.fetch`, like every PMT loader: `$PMT_DATA_DIR/<name>/`,
    then the cache, then a download where the corpus has a public URL (text8).

    Raises:
        FileNotFoundError: naming the path or dataset that could not be found.
        IsADirectoryError: `source` is a folder.
    """
    path = Path(os.fspath(source)).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"corpus {path}: is a folder; expected a .zip holding one text file, or a text file")
    if path.exists():
        return path
    name = str(source)
    if name not in KNOWN_CORPORA:
        raise FileNotFoundError(f"corpus {name!r}: no such file, and not one of the known corpora "
                                f"{sorted(KNOWN_CORPORA)}")
    from pmt.core.datasets import DatasetError, fetch
    try:
        files = fetch(name)
    except DatasetError as e:  # missing or corrupt: the same error as a missing path
        raise FileNotFoundError(str(e)) from e
    if KNOWN_CORPORA[name] not in files:
        raise FileNotFoundError(f"dataset {name!r} has no file {KNOWN_CORPORA[name]!r} (got {sorted(files)})")
    return Path(files[KNOWN_CORPORA[name]])


def read_text(source, max_chars: int | None = None, lower: bool = True) -> str:
    """The corpus text: the single member of a zip, or a plain text file.

    Args:
        source: a path (`.zip` or text) or a known corpus name (`"text8"`, `"gutenberg8"`).
        max_chars: keep only the first `max_chars` bytes (for quick runs and tests); a word cut
            in half at the end is dropped.
        lower: lower-case the text (text8 already is).

    Returns:
        str, the decoded text.

    Raises:
        FileNotFoundError, IsADirectoryError: see `resolve_corpus`.  ValueError: a corrupt zip,
            a zip not holding exactly one file, an empty corpus, a bad `max_chars`.

    Example:
        >>> text = read_text("gutenberg8", max_chars=1_000_000)   # the first megabyte
        >>> text.split()[:6], len(text.split())
        (['produced', 'by', 'tim', 'lindell', 'barry', 'abrahamsen'], 189873)
    """
    if max_chars is not None and (not isinstance(max_chars, (int, np.integer)) or max_chars <= 0):
        raise ValueError(f"max_chars must be a positive integer or None, got {max_chars!r}")
    path = resolve_corpus(source)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise ValueError(f"{path}: expected a zip with one text file (like text8.zip), "
                                     f"found {len(members)} members: {[m.filename for m in members][:5]}")
                with zf.open(members[0]) as f:
                    data = f.read() if max_chars is None else f.read(max_chars)
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise ValueError(f"{path}: corrupt zip file ({e})") from None
    else:
        with open(path, "rb") as f:
            data = f.read() if max_chars is None else f.read(max_chars)
    if max_chars is not None and len(data) == max_chars:
        # Drop a word cut in half by the limit.
        cut = max(data.rfind(b" "), data.rfind(b"\n"))
        data = data[:cut] if cut > 0 else data
    if not data.strip():
        raise ValueError(f"{path}: the corpus is empty (no words)")
    text = data.decode("utf-8", errors="replace")
    return text.lower() if lower else text


def split_sentences(text: str, max_words: int | None = None) -> list[list[str]]:
    """Lines of `text` as lists of words, empty lines dropped (for small corpora and tests).

    Args:
        text: the corpus text.
        max_words: cut longer lines into pieces of at most this many words.
    """
    out = []
    for line in io.StringIO(text):
        words = line.split()
        if not words:
            continue
        if max_words:
            out.extend(words[k:k + max_words] for k in range(0, len(words), max_words))
        else:
            out.append(words)
    return out
