"""The word2vec Semantic-Syntactic Word Relationship test (Mikolov et al. 2013a).

`questions-words.txt` has 14 sections (lines `: name`), each with questions `a b c d`:
a is to b as c is to d.  A question is answered by 3CosAdd,

    d* = argmax over words w not in {a, b, c} of cos(w, unit(b) - unit(a) + unit(c)),

and is correct when d* == d.  As in word2vec.c's compute-accuracy and gensim's
`evaluate_word_analogies`, only the `restrict_vocab` most frequent words (30,000 by
default) take part: a question with a word outside them is not attempted, and counted
separately as out-of-vocabulary (OOV).  Accuracy = correct / attempted.  The syntactic
sections are the nine whose names start with "gram" (gram1-adjective-to-adverb, ...); the
other five are semantic.

The evaluation is vectorized: all attempted questions are scored against the restricted
vocabulary by matrix products in chunks.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np



def is_syntactic(section: str) -> bool:
    """questions-words.txt names its nine syntactic sections gram1-... to gram9-..."""
    return section.startswith("gram")


def read_questions(source, lower: bool = True) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Parse a questions-words.txt file (or its text) into [(section name, [(a, b, c, d), ...])].

    Args:
        source: path to the file, or the dataset name "analogy" (looked up like the corpora).
        lower: lower-case the words (text8-style corpora are lower-case).

    Raises:
        ValueError: naming the line that is neither `: section` nor four words; a file that is
            not UTF-8 or holds no question.
    """
    path = Path(os.fspath(source))
    if not path.exists() and str(source) == "analogy":
        path = _dataset_file("analogy", "questions-words.txt")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, expected a questions-words.txt file")
    sections: list = []
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.readlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            sections.append((line[1:].strip(), []))
            continue
        words = line.lower().split() if lower else line.split()
        if len(words) != 4:
            raise ValueError(f"{path}:{lineno}: expected 4 words or ': section', got {line!r}")
        if not sections:
            sections.append(("(no section)", []))
        sections[-1][1].append(tuple(words))
    if not any(qs for _, qs in sections):
        raise ValueError(f"{path}: no analogy questions (expected lines of 4 words, e.g. 'athens greece berlin "
                         f"germany')")
    return sections


def _dataset_file(name, filename) -> Path:
    """`filename` of dataset `name` through `pmt.core.datasets.fetch` ($PMT_DATA_DIR, cache, download)."""
    from pmt.core.datasets import DatasetError, fetch

    try:
        return Path(fetch(name)[filename])
    except DatasetError as e:
        raise FileNotFoundError(str(e)) from e


@dataclass
class AnalogyResult:
    """Counts per section; accuracies are correct / attempted (OOV questions excluded).

    Attributes:
        sections: list of (name, correct, attempted, oov).
        restrict_vocab: the vocabulary size used.
    """

    sections: list = field(default_factory=list)
    restrict_vocab: int = 30000

    def _acc(self, rows):
        correct = sum(r[1] for r in rows)
        attempted = sum(r[2] for r in rows)
        return correct / attempted if attempted else float("nan")

    @property
    def accuracy(self) -> float:
        return self._acc(self.sections)

    @property
    def semantic(self) -> float:
        return self._acc([r for r in self.sections if not is_syntactic(r[0])])

    @property
    def syntactic(self) -> float:
        return self._acc([r for r in self.sections if is_syntactic(r[0])])

    @property
    def attempted(self) -> int:
        return sum(r[2] for r in self.sections)

    @property
    def oov(self) -> int:
        return sum(r[3] for r in self.sections)

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "semantic": self.semantic, "syntactic": self.syntactic,
                "attempted": self.attempted, "oov": self.oov, "restrict_vocab": self.restrict_vocab,
                "sections": {n: {"correct": c, "attempted": a, "oov": o} for n, c, a, o in self.sections}}

    def report(self) -> str:
        """A plain-text table: one line per section, then semantic, syntactic, total."""
        lines = [f"{'section':32s} {'correct':>8s} {'tried':>7s} {'acc':>7s} {'oov':>6s}"]
        for n, c, a, o in self.sections:
            acc = f"{100 * c / a:6.1f}%" if a else "    n/a"
            lines.append(f"{n:32s} {c:8d} {a:7d} {acc} {o:6d}")
        for name, val in (("semantic", self.semantic), ("syntactic", self.syntactic), ("total", self.accuracy)):
            lines.append(f"{name:32s} {'':8s} {'':7s} {100 * val:6.1f}%")
        lines.append(f"questions attempted: {self.attempted}, with out-of-vocabulary words "
                     f"(top {self.restrict_vocab}): {self.oov}")
        return "\n".join(lines)


def evaluate_analogies(kv, questions="analogy", restrict_vocab: int = 30000,
                       chunk: int = 2048) -> AnalogyResult:
    """Score `kv` (KeyedVectors, words most frequent first) on the analogy questions with 3CosAdd.

    Args:
        kv: the vectors.
        questions: a path, "analogy", or the parsed list from `read_questions`.
        restrict_vocab: only the first this-many words are candidates and allowed in questions.
        chunk: questions scored per matrix product (memory: chunk x restrict_vocab floats).

    Returns:
        AnalogyResult.

    Example:
        >>> from pmt.word2vec import KeyedVectors
        >>> kv = KeyedVectors(["king", "queen", "man", "woman"],
        ...                   np.array([[1, 1], [1, -1], [0.2, 1], [0.2, -1]], np.float32))
        >>> questions = [("family", [("man", "woman", "king", "queen"),   # woman - man + king = queen?
        ...                          ("man", "king", "woman", "queen"),
        ...                          ("man", "woman", "boy", "girl")])]   # out of vocabulary: not attempted
        >>> res = evaluate_analogies(kv, questions)
        >>> res.accuracy, res.attempted, res.oov
        (1.0, 2, 1)
    """
    if not isinstance(restrict_vocab, (int, np.integer)) or restrict_vocab < 1:
        raise ValueError(f"restrict_vocab must be a positive integer, got {restrict_vocab!r}")
    sections = read_questions(questions) if not isinstance(questions, list) else questions
    limit = min(restrict_vocab, len(kv))
    U = kv.unit_vectors()[:limit]                             # (R, D)
    index = kv.index
    result = AnalogyResult(restrict_vocab=restrict_vocab)
    for name, qs in sections:
        if not qs:
            result.sections.append((name, 0, 0, 0))
            continue
        ids = np.array([[index.get(w, limit) for w in q] for q in qs], dtype=np.int64)  # (n, 4)
        ok = (ids < limit).all(axis=1)
        ids = ids[ok]
        correct = 0
        for s in range(0, len(ids), chunk):
            a, b, c, d = ids[s:s + chunk].T
            query = U[b] - U[a] + U[c]                         # (m, D)
            sims = query @ U.T                                 # (m, R)
            rows = np.arange(len(a))
            sims[rows, a] = sims[rows, b] = sims[rows, c] = -np.inf  # never answer a question word
            correct += int((sims.argmax(axis=1) == d).sum())
        result.sections.append((name, correct, int(len(ids)), int((~ok).sum())))
    return result
