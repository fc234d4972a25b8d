"""Batching: turning arrays (or a generator function) into re-iterable streams of batches;
and carving a seeded validation split out of the training examples.

Every object here can be iterated once per epoch, as many times as you like: the Trainer
runs `for batch in train_data:` each epoch, so a one-shot generator would silently yield
nothing from the second epoch on.

- `batches(x, y, batch_size=32, shuffle=True)`: mini-batches of aligned arrays.
- `Rewindable(fn, *args, **kw)`: calls a generator function afresh every epoch.
- `bucket_batches(lengths, batch_size)`: index batches of similar-length sequences, so a
  padded batch is mostly tokens rather than padding.
- `pad_sequences(seqs)`: a ragged list of 1-D sequences -> one padded matrix + lengths.
- `train_valid_split(n, valid_size, seed)`: indices of a seeded train / validation split.

Shuffling draws from `pmt.core.seeding.get_rng()` unless a `seed` is given, in which case
epoch `e` uses `np.random.default_rng((seed, e))`: the same permutation for the same
(seed, epoch) however many epochs ran before, which is what makes a resumed run repeat.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .seeding import get_rng


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return int(batch_size)


def _check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                             or seed < 0):
        raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
    return seed


class _Epochs:
    """Shared epoch bookkeeping: which generator shuffles the current epoch, where it starts.

    Each iteration uses the current epoch number and then advances it, so a plain
    `for epoch ...: for batch in data:` loop sees a new permutation every epoch; a Trainer
    that calls `set_epoch(e)` first pins epoch `e` to the same permutation on every run.
    `skip(k)` makes the next iteration start at batch k (a resumed epoch): it draws the
    same random numbers as a full iteration, then yields from batch k on.
    """

    def __init__(self, shuffle: bool, seed):
        self.shuffle = bool(shuffle)
        self.seed = _check_seed(seed)
        self.epoch = 0
        self._skip = 0

    def skip(self, k: int):
        """Start the next iteration at batch `k` (0-based), as if `k` batches had been taken."""
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"skip: k must be a non-negative integer, got {k!r}")
        self._skip = int(k)

    def _take_skip(self) -> int:
        k, self._skip = self._skip, 0
        return k

    def set_epoch(self, epoch: int):
        """Use epoch number `epoch` for the next iteration (matters only with a `seed`)."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def _next_rng(self) -> np.random.Generator:
        rng = get_rng() if self.seed is None else np.random.default_rng((self.seed, self.epoch))
        self.epoch += 1
        return rng


class Batches(_Epochs):
    """Mini-batches over arrays that share their first dimension; iterable once per epoch.

    Build it with `batches(...)`.  Each iteration yields tuples `(a[idx], b[idx], ...)`:
    views (no copy) when not shuffling, fancy-indexed copies of one batch when shuffling.

    Attributes:
        arrays: the input arrays, each `(n, ...)`.
        batch_size, shuffle, seed, drop_last: as given to `batches`.
        epoch: the epoch number the next iteration will use.
    """

    def __init__(self, arrays, batch_size, shuffle=False, seed=None, drop_last=False):
        super().__init__(shuffle, seed)
        self.batch_size = _check_batch_size(batch_size)
        self.drop_last = bool(drop_last)
        if not arrays:
            raise ValueError("batches() needs at least one array")
        arrays = tuple(np.asarray(a) for a in arrays)  # no copy for ndarrays
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"batches(): array {i} is a scalar (shape ()); expected shape (n, ...)")
        if len({a.shape[0] for a in arrays}) > 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"batches(): arrays must share their first dimension, got shapes {shapes}")
        self.arrays = arrays
        self.n = arrays[0].shape[0]

    def __len__(self) -> int:
        """Number of batches per epoch."""
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def __iter__(self):
        n, bs = self.n, self.batch_size
        stop = len(self) * bs
        first = self._take_skip() * bs
        rng = self._next_rng()
        if self.shuffle:
            order = rng.permutation(n)
            for start in range(first, min(stop, n), bs):
                idx = order[start:start + bs]
                yield tuple(a[idx] for a in self.arrays)
        else:
            for start in range(first, min(stop, n), bs):
                yield tuple(a[start:start + bs] for a in self.arrays)

    def __repr__(self):
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return (f"Batches({shapes}; batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last}, batches={len(self)})")


def batches(*arrays, batch_size: int, shuffle: bool = False, seed=None, drop_last: bool = False) -> Batches:
    """Split aligned arrays into mini-batches, re-iterable once per epoch.

    Args:
        *arrays: arrays `(n, ...)` sharing their first dimension, e.g. `x: (n, 784)`, `y: (n,)`.
        batch_size: examples per batch (>= 1); the last batch may be smaller.
        shuffle: draw a fresh permutation of the n examples every epoch.
        seed: if given, epoch `e` is shuffled by `np.random.default_rng((seed, e))`;
            otherwise by `pmt.core.seeding.get_rng()`.
        drop_last: drop the final, smaller batch.

    Returns:
        A `Batches` object: `len()` is batches per epoch, iteration yields tuples of arrays
        `(batch, ...)`, `set_epoch(e)` selects the epoch's permutation.

    Example:
        >>> x, y = np.zeros((150, 784), np.float32), np.arange(150)
        >>> data = batches(x, y, batch_size=64, shuffle=True, seed=0)
        >>> len(data), [yb.shape for xb, yb in data]
        (3, [(64,), (64,), (22,)])
    """
    return Batches(arrays, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)


