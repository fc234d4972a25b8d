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


def test_a_batch_depends_only_on_the_seed_and_its_index_and_skip_resumes_mid_round():
    data = _data(steps=3)
    rounds = []
    for r in (1, 2):
        data.set_epoch(r)
        rounds.append([b for b in data])
    get_rng().random(10)                            # the shared generator plays no part
    fresh = _data(steps=3)                          # a new process resuming at round 2, batch 1
    fresh.set_epoch(2)
    fresh.skip(1)
    resumed = list(fresh)
    assert len(resumed) == 2 and len(list(fresh)) == 3     # the skip applies to one iteration only
    for got, want in zip(resumed, rounds[1][1:]):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    inputs, segments, labels = rounds[0][0]
    assert inputs.shape == segments.shape == labels.shape == (4, SEQ)
    assert (labels != NOT_MASKED).any()
    # a window drawn again in a later pass gets other masks (dynamic masking)
    w = data._windows(0)[0]
    k = next(k for k in range(3, 30) if w in data._windows(4 * k))
    again = data.batch(k)[2][list(data._windows(4 * k)).index(w)]
    assert not np.array_equal(data.batch(0)[2][0], again)


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
