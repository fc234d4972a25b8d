"""The sub-word tokenizer: WordPiece trained here, with BERT-style special tokens and batching.

Pipeline: `Normalizer` (lower-case, NFC / accent stripping, single spaces) -> words (whitespace
chunks, each looked up in a cache) -> pieces (`pretokenize`: word-character runs and single
punctuation characters, each knowing whether a space came before it) -> WordPiece tokens
(`wordpiece`: "##" marks a token that continues the text before it without a space) -> ids,
with [CLS]/[SEP] around, truncation and padding.

Special tokens have fixed ids at the start of every vocabulary:
[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 [BOS]=5 [EOS]=6.

Round trip, the exact rule: `decode(encode(text).ids) == normalize(text)` whenever every character
of the normalised text was seen in training and no piece is longer than `max_word_chars`; spaces,
punctuation and digits come back exactly where they were ("koh-i-noor's, 2nd." stays so).
Otherwise each piece holding an unseen character decodes as "[UNK]" with a space before it (the
spacing after it is kept): "snow☃man" -> "snow [UNK]man".
`decode` drops [PAD] [CLS] [SEP] [BOS] [EOS] (unless `skip_special_tokens=False`) and keeps
[UNK] and [MASK]. For pre-tokenized input the words are joined by single spaces.

Vocabulary file (`save`/`load`): UTF-8 text, one header line
`pmt-wordpiece 1 lowercase=true strip_accents=false split_punctuation=true max_word_chars=100`,
then one token per line in id order. Tokens never contain whitespace, so no quoting is needed.
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from pmt.core.files import atomic_write

from .pretokenize import Normalizer, piece_pattern
from .wordpiece import CONTINUATION, learn_vocab, segment

__all__ = ["Tokenizer", "Encoding", "BatchEncoding", "VocabFileError", "SPECIAL_TOKENS",
           "PAD_ID", "UNK_ID", "CLS_ID", "SEP_ID", "MASK_ID", "BOS_ID", "EOS_ID"]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID, BOS_ID, EOS_ID = range(len(SPECIAL_TOKENS))
_DROPPED_BY_DECODE = frozenset({PAD_ID, CLS_ID, SEP_ID, BOS_ID, EOS_ID})

_MAGIC = "pmt-wordpiece"
_FORMAT_VERSION = "1"
_CHUNK_CHARS = 1 << 20  # training normalises and splits text in ~1 MB chunks (few, big C calls)


class VocabFileError(ValueError):
    """A vocabulary file that cannot be read as a `Tokenizer`."""


@dataclass
class Encoding:
    """One encoded text or text pair (Python lists, all of the same length).

    Attributes:
        ids: token ids, e.g. `[CLS] a [SEP] b [SEP]` then [PAD]s.
        segment_ids: 0 for the first text and its [CLS]/[SEP], 1 for the second and its [SEP],
            0 for padding.
        attention_mask: 1 for real tokens, 0 for padding.
        word_ids: index of the word each token came from (within its own text), None for special
            tokens and padding. A word is a whitespace-separated chunk of the normalised text
            ("hello," is one word of two tokens), or one element of a pre-tokenized list.
    """
    ids: list[int]
    segment_ids: list[int]
    attention_mask: list[int]
    word_ids: list[int | None]

    def __len__(self):
        return len(self.ids)


@dataclass
class BatchEncoding:
    """A padded batch of encodings as int32 arrays.

    Attributes:
        input_ids: (batch, seq) token ids, [PAD]=0 after each sequence's end.
        segment_ids: (batch, seq) 0 for the first text, 1 for the second, 0 for padding.
        attention_mask: (batch, seq) 1 for real tokens, 0 for padding.
        word_ids: (batch, seq) word index within its own text, -1 for special tokens and padding.
        lengths: (batch,) number of real tokens per row.
    """
    input_ids: np.ndarray
    segment_ids: np.ndarray
    attention_mask: np.ndarray
    word_ids: np.ndarray
    lengths: np.ndarray

    def __len__(self):
        return len(self.input_ids)


class Tokenizer:
    """WordPiece sub-word tokenizer (train with `Tokenizer.train`, or `Tokenizer.load` a file).

    Args:
        vocab: tokens in id order; must start with `SPECIAL_TOKENS`.
        lowercase: lower-case text before tokenizing.
        strip_accents: drop accents ("é" -> "e") before tokenizing.
        split_punctuation: make each punctuation/symbol character its own piece (else sub-words
            may span "don't" or "e-mail"; "#" is split off either way).
        max_word_chars: pieces longer than this become one [UNK] (bounds the work per piece).

    Attributes:
        normalizer: the `Normalizer` applied to every text.
        vocab_size: number of tokens.

    Example:
        >>> tok = Tokenizer.train(["the cat sat.", "the cats sat!"], vocab_size=60)
        >>> enc = tok.encode("The cat", "cats sat", max_length=8, padding="max_length")
        >>> tok.decode(enc.ids), enc.segment_ids
        ('the cat cats sat', [0, 0, 0, 0, 1, 1, 1, 1])
    """

    def __init__(self, vocab: Sequence[str], *, lowercase: bool = True, strip_accents: bool = False,
                 split_punctuation: bool = True, max_word_chars: int = 100):
        if not isinstance(max_word_chars, (int, np.integer)) or isinstance(max_word_chars, bool) \
                or max_word_chars < 1:
            raise ValueError(f"max_word_chars must be a positive int, got {max_word_chars!r}")
        if not isinstance(split_punctuation, bool):
            raise TypeError(f"split_punctuation must be a bool, got {split_punctuation!r}")
        self.normalizer = Normalizer(lowercase, strip_accents)
        self.split_punctuation = split_punctuation
        self._find_pieces = piece_pattern(split_punctuation).findall  # on " " + normalised text
        self.max_word_chars = int(max_word_chars)
        problem = _vocab_problem(vocab)
        if problem:
            raise ValueError(f"invalid vocabulary: {problem}")
        self._tokens = list(vocab)
        self._token_id = {t: i for i, t in enumerate(self._tokens)}
        self._max_token_chars = max(len(t) - len(CONTINUATION) if _is_continuation(t) else len(t)
                                    for t in self._tokens[len(SPECIAL_TOKENS):] or [""])
        # decode = "".join of these pieces: a space before a word-initial token, none before "##".
        self._decode_piece = [f" {t}" for t in SPECIAL_TOKENS] + [
            t[len(CONTINUATION):] if _is_continuation(t) else f" {t}"
            for t in self._tokens[len(SPECIAL_TOKENS):]]
        self._cache: dict[str, tuple[int, ...]] = {}  # whitespace chunk -> ids

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, texts: Iterable[str] | str, vocab_size: int = 8000, *, lowercase: bool = True,
              strip_accents: bool = False, split_punctuation: bool = True, min_char_frequency: int = 1,
              min_pair_frequency: int = 2, max_word_chars: int = 100, progress: bool = False) -> "Tokenizer":
        """Learn a vocabulary from texts.

        Pieces are counted first (one pass over the text), then merges run on the counts.

        Args:
            texts: an iterable of strings (a single str is one text).
            vocab_size: maximum vocabulary size, specials and alphabet included; must be at
                least 7 + 2 * (number of distinct characters kept).
            lowercase, strip_accents, split_punctuation, max_word_chars: as in `Tokenizer`.
            min_char_frequency: rarer characters are left out of the alphabet (they become [UNK]).
            min_pair_frequency: stop merging when no pair occurs this often.
            progress: show tqdm bars.
        Returns:
            the trained `Tokenizer`.

        Example:
            >>> Tokenizer.train(["hello world"] * 3, vocab_size=40).tokenize("hello")
            ['hello']
        """
        for name, value, low in (("vocab_size", vocab_size, 1), ("min_char_frequency", min_char_frequency, 1),
                                 ("min_pair_frequency", min_pair_frequency, 1)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if isinstance(texts, str):
            texts = [texts]
        elif not isinstance(texts, Iterable):
            raise TypeError(f"texts must be an iterable of str, got {type(texts).__name__}")
        settings = dict(lowercase=lowercase, strip_accents=strip_accents,
                        split_punctuation=split_punctuation, max_word_chars=max_word_chars)
        tok = cls(SPECIAL_TOKENS, **settings)
        # Count whitespace chunks first (C-level split + Counter), then cut each distinct chunk
        # into marked pieces once: on 10 MB of QQP the regex sees 84 k distinct chunks, not 1.8 M words.
        chunk_counts: Counter[str] = Counter()
        buffer, size = [], 0
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}: {text!r:.60}")
            buffer.append(text)
            size += len(text)
            if size >= _CHUNK_CHARS:
                chunk_counts.update(tok.normalizer("\n".join(buffer)).split())
                buffer, size = [], 0
        if buffer:
            chunk_counts.update(tok.normalizer("\n".join(buffer)).split())
        if not chunk_counts:
            raise ValueError("texts hold no characters to learn a vocabulary from")
        counts: dict[str, int] = {}
        for chunk, n in chunk_counts.items():
            for piece in tok._find_pieces(" " + chunk):
                if len(piece.lstrip(" ")) <= tok.max_word_chars:
                    counts[piece] = counts.get(piece, 0) + n
        vocab = learn_vocab(counts, int(vocab_size), SPECIAL_TOKENS, int(min_char_frequency),
                            int(min_pair_frequency), progress)
        return cls(vocab, **settings)

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def __len__(self):
        return len(self._tokens)

    @property
    def vocab(self) -> list[str]:
        """Tokens in id order (a copy)."""
        return list(self._tokens)

    def token_to_id(self, token: str) -> int:
        """Id of a token string ([UNK]'s id if it is not in the vocabulary)."""
        return self._token_id.get(token, UNK_ID)

    def id_to_token(self, i: int) -> str:
        """Token string of an id (IndexError if out of range)."""
        if not 0 <= i < len(self._tokens):
            raise IndexError(f"token id {i} out of range [0, {len(self._tokens)})")
        return self._tokens[i]

    def normalize(self, text: str) -> str:
        """The canonical form of `text` that `decode(encode(text).ids)` reproduces."""
        return self.normalizer(text)

    def tokenize(self, text: str) -> list[str]:
        """Token strings of a text, without special tokens.

        Example:
            >>> Tokenizer.train(["it rains, it is raining"] * 3, vocab_size=60).tokenize("Rain, it")
            ['rain', '##,', 'it']
        """
        return [self._tokens[i] for seg in self._word_segments(text, False, "text") for i in seg]

    # ------------------------------------------------------------------ encoding
    def _chunk_ids(self, chunk: str) -> tuple[int, ...]:
        """Ids of one whitespace-free chunk of normalised text (cached)."""
        ids = self._cache.get(chunk)
        if ids is None:
            ids = ()
            for piece in self._find_pieces(" " + chunk):
                glued = piece[0] != " "
                text = piece if glued else piece[1:]
                ids += ((UNK_ID,) if len(text) > self.max_word_chars else
                        segment(text, glued, self._token_id, self._max_token_chars, UNK_ID))
            if len(self._cache) >= 1_000_000:  # bound memory on endless streams of new words
                self._cache.clear()
            self._cache[chunk] = ids
        return ids

    def _word_segments(self, text, is_pretokenized: bool, where: str) -> list[tuple[int, ...]]:
        """Token ids of each word of one text (no specials), one tuple per word."""
        if not is_pretokenized:
            if not isinstance(text, str):
                raise TypeError(f"{where} must be a str (or a list of str with is_pretokenized=True), "
                                f"got {type(text).__name__}: {text!r:.60}")
            # The cache is keyed by whitespace chunk ("india?"), so a text costs one C-level split
            # and one dict hit per word; the regex pre-tokenizer runs only on unseen chunks.
            cache = self._cache
            return [cache.get(c) or self._chunk_ids(c) for c in self.normalizer(text).split()]
        if isinstance(text, str) or not isinstance(text, (Sequence, np.ndarray)):
            raise TypeError(f"{where} must be a list of str words when is_pretokenized=True, "
                            f"got {type(text).__name__}: {text!r:.60}")
        segs = []
        for w, word in enumerate(text):
            if not isinstance(word, str):
                raise TypeError(f"{where}[{w}] must be a str, got {type(word).__name__}: {word!r:.60}")
            # All chunks of one word count as that word; a word that normalises to nothing
            # still gets one [UNK] so that every word has a token to carry its label.
            segs.append(tuple(chain.from_iterable(
                self._chunk_ids(c) for c in self.normalizer(word).split())) or (UNK_ID,))
        return segs

    def _flatten(self, texts, is_pretokenized: bool, where) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All texts' tokens back to back: ids (T,), word_ids (T,), tokens per text (B,).

        The only per-text Python work is string handling; word indices are computed in numpy.
        """
        ids, word_lens, n_words = [], [], []
        for i, text in enumerate(texts):
            segs = self._word_segments(text, is_pretokenized, where(i))
            ids.extend(chain.from_iterable(segs))
            word_lens.extend(map(len, segs))
            n_words.append(len(segs))
        word_lens = np.array(word_lens, dtype=np.int64)                       # (W,) tokens per word
        n_words = np.array(n_words, dtype=np.int64)                           # (B,) words per text
        first_word = np.cumsum(n_words) - n_words                             # (B,)
        word_in_text = np.arange(len(word_lens)) - np.repeat(first_word, n_words)  # (W,)
        token_end = np.concatenate([[0], np.cumsum(word_lens)])               # (W+1,)
        n_tokens = token_end[first_word + n_words] - token_end[first_word]    # (B,)
        return (np.array(ids, dtype=np.int32), np.repeat(word_in_text, word_lens).astype(np.int32),
                n_tokens)

    def _check_length(self, max_length, padding):
        if max_length is not None and (not isinstance(max_length, (int, np.integer))
                                       or isinstance(max_length, bool) or max_length < 1):
            raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
        if padding == "max_length" and max_length is None:
            raise ValueError("padding='max_length' needs max_length")

    def encode(self, text: str | Sequence[str], pair: str | Sequence[str] | None = None, *,
               is_pretokenized: bool = False, add_special_tokens: bool = True,
               max_length: int | None = None, padding: bool | str = False) -> Encoding:
        """Encode a text, or a pair of texts as `[CLS] a [SEP] b [SEP]`.

        Args:
            text: a string, or a list of words with `is_pretokenized=True`.
            pair: optional second text (same kind as `text`).
            is_pretokenized: `text`/`pair` are lists of words; `word_ids` then index that list.
            add_special_tokens: wrap in [CLS] ... [SEP] (... [SEP]).
            max_length: truncate to this many tokens, specials included; a pair is cut
                longest-first (one token at a time from the longer text, the second on ties).
            padding: False, or "max_length" to pad with [PAD] up to `max_length`.
        Returns:
            an `Encoding` (lists of equal length).

        Example:
            >>> tok = Tokenizer.train(["New York is big!"] * 2, vocab_size=60)
            >>> tok.encode(["New York", "!"], is_pretokenized=True).word_ids
            [None, 0, 0, 1, None]
        """
        if padding not in (False, "max_length"):
            raise ValueError(f"padding must be False or 'max_length' for encode, got {padding!r} "
                             "(use encode_batch to pad to the longest)")
        batch = self._encode_batch([text], None if pair is None else [pair], is_pretokenized,
                                   add_special_tokens, max_length, padding or "longest", ("text", "pair"))
        return Encoding(batch.input_ids[0].tolist(), batch.segment_ids[0].tolist(),
                        batch.attention_mask[0].tolist(),
                        [None if w < 0 else w for w in batch.word_ids[0].tolist()])

    def encode_batch(self, texts: Sequence, pairs: Sequence | None = None, *, is_pretokenized: bool = False,
                     add_special_tokens: bool = True, max_length: int | None = None,
                     padding: str = "longest") -> BatchEncoding:
        """Encode many texts (or pairs) into padded int32 arrays.

        Args:
            texts: B strings (or B word lists with `is_pretokenized=True`).
            pairs: optional B second texts.
            is_pretokenized, add_special_tokens, max_length: as in `encode`.
            padding: "longest" (pad to the longest row, at most `max_length`) or "max_length".
        Returns:
            a `BatchEncoding`: input_ids, segment_ids, attention_mask, word_ids: (B, seq); lengths: (B,).

        Example:
            >>> tok = Tokenizer.train(["a b c d"], vocab_size=30)
            >>> tok.encode_batch(["a b", "c"]).input_ids.shape
            (2, 4)
        """
        if padding not in ("longest", "max_length"):
            raise ValueError(f"padding must be 'longest' or 'max_length', got {padding!r}")
        if isinstance(texts, str) or not isinstance(texts, (Sequence, np.ndarray)):
            raise TypeError(f"texts must be a list of texts, got {type(texts).__name__}")
        if pairs is not None:
            if isinstance(pairs, str) or not isinstance(pairs, (Sequence, np.ndarray)):
                raise TypeError(f"pairs must be a list of texts or None, got {type(pairs).__name__}")
            if len(pairs) != len(texts):
                raise ValueError(f"texts and pairs differ in length: {len(texts)} vs {len(pairs)}")
        return self._encode_batch(texts, pairs, is_pretokenized, add_special_tokens, max_length, padding,
                                  ("texts", "pairs"), indexed=True)

    def _encode_batch(self, texts, pairs, is_pretokenized, add_special_tokens, max_length, padding,
                      names, indexed=False) -> BatchEncoding:
        self._check_length(max_length, padding)
        n_special = (3 if pairs is not None else 2) if add_special_tokens else 0
        if max_length is not None and max_length - n_special < (2 if pairs is not None else 1):
            raise ValueError(f"max_length={max_length} leaves no room for text after "
                             f"{n_special} special tokens")

        def where(name):
            return (lambda i: f"{name}[{i}]") if indexed else (lambda i: name)

        a_ids, a_words, la = self._flatten(texts, is_pretokenized, where(names[0]))
        if pairs is not None:
            b_ids, b_words, lb = self._flatten(pairs, is_pretokenized, where(names[1]))
        else:
            lb = np.zeros_like(la)
        if max_length is not None:
            ka, kb = _truncated_lengths(la, lb, max_length - n_special)  # tokens kept per text
        else:
            ka, kb = la, lb
        lengths = ka + kb + n_special                                     # (B,)
        batch = len(lengths)
        width = max_length if padding == "max_length" else int(lengths.max(initial=0))
        input_ids = np.full((batch, width), PAD_ID, dtype=np.int32)       # (B, seq)
        word_ids = np.full((batch, width), -1, dtype=np.int32)            # (B, seq)
        rows = np.arange(batch)
        cols = np.arange(width)
        a_start = np.full(batch, 1 if add_special_tokens else 0)          # after [CLS]
        _scatter(input_ids, word_ids, a_ids, a_words, la, ka, a_start)
        if add_special_tokens and batch:
            input_ids[:, 0] = CLS_ID
            input_ids[rows, ka + 1] = SEP_ID
        segment_ids = np.zeros((batch, width), dtype=np.int32)
        if pairs is not None:
            b_start = ka + (2 if add_special_tokens else 0)               # after [CLS] a [SEP]
            _scatter(input_ids, word_ids, b_ids, b_words, lb, kb, b_start)
            if add_special_tokens and batch:
                input_ids[rows, lengths - 1] = SEP_ID
            segment_ids[(cols >= b_start[:, None]) & (cols < lengths[:, None])] = 1
        mask = (cols < lengths[:, None]).astype(np.int32)
        return BatchEncoding(input_ids, segment_ids, mask, word_ids, lengths.astype(np.int32))

    # ------------------------------------------------------------------ decoding
    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """Text of a sequence of ids (see the module docstring for the exact round-trip rule).

        Args:
            ids: 1-D list or int array of token ids.
            skip_special_tokens: drop [PAD] [CLS] [SEP] [BOS] [EOS]; [UNK] and [MASK] stay.
        Returns:
            the text, tokens joined with a space unless they continue ("##") the previous one.

        Example:
            >>> tok = Tokenizer.train(["don't stop"], vocab_size=40)
            >>> tok.decode(tok.encode("Don't  STOP").ids)
            "don't stop"
        """
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"ids must be a 1-D sequence of ints, got {type(ids).__name__} of "
                            f"shape {arr.shape} and dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= len(self._tokens)):
            bad = int(arr[(arr < 0) | (arr >= len(self._tokens))][0])
            raise ValueError(f"token id {bad} out of range [0, {len(self._tokens)})")
        pieces = self._decode_piece
        ids = arr.tolist()
        if skip_special_tokens:
            text = "".join([pieces[i] for i in ids if i not in _DROPPED_BY_DECODE])
        else:
            text = "".join([pieces[i] for i in ids])
        return text[1:] if text.startswith(" ") else text

    def decode_batch(self, ids, skip_special_tokens: bool = True) -> list[str]:
        """`decode` of each row of a (batch, seq) int array (e.g. `BatchEncoding.input_ids`)."""
        arr = np.asarray(ids)
        if arr.ndim != 2:
            raise TypeError(f"ids must be a 2-D (batch, seq) array of ints, got shape {arr.shape}")
        return [self.decode(row, skip_special_tokens) for row in arr]

    # ------------------------------------------------------------------ files
    def to_text(self) -> str:
        """The vocabulary file's content: a settings header line, then one token per line."""
        header = (f"{_MAGIC} {_FORMAT_VERSION} lowercase={str(self.normalizer.lowercase).lower()} "
                  f"strip_accents={str(self.normalizer.strip_accents).lower()} "
                  f"split_punctuation={str(self.split_punctuation).lower()} "
                  f"max_word_chars={self.max_word_chars}")
        return header + "\n" + "\n".join(self._tokens) + "\n"

    def save(self, path: str | os.PathLike):
        """Write the vocabulary file (`to_text`), atomically: a crash never leaves half a vocabulary."""
        atomic_write(path, self.to_text())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokenizer":
        """Read a file written by `save`. Raises `VocabFileError` naming the file, line and problem."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such vocabulary file")
        try:
            with open(path, encoding="utf-8", newline="") as f:
                text = f.read()
        except UnicodeDecodeError as e:
            raise VocabFileError(f"{path}: not UTF-8 text ({e})") from e
        if not text:
            raise VocabFileError(f"{path}: the file is empty")
        if not text.endswith("\n"):
            raise VocabFileError(f"{path}: does not end with a newline (truncated file?)")
        lines = text[:-1].split("\n")
        settings = _parse_header(lines[0], path)
        tokens = lines[1:]
        problem = _vocab_problem(tokens)
        if problem:
            raise VocabFileError(f"{path}: {problem}")
        return cls(tokens, **settings)

    def __repr__(self):
        return (f"Tokenizer(vocab_size={self.vocab_size}, lowercase={self.normalizer.lowercase}, "
                f"strip_accents={self.normalizer.strip_accents}, split_punctuation={self.split_punctuation}, "
                f"max_word_chars={self.max_word_chars})")


def _is_continuation(token: str) -> bool:
    return token.startswith(CONTINUATION) and len(token) > len(CONTINUATION)


def _truncated_lengths(la: np.ndarray, lb: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Longest-first truncation of token counts (la, lb) per text so that la' + lb' <= budget.

    Removing one token at a time from the longer text (the second on ties) leaves, once both are
    cut, ceil(budget/2) tokens to the first text; a text shorter than its share is never cut:
    la' = min(la, max(budget - lb, ceil(budget/2))), lb' = min(lb, budget - la').
    For a single text lb = 0 and this is la' = min(la, budget).
    """
    la2 = np.minimum(la, np.maximum(budget - lb, (budget + 1) // 2))
    return la2, np.minimum(lb, budget - la2)


def _scatter(out_ids: np.ndarray, out_words: np.ndarray, ids: np.ndarray, words: np.ndarray,
             n_tokens: np.ndarray, n_kept: np.ndarray, start: np.ndarray):
    """Write the first n_kept[r] of text r's tokens into row r of (B, seq) arrays from column start[r].

    ids, words: (T,) all texts' tokens back to back; n_tokens, n_kept, start: (B,).
    """
    row = np.repeat(np.arange(len(n_tokens)), n_tokens)                         # (T,)
    k = np.arange(len(ids)) - np.repeat(np.cumsum(n_tokens) - n_tokens, n_tokens)  # (T,) index in its text
    keep = k < n_kept[row]
    row, col = row[keep], (start[row] + k)[keep]
    out_ids[row, col] = ids[keep]
    out_words[row, col] = words[keep]


def _vocab_problem(tokens) -> str | None:
    """Why `tokens` is not a valid vocabulary (with line numbers as in a saved file), or None."""
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        return f"expected a list of token strings, got {type(tokens).__name__}"
    n = len(SPECIAL_TOKENS)
    if list(tokens[:n]) != list(SPECIAL_TOKENS):
        return (f"the first {n} tokens must be the special tokens {' '.join(SPECIAL_TOKENS)}, "
                f"got {' '.join(map(str, tokens[:n]))!r}")
    seen = {}
    for i, t in enumerate(tokens):
        if not isinstance(t, str):
            return f"token {i} (line {i + 2}) is a {type(t).__name__}, expected str"
        if not t or t == CONTINUATION or any(ch.isspace() for ch in t):
            return f"token {i} (line {i + 2}) {t!r} is empty, a bare '##', or holds whitespace"
        if t in seen:
            return f"token {i} (line {i + 2}) {t!r} repeats token {seen[t]} (line {seen[t] + 2})"
        seen[t] = i
    return None


def _parse_header(line: str, path) -> dict:
    parts = line.split(" ")
    if len(parts) < 2 or parts[0] != _MAGIC:
        raise VocabFileError(f"{path}: line 1 must be the header '{_MAGIC} {_FORMAT_VERSION} key=value ...', "
                             f"got {line[:80]!r}")
    if parts[1] != _FORMAT_VERSION:
        raise VocabFileError(f"{path}: format version {parts[1]!r} is not supported "
                             f"(expected {_FORMAT_VERSION})")
    settings = {}
    for item in parts[2:]:
        key, sep, value = item.partition("=")
        if key in ("lowercase", "strip_accents", "split_punctuation") and value in ("true", "false"):
            settings[key] = value == "true"
        elif key == "max_word_chars" and value.isdigit() and int(value) > 0:
            settings[key] = int(value)
        else:
            raise VocabFileError(f"{path}: line 1 has an unknown or malformed setting {item!r} (expected "
                                 "lowercase=, strip_accents=, split_punctuation=true|false, max_word_chars=N)")
    return settings
