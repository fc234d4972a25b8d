"""Scaled dot-product attention as a pure-numpy kernel: a forward and its hand-written backward.

    S = Q K^T / sqrt(d) + M          scores;  M = 0 where allowed, -inf where masked
    P = softmax(S)  (over keys)      attention weights; a masked key gets exactly 0
    O = (P ⊙ D) V                    D = dropout keep-mask already scaled by 1/(1-p) (or all ones)

Backward, with dO given (P̃ = P ⊙ D):

    dV = P̃^T dO
    dP = (dO V^T) ⊙ D
    dS = P ⊙ (dP - rowsum(dP ⊙ P))   softmax Jacobian applied row by row
    dQ = dS K / sqrt(d)
    dK = dS^T Q / sqrt(d)

Why a fused kernel rather than a chain of graph ops: composing matmul, scale, mask, softmax,
dropout and matmul stores five (B, h, Tq, Tk) intermediates and walks the graph five times; the
fused version keeps only P (and the dropout mask) and computes dS in one expression.  It also
handles a fully-masked row (every key padding) by returning zeros instead of 0/0 = NaN.

All leading axes are batch axes: Q is (..., Tq, d), K and V are (..., Tk, d) and (..., Tk, dv);
the usual layout is (batch, heads, seq, d_head), so numpy's stacked matmul runs one BLAS gemm per
(batch, head) pair.
"""
from __future__ import annotations

import numpy as np


def causal_mask(t_q: int, t_k: int | None = None) -> np.ndarray:
    """Boolean (t_q, t_k) mask, True where query i may attend key j (j <= i + t_k - t_q).

    With t_k > t_q (queries are the last t_q of t_k positions, as during incremental decoding)
    the diagonal is shifted so that query i sees keys up to its own absolute position.

    Example:
        >>> causal_mask(3).astype(int)
        array([[1, 0, 0],
               [1, 1, 0],
               [1, 1, 1]])
    """
    t_k = t_q if t_k is None else t_k
    if t_q < 1 or t_k < t_q:
        raise ValueError(f"causal_mask: need 1 <= t_q <= t_k, got t_q={t_q}, t_k={t_k}")
    return np.tril(np.ones((t_q, t_k), dtype=bool), k=t_k - t_q)


def padding_mask(tokens_or_keep, pad_id: int | None = None) -> np.ndarray:
    """Boolean key mask of shape (batch, 1, 1, t), True on real tokens, False on padding.

    Args:
        tokens_or_keep: int token ids (batch, t) together with `pad_id`, or (without
            `pad_id`) a boolean (batch, t) array that is True on real tokens.
        pad_id: the padding id when token ids are given.

    The two singleton axes broadcast over heads and queries: (batch, heads, t_q, t_k).

    Example:
        >>> padding_mask(np.array([[5, 7, 0]]), pad_id=0)[0, 0, 0]
        array([ True,  True, False])
    """
    a = np.asarray(tokens_or_keep)
    if a.ndim != 2:
        raise ValueError(f"padding_mask: expected a (batch, seq) array, got shape {a.shape}")
    if pad_id is None:
        if a.dtype != bool:
            raise TypeError(f"padding_mask: without pad_id the input must be boolean, got {a.dtype}")
        keep = a
    else:
        keep = a != pad_id
    return keep[:, None, None, :]


def _check_mask(mask, s_shape):
    """Validate `mask` against the scores' shape (..., Tq, Tk); returns it as an ndarray."""
    mask = np.asarray(mask)
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.floating):
        raise TypeError(f"attention mask must be boolean (True = attend) or float (additive), "
                        f"got dtype {mask.dtype}")
    try:
        np.broadcast_shapes(mask.shape, s_shape)
    except ValueError:
        raise ValueError(f"attention mask of shape {mask.shape} does not broadcast to the scores' "
                         f"shape {s_shape} (batch, heads, t_q, t_k)") from None
    if len(np.broadcast_shapes(mask.shape, s_shape)) != len(s_shape):
        raise ValueError(f"attention mask of shape {mask.shape} has more axes than the scores "
                         f"{s_shape}")
    return mask


