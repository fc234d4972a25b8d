"""One epoch of word2vec training in numpy: skip-gram and CBOW with negative sampling.

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

from typing import NamedTuple

import numpy as np

from .sampling import dynamic_windows, subsample, window_extents
from .scatter import scatter_add_rows


def _sigmoid(x):
    """σ(x) = 1 / (1 + e^-x), computed in place in `x` (a temporary the caller gives up)."""
    # Clipping at ±30 avoids exp overflow; σ is then 0 or 1 to float32 precision anyway.
    np.clip(x, -30.0, 30.0, out=x)
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    return np.reciprocal(x, out=x)


class EpochResult(NamedTuple):
    """What `train_epoch` did: centre words trained (after subsampling), the last learning
    rate, batches done, whether the epoch ran to its end, and the generator's state then."""

    trained: int
    alpha: float
    batches: int
    finished: bool
    rng_state: dict


def batch_size(c, tables) -> int:
    """Centres per batch: `c.batch`, kept small beside a tiny vocabulary.

    The updates of a batch are summed, so a row met m times in one batch takes an m-fold
    step; with a tiny vocabulary m grows with the batch and SGD diverges.  Keep batches
    small relative to the vocabulary (a no-op for real corpora: V // 8 >> 256).
    """
    return min(c.batch, max(16, len(tables) // 2 // 8))


def train_epoch(tables, c, ids, sent, keep_p, sampler, rng, rate, resume=None, stop=None) -> EpochResult:
    """One epoch of SGD over `ids` (all of the corpus, or one worker's part of it), in place.

    The epoch first draws its plan from `rng` (which words subsampling keeps, each centre's
    window), then walks the kept words in batches, each batch drawing its negatives from
    `rng`.  The single-process path and every Hogwild worker call this same function.

    Args:
        tables: (2V, D) float32, W_in stacked on W_out, updated in place.
        c: a `Word2VecConfig`.
        ids: (n,) int32 word ids.  sent: (n,) sentence numbers or None.
        keep_p: (V,) subsampling keep probabilities.  sampler: a `NegativeSampler`.
        rng: the generator for subsampling, windows and negatives.
        rate: fn(words of `ids` done so far) -> learning rate of the next batch.
        resume: `(batches done, generator state after them)` to finish a partly done epoch:
            `rng` must be in its state of the epoch's start; the plan is drawn again, then
            `rng` takes the saved state and the batches go on where they stopped, so the
            result is bit-for-bit the uninterrupted epoch.
        stop: an object whose `requested` attribute, checked after every batch, ends the
            epoch early (Ctrl-C; see `pmt.core.interrupts.GracefulInterrupt`).

    Returns:
        an `EpochResult`.
    """
    step = skipgram_step if c.model == "skipgram" else cbow_step
    batch = batch_size(c, tables)
    raw_pos = np.flatnonzero(subsample(ids, keep_p, rng))  # fresh draw every epoch
    stream = ids[raw_pos]
    sent = None if sent is None else sent[raw_pos]
    # Each centre's context: positions p - left[p] .. p + right[p] (a dynamic window
    # b in 1..window, cut at the ends of its line).
    left, right = window_extents(dynamic_windows(len(stream), c.window, rng), sent)
    first = 0
    if resume is not None:
        first, state = resume
        rng.bit_generator.state = state
    alpha = rate(int(raw_pos[first * batch - 1]) + 1 if first else 0)
    k = first
    for k, s in enumerate(range(first * batch, len(stream), batch), start=first + 1):
        e = min(s + batch, len(stream))
        alpha = rate(int(raw_pos[e - 1]) + 1)
        step(tables, c, stream, left, right, s, e, alpha, sampler, rng)
        if stop is not None and stop.requested and e < len(stream):
            return EpochResult(len(stream), alpha, k, False, rng.bit_generator.state)
    return EpochResult(len(stream), alpha, k, True, rng.bit_generator.state)


def _window(W, stream, left, right, s, e):
    """Token ids of the batch with `window` margin, and the (P, 2W+1) context mask.

    Row p + W + d of the returned ids is the context at offset d of centre p (centre s + p);
    mask[p, W + d] says whether that pair exists (-left <= d <= right, d != 0).  Margin
    positions outside the corpus repeat its end words; the mask never selects them.
    """
    n = len(stream)
    if s >= W and e + W <= n:
        tok = stream[s - W:e + W]                        # (P + 2W,) a view, the usual case
    else:
        tok = stream[np.clip(np.arange(s - W, e + W), 0, n - 1)]
    offsets = np.arange(-W, W + 1, dtype=np.int8)
    mask = (offsets >= -left[s:e, None]) & (offsets <= right[s:e, None])  # (P, 2W+1)
    mask[:, W] = False
    return tok, mask


def skipgram_step(tables, c, stream, left, right, s, e, alpha, sampler, rng):
    """One skip-gram batch: centres s..e-1 of `stream`, updating `tables` (2V, D) in place."""
    W, K = c.window, c.negative
    V = len(tables) // 2
    W_in, W_out = tables[:V], tables[V:]
    P = e - s
    tok, mask = _window(W, stream, left, right, s, e)
    A = np.take(W_in, tok, axis=0)                 # (P+2W, D) every token as an input
    ctx = np.take(A, np.arange(P)[:, None] + np.arange(2 * W + 1), axis=0)  # (P, 2W+1, D)
    out = np.empty((P, K + 1), dtype=np.int32)          # centre word, then K negatives
    out[:, 0] = tok[W:W + P]
    out[:, 1:] = sampler.sample((P, K), rng)
    O = np.take(W_out, out, axis=0)                # (P, K+1, D)
    # One small matrix product per centre: score[p, w, k] = ctx[p, w] · O[p, k].
    S = np.matmul(ctx, O.transpose(0, 2, 1))            # (P, 2W+1, K+1)
    G = _sigmoid(S)
    np.subtract(_label(K), G, out=G)               # label - σ: -dL/dscore
    G *= (alpha * mask)[:, :, None]                     # drop absent pairs; scale by the rate
    d_ctx = np.matmul(G, O)                             # (P, 2W+1, D)  alpha · -dL/dctx
    d_O = np.matmul(G.transpose(0, 2, 1), ctx)          # (P, K+1, D)   alpha · -dL/dO
    # Each token is the input of up to 2W pairs: sum its rows of d_ctx by shifted adds.
    dA = np.zeros_like(A)
    for w in range(2 * W + 1):
        if w != W:
            dA[w:w + P] += d_ctx[:, w]
    scatter_add_rows(W_in, tok, dA)
    scatter_add_rows(W_out, out.ravel(), d_O.reshape(-1, A.shape[1]))


def _label(K):
    lab = np.zeros(K + 1, dtype=np.float32)
    lab[0] = 1.0
    return lab


def cbow_step(tables, c, stream, left, right, s, e, alpha, sampler, rng):
    """One CBOW batch: centres s..e-1 of `stream`, updating `tables` (2V, D) in place."""
    W, K = c.window, c.negative
    P, D, V = e - s, tables.shape[1], len(tables) // 2
    W_in, W_out = tables[:V], tables[V:]
    g = c.share_negatives if P % c.share_negatives == 0 else 1
    n = P // g                                          # draws of K negatives in this batch
    tok, mask = _window(W, stream, left, right, s, e)
    n_in = len(tok)                                     # P + 2W input rows
    A = np.take(W_in, tok, axis=0)                 # (P+2W, D)
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
    O = np.take(W_out, rows[n_in:], axis=0)        # (P + nK, D)
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
    scatter_add_rows(tables, rows, upd)
