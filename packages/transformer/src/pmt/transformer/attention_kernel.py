"""Scaled dot-product attention as one fused graph op: the forward and, beside it, its backward.

    S = Q K^T / sqrt(d) + M          scores;  M = 0 where allowed, -inf where masked
    P = softmax(S)  (over keys)      attention weights; a masked key gets exactly 0
    O = (P * D) V                    D = dropout keep-mask already scaled by 1/(1-p) (or all ones)

Backward, with dO given (P~ = P * D, the weights actually used):

    dV = P~^T dO
    dP = (dO V^T) * D
    dS = P * (dP - rowsum(dP * P))   softmax Jacobian applied row by row
    dQ = dS K / sqrt(d)
    dK = dS^T Q / sqrt(d)

Why a fused op rather than a chain of graph ops (matmul, scale, masked_fill, softmax, dropout,
matmul): the chain stores five (B, h, Tq, Tk) intermediates and walks the graph five times; the
fused op keeps only P (and the dropout mask) and computes dS in one expression.  The test suite
checks it against exactly that chain of pmt.graph ops.

Conventions, on purpose:
- A query row whose every key is masked has no distribution to attend with: its weights are
  all 0 and its output is 0 (its max is taken as 0 and its normaliser as 1), with zero
  gradients, never NaN.  (PyTorch's scaled_dot_product_attention returns NaN there.)
- All leading axes are batch axes and broadcast: q (..., Tq, d) against k (..., Tk, d) and
  v (..., Tk, dv).  Each gradient is summed back to its own input's shape, so k and v shared
  across a batch (batch axis 1) get the sum over that batch.

The usual layout is (batch, heads, seq, d_head): numpy's stacked matmul then runs one BLAS gemm
per (batch, head) pair.
"""
from __future__ import annotations

import numpy as np
from pmt.core.numerics import unbroadcast
from pmt.graph import Tensor


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


def attention_op(q, k, v, parents, grads_to_parents, mask=None, dropout_mask=None):
    """The kernel: softmax(q k^T / sqrt(d) + mask) v as one graph node over `parents`.

    q, k, v are ndarrays that *view* the parents' data (e.g. the heads of one fused Q|K|V
    projection); `grads_to_parents(dq, dk, dv)` maps the three gradients back to one gradient
    per parent.  `scaled_dot_product_attention` (q, k, v are the parents themselves) and
    `multi_head_attention` (heads are strided views of a projection) are its two callers.

    Args:
        q: (..., t_q, d) queries, e.g. (batch, heads, t_q, d_head).
        k: (..., t_k, d) keys.   v: (..., t_k, d_v) values.  Batch axes broadcast.
        parents: tuple of Tensors whose data q, k, v are read from.
        grads_to_parents: (dq, dk, dv) -> sequence with one gradient per parent.
        mask: None, or an array broadcastable to (..., t_q, t_k): boolean (True = may attend)
            or float (added to the scores; -inf forbids).
        dropout_mask: None, or the (..., t_q, t_k) multiplier of the weights (0 to drop,
            1/(1-p) to keep; `pmt.graph.dropout_mask`), drawn by the caller.

    Returns:
        (out, weights): out a Tensor (..., t_q, d_v); weights the (..., t_q, t_k) ndarray P
        (before dropout; all 0 on a fully masked row).
    """
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"attention: q, k, v need at least 2 axes (..., t, d), got shapes "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"attention: queries have size {q.shape[-1]}, keys {k.shape[-1]}; expected equal")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention: {k.shape[-2]} keys but {v.shape[-2]} values; expected equal")
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"attention: batch axes of q {q.shape}, k {k.shape} and v {v.shape} cannot "
                         f"be broadcast together") from None
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
    out = np.matmul(p if dropout_mask is None else p * dropout_mask, v)   # (..., Tq, dv)

    def backward(d_out):
        # O = P~ V:  dV = P~^T dO,  dP~ = dO V^T,  and P~ = P * D:  dP = dP~ * D.
        p_used = p if dropout_mask is None else p * dropout_mask
        dv = np.matmul(p_used.swapaxes(-1, -2), d_out)   # (..., Tk, dv)
        dp = np.matmul(d_out, v.swapaxes(-1, -2))        # (..., Tq, Tk)
        if dropout_mask is not None:
            dp *= dropout_mask
        # P = softmax(S):  dS = P * (dP - sum_j dP_j P_j), in place on dp; S = scale Q K^T.
        dp -= np.einsum("...ij,...ij->...i", dp, p)[..., None]
        dp *= p
        dp *= dp.dtype.type(scale)
        dq = np.matmul(dp, k)                            # (..., Tq, d)
        dk = np.matmul(dp.swapaxes(-1, -2), q)           # (..., Tk, d)
        return grads_to_parents(dq, dk, dv)

    return Tensor.from_op(out, parents, backward, "attention"), p


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask=None, dropout_mask=None):
    """softmax(Q K^T / sqrt(d) + mask) V, one graph node (see the module docstring for the math).

    Args:
        q: Tensor (..., t_q, d).  k: Tensor (..., t_k, d).  v: Tensor (..., t_k, d_v).
            Leading (batch) axes broadcast; each gradient is summed back to its input's shape.
        mask: None, or broadcastable to (..., t_q, t_k): boolean (True = may attend) or
            additive float.  A padding mask is (batch, 1, 1, t_k), a causal mask (t_q, t_k).
        dropout_mask: None, or the (..., t_q, t_k) multiplier of the weights (0 or 1/(1-p)).

    Returns:
        (out, weights): out Tensor (..., t_q, d_v); weights ndarray (..., t_q, t_k), the
        attention probabilities before dropout (all 0 on a row whose keys are all masked).

    Example:
        >>> q = k = v = Tensor(np.ones((2, 4, 5, 8), np.float32), requires_grad=True)
        >>> out, w = scaled_dot_product_attention(q, k, v, mask=causal_mask(5))
        >>> out.shape, w.shape
        ((2, 4, 5, 8), (2, 4, 5, 5))
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, got {type(t).__name__}")

    def grads_to_parents(dq, dk, dv):
        return unbroadcast(dq, q.shape), unbroadcast(dk, k.shape), unbroadcast(dv, v.shape)

    return attention_op(q.data, k.data, v.data, (q, k, v), grads_to_parents, mask, dropout_mask)
