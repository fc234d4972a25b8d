"""Batches of masked segments for the Trainer: a seeded walk through the windows, masks drawn anew.

Training is measured in steps, the Trainer in epochs, so one Trainer "epoch" here is a *round* of
`steps` batches; after every round the Trainer evaluates and writes last.npz and the history.
Batch k of the run (k counted from 0 over all rounds) is a pure function of (seed, k):

    windows   positions k·B .. k·B + B - 1 of an endless sequence of passes over the windows,
              pass n in the order of `default_rng((seed, n)).permutation`
    splits, masks   drawn from `default_rng((seed, MASK_STREAM, k))`

so masks are new every time a window comes back (dynamic masking), nothing depends on what ran
before, a resumed run (even from the middle of a round: `skip`) draws exactly the batches of the
run that never stopped, and under MPI every rank builds the same global batch.
"""
from __future__ import annotations

import numpy as np

from pmt.core.data import batches

from .masking import mask_tokens
from .packing import pack_windows, split_points, window_starts

__all__ = ["PretrainBatches", "heldout_batches"]

MASK_STREAM = 0x4D41534B            # "MASK": keeps the per-batch streams apart from the pass orders
HELDOUT_STREAM = 0x4D4C4D           # the held-out slice's one fixed masking


class PretrainBatches:
    """Re-iterable rounds of `(inputs, segments, labels)` batches from a token stream.

    Args:
        tokens: (T,) token ids (a memory map is fine).  line_offsets: (L+1,) line starts, then T.
        seq_len: segment length.  batch_size: segments per batch.  steps: batches per round.
        vocab_size: for random replacements.  seed: the run's seed (orders and masks, see above).
        mask_prob: BERT's p (0.15).
        noise: also give each batch (B, T) uniform numbers, drawn after the masks from the same
            generator, for ELECTRA's sampling: batches are then `(inputs, segments, noise, labels)`.

    The Trainer calls `set_epoch(r)` (r from 1) before iterating round r, and `skip(j)` to start
    a resumed round at its batch j.

    Example:
        >>> tokens = np.arange(10, 1010) % 90 + 10                  # 1,000 ids of a toy stream
        >>> lines = np.array([0, 400, 1000])                        # two lines, then the end
        >>> data = PretrainBatches(tokens, lines, 32, 4, steps=10, vocab_size=100)
        >>> inputs, segments, labels = next(iter(data))
        >>> inputs.shape, segments.shape, labels.shape
        ((4, 32), (4, 32), (4, 32))
    """

    def __init__(self, tokens, line_offsets, seq_len: int, batch_size: int, steps: int, vocab_size: int,
                 seed: int = 0, mask_prob: float = 0.15, noise: bool = False):
        if batch_size < 1 or steps < 1:
            raise ValueError(f"PretrainBatches: batch_size and steps must be >= 1, got {batch_size}, {steps}")
        self.tokens, self.line_offsets = tokens, np.asarray(line_offsets)
        self.starts = window_starts(len(tokens), seq_len)               # (W,)
        if len(self.starts) == 0:
            raise ValueError(f"PretrainBatches: {len(tokens)} tokens hold no window of {seq_len - 3} tokens")
        self.seq_len, self.batch_size, self.steps = seq_len, batch_size, steps
        self.vocab_size, self.seed, self.mask_prob, self.noise = vocab_size, seed, mask_prob, noise
        self.round, self._skip = 1, 0
        self._perms: dict[int, np.ndarray] = {}

    def set_epoch(self, epoch: int):
        self.round = int(epoch)

    def skip(self, k: int):
        """The next iteration starts at batch k of the round (for a resume from mid-round)."""
        self._skip = int(k)

    def __len__(self):
        return self.steps

    def _permutation(self, n_pass: int) -> np.ndarray:
        """The order of the windows in pass n_pass (the last two passes are kept)."""
        if n_pass not in self._perms:
            if len(self._perms) >= 2:
                del self._perms[min(self._perms)]
            self._perms[n_pass] = np.random.default_rng((self.seed, n_pass)).permutation(len(self.starts))
        return self._perms[n_pass]

    def _windows(self, first: int) -> np.ndarray:
        """Window offsets (B,) at positions first .. first + B - 1 of the endless shuffled sequence."""
        pos = first + np.arange(self.batch_size)                         # (B,)
        n_pass, i = np.divmod(pos, len(self.starts))
        order = np.empty_like(pos)
        for p in np.unique(n_pass):                                      # one pass, two at a boundary
            here = n_pass == p
            order[here] = self._permutation(int(p))[i[here]]
        return self.starts[order]

    def batch(self, k: int) -> tuple[np.ndarray, ...]:
        """Batch k of the run (from 0): (inputs, segments[, noise], labels), each (batch_size, seq_len)."""
        rng = np.random.default_rng((self.seed, MASK_STREAM, k))
        starts = self._windows(k * self.batch_size)
        a_len = split_points(starts, self.line_offsets, self.seq_len, rng.random(len(starts)))
        ids, segments = pack_windows(self.tokens, starts, a_len, self.seq_len)
        inputs, labels = mask_tokens(ids, self.vocab_size, rng, self.mask_prob)
        if self.noise:
            return inputs, segments, rng.random(ids.shape, dtype=np.float32), labels
        return inputs, segments, labels

    def __iter__(self):
        first = (self.round - 1) * self.steps
        start, self._skip = first + self._skip, 0
        for k in range(start, first + self.steps):
            yield self.batch(k)

    def __repr__(self):
        return (f"PretrainBatches({len(self.starts):,} windows, seq_len={self.seq_len}, "
                f"batch_size={self.batch_size}, steps={self.steps}, seed={self.seed})")


def heldout_batches(tokens, line_offsets, seq_len: int, batch_size: int, vocab_size: int,
                    max_segments: int | None = None, seed: int = 0, mask_prob: float = 0.15, noise: bool = False):
    """The held-out windows, split and masked ONCE with their own generator: a fixed test.

    Every evaluation scores the same masked tokens, so the curve of held-out accuracy over a
    run (and across runs with the same tokenizer) compares like with like.

    Returns:
        a `pmt.core.batches` of (inputs, segments, labels), in order, no shuffling; with `noise`,
        of (inputs, segments, noise, labels) (ELECTRA's fixed sampling numbers, see PretrainBatches).
    """
    rng = np.random.default_rng((seed, HELDOUT_STREAM))               # independent of training draws
    starts = window_starts(len(tokens), seq_len)
    if max_segments is not None and len(starts) > max_segments:
        starts = starts[np.sort(rng.choice(len(starts), max_segments, replace=False))]
    if len(starts) == 0:
        raise ValueError(f"heldout_batches: {len(tokens)} held-out tokens hold no window of {seq_len - 3} tokens")
    a_len = split_points(starts, np.asarray(line_offsets), seq_len, rng.random(len(starts)))
    ids, segments = pack_windows(tokens, starts, a_len, seq_len)
    inputs, labels = mask_tokens(ids, vocab_size, rng, mask_prob)
    if noise:
        return batches(inputs, segments, rng.random(ids.shape, dtype=np.float32), labels, batch_size=batch_size)
    return batches(inputs, segments, labels, batch_size=batch_size)