def attention_forward(q, k, v, mask=None, dropout_mask=None):
    """softmax(Q K^T / sqrt(d) + mask) V, returning the output and what the backward needs.

    Args:
        q: (..., t_q, d) queries, e.g. (batch, heads, t_q, d_head).
        k: (..., t_k, d) keys.
        v: (..., t_k, d_v) values.
        mask: None, or an array broadcastable to (..., t_q, t_k): boolean (True = may attend)
            or float (added to the scores; use -inf to forbid).  A padding mask is
            (batch, 1, 1, t_k), a causal mask (t_q, t_k).
        dropout_mask: None, or (..., t_q, t_k) multiplier for the weights (0 to drop,
            1/(1-p) to keep), drawn by the caller so that the backward reuses it.

    Returns:
        out: (..., t_q, d_v) and `cache`, the tuple `attention_backward` needs.
        `cache[3]` is P, the (..., t_q, t_k) attention weights (before dropout).

    Example:
        >>> q = k = v = np.ones((2, 4, 5, 8), np.float32)
        >>> out, cache = attention_forward(q, k, v, mask=causal_mask(5))
        >>> out.shape
        (2, 4, 5, 8)
    """
    q, k, v = np.asarray(q), np.asarray(k), np.asarray(v)
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"attention: q, k, v must have the same number (>= 2) of axes, got shapes "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"attention: queries have size {q.shape[-1]}, keys {k.shape[-1]}; expected equal")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention: {k.shape[-2]} keys but {v.shape[-2]} values; expected equal")
    scale = 1.0 / np.sqrt(q.shape[-1])
    s = np.matmul(q, k.swapaxes(-1, -2))                 # (..., Tq, Tk)
    s *= s.dtype.type(scale)
    if mask is not None:
        mask = _check_mask(mask, s.shape)
        if mask.dtype == bool:
            np.copyto(s, -np.inf, where=~mask)
        else:
            s += mask.astype(s.dtype, copy=False)
    # Numerically stable softmax, in place on s.  A row with every key masked has max -inf;
    # shifting it by 0 instead gives exp(-inf) = 0 everywhere, and dividing by 1 keeps zeros.
    m = s.max(axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0
    s -= m
    np.exp(s, out=s)
    z = s.sum(axis=-1, keepdims=True)
    z[z == 0] = 1
    s /= z
    p = s                                                # (..., Tq, Tk)
    if dropout_mask is not None:
        dropout_mask = np.asarray(dropout_mask, dtype=p.dtype)
        if dropout_mask.shape != p.shape:
            raise ValueError(f"attention: dropout_mask has shape {dropout_mask.shape}, expected the "
                             f"weights' shape {p.shape}")
        p_used = p * dropout_mask
    else:
        p_used = p
    out = np.matmul(p_used, v)                           # (..., Tq, dv)
    return out, (q, k, v, p, dropout_mask, scale)


def attention_backward(d_out, cache):
    """Gradients of the attention output with respect to Q, K and V.

    Computes dV = P̃^T dO, dP = (dO V^T) ⊙ D, dS = P ⊙ (dP - rowsum(dP ⊙ P)),
    dQ = dS K / sqrt(d), dK = dS^T Q / sqrt(d), with P̃ = P ⊙ D the weights actually used.

    Args:
        d_out: (..., t_q, d_v) gradient of the loss with respect to the output.
        cache: what `attention_forward` returned.

    Returns:
        dq: (..., t_q, d), dk: (..., t_k, d), dv: (..., t_k, d_v).
    """
    q, k, v, p, dmask, scale = cache
    p_used = p if dmask is None else p * dmask
    dv = np.matmul(p_used.swapaxes(-1, -2), d_out)       # (..., Tk, dv)
    dp = np.matmul(d_out, v.swapaxes(-1, -2))            # (..., Tq, Tk)
    if dmask is not None:
        dp *= dmask
    # dS = P ⊙ (dP - Σ_j dP_j P_j), done in place on dp.
    dp -= np.einsum("...ij,...ij->...i", dp, p)[..., None]
    dp *= p
    dp *= dp.dtype.type(scale)
    dq = np.matmul(dp, k)                                # (..., Tq, d)
    dk = np.matmul(dp.swapaxes(-1, -2), q)               # (..., Tk, d)
    return dq, dk, dv
