"""The pretraining corpus: unlabelled text from three sources, tokenised once into flat id arrays.

Sources, each a stream of lines (one paragraph, question or sentence per line):

    gutenberg  the 312 books of `gutenberg-cased`, streamed from its .gz (blank lines dropped)
    qqp        the distinct questions of the QQP *training* split, the one the QQP CLI carves
               (`train_valid_split` with its defaults: 10 % validation, seed 0), minus every question
               that also occurs in a validation pair, so no validation text is ever seen
    conll      the sentences of eng.train, tokens joined by single spaces

The last `heldout_fraction` (1 %) of each source's lines is held out: for gutenberg that is the end
of the last books, text the model never trains on, where masked-token accuracy is measured.  The
tokenizer is trained on the training lines only.

On disk (a corpus folder, `pmt-pretrain prepare --corpus DIR`), written once, shared by every run
that pretrains on it, memory-mapped by training:

    vocab.txt                            the tokenizer (each run copies it into its own folder)
    train.npy, heldout.npy               uint16 (or int32 past 65,536 tokens) ids, back to back
    train_lines.npy, heldout_lines.npy   int64 offset of each line's first token, then the total
    corpus.json                          sources, line and token counts, seconds taken

Tokenising 1e8 characters line by line through `Tokenizer.encode` takes minutes of per-call
overhead; `LineEncoder` instead splits each block of lines at whitespace once, encodes every
*distinct* chunk once (one vectorised `encode_batch`) and remembers it, so most of the corpus
costs one dict lookup per word.
"""
from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

import numpy as np
from pmt.core.files import atomic_open, atomic_write
from pmt.core.progress import Progress

from ..tokenizer import Tokenizer

__all__ = ["TextSource", "gutenberg_source", "qqp_source", "conll_source", "default_sources",
           "LineEncoder", "Corpus", "build_corpus", "CORPUS_FILES", "SOURCE_TEXT"]

CORPUS_FILES = ("train.npy", "train_lines.npy", "heldout.npy", "heldout_lines.npy", "corpus.json")
_BLOCK_LINES = 20_000      # lines tokenised per block (a few MB of text)
_NEW_CHUNKS = 4096         # distinct unseen chunks encoded per encode_batch call


@dataclass
class TextSource:
    """A named stream of text lines that can be re-read.

    Attributes:
        name: label in reports ("gutenberg", "qqp", "conll").
        lines: callable returning a fresh iterator over the lines (no trailing newlines).
        n_lines: how many lines it yields (needed up front to hold out the last ones).
    """

    name: str
    lines: Callable[[], Iterator[str]]
    n_lines: int

    def split(self, heldout_fraction: float) -> tuple[Iterator[str], Iterator[str]]:
        """(training lines, held-out lines): the held-out part is the last ceil(f · n) lines."""
        cut = self.n_lines - math.ceil(heldout_fraction * self.n_lines)
        it = self.lines()
        return islice(it, cut), it          # the second resumes where the first stopped


def _limited(lines: Iterable[str], max_lines: int | None) -> Iterator[str]:
    return iter(lines) if max_lines is None else islice(lines, max_lines)


def gutenberg_source(path=None, max_lines: int | None = None) -> TextSource:
    """The non-blank lines (paragraphs) of gutenberg-cased.txt.gz, streamed.

    Args:
        path: the .gz file (default: the `gutenberg-cased` dataset via PMT_DATA_DIR / cache).
        max_lines: read only the first lines (quick experiments and tests).
    """
    if path is None:
        from pmt.core.datasets import fetch
        path = fetch("gutenberg-cased", files=["gutenberg-cased.txt.gz"])["gutenberg-cased.txt.gz"]

    def lines():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            yield from _limited((line.rstrip("\n") for line in f if not line.isspace()), max_lines)

    n = sum(1 for _ in lines())                 # one extra pass of gunzip (~2 s for 104 MB)
    if n == 0:
        raise ValueError(f"{path}: holds no text lines")
    return TextSource("gutenberg", lines, n)


