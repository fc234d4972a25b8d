"""Helpers for PMT's own test suites (pytest is imported lazily: it is a test dependency only)."""
from __future__ import annotations

import os
from pathlib import Path

from .datasets import DatasetError, checkout_root, fetch, get_data_dir


def _monorepo_data_dir() -> Path | None:
    """The project's read-only data mirror next to this monorepo checkout, if there is one.

    `make test-all` points `PMT_DATA_DIR` at the same mirror; this fallback gives a bare
    `pytest` run inside a package folder the same default.
    """
    root = checkout_root()
    candidate = root.parent / "shared" / "data" if root is not None else None
    return candidate if candidate is not None and candidate.is_dir() else None


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


def require_mpi() -> str:
    """The `mpiexec` that belongs to this interpreter's mpi4py, for a test that runs several ranks.

    Looks beside `sys.executable` (where the `mpich` wheel installs it), then on PATH.  When
    mpi4py or mpiexec is missing the test is skipped with the line saying how to install them,
    or, with `PMT_REQUIRE_MPI=1` (as in CI), fails, so a CI run can never skip them silently.
    """
    import importlib.util
    import shutil
    import sys

    import pytest

    from .distributed import INSTALL_HINT

    beside = Path(sys.executable).parent / "mpiexec"   # not resolved: a venv's bin/ holds it
    mpiexec = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if importlib.util.find_spec("mpi4py") is None or mpiexec is None:
        why = f"MPI tests need mpi4py and mpiexec: {INSTALL_HINT}"
        if os.environ.get("PMT_REQUIRE_MPI") == "1":
            pytest.fail(f"PMT_REQUIRE_MPI=1 but {why}", pytrace=False)
        pytest.skip(why)
    return mpiexec


def run_mpi(n: int, args, timeout: float = 120, cwd=None, env=None):
    """Run `mpiexec -n n python *args` (one BLAS thread per rank); returns the CompletedProcess.

    A hung job is killed after `timeout` seconds (the whole process group: mpiexec and its
    ranks) and the test fails saying so.

    Example:
        >>> result = run_mpi(2, ["-c", "from pmt.core import distributed as d; d.is_main() and print(d.world_size())"])
        >>> result.returncode, result.stdout
        (0, '2\\n')
    """
    import signal
    import subprocess

    import pytest

    proc = start_mpi(n, args, cwd=cwd, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mpiexec -n {n} {' '.join(map(str, args))} did not finish in {timeout} s "
                    f"(a rank waiting forever?); stderr:\n{err}", pytrace=False)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def start_mpi(n: int, args, cwd=None, env=None):
    """Start `mpiexec -n n python *args` in its own process group; returns the Popen (text pipes)."""
    import subprocess
    import sys

    full_env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([require_mpi(), "-n", str(n), sys.executable, *map(str, args)], cwd=cwd,
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
