"""Fast word2vec training in numpy: skip-gram and CBOW with negative sampling.

word2vec.c walks the corpus one word at a time and updates the vectors after every
(centre, context) pair; in Python that is a handful of numpy calls per pair.  Here a *batch* of
consecutive (subsampled) centre positions is processed at once, and the structure of the
text is used to avoid per-pair work:

* The rows of the batch's tokens are gathered once, `A = W_in[tokens]` (the batch plus
  `window` tokens of margin on each side).  The window of centre p is rows p .. p + 2W of
  `A`: a (2W+1, D) block, gathered for all centres as one (P, 2W+1, D) array.
* Each centre's output rows (its own word and K negatives) form a (K+1, D) block, so all the
  scores of a window are one small matrix product, batched over centres with `np.matmul`.
* The tables are touched once per batch, with rows that repeat (frequent words) summed
  first (`scatter_add_rows`).  W_in and W_out are the two halves of one (2V, D) array, so
  CBOW updates both with a single scatter.

Loss (negative sampling, Mikolov et al. 2013b), for an input vector u and an output
vector v of the true word and v_k of K sampled words:

    L = -log σ(u·v) - Σ_k log σ(-u·v_k)
    dL/du = -(1 - σ(u·v)) v + Σ_k σ(u·v_k) v_k
    dL/dv = -(1 - σ(u·v)) u          dL/dv_k = σ(u·v_k) u

Updates are plain SGD with word2vec's linearly decaying rate
alpha = alpha0 * max(1 - words_seen / (epochs * corpus_words), 1e-4).

Skip-gram: u = W_in[context], v = W_out[centre] (word2vec.c's orientation).  word2vec.c
draws K negatives per pair; here each centre draws K negatives shared by the pairs of its
window (Ji et al. 2016).  An input word still meets fresh negatives in each of its pairs,
because its pairs belong to different centres.

CBOW: u = mean of the context rows (the window of the centre), v = W_out[centre].  Each
draw of K negatives serves `share_negatives` = g (default 2) centres of the batch, chosen
batch / g apart in the text (centre p uses draw p mod n, n = batch / g) so that their
context means are unrelated: the negatives' gradients become (K, g) x (g, D) products and
the batch gathers and scatters g times fewer negative rows, the bulk of CBOW's cost.
Sharing among *neighbouring* centres, whose windows overlap, cost a point of accuracy with
g = 4 on a 30M-character slice; spread out, much less (README).  Like word2vec.c (and
gensim with cbow_mean=1) the gradient dL/du is added to *each* context row without the 1/n
factor of the mean (the exact derivative, used by `AxisMean`, would divide by n).

Other differences from word2vec.c's per-pair updates (see README.md): every score in a
batch is computed from the vectors as they were at the start of the batch, and the updates
of one batch are summed (like Hogwild with `batch` concurrent writers).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from .keyed_vectors import KeyedVectors
from .sampling import (NegativeSampler, dynamic_windows, keep_probabilities, sentence_ids, subsample,
                       window_extents)
from .scatter import scatter_add_rows
from .vocab import Vocab

MODELS = ("skipgram", "cbow")


@dataclass
class Word2VecConfig:
    """Hyper-parameters; defaults are word2vec.c's / gensim's.

    Args:
        model: "skipgram" or "cbow".
        dim: vector size.
        window: maximum context distance (dynamic: each centre draws 1..window).
        negative: negative samples K.
        sample: subsampling threshold t (0 = off).
        min_count: drop rarer words.
        max_vocab: keep at most this many words (None = all).
        epochs: passes over the corpus.
        alpha: initial learning rate (None: 0.025 skip-gram, 0.05 CBOW).
        min_alpha_ratio: the rate never falls below alpha * this.
        batch: centre positions per update step (None: 64 skip-gram, 256 CBOW; measured on
            gutenberg8, skip-gram with 256 falls 20 points short after 5 epochs, see README).
        share_negatives: CBOW only: centres that share one draw of K negatives (1 = a fresh
            draw per centre, as word2vec.c).  The sharers are batch / share_negatives positions
            apart, so their contexts are unrelated.  Measured (README): 2 runs 1.4x as fast as
            1 and scored 0.5 points lower after 5 epochs on gutenberg8, 4 runs 1.65x as fast
            and scored 1.5 points lower.  Skip-gram always shares one draw per window.
        workers: processes that train at once on shared tables (Hogwild, like word2vec.c's
            threads and gensim's workers).  1 is bit-for-bit reproducible from the seed; more
            is faster on several cores but the interleaving of updates varies run to run.
        seed: random seed for initialisation, subsampling, windows and negatives.
    """

    model: str = "skipgram"
    dim: int = 100
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    min_count: int = 5
    max_vocab: int | None = None
    epochs: int = 5
    alpha: float | None = None
    min_alpha_ratio: float = 1e-4
    batch: int | None = None
    share_negatives: int = 2
    workers: int = 1
    seed: int = 1

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        for name in ("dim", "window", "negative", "epochs", "min_count", "share_negatives", "workers"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.alpha is None:
            self.alpha = 0.025 if self.model == "skipgram" else 0.05
        if self.batch is None:
            self.batch = 64 if self.model == "skipgram" else 256
        if not isinstance(self.batch, (int, np.integer)) or self.batch < 1:
            raise ValueError(f"batch must be a positive integer, got {self.batch!r}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if self.sample < 0:
            raise ValueError(f"sample must be >= 0, got {self.sample}")


def _sigmoid(x):
    """σ(x) = 1 / (1 + e^-x), computed in place in `x` (a temporary the caller gives up)."""
    # Clipping at ±30 avoids exp overflow; σ is then 0 or 1 to float32 precision anyway.
    np.clip(x, -30.0, 30.0, out=x)
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    return np.reciprocal(x, out=x)


class Word2Vec:
    """Train word vectors with skip-gram or CBOW and negative sampling.

    Args:
        config: a `Word2VecConfig`, or keyword arguments for one.

    Attributes:
        vocab: the `Vocab` (after `build_vocab`).
        W_in: (V, dim) float32 input vectors (the word vectors).
        W_out: (V, dim) float32 output vectors (word2vec's syn1neg).
        history: list of dicts per epoch (words, seconds, cpu_seconds, words_per_s,
            words_per_cpu_s, alpha of the last batch).

    Example:
        >>> w2v = Word2Vec(model="skipgram", dim=50, epochs=1, min_count=1)
        >>> kv = w2v.fit("the cat sat on the mat " * 100)
        >>> [word for word, _ in kv.most_similar("cat", topn=2)]
        ['mat', 'sat']
    """

    def __init__(self, config: Word2VecConfig | None = None, **kwargs):
        if config is not None and kwargs:
            raise TypeError("Word2Vec: pass either a config or keyword arguments, not both")
        self.config = config if config is not None else Word2VecConfig(**kwargs)
        self.vocab = None
        self._tables = None  # (2V, D): W_in stacked on W_out, so one scatter updates both
        self.history = []

    @property
    def W_in(self):
        """(V, dim) input vectors: a view of the first half of the stacked tables."""
        return None if self._tables is None else self._tables[:len(self._tables) // 2]

    @property
    def W_out(self):
        """(V, dim) output vectors: a view of the second half of the stacked tables."""
        return None if self._tables is None else self._tables[len(self._tables) // 2:]

    def build_vocab(self, text: str) -> Vocab:
        """Count `text`'s words, then initialise the vectors as word2vec.c does.

        W_in ~ U(-0.5/dim, 0.5/dim), W_out = 0.
        """
        c = self.config
        self.vocab = Vocab.build(text, min_count=c.min_count, max_size=c.max_vocab)
        rng = np.random.default_rng(c.seed)
        V = len(self.vocab)
        self._tables = np.zeros((2 * V, c.dim), dtype=np.float32)
        self._tables[:V] = (rng.random((V, c.dim), dtype=np.float32) - 0.5) / c.dim
        return self.vocab

    def fit(self, text: str, progress: bool = False) -> KeyedVectors:
        """Build the vocabulary (if not built), encode `text` and train. Returns the vectors."""
        if self.vocab is None:
            self.build_vocab(text)
        ids, line_starts = self.vocab.encode(text)
        self.train(ids, line_starts, progress=progress)
        return self.wv

    @property
    def wv(self) -> KeyedVectors:
        """The trained input vectors as `KeyedVectors` (shares memory with W_in)."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec: no vocabulary yet; call build_vocab or fit first")
        return KeyedVectors(self.vocab.words, self.W_in, counts=self.vocab.counts)

    def train(self, ids, line_starts=None, progress: bool = False, epoch_callback=None, workers=None):
        """Run `config.epochs` passes of SGD over the encoded corpus `ids`.

        Args:
            ids: (n,) int word ids (from `vocab.encode`).
            line_starts: (L,) sentence start positions, or None.
            progress: show a tqdm bar in words/s (raw corpus words, as gensim reports).
            epoch_callback: called as fn(epoch, self) after each epoch.
            workers: processes training at once (default `config.workers`); more than 1 runs
                Hogwild on shared tables (`pmt.word2vec.parallel`), which is faster on several
                cores but not bit-for-bit reproducible.

        Returns:
            self.history.
        """
        c = self.config
        if self.vocab is None:
            raise RuntimeError("Word2Vec.train: call build_vocab first")
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must be a 1-D integer array, got {ids.dtype} of shape {ids.shape}")
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self.vocab)):
            raise ValueError(f"ids must lie in [0, {len(self.vocab)}), got range "
                             f"[{ids.min()}, {ids.max()}]")
        ids = ids.astype(np.int32, copy=False)
        workers = c.workers if workers is None else workers
        if not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        if workers > 1:
            from .parallel import train_hogwild
            return train_hogwild(self, ids, line_starts, workers, progress, epoch_callback)
        rng = np.random.default_rng((c.seed, 1))
        keep_p = keep_probabilities(self.vocab.counts, c.sample)
        sampler = NegativeSampler(self.vocab.counts)
        sent_all = sentence_ids(len(ids), line_starts)
        total = max(c.epochs * len(ids), 1)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="w", unit_scale=True, desc=c.model, smoothing=0.1)
        for epoch in range(c.epochs):
            t0, c0 = time.perf_counter(), time.process_time()
            done_before = epoch * len(ids)
            shown = [0]

            def rate(done):  # words of this pass done -> learning rate; moves the bar
                if bar is not None:
                    bar.update(done - shown[0])
                    shown[0] = done
                return c.alpha * max(1.0 - (done_before + done) / total, c.min_alpha_ratio)

            trained, alpha = self.train_pass(ids, sent_all, keep_p, sampler, rng, rate)
            if bar is not None:
                bar.update(len(ids) - shown[0])
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            self._record_epoch(epoch, len(ids), trained, dt, dc, alpha)
            if epoch_callback is not None:
                epoch_callback(epoch, self)
        if bar is not None:
            bar.close()
        return self.history

    def _record_epoch(self, epoch, words, trained, seconds, cpu_seconds, alpha):
        # CPU seconds too: on a shared machine wall-clock speed says more about the neighbours.
        self.history.append({"epoch": epoch + 1, "words": int(words), "trained_words": int(trained),
                             "seconds": seconds, "cpu_seconds": cpu_seconds,
                             "words_per_s": words / max(seconds, 1e-9),
                             "words_per_cpu_s": words / max(cpu_seconds, 1e-9), "alpha": alpha})

    def train_pass(self, ids, sent, keep_p, sampler, rng, rate):
        """One epoch of SGD over `ids` (all of the corpus, or one worker's part of it).

        Args:
            ids: (n,) int32 word ids.  sent: (n,) sentence numbers or None.
            keep_p: (V,) subsampling keep probabilities.  sampler: a `NegativeSampler`.
            rng: the generator for subsampling, windows and negatives.
            rate: fn(words of `ids` done so far) -> learning rate of the next batch.

        Returns:
            (centre words trained after subsampling, the last learning rate).
        """
        c = self.config
        step = self._skipgram_step if c.model == "skipgram" else self._cbow_step
        # The updates of a batch are summed, so a row met m times in one batch takes an m-fold
        # step; with a tiny vocabulary m grows with the batch and SGD diverges.  Keep batches
        # small relative to the vocabulary (a no-op for real corpora: V // 8 >> 256).
        batch = min(c.batch, max(16, len(self._tables) // 2 // 8))
        raw_pos = np.flatnonzero(subsample(ids, keep_p, rng))  # fresh draw every epoch
        stream = ids[raw_pos]
        sent = None if sent is None else sent[raw_pos]
        # Each centre's context: positions p - left[p] .. p + right[p] (a dynamic window
        # b in 1..window, cut at the ends of its line).
        left, right = window_extents(dynamic_windows(len(stream), c.window, rng), sent)
        alpha = rate(0)
        for s in range(0, len(stream), batch):
            e = min(s + batch, len(stream))
            alpha = rate(int(raw_pos[e - 1]) + 1)
            step(stream, left, right, s, e, alpha, sampler, rng)
        return len(stream), alpha

    # ---- one batch --------------------------------------------------------------------------
    def _window(self, stream, left, right, s, e):
        """Token ids of the batch with `window` margin, and the (P, 2W+1) context mask.

        Row p + W + d of the returned ids is the context at offset d of centre p (centre s + p);
        mask[p, W + d] says whether that pair exists (-left <= d <= right, d != 0).  Margin
        positions outside the corpus repeat its end words; the mask never selects them.
        """
        W, n = self.config.window, len(stream)
        if s >= W and e + W <= n:
            tok = stream[s - W:e + W]                        # (P + 2W,) a view, the usual case
        else:
            tok = stream[np.clip(np.arange(s - W, e + W), 0, n - 1)]
        offsets = np.arange(-W, W + 1, dtype=np.int8)
        mask = (offsets >= -left[s:e, None]) & (offsets <= right[s:e, None])  # (P, 2W+1)
        mask[:, W] = False
        return tok, mask

    def _skipgram_step(self, stream, left, right, s, e, alpha, sampler, rng):
        W, K = self.config.window, self.config.negative
        P = e - s
        tok, mask = self._window(stream, left, right, s, e)
        A = np.take(self.W_in, tok, axis=0)                 # (P+2W, D) every token as an input
        ctx = np.take(A, np.arange(P)[:, None] + np.arange(2 * W + 1), axis=0)  # (P, 2W+1, D)
        out = np.empty((P, K + 1), dtype=np.int32)          # centre word, then K negatives
        out[:, 0] = tok[W:W + P]
        out[:, 1:] = sampler.sample((P, K), rng)
        O = np.take(self.W_out, out, axis=0)                # (P, K+1, D)
        # One small matrix product per centre: score[p, w, k] = ctx[p, w] · O[p, k].
        S = np.matmul(ctx, O.transpose(0, 2, 1))            # (P, 2W+1, K+1)
        G = _sigmoid(S)
        np.subtract(self._label(K), G, out=G)               # label - σ: -dL/dscore
        G *= (alpha * mask)[:, :, None]                     # drop absent pairs; scale by the rate
        d_ctx = np.matmul(G, O)                             # (P, 2W+1, D)  alpha · -dL/dctx
        d_O = np.matmul(G.transpose(0, 2, 1), ctx)          # (P, K+1, D)   alpha · -dL/dO
        # Each token is the input of up to 2W pairs: sum its rows of d_ctx by shifted adds.
        dA = np.zeros_like(A)
        for w in range(2 * W + 1):
            if w != W:
                dA[w:w + P] += d_ctx[:, w]
        scatter_add_rows(self.W_in, tok, dA)
        scatter_add_rows(self.W_out, out.ravel(), d_O.reshape(-1, A.shape[1]))

    @staticmethod
    def _label(K):
        lab = np.zeros(K + 1, dtype=np.float32)
        lab[0] = 1.0
        return lab

    def _cbow_step(self, stream, left, right, s, e, alpha, sampler, rng):
        W, K = self.config.window, self.config.negative
        P, D, V = e - s, self._tables.shape[1], len(self._tables) // 2
        g = self.config.share_negatives if P % self.config.share_negatives == 0 else 1
        n = P // g                                          # draws of K negatives in this batch
        tok, mask = self._window(stream, left, right, s, e)
        n_in = len(tok)                                     # P + 2W input rows
        A = np.take(self.W_in, tok, axis=0)                 # (P+2W, D)
        ctx = np.take(A, np.arange(P)[:, None] + np.arange(2 * W + 1), axis=0)  # (P, 2W+1, D)
        maskf = mask.astype(np.float32)
        cnt = left[s:e].astype(np.float32) + right[s:e]     # (P,) context words per centre
        # h[p] = mean of the context rows, as a (1, 2W+1) x (2W+1, D) product per centre.
        weights = maskf / np.maximum(cnt, 1.0)[:, None]     # (P, 2W+1)
        h = np.matmul(weights[:, None, :], ctx)[:, 0]       # (P, D)
        # Rows of the stacked table [W_in; W_out] this batch updates: the inputs, then the P
        # centre words and the n K negatives (those two offset by V into W_out).
        rows = np.empty(n_in + P + n * K, dtype=np.int32)
        rows[:n_in] = tok
        rows[n_in:n_in + P] = tok[W:W + P]
        rows[n_in + P:] = sampler.sample(n * K, rng)
        O = np.take(self.W_out, rows[n_in:], axis=0)        # (P + nK, D)
        rows[n_in:] += V
        Oc, On = O[:P], O[P:].reshape(n, K, D)
        # Centre p uses draw p mod n, shared with centres p ± n, p ± 2n, ...: far apart in the
        # text, so their context means are unrelated.  H[j, i] = h[i n + j].
        H = h.reshape(g, n, D).transpose(1, 0, 2)           # (n, g, D)
        rate = (alpha * (cnt > 0)).astype(np.float32)      # a centre without context trains nothing
        # alpha · -dL/dscore: 1 - σ(s) = σ(-s) for the true word, -σ(s) for a negative.
        Gc = _sigmoid(-np.einsum("pd,pd->p", h, Oc)) * rate                # (P,)
        Gn = _sigmoid(np.matmul(H, On.transpose(0, 2, 1)))                  # (n, g, K)
        Gn *= -rate.reshape(g, n).T[:, :, None]
        err = Gc[:, None] * Oc                              # (P, D)  alpha · -dL/dh
        err += np.matmul(Gn, On).transpose(1, 0, 2).reshape(P, D)
        upd = np.empty((len(rows), D), dtype=np.float32)    # row for row with `rows`
        np.multiply(Gc[:, None], h, out=upd[n_in:n_in + P])  # alpha · -dL/dv_centre
        # alpha · -dL/dv_k, summed over the g centres sharing the draw: (K, g) x (g, D) products
        # (for g = 1 outer products, done by broadcasting: matmul is ~10x slower at inner size 1).
        product = np.multiply if g == 1 else np.matmul
        product(Gn.transpose(0, 2, 1), H, out=upd[n_in + P:].reshape(n, K, D))
        # word2vec.c adds err to every context row (no 1/n): see the module docstring.
        # Input row j of the batch is the context at offset d of centre j - W - d.
        dA = upd[:n_in]
        dA.fill(0.0)
        tmp = np.empty_like(err)
        for w in range(2 * W + 1):
            if w != W:
                np.multiply(err, maskf[:, w, None], out=tmp)
                dA[w:w + P] += tmp
        scatter_add_rows(self._tables, rows, upd)

    def config_dict(self) -> dict:
        return asdict(self.config)
