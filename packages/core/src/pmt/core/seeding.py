"""One place to seed everything.

All randomness in PMT (initialisation, dropout masks, shuffling, negative sampling) draws
from one `numpy.random.Generator`, returned by `get_rng()`.  `seed(s)` replaces it, so the
same seed gives the same numbers; its state can be saved and restored (checkpoints do), so
a resumed run continues with exactly the random stream it would have had.
"""
from __future__ import annotations

import random

import numpy as np

_rng = np.random.default_rng(0)


def seed(s: int) -> np.random.Generator:
    """Seed PMT's generator, Python's `random` and numpy's legacy global generator with `s`.

    The generator is re-seeded in place (same object), so code that fetched `get_rng()`
    before the call follows the new seed too.  `seed(s)` then draws exactly the numbers
    `np.random.default_rng(s)` would.

    Example:
        >>> _ = seed(0); a = get_rng().normal(size=3)
        >>> _ = seed(0); b = get_rng().normal(size=3)
        >>> np.array_equal(a, b), np.array_equal(a, np.random.default_rng(0).normal(size=3))
        (True, True)
    """
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
        raise ValueError(f"seed must be a non-negative integer, got {s!r}")
    # PCG64(s) seeds through SeedSequence(s), exactly as default_rng(s) does.
    _rng.bit_generator.state = np.random.PCG64(int(s)).state
    random.seed(int(s))
    np.random.seed(int(s) % 2**32)
    return _rng


def get_rng() -> np.random.Generator:
    """The generator every PMT component draws from."""
    return _rng


def get_rng_state() -> dict:
    """The generator's state as a JSON-serialisable dict (a fresh copy, safe to keep)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict):
    """Restore a state returned by `get_rng_state` (in place, so holders of get_rng() follow)."""
    try:
        _rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as e:
        raise ValueError(f"cannot restore random generator state: {e}") from e
