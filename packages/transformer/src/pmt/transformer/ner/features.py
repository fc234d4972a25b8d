"""Turning CoNLL sentences into arrays: word ids, case ids, character ids and tag ids.

The tagger works on *words* (CoNLL's tokens), so each label sits on exactly the unit it was
given for and no sub-word alignment is needed.  Three views of a word go in:

* its lower-cased form with digits folded to 0 (`"1996"` -> `"0000"`), looked up in a word
  vocabulary built from training data (rare words -> [UNK]);
* its shape class (lower, Title, UPPER, mixed, digits/other), because capitalisation is the
  strongest single clue for a named entity and lower-casing throws it away;
* its characters, which a small CNN reads so that unknown words and affixes still count.

A tagger fine-tuned from a pretraining run (`pmt-ner train --init RUN`) also reads each
sentence as the pretrained encoder does, in the run's sub-words: `subword_windows` tokenises the
words (`is_pretokenized=True`) and finds each word's *first* sub-word, the position whose output
stands for the word.  A sentence longer than the encoder's `max_len` (with [CLS] and [SEP]) is
cut into consecutive windows at word boundaries, each read as its own row: every word keeps its
pretrained vector, a word near a cut sees context on one side only.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..tokenizer import CLS_ID, PAD_ID, SEP_ID

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
class SubwordWindows:
    """Sentences in a pretrained tokenizer's sub-words, cut into windows the encoder can read.

    Window w of sentence i covers its sub-words [win_start[w], win_start[w] + win_len[w]) and is
    read as `[CLS] sub-words [SEP]`; win_len <= max_len - 2.

    Attributes:
        ids: (total_subwords,) int32, every sentence's sub-words back to back (no specials).
        sub_offsets: (n_sentences + 1,) where each sentence's sub-words start in `ids`.
        win_start, win_len: (n_windows,) each window's first sub-word (within its sentence), length.
        win_offsets: (n_sentences + 1,) sentence i's windows are win_offsets[i]:win_offsets[i + 1].
        word_win: (total_words,) the window of the sentence holding each word's first sub-word.
        word_col: (total_words,) that sub-word's column in the window's row ([CLS] is column 0).
    """

    ids: np.ndarray
    sub_offsets: np.ndarray
    win_start: np.ndarray
    win_len: np.ndarray
    win_offsets: np.ndarray
    word_win: np.ndarray
    word_col: np.ndarray


def subword_windows(tokenizer, sentences, max_len: int) -> SubwordWindows:
    """Tokenise word lists into sub-words and place each word's first sub-word in a window.

    A sentence of at most max_len - 2 sub-words is one window (nearly all of CoNLL-2003: 1 of
    14,041 training sentences is longer).  A longer one is packed greedily at word boundaries:
    a window grows word by word while its sub-words fit, and the word that does not fit opens
    the next window; only a single word longer than a whole window loses its tail.

    Args:
        tokenizer: a `Tokenizer` (the pretraining run's).  sentences: lists of words (non-empty).
        max_len: the encoder's longest row, [CLS] and [SEP] included (>= 3).

    Example:
        >>> from pmt.transformer import Tokenizer
        >>> tok = Tokenizer.train(["Peter Blackburn visited Brussels", "Peter visited Paris"] * 3,
        ...                       vocab_size=60, lowercase=False)
        >>> words = ["Peter", "Blackburn", "visited", "Brussels"]
        >>> tok.tokenize(" ".join(words))
        ['Peter', 'Blac', '##kbu', '##rn', 'visited', 'Br', '##uss', '##el', '##s']
        >>> sw = subword_windows(tok, [words], max_len=6)     # windows of at most 4 sub-words
        >>> sw.win_start.tolist(), sw.win_len.tolist()        # Peter Blackburn | visited | Brussels
        ([0, 4, 5], [4, 1, 4])
        >>> sw.word_win.tolist(), sw.word_col.tolist()        # where each word's first sub-word sits
        ([0, 0, 1, 2], [1, 2, 1, 1])
    """
    if max_len < 3:
        raise ValueError(f"subword_windows: max_len must leave room for [CLS], a sub-word and [SEP], got {max_len}")
    width = max_len - 2
    enc = tokenizer.encode_batch(sentences, is_pretokenized=True, add_special_tokens=False)
    wid = enc.word_ids                                                      # (n, L), -1 on padding
    n = len(sentences)
    slen = enc.lengths.astype(np.int64)                                     # (n,) sub-words per sentence
    ids = enc.input_ids[wid >= 0]                                           # (total_subwords,) row-major
    before = np.pad(wid[:, :-1], ((0, 0), (1, 0)), constant_values=-1)
    sent, first = np.nonzero((wid >= 0) & (wid != before))                  # (W,) each word's first sub-word
    last_word = np.r_[sent[1:] != sent[:-1], True]
    end = np.where(last_word, slen[sent], np.r_[first[1:], 0])              # (W,) one past each word's last
    word_offsets = np.concatenate([[0], np.cumsum(np.bincount(sent, minlength=n))])
    # One window per sentence, starting at 0, except the few long ones, packed word by word.
    n_win = np.ones(n, dtype=np.int64)
    word_win = np.zeros(len(sent), dtype=np.int64)
    starts = {}
    for i in np.flatnonzero(slen > width):
        a, b = word_offsets[i], word_offsets[i + 1]
        begin = [0]
        for w in range(a, b):                   # only the words of the rare long sentences
            if end[w] - begin[-1] > width and first[w] > begin[-1]:
                begin.append(int(first[w]))
            word_win[w] = len(begin) - 1
        starts[i], n_win[i] = begin, len(begin)
    win_offsets = np.concatenate([[0], np.cumsum(n_win)])
    win_start = np.zeros(win_offsets[-1], dtype=np.int64)
    for i, begin in starts.items():
        win_start[win_offsets[i]:win_offsets[i + 1]] = begin
    win_sent = np.repeat(np.arange(n), n_win)
    same = np.r_[win_sent[1:] == win_sent[:-1], False]                      # the next window is this sentence's
    win_end = np.where(same, np.r_[win_start[1:], 0], slen[win_sent])
    win = win_offsets[sent] + word_win                                      # (W,) global window of each word
    return SubwordWindows(ids.astype(np.int32), np.concatenate([[0], np.cumsum(slen)]), win_start,
                          np.minimum(win_end - win_start, width), win_offsets, word_win, 1 + first - win_start[win])


@dataclass
class EncodedSentences:
    """Variable-length sentences as flat arrays plus offsets (no per-batch string work).

    words, cases, tags: (total_tokens,) int64;  chars: (total_tokens, max_word_len) int64;
    offsets: (n_sentences + 1,) start of each sentence in the flat arrays;
    sub: the sentences in a pretrained tokenizer's sub-words (`SubwordWindows`), or None.
    """

    words: np.ndarray
    cases: np.ndarray
    chars: np.ndarray
    tags: np.ndarray
    offsets: np.ndarray
    sub: SubwordWindows | None = None

    @property
    def lengths(self):
        return np.diff(self.offsets)

    def __len__(self):
        return len(self.offsets) - 1


def encode_sentences(sentences, word_vocab: Vocab, char_vocab: Vocab, tag_of=None, max_word_len=20,
                     tokenizer=None, max_len: int = 128):
    """Encode token lists (and their tag-id lists) into an `EncodedSentences`.

    Args:
        sentences: list of token lists.
        word_vocab, char_vocab: `Vocab`s of normalised words and of characters.
        tag_of: list of int tag-id arrays, one per sentence, or None (tags = -100).
        max_word_len: characters kept per word (longer words are cut; the CNN sees the start).
        tokenizer, max_len: a pretrained tokenizer and its encoder's longest row: also encode the
            sentences' sub-words (`subword_windows`).
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
    sub = None if tokenizer is None else subword_windows(tokenizer, [list(s) for s in sentences], max_len)
    return EncodedSentences(words, cases, chars, tags.astype(np.int64), offsets, sub)


class SentenceBatches:
    """Re-iterable batches `(words, cases, chars, tags)` for the Trainer.

    words, cases: (B, T) with T the longest sentence of the batch; chars: (B, T, Lc);
    tags: (B, width) with -100 on padding, where `width` is fixed for the whole dataset so
    that the Trainer can concatenate outputs and targets of all batches for an exact F1.
    With sub-words (`data.sub`), batches are `(words, cases, chars, sub_ids, sub_first, tags)`:
    sub_ids (B, K, S) holds each sentence's K windows as `[CLS] sub-words [SEP]` rows ([PAD]
    after, and whole [PAD] rows for sentences with fewer windows), and sub_first (B, T) the
    position in its own sentence's (K·S) block of each word's first sub-word (0 on padding).
    Every array has B rows, so a batch splits across MPI ranks like any other.

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
        if d.sub is None:
            return words, cases, chars, tags
        return (words, cases, chars, *self._subwords(idx, valid, src), tags)

    def _subwords(self, idx, valid, src):
        """sub_ids (B, K, S) and sub_first (B, T) of sentences `idx` (see the class docstring)."""
        sw = self.data.sub
        n_win = sw.win_offsets[idx + 1] - sw.win_offsets[idx]                  # (B,)
        K = int(n_win.max())
        has = np.arange(K)[None, :] < n_win[:, None]                            # (B, K) window exists
        win = np.where(has, sw.win_offsets[idx][:, None] + np.arange(K)[None, :], 0)   # (B, K) global window
        lens = np.where(has, sw.win_len[win], 0)                                # (B, K)
        S = int(lens.max()) + 2
        col = np.arange(S)                                                      # [CLS] at 0, [SEP] at len + 1
        inside = (col >= 1) & (col <= lens[..., None])                          # (B, K, S)
        at = sw.sub_offsets[idx][:, None, None] + sw.win_start[win][..., None] + col - 1
        ids = np.where(inside, sw.ids[np.where(inside, at, 0)], PAD_ID).astype(np.int64)
        ids[..., 0] = np.where(has, CLS_ID, PAD_ID)
        ids[has, lens[has] + 1] = SEP_ID
        first = np.where(valid, sw.word_win[src] * S + sw.word_col[src], 0)      # (B, T)
        return ids, first

    def __iter__(self):
        n = len(self.data)
        order = self.index if self.index is not None else (
            np.arange(i, min(i + self.batch_size, n)) for i in range(0, n, self.batch_size))
        for idx in order:
            yield self.batch(np.asarray(idx))