def qqp_source(path=None, valid_fraction: float = 0.1, split_seed: int = 0,
               max_lines: int | None = None) -> TextSource:
    """Distinct questions of the QQP training split that never occur in a validation pair.

    Args:
        path: GLUE-format train.tsv (default: the `qqp` dataset's).
        valid_fraction, split_seed: the split, as `pmt-qqp train --valid-fraction --split-seed`
            (the defaults are the QQP CLI's).
        max_lines: keep only the first questions.
    """
    from pmt.core.data import train_valid_split

    from ..qqp.data import read_qqp
    if path is None:
        from pmt.core.datasets import fetch
        path = fetch("qqp", files=["train.tsv"])["train.tsv"]
    data = read_qqp(path)
    train_idx, valid_idx = train_valid_split(len(data), valid_fraction, split_seed)
    seen_in_valid = {data.question1[i] for i in valid_idx} | {data.question2[i] for i in valid_idx}
    questions = dict.fromkeys(q for i in train_idx for q in (data.question1[i], data.question2[i])
                              if q.strip() and q not in seen_in_valid)      # distinct, first-seen order
    questions = list(questions)[:max_lines]
    return TextSource("qqp", lambda: iter(questions), len(questions))


def conll_source(path=None, max_lines: int | None = None) -> TextSource:
    """The sentences of CoNLL-2003 eng.train (tokens joined by spaces; no tags)."""
    from ..conll import load_conll2003, read_conll
    sentences = read_conll(path) if path is not None else load_conll2003("train")
    text = [" ".join(s.tokens) for s in sentences][:max_lines]
    return TextSource("conll", lambda: iter(text), len(text))


# What each default source holds, in one line (the model card of an exported folder quotes it).
SOURCE_TEXT = {
    "gutenberg": "the non-blank lines (paragraphs) of the 312 books of gutenberg-cased",
    "qqp": "the distinct questions of the QQP training split (`pmt-qqp`'s: 10 % validation, split seed 0) "
           "that occur in no validation pair",
    "conll": "the sentences of CoNLL-2003 eng.train, tokens joined by spaces",
}


def default_sources(max_lines: int | None = None) -> list[TextSource]:
    """gutenberg, qqp and conll from the datasets, each cut to `max_lines` lines if given."""
    return [gutenberg_source(max_lines=max_lines), qqp_source(max_lines=max_lines),
            conll_source(max_lines=max_lines)]


