"""The pytest plugin of every PMT package: docstring examples run as tests.

Each package's `pyproject.toml` loads it (`addopts = "--doctest-modules -p pmt.core.pytest_plugin"`),
so `pytest` in a package folder runs the `>>>` examples of `src/` beside `tests/`.  An example
starts as a reader's fresh session would:

- `np` is numpy; every other name is imported in the example itself (or is a global of the
  module that holds it), so an example can be copied into a console as it stands;
- PMT's generator is seeded with 0, so printed random numbers are the same on every run;
- the working folder is a new empty temporary one, so an example may write
  `runs/x/model.safetensors` without touching the checkout.

pytest is a test dependency only; nothing outside a test run imports this module.
"""
from __future__ import annotations

import numpy as np
import pytest

from .seeding import seed


@pytest.fixture
def doctest_namespace(tmp_path, monkeypatch):
    """Replaces pytest's session-wide `doctest_namespace`: one fresh namespace per example."""
    monkeypatch.chdir(tmp_path)
    seed(0)
    return {"np": np}
