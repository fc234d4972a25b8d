"""Shared fixtures: every test starts from the same seeded generator."""
import pytest

from pmt.core import seed


@pytest.fixture(autouse=True)
def _seeded():
    seed(1234)
    yield
