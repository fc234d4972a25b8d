import numpy as np

from pmt.core import get_rng, seed
from pmt.transformer.pretrain.batches import PretrainBatches, heldout_batches
from pmt.transformer.pretrain.masking import NOT_MASKED

SEQ, V = 16, 50
TOKENS = np.random.default_rng(0).integers(7, V, 13 * 10).astype(np.uint16)   # exactly 10 windows
LINES = np.array([0, 20, 45, 90, 130])


def _data(steps=2, batch=4):
    return PretrainBatches(TOKENS, LINES, SEQ, batch, steps, V, seed=3)


def test_each_pass_shows_every_window_once_in_a_new_order():
    data = _data(steps=5, batch=4)                  # 20 segments per round = 2 passes of 10 windows
    seed(0)
    data.set_epoch(1)
    starts = np.concatenate([data._windows(k * 4) for k in range(5)])
    first, second = starts[:10], starts[10:]
    np.testing.assert_array_equal(np.sort(first), data.starts)
    np.testing.assert_array_equal(np.sort(second), data.starts)
    assert not np.array_equal(first, second)


def test_a_round_is_the_same_given_the_round_number_and_the_generator_state():
    data = _data()
    seed(1)
    rounds = []
    for r in (1, 2, 3):
        data.set_epoch(r)
        rounds.append([b for b in data])
    seed(1)
    data.set_epoch(1)
    list(data)
    state_after_1 = get_rng().bit_generator.state
    fresh = _data()                                 # a new process resuming at round 2
    get_rng().bit_generator.state = state_after_1
    fresh.set_epoch(2)
    for got, want in zip(fresh, rounds[1]):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    assert len(rounds[0]) == len(data) == 2
    inputs, segments, labels = rounds[0][0]
    assert inputs.shape == segments.shape == labels.shape == (4, SEQ)
    assert (labels != NOT_MASKED).any()


def test_heldout_masking_is_fixed_and_independent_of_the_training_generator():
    seed(0)
    a = [b for b in heldout_batches(TOKENS, LINES, SEQ, 3, V)]
    get_rng().random(100)
    b = [b for b in heldout_batches(TOKENS, LINES, SEQ, 3, V)]
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)
    assert sum(len(x[0]) for x in a) == 10
    assert sum(len(x[0]) for x in heldout_batches(TOKENS, LINES, SEQ, 3, V, max_segments=4)) == 4
