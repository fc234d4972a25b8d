"""Trained word vectors with the queries people run on them, and the word2vec file formats.

`KeyedVectors` holds words (most frequent first) and a (V, dim) float32 matrix.  Similarity
is cosine similarity: rows are compared after scaling to unit length.  `most_similar` ranks
by cos(w, q) for q the mean of the unit vectors of the `positive` words minus those of the
`negative` words ("3CosAdd" for analogies: king - man + woman).

File formats (word2vec.c's, which gensim, fastText and others read):
    text:   "V dim\\n" then one line per word: "word v1 v2 ... vdim\\n"
    binary: "V dim\\n" then per word: b"word " + dim little-endian float32 + b"\\n"
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pmt.core.errors import check_finite, nonfinite_report
from pmt.core.files import atomic_open


class KeyedVectors:
    """Words and their vectors.

    Args:
        words: sequence of V distinct words (most frequent first, if `restrict_vocab` is used).
        vectors: (V, dim) array; stored as float32 (shared, not copied, when already float32).
        counts: optional (V,) corpus counts.

    Example:
        >>> kv = KeyedVectors(["a", "b"], np.eye(2))
        >>> kv.similarity("a", "b")
        0.0
    """

    def __init__(self, words, vectors, counts=None):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"KeyedVectors: {len(words)} words need vectors of shape ({len(words)}, dim), "
                             f"got {vectors.shape}")
        self.words = list(words)
        self.vectors = vectors.astype(np.float32, copy=False)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("KeyedVectors: duplicated words")
        self.counts = None if counts is None else np.asarray(counts)

    # ---- lookup -----------------------------------------------------------------------------
    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __getitem__(self, word) -> np.ndarray:
        return self.vectors[self.get_index(word)]

    def get_index(self, word) -> int:
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"word {word!r} is not in the vocabulary ({len(self)} words)") from None

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def unit_vectors(self) -> np.ndarray:
        """(V, dim) rows scaled to unit length (zero rows stay zero)."""
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return self.vectors / np.maximum(norms, 1e-12)

    # ---- queries ----------------------------------------------------------------------------
    def _as_unit(self, item) -> np.ndarray:
        v = self[item] if isinstance(item, str) else np.asarray(item, dtype=np.float32)
        if v.shape != (self.dim,):
            raise ValueError(f"expected a word or a vector of shape ({self.dim},), got shape {v.shape}")
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def most_similar(self, positive=(), negative=(), topn: int = 10, restrict_vocab: int | None = None):
        """The `topn` words closest (cosine) to mean(unit(positive)) - mean-weighted unit(negative).

        Args:
            positive: a word, a vector (dim,), or a list of them.
            negative: words or vectors to subtract.
            topn: how many to return.
            restrict_vocab: only consider the first (most frequent) this-many words.

        Returns:
            list of (word, cosine similarity), best first; query words are excluded.

        Example:
            >>> kv = KeyedVectors(["king", "queen", "man", "woman"],
            ...                   np.array([[1, 1], [1, -1], [0.2, 1], [0.2, -1]], np.float32))
            >>> kv.most_similar(positive=["king", "woman"], negative=["man"], topn=1)
            [('queen', 0.963)]
        """
        if isinstance(positive, (str, np.ndarray)):
            positive = [positive]
        if isinstance(negative, (str, np.ndarray)):
            negative = [negative]
        positive, negative = list(positive), list(negative)
        if not positive and not negative:
            raise ValueError("most_similar: give at least one positive or negative word")
        if topn < 1:
            raise ValueError(f"topn must be >= 1, got {topn}")
        terms = [self._as_unit(p) for p in positive] + [-self._as_unit(n) for n in negative]
        q = np.mean(terms, axis=0)
        q /= max(float(np.linalg.norm(q)), 1e-12)
        limit = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        sims = self.unit_vectors()[:limit] @ q  # (limit,)
        exclude = [self.index[w] for w in positive + negative if isinstance(w, str) and self.index[w] < limit]
        sims[exclude] = -np.inf
        k = min(topn, limit - len(exclude))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [(self.words[i], float(sims[i])) for i in top]

    def analogy(self, a: str, b: str, c: str, topn: int = 1, restrict_vocab=None):
        """Words closest to a - b + c (e.g. analogy("king", "man", "woman") -> queen)."""
        return self.most_similar(positive=[a, c], negative=[b], topn=topn, restrict_vocab=restrict_vocab)

    def similarity(self, w1, w2) -> float:
        """Cosine similarity of two words (or vectors)."""
        return float(np.dot(self._as_unit(w1), self._as_unit(w2)))

    # ---- word2vec file formats ----------------------------------------------------------------
    def save_word2vec_format(self, path, binary: bool = False, allow_nonfinite: bool = False):
        """Write the vectors in word2vec.c's text or binary format (readable by gensim), atomically.

        Raises:
            DivergenceError: a vector holds NaN/inf (nothing is written) unless `allow_nonfinite`.
        """
        for w in self.words:
            if not w or any(ch.isspace() for ch in w):
                raise ValueError(f"cannot save word {w!r}: words must be non-empty and contain no whitespace")
        path = Path(path)
        if not allow_nonfinite:
            check_finite({"the vector table": self.vectors}, f"refusing to write {path}", "training diverged")
        V, D = self.vectors.shape
        with atomic_open(path) as f:
            f.write(f"{V} {D}\n".encode())
            if binary:
                rows = self.vectors.astype("<f4")
                for w, row in zip(self.words, rows):  # one write per word, not per number
                    f.write(w.encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:
                fmt = " ".join(["%.6g"] * D)
                for w, row in zip(self.words, self.vectors):
                    f.write((w + " " + fmt % tuple(row) + "\n").encode("utf-8"))

    @classmethod
    def load_word2vec_format(cls, path, binary: bool = False, allow_nonfinite: bool = False) -> "KeyedVectors":
        """Read a file written by `save_word2vec_format`, word2vec.c or gensim.

        The header's count and dimension are checked against the file's size before the
        (V, dim) matrix is allocated.

        Args:
            path: the file.  binary: word2vec.c's binary format (else text).
            allow_nonfinite: accept vectors holding NaN/inf (to inspect a diverged run).

        Raises:
            ValueError: naming the file (and line) and what is wrong: bad header, short file,
                bad row, NaN/inf values.
        """
        path = Path(os.fspath(path))
        with open(path, "rb") as f:
            data = f.read()
        nl = data.find(b"\n")
        head = data[:nl if nl >= 0 else 60]
        try:
            V, D = (int(x) for x in head.split())
        except ValueError:
            raise ValueError(f"{path}:1: first line must be '<count> <dim>', got {head[:60]!r}") from None
        if V < 1 or D < 1:
            raise ValueError(f"{path}:1: header announces {V} words of dimension {D}; both must be >= 1")
        body = len(data) - nl - 1
        if binary:
            need = V * (4 * D + 2)       # per word: >= 1 byte of word, a space, 4·D bytes of floats
            if need > body:
                raise ValueError(f"{path}: header announces {V:,} words of dimension {D}, at least {need:,} "
                                 f"bytes in binary format, but the file holds {body:,} after it (truncated, "
                                 f"or a text file: binary=False?)")
            words, pos = [], nl + 1
            vecs = np.empty((V, D), dtype=np.float32)
            for i in range(V):
                while pos < len(data) and data[pos:pos + 1] in (b"\n", b" "):
                    pos += 1  # the newline after the previous vector
                sp = data.find(b" ", pos)
                if sp < 0 or sp + 1 + 4 * D > len(data):
                    raise ValueError(f"{path}: file ends inside word {i + 1} of {V}")
                words.append(data[pos:sp].decode("utf-8", errors="replace"))
                vecs[i] = np.frombuffer(data, dtype="<f4", count=D, offset=sp + 1)
                pos = sp + 1 + 4 * D
        else:
            lines = [ln for ln in data[nl + 1:].decode("utf-8", errors="replace").splitlines() if ln.strip()]
            if len(lines) < V:
                raise ValueError(f"{path}: header says {V:,} words, found {len(lines):,} lines")
            words, rows = [], []
            for i, ln in enumerate(lines[:V]):
                parts = ln.rstrip().split(" ")
                if len(parts) != D + 1:
                    raise ValueError(f"{path}:{i + 2}: {len(parts) - 1} numbers, expected {D} (the header's "
                                     f"dimension){'; a binary file? pass binary=True' if i == 0 else ''}")
                words.append(parts[0])
                rows.append(parts[1:])
            try:
                vecs = np.array(rows, dtype=np.float32)          # (V, D), allocated only now
            except ValueError as e:
                raise ValueError(f"{path}: a vector holds something that is not a number ({e})") from None
        if not allow_nonfinite:
            report = nonfinite_report({"the vector table": vecs})
            if report is not None:
                raise ValueError(f"{path}: {report} (vectors of a diverged run?); pass allow_nonfinite=True "
                                 f"to load them for inspection")
        return cls(words, vecs)

    # ---- picture ------------------------------------------------------------------------------
    def plot_pca(self, words, path, title: str | None = None):
        """Project the chosen words' vectors onto their first two principal components; save PNG.

        Args:
            words: the words to show (at least 2, all in the vocabulary).
            path: output .png file.

        Returns:
            (n, 2) the projected coordinates.
        """
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        words = list(words)
        if len(words) < 2:
            raise ValueError(f"plot_pca needs at least 2 words, got {words}")
        X = np.stack([self[w] for w in words]).astype(np.float64)
        X -= X.mean(axis=0)
        # Principal axes = right singular vectors of the centred data.
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        xy = X @ vt[:2].T if vt.shape[0] >= 2 else np.c_[X @ vt[0], np.zeros(len(X))]
        fig, ax = plt.subplots(figsize=(6, 5))
        ax.scatter(xy[:, 0], xy[:, 1], s=20)
        for w, (x, y) in zip(words, xy):
            ax.annotate(w, (x, y), textcoords="offset points", xytext=(4, 4))
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.set_title(title or "word vectors, first two principal components")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return xy

    def __repr__(self):
        return f"KeyedVectors(words={len(self)}, dim={self.dim})"