class Rewindable:
    """Make a generator function re-iterable: every `iter()` calls `fn(*args, **kw)` afresh.

    Args:
        fn: a callable returning an iterable (typically a generator function).
        *args, **kw: passed to `fn` on each call.
        length: optional number of batches per epoch, reported by `len()` (keyword only,
            consumed here, never passed to `fn`).

    Example:
        >>> def gen(n):
        ...     for i in range(n):
        ...         yield (np.full(2, i),)
        >>> data = Rewindable(gen, 3, length=3)
        >>> [len(list(data)) for _ in range(2)]
        [3, 3]
    """

    def __init__(self, fn, *args, length=None, **kw):
        if not callable(fn):
            raise TypeError(f"Rewindable needs a callable (e.g. a generator function), got {fn!r}")
        if length is not None and (isinstance(length, bool) or not isinstance(length, numbers.Integral)
                                   or length < 0):
            raise ValueError(f"length must be None or a non-negative integer, got {length!r}")
        self.fn, self.args, self.kw, self.length = fn, args, kw, length

    def __iter__(self):
        return iter(self.fn(*self.args, **self.kw))

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError(f"len() of Rewindable({getattr(self.fn, '__name__', self.fn)}) is unknown: "
                            "pass length= when creating it")
        return self.length

    def __repr__(self):
        return f"Rewindable({getattr(self.fn, '__name__', repr(self.fn))}, length={self.length})"


class BucketBatches(_Epochs):
    """Index batches grouping sequences of similar length; iterable once per epoch.

    Build it with `bucket_batches(...)`.  Each epoch: permute all indices (if shuffling),
    cut the permutation into chunks of `bucket_size` indices, sort each chunk by length,
    cut the chunks into batches, then permute the batch order.  Within a chunk neighbours
    have similar lengths, so padding a batch to its longest member wastes little, while
    chunks are still random subsets, so batches still vary from epoch to epoch.

    Iteration yields int64 index arrays `(batch,)` into the original sequence list.
    """

    def __init__(self, lengths, batch_size, shuffle=True, seed=None, bucket_size=None, drop_last=False):
        super().__init__(shuffle, seed)
        self.batch_size = _check_batch_size(batch_size)
        lengths = np.asarray(lengths)
        if lengths.ndim != 1 or (lengths.size and not np.issubdtype(lengths.dtype, np.integer)):
            raise ValueError(f"lengths must be a 1-D integer array (one length per sequence), "
                             f"got shape {lengths.shape} dtype {lengths.dtype}")
        if lengths.size and lengths.min() < 0:
            raise ValueError(f"lengths must be >= 0, got minimum {lengths.min()}")
        self.lengths = lengths.astype(np.int64, copy=False)
        if bucket_size is None:
            bucket_size = 50 * self.batch_size
        if (isinstance(bucket_size, bool) or not isinstance(bucket_size, numbers.Integral)
                or bucket_size < 1 or bucket_size % self.batch_size):
            raise ValueError(f"bucket_size must be a positive multiple of batch_size={self.batch_size} "
                             f"(so batches never straddle two buckets), got {bucket_size!r}")
        self.bucket_size = int(bucket_size)
        self.drop_last = bool(drop_last)
        self.n = len(self.lengths)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def __iter__(self):
        first = self._take_skip()
        rng = self._next_rng()
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        # Sort by (bucket number, length) in one stable pass: lexsort's last key is primary.
        bucket_of = np.arange(self.n) // self.bucket_size
        order = order[np.lexsort((self.lengths[order], bucket_of))]
        # Buckets are multiples of batch_size, so only the very last batch can be short.
        starts = np.arange(0, len(self) * self.batch_size, self.batch_size)
        if self.shuffle:
            starts = rng.permutation(starts)
        for s in starts[first:]:
            yield order[s:s + self.batch_size]

    def __repr__(self):
        return (f"BucketBatches(n={self.n}, batch_size={self.batch_size}, bucket_size={self.bucket_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, batches={len(self)})")


