"""The random parts of word2vec, vectorized over the whole corpus.

* Frequent-word subsampling (Mikolov et al. 2013b, as implemented in word2vec.c): a word with
  corpus frequency f = count / total is *kept* with probability

      keep(w) = (sqrt(f / t) + 1) * t / f          (capped at 1)

  where t is the `sample` threshold (1e-3 by default).  Words rarer than about t are always
  kept; "the" (f ≈ 0.05) is kept about 16 % of the time.  A fresh draw is made every epoch.
* Dynamic context windows: each centre word draws b uniformly from 1..window and uses the
  b words on either side, so near neighbours count more (weight (window - d + 1) / window).
* Negative samples are drawn from the unigram distribution raised to 3/4,
  P(w) ∝ count(w)^0.75, through a lookup table as word2vec.c does (a uniform integer
  indexes a table in which word w fills a share P(w) of the slots).
"""
from __future__ import annotations

import numpy as np


def keep_probabilities(counts, sample: float) -> np.ndarray:
    """Per-word probability of keeping an occurrence: `(sqrt(f/t) + 1) t / f`, capped at 1.

    Args:
        counts: (V,) word counts.
        sample: threshold t; 0 disables subsampling (all ones).

    Returns:
        (V,) float64 probabilities.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample < 0:
        raise ValueError(f"sample must be >= 0, got {sample}")
    if sample == 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()  # t * total, so f / t = count / threshold
    return np.minimum((np.sqrt(counts / threshold) + 1.0) * threshold / counts, 1.0)


def subsample(ids, keep_prob, rng) -> np.ndarray:
    """Boolean mask over `ids` (n,): True where the occurrence survives subsampling."""
    return rng.random(len(ids), dtype=np.float32) < keep_prob[ids].astype(np.float32)


def dynamic_windows(n: int, window: int, rng) -> np.ndarray:
    """(n,) int8 effective window b in 1..window, one per centre word."""
    if window < 1 or window > 127:
        raise ValueError(f"window must be in 1..127, got {window}")
    return rng.integers(1, window + 1, size=n, dtype=np.int8)


def window_extents(b, sent=None):
    """How far each centre's context reaches on each side: its window b, cut at its line's ends.

    The context of centre i is the positions i - left[i] .. i + right[i] except i itself (a
    contiguous range, because b only bounds the distance and lines are contiguous).

    Args:
        b: (n,) int effective windows (from `dynamic_windows`).
        sent: (n,) nondecreasing sentence numbers (from `sentence_ids`), or None for one line.

    Returns:
        left, right: (n,) int8, 0 <= left, right <= b.

    Example:
        >>> window_extents(np.array([2, 2, 1, 2]), np.array([0, 0, 1, 1]))
        (array([0, 1, 0, 1], dtype=int8), array([1, 0, 1, 0], dtype=int8))
    """
    b = np.asarray(b)
    n = len(b)
    pos = np.arange(n, dtype=np.int32)
    if sent is None or n == 0:
        to_start, to_end = pos, (n - 1) - pos
    else:
        first = np.empty(n, dtype=bool)  # True where a line begins
        first[0] = True
        np.not_equal(sent[1:], sent[:-1], out=first[1:])
        last = np.empty(n, dtype=bool)   # True where a line ends
        last[:-1], last[-1] = first[1:], True
        to_start = pos - np.maximum.accumulate(np.where(first, pos, 0))
        to_end = np.minimum.accumulate(np.where(last, pos, n - 1)[::-1])[::-1] - pos
    return np.minimum(b, to_start).astype(np.int8), np.minimum(b, to_end).astype(np.int8)


def context_pairs(ids, window: int, rng, line_starts=None):
    """All (centre, context) pairs of `ids` with dynamic windows, as two aligned arrays.

    Loops over the 2*window offsets, never over words.  Pairs do not cross the line starts.

    Args:
        ids: (n,) word ids.
        window: maximum distance.
        rng: numpy Generator.
        line_starts: (L,) positions where sentences begin, or None for a single sentence.

    Returns:
        centres, contexts: (pairs,) word ids.

    Example:
        >>> c, x = context_pairs(np.arange(4), 1, np.random.default_rng(0))
        >>> sorted(zip(c.tolist(), x.tolist()))[:3]
        [(0, 1), (1, 0), (1, 2)]
    """
    ids = np.asarray(ids)
    n = len(ids)
    b = dynamic_windows(n, window, rng)
    sent = sentence_ids(n, line_starts)
    centres, contexts = [], []
    for d in range(1, window + 1):
        for lo, hi, step in ((d, n, -d), (0, n - d, d)):  # context on the left, then the right
            pos = np.arange(lo, hi)
            ok = b[pos] >= d
            if sent is not None:
                ok &= sent[pos] == sent[pos + step]
            centres.append(ids[pos[ok]])
            contexts.append(ids[pos[ok] + step])
    return np.concatenate(centres), np.concatenate(contexts)


def sentence_ids(n: int, line_starts):
    """(n,) int32 sentence number of each position, or None when there is a single sentence."""
    if line_starts is None or len(line_starts) <= 1:
        return None
    marks = np.zeros(n, dtype=np.int32)
    starts = np.asarray(line_starts)
    marks[starts[(starts > 0) & (starts < n)]] = 1
    return np.cumsum(marks, dtype=np.int32)


class NegativeSampler:
    """Draw negative word ids with P(w) ∝ count(w)^power through a lookup table.

    Args:
        counts: (V,) word counts.
        power: the exponent (word2vec: 0.75).
        table_size: slots in the table (word2vec.c uses 1e8; 1e7 keeps every word with
            P(w) >= 1e-7 and costs 40 MB).

    Example:
        >>> s = NegativeSampler([10, 5, 1])
        >>> s.sample((2, 5), np.random.default_rng(0)).shape
        (2, 5)
    """

    def __init__(self, counts, power: float = 0.75, table_size: int = 10_000_000):
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or len(counts) == 0 or (counts < 0).any() or counts.sum() <= 0:
            raise ValueError(f"NegativeSampler: counts must be a non-empty 1-D array of non-negative "
                             f"numbers with a positive sum, got shape {counts.shape}")
        p = counts ** power
        self.probs = p / p.sum()
        # Slot boundaries at cumulative probability: word w owns slots [edge[w-1], edge[w]).
        edges = np.round(np.cumsum(self.probs) * table_size).astype(np.int64)
        sizes = np.diff(edges, prepend=0)
        self.table = np.repeat(np.arange(len(counts), dtype=np.int32), sizes)

    def sample(self, shape, rng) -> np.ndarray:
        """int32 word ids of the given shape."""
        return self.table[rng.integers(0, len(self.table), size=shape)]
