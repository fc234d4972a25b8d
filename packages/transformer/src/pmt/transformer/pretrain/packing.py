"""Packing the flat token stream into fixed-length two-span segments:

    [CLS] A [SEP] B [SEP]        segment ids  0 0..0 0  1..1 1        (seq_len tokens, no padding)

The stream is cut into consecutive *windows* of `seq_len - 3` tokens (the last partial window is
dropped).  Each time a window is drawn it is split into a first span A and a second span B at a
fresh random point, moved to a line start (a new paragraph, question or sentence) when one lies
between a quarter and three quarters of the window.  Why two spans rather than one
`[CLS] text [SEP]`: QQP, the task this encoder is fine-tuned for, reads `[CLS] q1 [SEP] q2 [SEP]`
with segment ids 0/1, so pretraining learns the second segment embedding and a [SEP] in the
middle; B starting at a line start mirrors q2 starting a new question.  There is no next-sentence
prediction (RoBERTa found it does not help): B is simply the text that follows A.

Every segment is full, so no [PAD] and no attention mask are needed in pretraining: all
seq_len positions do useful work.
"""
from __future__ import annotations

import numpy as np

from ..tokenizer import CLS_ID, SEP_ID

__all__ = ["window_starts", "split_points", "pack_windows"]

N_SPECIAL = 3          # [CLS], the middle [SEP], the final [SEP]


def window_starts(n_tokens: int, seq_len: int) -> np.ndarray:
    """Offsets (W,) of the consecutive windows of `seq_len - 3` tokens in a stream of n_tokens.

    Example:
        >>> window_starts(20, 8)       # windows of 5 tokens
        array([ 0,  5, 10, 15])
    """
    if seq_len < N_SPECIAL + 2:
        raise ValueError(f"seq_len must be at least {N_SPECIAL + 2} ([CLS] A [SEP] B [SEP] with non-empty "
                         f"spans), got {seq_len}")
    body = seq_len - N_SPECIAL
    return np.arange(0, n_tokens - body + 1, body, dtype=np.int64)


def split_points(starts: np.ndarray, line_offsets: np.ndarray, seq_len: int, u: np.ndarray) -> np.ndarray:
    """Length of span A for each window: a line start in the middle half if there is one.

    Args:
        starts: (B,) window offsets in the stream.
        line_offsets: (L+1,) sorted offsets of every line's first token (then the stream's end).
        seq_len: segment length (windows hold seq_len - 3 tokens).
        u: (B,) uniform numbers in [0, 1) that place the random target.

    Returns:
        (B,) int64 a in [lo, hi] with lo = body // 4, hi = body - lo (body = seq_len - 3):
        the first line start at or after the random target a* = lo + floor(u (hi - lo + 1))
        if it is at most hi, else the last line start before a* if it is at least lo, else a*.
    """
    body = seq_len - N_SPECIAL
    lo = max(body // 4, 1)
    hi = body - lo
    target = lo + (u * (hi - lo + 1)).astype(np.int64)                  # (B,) in [lo, hi]
    k = np.searchsorted(line_offsets, starts + target)                   # first line start >= target
    after = line_offsets[np.minimum(k, len(line_offsets) - 1)] - starts  # (B,)
    before = line_offsets[np.maximum(k - 1, 0)] - starts                 # (B,)
    return np.where(after <= hi, after, np.where(before >= lo, before, target))


def pack_windows(tokens: np.ndarray, starts: np.ndarray, a_len: np.ndarray,
                 seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Build `[CLS] A [SEP] B [SEP]` rows from windows of the stream, in one gather.

    Args:
        tokens: (T,) the token stream (any integer dtype; may be a memory map).
        starts: (B,) window offsets.  a_len: (B,) length of span A, 1 <= a_len <= seq_len - 4.
        seq_len: row length.

    Returns:
        ids: (B, seq_len) int64, segments: (B, seq_len) int64 (0 up to the middle [SEP], then 1).

    Example:
        >>> ids, seg = pack_windows(np.arange(10, 20), np.array([0]), np.array([2]), 8)
        >>> ids[0].tolist(), seg[0].tolist()        # [CLS]=2, [SEP]=3
        ([2, 10, 11, 3, 12, 13, 14, 3], [0, 0, 0, 0, 1, 1, 1, 1])
    """
    j = np.arange(seq_len)                                              # (T,) column
    a = a_len[:, None]                                                  # (B, 1)
    offset = np.where(j <= a, j - 1, j - 2)                             # position in the window
    offset = np.clip(offset, 0, seq_len - N_SPECIAL - 1)                # the specials' slots read anything
    ids = np.asarray(tokens[starts[:, None] + offset], dtype=np.int64)  # (B, T)
    ids[:, 0] = CLS_ID
    ids[:, -1] = SEP_ID
    np.put_along_axis(ids, a + 1, SEP_ID, axis=1)
    segments = (j > a + 1).astype(np.int64)                             # (B, T), 1 from B to the end
    return ids, segments
