"""Turning CoNLL sentences into arrays: word ids, case ids, character ids and tag ids.

The tagger works on *words* (CoNLL's tokens), so each label sits on exactly the unit it was
given for and no sub-word alignment is needed.  Three views of a word go in:

* its lower-cased form with digits folded to 0 (`"1996"` -> `"0000"`), looked up in a word
  vocabulary built from training data (rare words -> [UNK]);
* its shape class (lower, Title, UPPER, mixed, digits/other), because capitalisation is the
  strongest single clue for a named entity and lower-casing throws it away;
* its characters, which a small CNN reads so that unknown words and affixes still count.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

PAD, UNK = "[PAD]", "[UNK]"
CASES = ("pad", "lower", "title", "upper", "mixed", "other")
_DIGIT = re.compile(r"\d")


def normalise_word(word: str) -> str:
    """Lower-case and fold every digit to 0: 'Sept.1996' -> 'sept.0000'."""
    return _DIGIT.sub("0", word.lower())


def case_id(word: str) -> int:
    """Index into CASES of the word's shape."""
    if not any(c.isalpha() for c in word):
        return 5
    if word.islower():
        return 1
    if word.isupper():
        return 3
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return 2
    return 4


class Vocab:
    """A string <-> id map with [PAD]=0 and [UNK]=1.

    Args:
        items: the other entries, in id order (from 2).
    """

    def __init__(self, items):
        self.itos = [PAD, UNK] + [s for s in items if s not in (PAD, UNK)]
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def build(cls, items, min_count=1, max_size=None):
        counts = Counter(items)
        kept = [s for s, c in counts.most_common(max_size) if c >= min_count]
        return cls(kept)

    def __len__(self):
        return len(self.itos)

    def lookup(self, items) -> np.ndarray:
        """ids (n,) int64; unknown strings map to [UNK]=1."""
        get = self.stoi.get
        return np.array([get(s, 1) for s in items], dtype=np.int64)


@dataclass
class EncodedSentences:
    """Variable-length sentences as flat arrays plus offsets (no per-batch string work).

    words, cases, tags: (total_tokens,) int64;  chars: (total_tokens, max_word_len) int64;
    offsets: (n_sentences + 1,) start of each sentence in the flat arrays.
    """

    words: np.ndarray
    cases: np.ndarray
    chars: np.ndarray
    tags: np.ndarray
    offsets: np.ndarray

    @property
    def lengths(self):
        return np.diff(self.offsets)

    def __len__(self):
        return len(self.offsets) - 1


def encode_sentences(sentences, word_vocab: Vocab, char_vocab: Vocab, tag_of=None, max_word_len=20):
    """Encode token lists (and their tag-id lists) into an `EncodedSentences`.

    Args:
        sentences: list of token lists.
        word_vocab, char_vocab: `Vocab`s of normalised words and of characters.
        tag_of: list of int tag-id arrays, one per sentence, or None (tags = -100).
        max_word_len: characters kept per word (longer words are cut; the CNN sees the start).
    """
    flat = [w for s in sentences for w in s]
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    words = word_vocab.lookup([normalise_word(w) for w in flat])
    cases = np.array([case_id(w) for w in flat], dtype=np.int64)
    # Characters: one lookup over the concatenation, then scattered into a (tokens, L) grid.
    cut = [w[:max_word_len] for w in flat]
    wl = np.array([len(w) for w in cut], dtype=np.int64)
    char_ids = char_vocab.lookup(list("".join(cut)))
    chars = np.zeros((len(flat), max(1, int(wl.max()) if len(wl) else 1)), dtype=np.int64)
    rows = np.repeat(np.arange(len(flat)), wl)
    cols = np.arange(len(char_ids)) - np.repeat(np.cumsum(wl) - wl, wl)
    chars[rows, cols] = char_ids
    tags = (np.concatenate(tag_of) if tag_of is not None and len(flat)
            else np.full(len(flat), -100, dtype=np.int64))
    return EncodedSentences(words, cases, chars, tags.astype(np.int64), offsets)


class SentenceBatches:
    """Re-iterable batches `(words, cases, chars, tags)` for the Trainer.

    words, cases: (B, T) with T the longest sentence of the batch; chars: (B, T, Lc);
    tags: (B, width) with -100 on padding, where `width` is fixed for the whole dataset so
    that the Trainer can concatenate outputs and targets of all batches for an exact F1.

    Args:
        data: `EncodedSentences`.  batch_size: sentences per batch.
        shuffle: bucket by length with a fresh shuffle per epoch (training), else file order.
        seed: seeds the shuffle.  width: tag columns (default: the longest sentence).
    """

    def __init__(self, data: EncodedSentences, batch_size=32, shuffle=True, seed=None, width=None):
        from pmt.core import bucket_batches
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle
        self.width = int(width or max(1, data.lengths.max(initial=1)))
        self.index = bucket_batches(data.lengths, batch_size, shuffle=True, seed=seed) if shuffle else None

    def set_epoch(self, epoch):
        if self.index is not None:
            self.index.set_epoch(epoch)

    def __len__(self):
        n = len(self.data)
        return len(self.index) if self.index is not None else -(-n // self.batch_size)

    def batch(self, idx):
        """The arrays of sentences `idx` (an int array)."""
        d = self.data
        lens = d.lengths[idx]
        T = int(lens.max())
        pos = np.arange(T)
        valid = pos[None, :] < lens[:, None]                               # (B, T)
        src = np.where(valid, d.offsets[idx][:, None] + pos[None, :], 0)   # flat index per slot
        words = np.where(valid, d.words[src], 0)
        cases = np.where(valid, d.cases[src], 0)
        chars = np.where(valid[..., None], d.chars[src], 0)
        keep = chars.any(axis=(0, 1))                                       # drop all-pad char columns
        chars = chars[:, :, : max(1, int(np.nonzero(keep)[0].max()) + 1 if keep.any() else 1)]
        tags = np.full((len(idx), self.width), -100, dtype=np.int64)
        tags[:, :T] = np.where(valid, d.tags[src], -100)
        return words, cases, chars, tags

    def __iter__(self):
        n = len(self.data)
        order = self.index if self.index is not None else (
            np.arange(i, min(i + self.batch_size, n)) for i in range(0, n, self.batch_size))
        for idx in order:
            yield self.batch(np.asarray(idx))
