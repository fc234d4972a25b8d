"""Helpers for PMT's own test suites (pytest is imported lazily: it is a test dependency only)."""
from __future__ import annotations

import os
from pathlib import Path

from .datasets import DatasetError, fetch, get_data_dir


def _monorepo_data_dir() -> Path | None:
    """The data mirror beside this monorepo checkout (`<repo>/../shared/data`), if there is one.

    The Makefile exports `PMT_DATA_DIR=../shared/data`; this fallback gives a bare
    `pytest` run inside a package folder the same default.
    """
    for parent in Path(__file__).resolve().parents:
        if (parent / "packages").is_dir() and (parent / "docs").is_dir():
            candidate = parent.parent / "shared" / "data"
            return candidate if candidate.is_dir() else None
    return None


def require_dataset(name: str, files=None) -> dict:
    """Paths of a real dataset for a test, never downloading.

    Looks in `$PMT_DATA_DIR` (when unset: the monorepo's `../shared/data`, if present) and
    the cache.  When the data is missing or fails its checksum the test is skipped, or,
    with `PMT_REQUIRE_DATA=1` (as in CI), fails with the `DatasetError` message, so absent
    data can never make a CI run pass silently.

    Args:
        name: a registered dataset, e.g. "mnist".
        files: filenames to require (default: the dataset's required files).

    Returns:
        `{filename: Path}` as from `pmt.core.datasets.fetch`.

    Example:
        >>> def test_mnist_labels():
        ...     paths = require_dataset("mnist", files=["t10k-labels-idx1-ubyte.gz"])
    """
    import pytest

    ddir = get_data_dir() or _monorepo_data_dir()
    try:
        return fetch(name, files=files, download=False, data_dir=ddir)
    except DatasetError as e:
        if os.environ.get("PMT_REQUIRE_DATA") == "1":
            pytest.fail(f"PMT_REQUIRE_DATA=1 but dataset {name!r} is unavailable: {e}", pytrace=False)
        pytest.skip(f"dataset {name!r} unavailable: {e}")
