"""BERT's masking (Devlin et al., 2019): what the masked language model must fill in.

Each ordinary token is *chosen* independently with probability p = 0.15 (special tokens, [UNK] and
[PAD] never are).  A chosen token is the model's target, and its input is

    [MASK]           with probability 0.8
    a random token   with probability 0.1   (uniform over the ordinary tokens)
    itself           with probability 0.1

Why not always [MASK]: [MASK] never occurs when the encoder is fine-tuned, so a model that only
learnt to read [MASK] positions would not need to build good vectors for the real tokens it sees.
The random and kept 10 % make every input position a possible target, so every position's output
must describe its own token in context.

One uniform number u per position decides everything: chosen iff u < p, and, given that, u/p is
again uniform on [0, 1), so u < 0.8 p -> [MASK], 0.8 p <= u < 0.9 p -> kept, u >= 0.9 p -> random.
Masks are drawn anew every time a segment is used ("dynamic masking", RoBERTa), from the
generator passed in (in training, one seeded by the batch's index: see `batches.py`).
"""
from __future__ import annotations

import numpy as np

from ..tokenizer import MASK_ID, SPECIAL_TOKENS

__all__ = ["mask_tokens", "NOT_MASKED"]

NOT_MASKED = -1        # label of a position that is not a target


def mask_tokens(ids: np.ndarray, vocab_size: int, rng: np.random.Generator, mask_prob: float = 0.15,
                n_special: int = len(SPECIAL_TOKENS)) -> tuple[np.ndarray, np.ndarray]:
    """Choose and corrupt the positions a masked language model predicts.

    Args:
        ids: int (batch, seq) token ids; ids below `n_special` are special and never chosen.
        vocab_size: random replacements are drawn from [n_special, vocab_size).
        rng: numpy Generator.
        mask_prob: p, the probability that an ordinary token is chosen.
        n_special: number of special ids at the start of the vocabulary.

    Returns:
        inputs: (batch, seq) int64 ids with the chosen positions corrupted as above;
        labels: (batch, seq) int64, the original id at chosen positions, `NOT_MASKED` (-1) elsewhere.

    Example:
        >>> inputs, labels = mask_tokens(np.array([[2, 10, 11, 12, 3]]), 20, np.random.default_rng(0))
    """
    ids = np.asarray(ids)
    if not 0 < mask_prob < 1:
        raise ValueError(f"mask_prob must lie strictly between 0 and 1, got {mask_prob}")
    if vocab_size <= n_special:
        raise ValueError(f"vocab_size={vocab_size} leaves no ordinary token after {n_special} special ones")
    u = rng.random(ids.shape, dtype=np.float32)                     # (B, T)
    chosen = (u < mask_prob) & (ids >= n_special)
    inputs = ids.astype(np.int64, copy=True)
    inputs[chosen & (u < 0.8 * mask_prob)] = MASK_ID
    swap = chosen & (u >= 0.9 * mask_prob)
    inputs[swap] = rng.integers(n_special, vocab_size, size=int(swap.sum()))
    labels = np.where(chosen, ids, NOT_MASKED).astype(np.int64)
    return inputs, labels
