import numpy as np
import pytest

from pmt.core import seeding
from pmt.core.data import Batches, Rewindable, bucket_batches, batches, pad_sequences, train_valid_split


def xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return x, np.arange(n)


# ----------------------------------------------------------------------------- batches

def test_batches_cover_all_examples_in_order_without_shuffle():
    x, y = xy(10)
    data = batches(x, y, batch_size=4)
    assert isinstance(data, Batches) and len(data) == 3
    got = list(data)
    assert [b[0].shape for b in got] == [(4, 3), (4, 3), (2, 3)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), y)
    assert np.shares_memory(got[0][0], x)  # unshuffled batches are views, not copies


def test_drop_last_drops_the_short_batch():
    x, y = xy(10)
    data = batches(x, y, batch_size=4, drop_last=True)
    assert len(data) == 2 and [len(b[1]) for b in data] == [4, 4]


def test_batches_are_reiterable_and_len_matches_iteration():
    data = batches(*xy(7), batch_size=3, shuffle=True)
    for _ in range(3):
        assert len(list(data)) == len(data) == 3


def test_shuffled_epoch_is_a_permutation_keeping_arrays_aligned():
    x, y = xy(50)
    data = batches(x, y, batch_size=8, shuffle=True, seed=1)
    xs, ys = zip(*data)
    ys = np.concatenate(ys)
    assert sorted(ys) == list(range(50)) and not np.array_equal(ys, np.arange(50))
    np.testing.assert_array_equal(np.concatenate(xs), x[ys])


def test_seeded_shuffle_depends_only_on_seed_and_epoch():
    def order(data, epoch):
        data.set_epoch(epoch)
        return np.concatenate([b[0] for b in data])

    a = batches(np.arange(100), batch_size=10, shuffle=True, seed=5)
    b = batches(np.arange(100), batch_size=10, shuffle=True, seed=5)
    e0, e1 = order(a, 0), order(a, 1)
    assert not np.array_equal(e0, e1)          # a new permutation each epoch
    np.testing.assert_array_equal(order(b, 1), e1)  # epoch 1 is the same without running epoch 0
    np.testing.assert_array_equal(e0, np.concatenate([bt[0] for bt in batches(
        np.arange(100), batch_size=10, shuffle=True, seed=5)]))


def test_plain_loop_without_set_epoch_still_reshuffles_each_epoch():
    data = batches(np.arange(100), batch_size=100, shuffle=True, seed=0)
    first, second = next(iter(data))[0], next(iter(data))[0]
    assert not np.array_equal(first, second)


def test_unseeded_shuffle_follows_the_global_seed():
    seeding.seed(3)
    a = np.concatenate([b[0] for b in batches(np.arange(30), batch_size=7, shuffle=True)])
    seeding.seed(3)
    b = np.concatenate([b[0] for b in batches(np.arange(30), batch_size=7, shuffle=True)])
    np.testing.assert_array_equal(a, b)


def test_mismatched_first_dimensions_error_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(10, 3\), \(9,\)"):
        batches(np.zeros((10, 3)), np.zeros(9), batch_size=2)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_batch_size_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        batches(np.zeros(4), batch_size=bad)


def test_scalar_array_and_no_arrays_are_rejected():
    with pytest.raises(ValueError, match="scalar"):
        batches(np.float32(1.0), batch_size=1)
    with pytest.raises(ValueError, match="at least one array"):
        batches(batch_size=1)


def test_set_epoch_rejects_negative_values():
    with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
        batches(np.zeros(4), batch_size=2).set_epoch(-1)


# ----------------------------------------------------------------------------- Rewindable

def test_rewindable_calls_the_generator_function_afresh_each_epoch():
    calls = []

    def gen(n, scale=1):
        calls.append(n)
        for i in range(n):
            yield (np.full(2, i * scale),)

    data = Rewindable(gen, 3, scale=10, length=3)
    epochs = [[b[0][0] for b in data] for _ in range(2)]
    assert epochs == [[0, 10, 20], [0, 10, 20]] and calls == [3, 3] and len(data) == 3


def test_rewindable_len_without_length_is_a_clear_type_error():
    with pytest.raises(TypeError, match="pass length="):
        len(Rewindable(lambda: iter(())))


