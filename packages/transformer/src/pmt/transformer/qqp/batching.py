"""Length-bucketed batches of encoded pairs, in the shape the Trainer and PairClassifier expect.

"Is q1 a duplicate of q2?" has the same answer as "is q2 a duplicate of q1?", but a
cross-encoder reads `[CLS] q1 [SEP] q2 [SEP]` and sees the two orders as different inputs.
Two cheap uses of that symmetry:

- training (`swap="random"`): every epoch, each pair is shown in a fresh random order, so
  the model cannot learn anything from which question came first (data augmentation);
- evaluation (`swap="both"`): every batch carries both orders, and
  `PairClassifier.eval_step` averages the two predicted probabilities.
"""
from __future__ import annotations

import numpy as np

from pmt.core import bucket_batches

_SWAP_MODES = (None, "random", "both")


class PairBatches:
    """Re-iterable batches `(ids, segments, labels)` cut to each batch's longest pair.

    Args:
        ids, segments: int (N, max_len) arrays from `Tokenizer.encode_batch` (padded to max_len).
        lengths: (N,) true lengths.  labels: (N,) int 0/1.
        batch_size: pairs per batch.
        shuffle: bucket by length with a fresh shuffle every epoch (training); else a fixed
            order (evaluation): the file's, or with `by_length` shortest pair first.
        by_length (without shuffle): batches cut from the pairs sorted by length, so a batch is
            barely wider than its members (file order pads QQP's validation split to 2.9x its
            tokens: one long question per 256 sets the width).  The outputs then come in
            `row_order`: output k belongs to row `row_order[k]`.
        seed: seeds the shuffle and the random swaps (epoch e uses default_rng((seed, e))).
        swapped: optional `(ids, segments)` of the same pairs encoded in the other order
            (q2 first), required by the swap modes.
        swap: None (one order), "random" (each pair in a random order, redrawn every epoch)
            or "both" (batches are `(ids, segments, ids_swapped, segments_swapped, labels)`).

    Bucketing groups pairs of similar length, so a batch is rarely more than a few percent padding
    and its width is its longest member, not the global maximum.  Swapping keeps the length:
    longest-first truncation cuts the same number of tokens whichever question comes first.
    """

    def __init__(self, ids, segments, lengths, labels, batch_size=32, shuffle=True, seed=None,
                 swapped=None, swap=None, by_length=False):
        if swap not in _SWAP_MODES:
            raise ValueError(f"PairBatches: swap must be one of {_SWAP_MODES}, got {swap!r}")
        if swap is not None and swapped is None:
            raise ValueError(f"PairBatches: swap={swap!r} needs swapped=(ids, segments) of the reversed pairs")
        if swapped is not None and (np.shape(swapped[0]) != np.shape(ids) or np.shape(swapped[1]) != np.shape(ids)):
            raise ValueError(f"PairBatches: swapped arrays must have the shape of ids {np.shape(ids)}, got "
                             f"{np.shape(swapped[0])} and {np.shape(swapped[1])}")
        self.ids, self.segments, self.labels = ids, segments, labels
        self.swapped, self.swap, self.seed = swapped, swap, seed
        self.lengths = np.asarray(lengths)
        self.batch_size, self.shuffle = batch_size, shuffle
        if by_length and shuffle:
            raise ValueError("PairBatches: by_length is the fixed evaluation order; training (shuffle=True) "
                             "already buckets by length")
        self.index = bucket_batches(self.lengths, batch_size, shuffle=True, seed=seed) if shuffle else None
        # Which row each output belongs to, in a fixed order (None when shuffled: a new order each epoch).
        self.row_order = None if shuffle else (np.argsort(self.lengths, kind="stable") if by_length
                                               else np.arange(len(self.lengths)))
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch
        if self.index is not None:
            self.index.set_epoch(epoch)

    def __len__(self):
        return len(self.index) if self.index is not None else -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = self.index if self.index is not None else (
            self.row_order[i:i + self.batch_size] for i in range(0, len(self.lengths), self.batch_size))
        epoch, self.epoch = self.epoch, self.epoch + 1      # like the shuffle: each pass is a new epoch
        if self.swap == "random":
            # A stream of its own (not the shuffle's), so turning swaps on leaves the batch order as it was.
            flip = np.random.default_rng((self.seed or 0, epoch, 1)).random(len(self.lengths)) < 0.5
        for idx in order:
            width = int(self.lengths[idx].max())
            ids, segs = self.ids[idx, :width], self.segments[idx, :width]
            if self.swap is None:
                yield ids, segs, self.labels[idx]
                continue
            ids_sw, segs_sw = self.swapped[0][idx, :width], self.swapped[1][idx, :width]
            if self.swap == "both":
                yield ids, segs, ids_sw, segs_sw, self.labels[idx]
            else:
                f = flip[idx, None]
                yield np.where(f, ids_sw, ids), np.where(f, segs_sw, segs), self.labels[idx]
