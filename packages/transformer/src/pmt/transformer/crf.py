"""A linear-chain conditional random field over per-token tag scores, in plain numpy.

A tagger produces emission scores ``E[t, y]`` (how well tag y fits token t); the CRF adds
learned transition scores ``T[i, j]`` (tag i followed by tag j) and start / end scores, and
scores a whole tag sequence y_0..y_{L-1}:

    s(y) = start[y_0] + sum_t E[t, y_t] + sum_{t>=1} T[y_{t-1}, y_t] + end[y_{L-1}]
    p(y | x) = exp(s(y)) / Z,        Z = sum over all K^L sequences y' of exp(s(y'))

Training minimises NLL = log Z - s(gold).  log Z comes from the forward algorithm in log
space, alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + T[i, j]) + E[t, j] (alpha_0 = start + E[0]),
log Z = logsumexp_j(alpha_{L-1}[j] + end[j]); the backward recursion
beta_t[i] = logsumexp_j(T[i, j] + E[t+1, j] + beta_{t+1}[j]) (beta_{L-1} = end) gives the
marginals, and because d log Z / d(score of a feature) = its expected count,

    dNLL/dE[t, j]  = P(y_t = j) - [gold_t = j],   P(y_t = j) = exp(alpha_t[j] + beta_t[j] - log Z)
    dNLL/dT[i, j]  = sum_t P(y_{t-1} = i, y_t = j) - #gold (i -> j) transitions, with
                     P(y_{t-1}=i, y_t=j) = exp(alpha_{t-1}[i] + T[i,j] + E[t,j] + beta_t[j] - log Z)
    dNLL/dstart[j] = P(y_0 = j) - [gold_0 = j]
    dNLL/dend[j]   = P(y_{L-1} = j) - [gold_{L-1} = j]

Padding: ``mask[b, t]`` is True on the real tokens, a prefix of each row (the first position
always real).  On padded steps the recursions carry alpha / beta through unchanged, so each
sequence is scored over its own length and padded emissions get zero gradient.

`crf_nll` is a pure function that returns the loss *and* its gradients, so wrapping it as an
autograd op is one line: the op's backward multiplies each returned gradient by the upstream
scalar gradient (e.g. ``Tensor.from_op(nll, (em, T, s, e), backward, "crf_nll")`` with
``backward = lambda g: (g * d_em, g * d_T, g * d_s, g * d_e)``).

Example:
    >>> rng = np.random.default_rng(0)
    >>> em = rng.normal(size=(2, 5, 3)); mask = np.array([[1] * 5, [1] * 3 + [0] * 2], bool)
    >>> T, s, e = rng.normal(size=(3, 3)), np.zeros(3), np.zeros(3)
    >>> loss = crf_nll(em, np.zeros((2, 5), int), mask, T, s, e)
    >>> paths, scores = viterbi_decode(em, mask, T, s, e)   # paths: (2, 5), -1 on padding
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from pmt.core.numerics import logsumexp

from .conll import split_tag

# Added to forbidden transitions: exp(-1e4) underflows to exactly 0, yet unlike -inf it never
# turns a logsumexp or a gradient into NaN, even when every path is forbidden.
FORBIDDEN = -1e4


class CRFLoss(NamedTuple):
    """`crf_nll`'s result: the mean NLL and its gradients (unpacks as a 5-tuple)."""

    nll: float
    d_emissions: np.ndarray    # (batch, seq, num_tags)
    d_transitions: np.ndarray  # (num_tags, num_tags)
    d_start: np.ndarray        # (num_tags,)
    d_end: np.ndarray          # (num_tags,)