def test_rewindable_rejects_non_callables():
    with pytest.raises(TypeError, match="callable"):
        Rewindable([1, 2, 3])


# ----------------------------------------------------------------------------- bucket_batches

def test_bucket_batches_cover_every_index_exactly_once():
    lengths = np.random.default_rng(0).integers(1, 100, size=1003)
    bb = bucket_batches(lengths, batch_size=16, seed=0)
    got = list(bb)
    assert len(got) == len(bb) == 63
    assert sorted(len(i) for i in got) == [11] + [16] * 62  # one short batch, anywhere in the order
    assert sorted(np.concatenate(got)) == list(range(1003))


def test_bucketing_cuts_padding_compared_with_random_batches():
    lengths = np.random.default_rng(1).integers(1, 200, size=4000)

    def padding(batch_indices):
        return sum(int(lengths[i].max() * len(i) - lengths[i].sum()) for i in batch_indices)

    bucketed = padding(bucket_batches(lengths, batch_size=32, seed=0))
    random = padding([b[0] for b in batches(np.arange(4000), batch_size=32, shuffle=True, seed=0)])
    assert bucketed < 0.1 * random


def test_bucket_batches_reshuffle_per_epoch_and_repeat_per_seed():
    lengths = np.arange(500) % 37
    a, b = bucket_batches(lengths, 10, seed=2), bucket_batches(lengths, 10, seed=2)
    e0 = [tuple(i) for i in a]
    e1 = [tuple(i) for i in a]
    assert e0 != e1
    b.set_epoch(1)
    assert [tuple(i) for i in b] == e1


def test_unshuffled_buckets_are_sorted_consecutive_chunks():
    lengths = np.array([5, 1, 4, 2, 9, 3, 8, 7])
    got = list(bucket_batches(lengths, batch_size=2, shuffle=False, bucket_size=4))
    assert [list(i) for i in got] == [[1, 3], [2, 0], [5, 7], [6, 4]]


def test_bucket_batches_drop_last():
    assert all(len(i) == 4 for i in bucket_batches(np.ones(10, int), 4, drop_last=True, seed=0))


@pytest.mark.parametrize("kw,match", [
    (dict(lengths=np.ones((2, 2), int), batch_size=2), "1-D integer array"),
    (dict(lengths=np.array([1.5, 2.0]), batch_size=2), "1-D integer array"),
    (dict(lengths=np.array([1, -2]), batch_size=2), "lengths must be >= 0"),
    (dict(lengths=np.array([1, 2]), batch_size=2, bucket_size=3), "multiple of batch_size=2"),
    (dict(lengths=np.array([1, 2]), batch_size=0), "batch_size"),
])
def test_bucket_batches_validate_their_inputs(kw, match):
    with pytest.raises(ValueError, match=match):
        bucket_batches(**kw)


# ----------------------------------------------------------------------------- pad_sequences

def test_pad_sequences_pads_right_and_returns_lengths():
    padded, lengths = pad_sequences([[5, 6, 7], [8], [], np.array([1, 2])], pad_value=-1)
    np.testing.assert_array_equal(padded, [[5, 6, 7], [8, -1, -1], [-1, -1, -1], [1, 2, -1]])
    np.testing.assert_array_equal(lengths, [3, 1, 0, 2])
    assert padded.dtype == np.int64 and lengths.dtype == np.int64


def test_pad_sequences_truncates_to_max_len_keeping_the_start():
    padded, lengths = pad_sequences([[1, 2, 3, 4], [5], [6, 7, 8]], max_len=2, dtype=np.int32)
    np.testing.assert_array_equal(padded, [[1, 2], [5, 0], [6, 7]])
    np.testing.assert_array_equal(lengths, [2, 1, 2])
    assert padded.dtype == np.int32


def test_pad_sequences_widens_to_max_len_and_handles_empty_input():
    padded, lengths = pad_sequences([[1]], max_len=3)
    np.testing.assert_array_equal(padded, [[1, 0, 0]])
    padded, lengths = pad_sequences([])
    assert padded.shape == (0, 0) and lengths.shape == (0,)


