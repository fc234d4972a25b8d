import numpy as np
import pytest

from pmt.word2vec import NegativeSampler, context_pairs, dynamic_windows, keep_probabilities, subsample
from pmt.word2vec.sampling import sentence_ids, window_extents


def test_keep_probability_follows_mikolovs_formula():
    counts = np.array([500, 100, 1, 0 + 399])  # total 1000
    p = keep_probabilities(counts, sample=1e-2)  # threshold count t * total = 10
    f = counts / 1000
    expected = np.minimum((np.sqrt(f / 1e-2) + 1) * 1e-2 / f, 1)
    assert np.allclose(p, expected)
    assert p[2] == 1.0          # rare words are always kept
    assert p[0] < p[1] < 1.0    # the more frequent, the more often dropped


def test_keep_probability_zero_sample_disables_subsampling_and_negative_is_rejected():
    assert (keep_probabilities([5, 50], 0) == 1).all()
    with pytest.raises(ValueError, match="sample must be >= 0"):
        keep_probabilities([5], -1)


def test_subsample_keeps_frequent_word_at_its_probability():
    rng = np.random.default_rng(0)
    ids = np.zeros(200_000, dtype=np.int32)
    keep = np.array([0.3])
    assert abs(subsample(ids, keep, rng).mean() - 0.3) < 0.01


def test_dynamic_windows_are_uniform_in_one_to_window():
    b = dynamic_windows(50_000, 5, np.random.default_rng(0))
    assert b.min() == 1 and b.max() == 5
    assert np.allclose(np.bincount(b)[1:] / len(b), 0.2, atol=0.01)


@pytest.mark.parametrize("line_starts", [None, np.array([0, 1, 7, 8, 20, 33])])
def test_window_extents_reach_b_words_but_never_past_a_line_or_the_corpus(line_starts):
    n, window = 40, 4
    b = dynamic_windows(n, window, np.random.default_rng(1))
    sent = sentence_ids(n, line_starts)
    left, right = window_extents(b, sent)
    line = np.zeros(n, dtype=int) if sent is None else sent
    for i in range(n):  # the definition, position by position
        ctx = [j for j in range(n) if j != i and abs(j - i) <= b[i] and line[j] == line[i]]
        span = list(range(i - left[i], i)) + list(range(i + 1, i + right[i] + 1))
        assert span == ctx, (i, span, ctx)


def test_context_pairs_respect_window_and_lines():
    ids = np.arange(10)
    c, x = context_pairs(ids, 2, np.random.default_rng(0), line_starts=np.array([0, 5]))
    assert len(c) > 0
    assert (np.abs(c - x) <= 2).all() and (c != x).all()
    assert ((c < 5) == (x < 5)).all()  # no pair crosses the line break at 5


def test_context_pairs_with_window_one_gives_all_neighbours():
    c, x = context_pairs(np.arange(4), 1, np.random.default_rng(0))
    assert sorted(zip(c.tolist(), x.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)]


def test_negative_sampler_draws_unigram_to_three_quarters():
    counts = np.array([1000, 100, 10, 1])
    s = NegativeSampler(counts, table_size=1_000_000)
    draws = s.sample(400_000, np.random.default_rng(0))
    freq = np.bincount(draws, minlength=4) / len(draws)
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    assert np.allclose(freq, expected, atol=3e-3)


def test_negative_sampler_rejects_bad_counts():
    with pytest.raises(ValueError, match="positive sum"):
        NegativeSampler([0, 0])
