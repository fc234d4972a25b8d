"""The vocabulary: words sorted by frequency, their counts, and text -> id encoding.

Word ids are ranks: id 0 is the most frequent word.  That makes "the 30,000 most frequent
words" simply `ids < 30000` (the analogy evaluation uses it), and it is the order word2vec.c
and gensim write vectors in.
"""
from __future__ import annotations

from collections import Counter
from itertools import repeat

import numpy as np

_CHUNK = 1 << 22  # characters split at a time: bounds the memory of the temporary word list


def _pieces(text: str):
    """Yield (piece, starts_line) with every piece at most ~_CHUNK chars, cut at spaces.

    Splitting 100 MB at once would build a 19M-element list of str (~1.2 GB); pieces keep the
    temporary list small.  `starts_line` marks pieces that begin a new line (sentence).
    """
    pos, n = 0, len(text)
    while pos < n:
        eol = text.find("\n", pos)
        eol = n if eol < 0 else eol
        first = True
        while pos < eol:
            end = min(pos + _CHUNK, eol)
            if end < eol:
                cut = text.rfind(" ", pos, end)
                end = cut if cut > pos else end
            yield text[pos:end], first
            first, pos = False, end
        pos = eol + 1


class Vocab:
    """Words with their corpus counts, most frequent first.

    Args:
        words: the words, in id order.
        counts: (V,) int counts, one per word.

    Attributes:
        words: list[str], id -> word.
        counts: (V,) int64 counts.
        index: dict word -> id.

    Example:
        >>> vocab = Vocab.build("the cat sat on the mat", min_count=1)
        >>> vocab.words[0], int(vocab.counts[0])
        ('the', 2)
    """

    def __init__(self, words, counts):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        if self.counts.shape != (len(self.words),):
            raise ValueError(f"Vocab: {len(self.words)} words but counts of shape {self.counts.shape}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("Vocab: duplicated words")

    @classmethod
    def build(cls, text: str, min_count: int = 5, max_size: int | None = None) -> "Vocab":
        """Count the whitespace-separated words of `text` and keep the frequent ones.

        Args:
            text: the corpus.
            min_count: drop words seen fewer times (word2vec's -min-count, default 5).
            max_size: keep at most this many words (the most frequent; ties by first occurrence).
        """
        if not isinstance(min_count, (int, np.integer)) or min_count < 1:
            raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
        if max_size is not None and (not isinstance(max_size, (int, np.integer)) or max_size < 1):
            raise ValueError(f"max_size must be a positive integer or None, got {max_size!r}")
        counter = Counter()
        for piece, _ in _pieces(text):
            counter.update(piece.split())  # Counter.update counts in C
        kept = [(w, c) for w, c in counter.most_common(max_size) if c >= min_count]
        if not kept:
            raise ValueError(f"Vocab.build: no word occurs at least min_count={min_count} times "
                             f"(the text has {sum(counter.values())} words)")
        words, counts = zip(*kept)
        return cls(words, counts)

    def encode(self, text: str):
        """Word ids of `text`, out-of-vocabulary words dropped (as word2vec.c does).

        Returns:
            ids: (n,) int32 word ids.
            line_starts: (L,) int64 positions in `ids` where each non-empty line begins
                (context windows do not cross lines).
        """
        chunks, starts, total = [], [], 0
        for piece, new_line in _pieces(text):
            words = piece.split()
            # map(dict.get, words, repeat(-1)) runs in C: no Python bytecode per word.
            ids = np.fromiter(map(self.index.get, words, repeat(-1)), dtype=np.int32, count=len(words))
            ids = ids[ids >= 0]
            if new_line and len(ids) and (not starts or starts[-1] != total):
                starts.append(total)
            chunks.append(ids)
            total += len(ids)
        ids = np.concatenate(chunks) if chunks else np.zeros(0, np.int32)
        return ids, np.asarray(starts if starts else [0], dtype=np.int64)

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __getitem__(self, word) -> int:
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary ({len(self)} words)") from None

    def __repr__(self):
        return f"Vocab(size={len(self)}, tokens={int(self.counts.sum())})"