def test_pad_sequences_matches_a_reference_loop_on_random_data():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 50, size=rng.integers(0, 20)) for _ in range(200)]
    padded, lengths = pad_sequences(seqs, max_len=12)
    for row, s, n in zip(padded, seqs, lengths):
        k = min(len(s), 12)
        assert n == k and list(row[:k]) == list(s[:k]) and not row[k:].any()


def test_pad_sequences_rejects_non_1d_sequences():
    with pytest.raises(ValueError, match=r"sequence 1 has shape \(2, 2\)"):
        pad_sequences([[1], [[1, 2], [3, 4]]])
    with pytest.raises(ValueError, match="max_len"):
        pad_sequences([[1]], max_len=-1)


@pytest.mark.parametrize("shuffle", [True, False])
def test_skip_starts_the_next_iteration_at_batch_k_with_the_same_order(shuffle):
    from pmt.core import get_rng_state, set_rng_state
    x = np.arange(23)
    data = batches(x, batch_size=5, shuffle=shuffle)
    state = get_rng_state()
    full = [b[0] for b in data]
    set_rng_state(state)
    data.skip(2)
    rest = [b[0] for b in data]
    assert len(rest) == 3 and all((a == b).all() for a, b in zip(rest, full[2:]))
    assert len(list(data)) == 5        # a skip lasts one iteration


def test_bucket_batches_skip_matches_the_tail_of_a_full_epoch():
    lengths = np.random.default_rng(0).integers(1, 30, 100)
    data = bucket_batches(lengths, batch_size=8, seed=3)
    data.set_epoch(2)
    full = list(data)
    data.set_epoch(2)
    data.skip(5)
    assert all((a == b).all() for a, b in zip(list(data), full[5:])) and len(full) == 13


def test_skip_rejects_negative_counts():
    with pytest.raises(ValueError, match="skip"):
        batches(np.arange(3), batch_size=2).skip(-1)


# ----------------------------------------------------------------- train_valid_split
@pytest.mark.parametrize("n,valid_size,n_valid", [(60000, 5000, 5000), (1000, 0.1, 100), (7, 0.5, 4), (2, 1, 1)])
def test_train_valid_split_is_a_disjoint_cover_of_the_right_sizes(n, valid_size, n_valid):
    tr, va = train_valid_split(n, valid_size, seed=3)
    assert len(va) == n_valid and len(tr) == n - n_valid
    assert tr.dtype == va.dtype == np.int64
    assert np.array_equal(np.sort(np.concatenate([tr, va])), np.arange(n))   # disjoint, nothing lost
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(va) > 0)               # sorted


def test_train_valid_split_depends_on_its_seed_only():
    seeding.seed(1)
    tr, va = train_valid_split(1000, 100, seed=5)
    seeding.seed(2)                                    # the global generator has no say
    np.random.default_rng(0).random(10)
    tr2, va2 = train_valid_split(1000, 100, seed=5)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)
    assert not np.array_equal(va, train_valid_split(1000, 100, seed=6)[1])


def test_train_valid_split_holds_out_a_random_sample_not_a_block():
    _, va = train_valid_split(60000, 5000, seed=0)
    assert va.min() < 1000 and va.max() > 59000       # spread over the whole range, not the last 5,000
    assert abs(va.mean() - 30000) < 1500


@pytest.mark.parametrize("n,valid_size,match", [
    (100, 0, "holds out 0 of 100"), (100, 100, "holds out 100 of 100"), (100, 0.001, "holds out 0 of 100"),
    (100, 1.0, "count .* or a fraction"), (100, -0.5, "count .* or a fraction"), (100, "10", "got '10'"),
    (100, True, "got True"), (1, 1, "n must be an integer >= 2"), (100.0, 10, "got 100.0")])
def test_train_valid_split_rejects_sizes_that_leave_a_part_empty(n, valid_size, match):
    with pytest.raises(ValueError, match=match):
        train_valid_split(n, valid_size)


@pytest.mark.parametrize("bad", [None, -1, 1.5])
def test_train_valid_split_seed_must_be_a_non_negative_integer(bad):
    with pytest.raises(ValueError, match="seed"):
        train_valid_split(100, 10, seed=bad)