class LineEncoder:
    """Tokenise many lines into one flat id array, encoding each distinct whitespace chunk once.

    Gives the same ids as `tok.encode(line, add_special_tokens=False)` for each line, because
    the tokenizer's normalisation never moves text across whitespace, so a line's tokens are
    its chunks' tokens in order.

    Args:
        tok: a `Tokenizer`.
        max_cache: forget the remembered chunks when there are more (bounds memory).

    Example:
        >>> from pmt.transformer import Tokenizer
        >>> tok = Tokenizer.train(["Hello world.", "Hi there!"] * 5, vocab_size=60, lowercase=False)
        >>> ids, lengths = LineEncoder(tok)(["Hello world.", "Hi!"])
        >>> lengths.tolist(), ids[:lengths[0]].tolist() == tok.encode("Hello world.", add_special_tokens=False).ids
        ([3, 2], True)
    """

    def __init__(self, tok: Tokenizer, max_cache: int = 2_000_000):
        self.tok, self.max_cache = tok, max_cache
        self.cache: dict[str, tuple[int, ...]] = {}

    def _learn(self, chunks: set[str]):
        new = sorted(chunks.difference(self.cache), key=len)  # similar lengths share a padded batch
        if len(self.cache) + len(new) > self.max_cache:
            self.cache.clear()
            new = sorted(chunks, key=len)
        for i in range(0, len(new), _NEW_CHUNKS):
            part = new[i:i + _NEW_CHUNKS]
            enc = self.tok.encode_batch(part, add_special_tokens=False)
            for chunk, row, n in zip(part, enc.input_ids.tolist(), enc.lengths.tolist()):
                self.cache[chunk] = tuple(row[:n])

    def __call__(self, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """lines: list of B strings -> (ids int32 (T,), tokens per line int64 (B,))."""
        words_per_line = [line.split() for line in lines]
        words = list(chain.from_iterable(words_per_line))
        self._learn(set(words))
        cache = self.cache
        pieces = [cache[w] for w in words]                                      # (W,) tuples
        ids = np.fromiter(chain.from_iterable(pieces), dtype=np.int32)          # (T,)
        per_word = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
        n_words = np.fromiter(map(len, words_per_line), dtype=np.int64, count=len(lines))
        ends = np.cumsum(n_words)                                               # (B,) word index after each line
        word_end = np.concatenate([[0], np.cumsum(per_word)])                   # (W+1,) token offsets
        lengths = word_end[ends] - word_end[ends - n_words]                     # (B,)
        return ids, lengths


def _encode_stream(encode: LineEncoder, lines: Iterable[str], bar) -> tuple[np.ndarray, np.ndarray]:
    """(ids (T,), tokens per line (L,)) of a stream of lines, tokenised block by block."""
    ids, lengths = [], []
    it = iter(lines)
    while block := list(islice(it, _BLOCK_LINES)):
        i, n = encode(block)
        ids.append(i)
        lengths.append(n)
        bar.update(len(block))
    if not ids:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    return np.concatenate(ids), np.concatenate(lengths)


@dataclass
class Corpus:
    """Token ids of the training and held-out text, with line boundaries.

    Attributes:
        train, heldout: (T,) integer ids back to back (memory-mapped when loaded).
        train_lines, heldout_lines: (L+1,) int64 offsets: line i is ids[lines[i]:lines[i+1]].
        info: the corpus.json dict (sources, counts, timing).
    """

    train: np.ndarray
    train_lines: np.ndarray
    heldout: np.ndarray
    heldout_lines: np.ndarray
    info: dict

    @classmethod
    def load(cls, folder) -> "Corpus":
        """Read a corpus folder written by `build_corpus` (ids memory-mapped, read-only)."""
        folder = Path(folder)
        missing = [f for f in CORPUS_FILES if not (folder / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} is not a complete corpus folder: missing {', '.join(missing)} "
                                    f"(build it with `pmt-pretrain prepare --corpus {folder}`)")
        info = json.loads((folder / "corpus.json").read_text())
        arrays = {f[:-4]: np.load(folder / f, mmap_mode="r" if f in ("train.npy", "heldout.npy") else None)
                  for f in CORPUS_FILES[:4]}
        for part in ("train", "heldout"):
            ids, lines = arrays[part], arrays[f"{part}_lines"]
            if lines.ndim != 1 or len(lines) < 1 or lines[-1] != len(ids):
                raise ValueError(f"{folder / (part + '_lines.npy')}: line offsets do not end at the "
                                 f"{len(ids):,} tokens of {part}.npy (a half-written corpus?)")
        return cls(info=info, **arrays)


def build_corpus(tok: Tokenizer, sources: list[TextSource], folder, heldout_fraction: float = 0.01,
                 progress: bool = False) -> Corpus:
    """Tokenise every source into `folder` (see the module docstring for the files).

    Args:
        tok: the tokenizer (its vocabulary must fit the id dtype: uint16 up to 65,536 tokens).
        sources: `TextSource`s, concatenated in this order.
        folder: output folder (created); every file is written atomically, corpus.json last,
            so an interrupted build is never mistaken for a complete one.
        heldout_fraction: share of each source's last lines held out, in (0, 1).
        progress: show progress per source (a bar on a terminal, a line a minute in a log).

    Returns:
        the `Corpus`, loaded back from disk.
    """
    if not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must lie strictly between 0 and 1, got {heldout_fraction}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.json").unlink(missing_ok=True)
    dtype = np.uint16 if tok.vocab_size <= 1 << 16 else np.int32
    encode = LineEncoder(tok)
    parts = {"train": ([], []), "heldout": ([], [])}
    info = {"vocab_size": tok.vocab_size, "heldout_fraction": heldout_fraction, "sources": {}}
    t0 = time.perf_counter()
    for src in sources:
        t1 = time.perf_counter()
        bar = Progress(src.n_lines, f"tokenising {src.name}", enabled=None if progress else False, unit="lines")
        stats = {}
        try:
            for part, lines in zip(("train", "heldout"), src.split(heldout_fraction)):
                ids, lengths = _encode_stream(encode, lines, bar)
                parts[part][0].append(ids.astype(dtype))
                parts[part][1].append(lengths)
                stats[f"{part}_lines"], stats[f"{part}_tokens"] = len(lengths), int(lengths.sum())
        finally:
            bar.close()
        stats["seconds"] = round(time.perf_counter() - t1, 1)
        info["sources"][src.name] = stats
    for part, (ids, lengths) in parts.items():
        offsets = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64)
        _save_npy(folder / f"{part}.npy", np.concatenate(ids))
        _save_npy(folder / f"{part}_lines.npy", offsets)
        info[f"{part}_tokens"] = int(offsets[-1])
    info["seconds"] = round(time.perf_counter() - t0, 1)
    atomic_write(folder / "corpus.json", json.dumps(info, indent=1))
    return Corpus.load(folder)


def _save_npy(path: Path, array: np.ndarray):
    with atomic_open(path) as f:
        np.save(f, array)
