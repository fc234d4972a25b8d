"""The pytest plugin of every PMT package: docstring examples run as tests.

Each package's `pyproject.toml` loads it (`addopts = "--doctest-modules -p pmt.core.pytest_plugin"`),
so `pytest` in a package folder runs the `>>>` examples of `src/` beside `tests/`.  An example
starts as a reader's fresh session would:

- `np` is numpy; every other name is imported in the example itself (or is a global of the
  module that holds it), so an example can be copied into a console as it stands;
- PMT's generator is seeded with 0, so printed random numbers are the same on every run;
- the working folder is a new empty temporary one, so an example may write
  `runs/x/model.safetensors` without touching the checkout.

An example that reads a real dataset (`load_mnist("fashion-mnist")`) finds it as the tests do
(`pmt.core.testing.require_dataset`): on disk or not at all, never by downloading.  Without the
files it is skipped, or, with `PMT_REQUIRE_DATA=1` (as in CI), it fails.  An example of an
optional extra (`onnx_export`) is skipped when the extra is not installed, as its tests are.

pytest is a test dependency only; nothing outside a test run imports this module.
"""
from __future__ import annotations

import doctest
import os

import numpy as np
import pytest

from . import datasets
from .seeding import seed

# The packages of PMT's optional extras (`make install-onnx`, `make install-mpi`).
OPTIONAL_EXTRAS = {"onnx", "onnxruntime", "mpi4py"}


def _no_download(spec, rf, dest, ddir):
    raise datasets.DatasetError(f"{spec.name}/{rf.filename} is not on disk (examples never download)")


@pytest.fixture
def doctest_namespace(tmp_path, monkeypatch):
    """Replaces pytest's session-wide `doctest_namespace`: one fresh namespace per example."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets, "_download", _no_download)
    seed(0)
    return {"np": np}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """An example stopped by a missing dataset (unless PMT_REQUIRE_DATA=1) or extra is skipped."""
    try:
        return (yield)
    except doctest.UnexpectedException as e:
        err = e.exc_info[1]
        if isinstance(err, ImportError) and err.name in OPTIONAL_EXTRAS:
            pytest.skip(f"{item.name}: the example needs an optional extra: {err}")
        while err is not None and not isinstance(err, datasets.DatasetError):
            err = err.__cause__          # a loader may re-raise it as FileNotFoundError
        if err is not None and os.environ.get("PMT_REQUIRE_DATA") != "1":
            pytest.skip(f"{item.name}: the example needs a dataset that is not on disk: {err}")
        raise
