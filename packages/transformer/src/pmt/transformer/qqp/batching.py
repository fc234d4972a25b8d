"""Length-bucketed batches of encoded pairs, in the shape the Trainer and PairClassifier expect."""
from __future__ import annotations

import numpy as np

from pmt.core import bucket_batches


class PairBatches:
    """Re-iterable batches `(ids, segments, labels)` cut to each batch's longest pair.

    Args:
        ids, segments: int (N, max_len) arrays from `Tokenizer.encode_batch` (padded to max_len).
        lengths: (N,) true lengths.  labels: (N,) int 0/1.
        batch_size: pairs per batch.
        shuffle: bucket by length with a fresh shuffle every epoch (training); else keep the
            file order (evaluation, so outputs line up with the rows).
        seed: seeds the shuffle (epoch e uses default_rng((seed, e))).

    Bucketing groups pairs of similar length, so a batch is rarely more than a few percent padding
    and its width is its longest member, not the global maximum.
    """

    def __init__(self, ids, segments, lengths, labels, batch_size=32, shuffle=True, seed=None):
        self.ids, self.segments, self.labels = ids, segments, labels
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.index = bucket_batches(self.lengths, batch_size, shuffle=True, seed=seed) if shuffle else None

    def set_epoch(self, epoch):
        if self.index is not None:
            self.index.set_epoch(epoch)

    def __len__(self):
        return len(self.index) if self.index is not None else -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = self.index if self.index is not None else (
            np.arange(i, min(i + self.batch_size, len(self.lengths)))
            for i in range(0, len(self.lengths), self.batch_size))
        for idx in order:
            width = int(self.lengths[idx].max())
            yield self.ids[idx, :width], self.segments[idx, :width], self.labels[idx]