def _check(emissions, mask, transitions, start, end, constraints):
    """Validate shapes at the boundary; return float arrays, a bool mask and the lengths."""
    emissions = np.asarray(emissions)
    if emissions.ndim != 3 or not np.issubdtype(emissions.dtype, np.floating):
        raise ValueError(f"emissions must be a float array (batch, seq, num_tags), got "
                         f"{emissions.dtype} {emissions.shape}")
    B, S, K = emissions.shape
    if B == 0 or S == 0 or K == 0:
        raise ValueError(f"emissions need batch, seq and num_tags >= 1, got {emissions.shape}")
    dtype = emissions.dtype
    transitions = np.asarray(transitions, dtype=dtype)
    start = np.asarray(start, dtype=dtype)
    end = np.asarray(end, dtype=dtype)
    for name, a, shape in (("transitions", transitions, (K, K)), ("start", start, (K,)),
                           ("end", end, (K,))):
        if a.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for {K} tags, got {a.shape}")
    if mask is None:
        mask = np.ones((B, S), dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != (B, S):
        raise ValueError(f"mask must have shape {(B, S)} like emissions[..., 0], got {mask.shape}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("mask must be boolean or 0/1")
        mask = mask.astype(bool)
    if not mask[:, 0].all():
        raise ValueError(f"mask[:, 0] must be True (every sequence has a first token); rows "
                         f"{np.flatnonzero(~mask[:, 0]).tolist()} are not")
    if (mask[:, 1:] & ~mask[:, :-1]).any():
        raise ValueError("mask must be a prefix in each row (padding only at the end)")
    if constraints is not None:
        ok_T, ok_s, ok_e = (np.asarray(c, dtype=bool) for c in constraints)
        if ok_T.shape != (K, K) or ok_s.shape != (K,) or ok_e.shape != (K,):
            raise ValueError(f"constraints must be boolean ((K, K), (K,), (K,)) with K={K}, got "
                             f"{ok_T.shape}, {ok_s.shape}, {ok_e.shape}")
        # a constant penalty: the gradient wrt the unconstrained scores is unchanged
        transitions = transitions + np.where(ok_T, 0, FORBIDDEN).astype(dtype)
        start = start + np.where(ok_s, 0, FORBIDDEN).astype(dtype)
        end = end + np.where(ok_e, 0, FORBIDDEN).astype(dtype)
    return emissions, mask, transitions, start, end, mask.sum(axis=1)


def crf_forward(emissions, mask, transitions, start):
    """Forward variables alpha (log space), carried unchanged through padding.

    Args:
        emissions: (batch, seq, K); mask: (batch, seq) bool; transitions: (K, K); start: (K,).

    Returns:
        alpha: (batch, seq, K), alpha[b, t, j] = log of the summed exp-scores of all prefixes
        y_0..y_t with y_t = j.  alpha[:, -1] holds each sequence's last real step.
    """
    B, S, K = emissions.shape
    alpha = np.empty_like(emissions)
    alpha[:, 0] = start + emissions[:, 0]
    for t in range(1, S):
        # (B, K, 1) + (K, K): sum over the previous tag i (axis 1)
        a = logsumexp(alpha[:, t - 1, :, None] + transitions, axis=1) + emissions[:, t]  # (B, K)
        alpha[:, t] = np.where(mask[:, t, None], a, alpha[:, t - 1])
    return alpha


def crf_backward(emissions, mask, transitions, end):
    """Backward variables beta (log space): beta[b, t, i] = log of the summed exp-scores of
    all continuations y_{t+1}..y_{L-1} (end score included) given y_t = i.

    Args:
        emissions: (batch, seq, K); mask: (batch, seq) bool; transitions: (K, K); end: (K,).

    Returns:
        beta: (batch, seq, K); equal to `end` on a sequence's last real step and on padding.
    """
    B, S, K = emissions.shape
    beta = np.empty_like(emissions)
    beta[:, -1] = end
    for t in range(S - 2, -1, -1):
        nxt = emissions[:, t + 1] + beta[:, t + 1]                           # (B, K) over j
        b = logsumexp(transitions + nxt[:, None, :], axis=2)                # (B, K) over i
        beta[:, t] = np.where(mask[:, t + 1, None], b, beta[:, t + 1])
    return beta


def crf_nll(emissions, tags, mask, transitions, start, end, constraints=None) -> CRFLoss:
    """Mean negative log-likelihood of the gold tags under a linear-chain CRF, with gradients.

    Args:
        emissions: (batch, seq, num_tags) float scores from the tagger.
        tags: (batch, seq) int gold tag ids in [0, num_tags); padded positions are ignored.
        mask: (batch, seq) bool, True on real tokens (a prefix of each row, first always
            True), or None for no padding.
        transitions: (num_tags, num_tags), transitions[i, j] = score of tag i followed by j.
        start: (num_tags,) score of the first tag.   end: (num_tags,) score of the last tag.
        constraints: optional ``(allowed (K, K), start_allowed (K,), end_allowed (K,))``
            booleans (see `allowed_transitions`); forbidden moves get a -1e4 penalty.

    Returns:
        `CRFLoss(nll, d_emissions, d_transitions, d_start, d_end)`: the loss averaged over
        the batch and the gradients of that mean (shapes as the inputs; zero on padding).
        d_emissions = (P(y_t = j) - onehot(gold_t)) / batch, the other three the expected
        minus observed counts of their features, / batch.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> em = rng.normal(size=(2, 4, 3))                   # (batch, seq, num_tags)
        >>> mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
        >>> T, s, e = np.zeros((3, 3)), np.zeros(3), np.zeros(3)
        >>> tags = np.array([[0, 1, 2, 0], [2, 2, 0, 0]])
        >>> nll, d_em, d_T, d_s, d_e = crf_nll(em, tags, mask, T, s, e)
        >>> float(abs(d_em[1, 2:]).max())                    # nothing flows into padding
        0.0

        With all transition scores 0 the tokens are independent, and the NLL is the summed
        per-token softmax cross-entropy, averaged over the batch:

        >>> logp = em - np.log(np.exp(em).sum(-1, keepdims=True))
        >>> bool(np.isclose(nll, -(np.take_along_axis(logp, tags[..., None], -1)[..., 0] * mask).sum() / 2))
        True
    """
    emissions, mask, T, start, end, lengths = _check(emissions, mask, transitions, start, end,
                                                     constraints)
    B, S, K = emissions.shape
    tags = np.asarray(tags)
    if tags.shape != (B, S) or not np.issubdtype(tags.dtype, np.integer):
        raise ValueError(f"tags must be an int array of shape {(B, S)}, "
                         f"got {tags.dtype} {tags.shape}")
    bad = mask & ((tags < 0) | (tags >= K))
    if bad.any():
        b, t = np.argwhere(bad)[0]
        raise ValueError(f"tags must lie in [0, {K}) on real tokens; tags[{b}, {t}] = {tags[b, t]}")
    tags = np.where(mask, tags, 0)                                           # (B, S) safe index
    rows = np.arange(B)
    last = tags[rows, lengths - 1]                                           # (B,)

    # score of the gold path
    gold_em = np.take_along_axis(emissions, tags[:, :, None], axis=2)[:, :, 0]  # (B, S)
    gold_tr = T[tags[:, :-1], tags[:, 1:]] * mask[:, 1:]                     # (B, S-1)
    gold_em = np.where(mask, gold_em, 0)          # where, not *: padding may hold inf
    gold = start[tags[:, 0]] + gold_em.sum(1) + gold_tr.sum(1) + end[last]   # (B,)

    alpha = crf_forward(emissions, mask, T, start)
    beta = crf_backward(emissions, mask, T, end)
    log_z = logsumexp(alpha[:, -1] + end, axis=1)                           # (B,)
    nll = float(np.mean(log_z - gold))

    # gradients: expected minus observed feature counts, divided by the batch size
    inv_b = 1.0 / B
    marg = np.exp(alpha + beta - log_z[:, None, None]) * mask[:, :, None]    # (B, S, K)
    onehot = np.zeros_like(emissions)
    np.put_along_axis(onehot, tags[:, :, None], 1.0, axis=2)
    d_em = (marg - onehot * mask[:, :, None]) * inv_b

    d_start = (marg[:, 0].sum(0) - np.bincount(tags[:, 0], minlength=K)) * inv_b
    p_last = np.exp(alpha[:, -1] + end - log_z[:, None])                     # (B, K)
    d_end = (p_last.sum(0) - np.bincount(last, minlength=K)) * inv_b

    expected = np.zeros((K, K), dtype=emissions.dtype)
    for t in range(1, S):
        # log P(y_{t-1}=i, y_t=j): (B, K, K); -inf (probability 0) for sequences already
        # ended, whose padded emissions may be anything (masking after exp could give inf * 0)
        pair = (alpha[:, t - 1, :, None] + T
                + (emissions[:, t] + beta[:, t])[:, None, :] - log_z[:, None, None])
        expected += np.exp(np.where(mask[:, t, None, None], pair, -np.inf)).sum(axis=0)
    valid = mask[:, 1:]
    observed = np.bincount((tags[:, :-1] * K + tags[:, 1:])[valid], minlength=K * K)
    d_T = (expected - observed.reshape(K, K)) * inv_b

    dt = emissions.dtype
    return CRFLoss(nll, d_em.astype(dt, copy=False), d_T.astype(dt, copy=False),
                   d_start.astype(dt, copy=False), d_end.astype(dt, copy=False))


def viterbi_decode(emissions, mask, transitions, start, end, constraints=None, pad: int = -1):
    """Highest-scoring tag sequence of each row (max-product version of the forward pass).

    delta_t[j] = max_i(delta_{t-1}[i] + T[i, j]) + E[t, j], remembering the argmax i; the
    best last tag is argmax_j(delta_{L-1}[j] + end[j]) and the path is read back from it.

    Args:
        emissions: (batch, seq, num_tags); mask: (batch, seq) bool or None;
        transitions: (num_tags, num_tags); start, end: (num_tags,);
        constraints: optional allowed-move booleans, as for `crf_nll`;
        pad: value written at padded positions of the returned paths.

    Returns:
        paths: (batch, seq) int64 tag ids (`pad` on padding); ``[p[m] for p, m in
        zip(paths, mask)]`` gives the unpadded lists.  scores: (batch,) the best scores s(y).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> em = rng.normal(size=(2, 4, 3))                   # (batch, seq, num_tags)
        >>> mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
        >>> T, s, e = np.zeros((3, 3)), np.zeros(3), np.zeros(3)
        >>> paths, scores = viterbi_decode(em, mask, T, s, e)
        >>> paths                                            # T = s = e = 0: the argmax of each token
        array([[ 2,  2,  0,  2],
               [ 1,  2, -1, -1]])
    """
    emissions, mask, T, start, end, lengths = _check(emissions, mask, transitions, start, end,
                                                     constraints)
    B, S, K = emissions.shape
    keep = np.broadcast_to(np.arange(K), (B, K))           # backpointer "stay" on padding
    back = np.empty((B, S, K), dtype=np.int64)
    back[:, 0] = keep
    delta = start + emissions[:, 0]                                          # (B, K)
    for t in range(1, S):
        cand = delta[:, :, None] + T                                         # (B, K_prev, K)
        best = cand.argmax(axis=1)                                           # (B, K)
        new = np.take_along_axis(cand, best[:, None, :], axis=1)[:, 0] + emissions[:, t]
        m = mask[:, t, None]
        delta = np.where(m, new, delta)
        back[:, t] = np.where(m, best, keep)
    final = delta + end                                                      # (B, K)
    paths = np.empty((B, S), dtype=np.int64)
    paths[:, -1] = final.argmax(axis=1)
    for t in range(S - 1, 0, -1):
        paths[:, t - 1] = np.take_along_axis(back[:, t], paths[:, t, None], axis=1)[:, 0]
    paths[~mask] = pad
    return paths, final.max(axis=1)


def allowed_transitions(tags, scheme: str = "iob2"):
    """Which tag moves a scheme permits, as boolean masks for `crf_nll` / `viterbi_decode`.

    * iob2: ``I-X`` only after ``B-X`` or ``I-X``; a sequence cannot start with ``I-``.
    * iob1: ``B-X`` only after ``B-X`` or ``I-X``; a sequence cannot start with ``B-``.
    * bioes: after ``B-X``/``I-X`` only ``I-X``/``E-X``; after ``O``/``E-``/``S-`` only
      ``O``/``B-``/``S-``; a sequence starts with ``O``/``B-``/``S-`` and ends with
      ``O``/``E-``/``S-``.

    Args:
        tags: the tag of each id (a list, or a `TagVocab`).
        scheme: ``'iob1'``, ``'iob2'`` or ``'bioes'``.

    Returns:
        (allowed (K, K), start_allowed (K,), end_allowed (K,)) bool arrays;
        allowed[i, j] says whether tag j may follow tag i.

    Example:
        >>> ok, ok_start, ok_end = allowed_transitions(["O", "B-PER", "I-PER"])
        >>> bool(ok[0, 2]), bool(ok_start[2])   # O -> I-PER, start -> I-PER
        (False, False)
    """
    tags = list(getattr(tags, "id_to_tag", tags))
    parts = [split_tag(t) for t in tags]
    p = np.array([q for q, _ in parts])                   # (K,) prefixes
    k = np.array([x for _, x in parts])                   # (K,) types ("" for O)
    same = k[:, None] == k[None, :]                       # (K, K) same type i, j
    pi, pj = p[:, None], p[None, :]
    inside_i = np.isin(pi, ("B", "I"))                    # i inside an open entity
    if scheme == "iob2":
        ok = (pj != "I") | (inside_i & same)
        ok_start, ok_end = p != "I", np.ones(len(p), dtype=bool)
    elif scheme == "iob1":
        ok = (pj != "B") | (inside_i & same)
        ok_start, ok_end = p != "B", np.ones(len(p), dtype=bool)
    elif scheme == "bioes":
        opens = np.isin(pj, ("O", "B", "S"))              # j may begin after a closed state
        ok = np.where(inside_i, np.isin(pj, ("I", "E")) & same, opens)
        ok_start, ok_end = np.isin(p, ("O", "B", "S")), np.isin(p, ("O", "E", "S"))
    else:
        raise ValueError(f"scheme must be 'iob1', 'iob2' or 'bioes', got {scheme!r}")
    return ok, ok_start, ok_end