def bucket_batches(lengths, batch_size: int, shuffle: bool = True, seed=None,
                   bucket_size: int | None = None, drop_last: bool = False) -> BucketBatches:
    """Batches of indices whose sequences have similar lengths (less padding per batch).

    Args:
        lengths: (n,) int, the length of each sequence.
        batch_size: indices per batch.
        shuffle: new random buckets and batch order every epoch (else: sort within
            consecutive buckets, batches in order).
        seed: as in `batches`: epoch `e` uses `np.random.default_rng((seed, e))`.
        bucket_size: indices sorted together; a multiple of `batch_size`, default
            `50 * batch_size`.  Larger means less padding but less randomness.
        drop_last: drop the final, smaller batch.

    Returns:
        A re-iterable `BucketBatches` yielding index arrays `(batch,)`.

    Example:
        >>> token_ids = [[7] * n for n in (5, 1, 4, 2, 5, 1)]
        >>> lengths = np.array([len(s) for s in token_ids])
        >>> for idx in bucket_batches(lengths, batch_size=2, shuffle=False):
        ...     x, lens = pad_sequences([token_ids[i] for i in idx])
        ...     print(idx, x.shape)
        [1 5] (2, 1)
        [3 2] (2, 4)
        [0 4] (2, 5)
    """
    return BucketBatches(lengths, batch_size, shuffle=shuffle, seed=seed,
                         bucket_size=bucket_size, drop_last=drop_last)


def pad_sequences(seqs, pad_value=0, max_len: int | None = None, dtype=np.int64):
    """Stack 1-D sequences of different lengths into one padded matrix.

    Args:
        seqs: a list of n 1-D sequences (lists or arrays).
        pad_value: value written after each sequence's end.
        max_len: width of the output; longer sequences keep their first `max_len`
            items.  Default: the longest sequence.
        dtype: output dtype.

    Returns:
        `(padded, lengths)`: `padded: (n, max_len)` and `lengths: (n,) int64`, the number of
        real items in each row (after truncation).

    Example:
        >>> pad_sequences([[5, 6, 7], [8]])
        (array([[5, 6, 7], [8, 0, 0]]), array([3, 1]))
    """
    arrs = [np.asarray(s) for s in seqs]
    bad = [i for i, a in enumerate(arrs) if a.ndim != 1]
    if bad:
        raise ValueError(f"pad_sequences: every sequence must be 1-D; sequence {bad[0]} has "
                         f"shape {arrs[bad[0]].shape}")
    if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, numbers.Integral)
                                or max_len < 0):
        raise ValueError(f"max_len must be None or a non-negative integer, got {max_len!r}")
    lengths = np.fromiter((a.shape[0] for a in arrs), dtype=np.int64, count=len(arrs))
    width = int(lengths.max(initial=0)) if max_len is None else int(max_len)
    out = np.full((len(arrs), width), pad_value, dtype=dtype)
    if not arrs or width == 0:
        return out, np.minimum(lengths, width)
    flat = np.concatenate(arrs)
    if max_len is not None:
        # Position of every item inside its own sequence: global index - sequence start.
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = flat[np.arange(flat.shape[0]) - starts < width]
        lengths = np.minimum(lengths, width)
    # Row-major boolean assignment fills row 0's first len[0] slots, then row 1's, ...
    out[np.arange(width) < lengths[:, None]] = flat
    return out, lengths


def train_valid_split(n: int, valid_size, seed: int = 0):
    """Carve a validation split out of `n` training examples, reproducibly: (train_index, valid_index).

    Model selection (epochs, hyper-parameters, the best checkpoint) looks at the validation
    examples only, so the test set can be scored once, at the end, and still mean what a test
    number means.  The split has its own generator, `np.random.default_rng(seed)`: the same
    (n, valid_size, seed) gives the same split whatever else the run draws (initialisation,
    shuffling, `pmt.core.seed`), on every rank of a data-parallel run and after a resume.

    Args:
        n: number of training examples (>= 2).
        valid_size: examples to hold out, either a count (an integer, 1 <= valid_size < n) or a
            fraction of `n` (a float strictly between 0 and 1, rounded to the nearest count).
        seed: the split's seed (a non-negative integer).

    Returns:
        `(train_index, valid_index)`: sorted int64 arrays of `n - n_valid` and `n_valid`
        positions, disjoint, together `0 .. n-1`.

    Example:
        >>> tr, va = train_valid_split(60000, 5000, seed=0)
        >>> len(tr), len(va), len(np.intersect1d(tr, va))
        (55000, 5000, 0)
        >>> len(train_valid_split(1000, 0.1)[1])
        100
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"train_valid_split: n must be an integer >= 2 (examples to split), got {n!r}")
    seed = _check_seed(seed)
    if seed is None:
        raise ValueError("train_valid_split: seed must be a non-negative integer, got None")
    if isinstance(valid_size, numbers.Integral) and not isinstance(valid_size, bool):
        n_valid = int(valid_size)
    elif isinstance(valid_size, numbers.Real) and not isinstance(valid_size, bool) and 0 < valid_size < 1:
        n_valid = int(round(n * float(valid_size)))
    else:
        raise ValueError(f"train_valid_split: valid_size must be a count (an integer) or a fraction strictly "
                         f"between 0 and 1, got {valid_size!r}")
    if not 1 <= n_valid < n:
        raise ValueError(f"train_valid_split: valid_size {valid_size!r} holds out {n_valid} of {n} examples; "
                         f"expected at least 1 and fewer than {n}, so both parts are non-empty")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])
