import json
import random

import numpy as np
import pytest

from pmt.core import get_rng, get_rng_state, seed, set_rng_state


def test_same_seed_gives_same_numbers():
    seed(123)
    a = get_rng().normal(size=5)
    seed(123)
    b = get_rng().normal(size=5)
    np.testing.assert_array_equal(a, b)


def test_different_seeds_give_different_numbers():
    seed(1)
    a = get_rng().normal(size=5)
    seed(2)
    assert not np.array_equal(a, get_rng().normal(size=5))


def test_seed_matches_numpy_default_rng():
    seed(7)
    np.testing.assert_array_equal(get_rng().random(4), np.random.default_rng(7).random(4))


def test_seed_reseeds_in_place_so_earlier_holders_follow():
    held = get_rng()
    seed(5)
    x = held.random(3)
    seed(5)
    np.testing.assert_array_equal(x, get_rng().random(3))
    assert held is get_rng()


def test_seed_also_seeds_python_random_and_legacy_numpy():
    seed(11)
    a, b = random.random(), np.random.rand()
    seed(11)
    assert (a, b) == (random.random(), np.random.rand())


def test_state_round_trip_through_json_resumes_the_stream():
    seed(3)
    get_rng().random(10)
    state = json.loads(json.dumps(get_rng_state()))
    expected = get_rng().random(6)
    get_rng().random(100)
    set_rng_state(state)
    np.testing.assert_array_equal(get_rng().random(6), expected)


def test_get_rng_state_is_a_snapshot_not_a_live_view():
    seed(0)
    state = get_rng_state()
    get_rng().random(3)
    assert state != get_rng_state()


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None, True])
def test_seed_rejects_non_integer_or_negative(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed(bad)


def test_set_rng_state_rejects_garbage():
    with pytest.raises(ValueError, match="cannot restore"):
        set_rng_state({"bit_generator": "nope"})
