"""The fused kernels as `pmt.graph` operations: multi-head attention, layer norm, cross-entropy.

Each function takes and returns `pmt.graph.Tensor`s and records one graph node whose backward
is the hand-written kernel backward (`attention_kernel`, `layernorm`, `softmax_ce`).  Splitting
into heads and merging them back happens inside the attention op, so a (batch, seq, d_model)
projection goes in and a (batch, seq, d_model) tensor comes out with no separate reshape and
transpose nodes (and no copies of Q, K, V: the heads are strided views of the projection).
"""
from __future__ import annotations

import numpy as np
from pmt.core.seeding import get_rng
from pmt.graph.tensor import Tensor

from .attention_kernel import attention_backward, attention_forward
from .layernorm import layer_norm_backward, layer_norm_forward
from .softmax_ce import softmax_cross_entropy_backward, softmax_cross_entropy_forward


def _heads(x, n_heads, parts):
    """View a (B, T, parts*d) array as `parts` arrays of shape (B, h, T, d/h) (no copy)."""
    b, t, width = x.shape
    d_head = width // (parts * n_heads)
    x = x.reshape(b, t, parts, n_heads, d_head)
    return [x[:, :, i].transpose(0, 2, 1, 3) for i in range(parts)]  # each (B, h, T, dh)


def _grad_of_heads(grads, n_heads):
    """Inverse of `_heads` for gradients: [(B, h, T, dh)] * parts -> (B, T, parts*h*dh)."""
    b, h, t, dh = grads[0].shape
    out = np.empty((b, t, len(grads), h, dh), dtype=grads[0].dtype)
    for i, g in enumerate(grads):
        out[:, :, i] = g.transpose(0, 2, 1, 3)
    return out.reshape(b, t, len(grads) * h * dh)


def _dropout_mask(shape, p, dtype, rng):
    """Inverted-dropout multiplier: 0 with probability p, else 1/(1-p)."""
    keep = (rng or get_rng()).random(shape, dtype=np.float32) >= p
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))


def multi_head_attention(q, kv, n_heads: int, mask=None, dropout: float = 0.0, rng=None,
                         fused: str = "qkv"):
    """Multi-head scaled dot-product attention on projected inputs, as one graph node.

    Args:
        q: with `fused="qkv"`, a Tensor (batch, t, 3*d_model) holding [Q | K | V] (self-attention
            after one fused projection; `kv` must be None).  With `fused="q_kv"`, the queries
            (batch, t_q, d_model), and `kv` the keys and values (batch, t_k, 2*d_model)
            (cross-attention).
        kv: see `q`.
        n_heads: number of heads h; d_model must be divisible by h.
        mask: None or an array broadcastable to (batch, h, t_q, t_k): boolean (True = attend)
            or additive float.
        dropout: probability of zeroing an attention weight (0 disables; pass 0 in eval mode).
        rng: numpy Generator for the dropout mask (default: `pmt.core.get_rng()`).

    Returns:
        (out, weights): out is a Tensor (batch, t_q, d_model), the heads concatenated;
        weights is the (batch, h, t_q, t_k) ndarray of attention probabilities (before dropout).

    Example:
        >>> qkv = Tensor(np.random.randn(2, 5, 3 * 16), requires_grad=True)
        >>> out, w = multi_head_attention(qkv, None, n_heads=4)
        >>> out.shape, w.shape
        ((2, 5, 16), (2, 4, 5, 5))
    """
    if n_heads < 1:
        raise ValueError(f"multi_head_attention: n_heads must be >= 1, got {n_heads}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"multi_head_attention: dropout must lie in [0, 1), got {dropout}")
    if fused == "qkv":
        if kv is not None:
            raise ValueError("multi_head_attention: fused='qkv' takes one (batch, t, 3*d_model) input, kv=None")
        if q.ndim != 3 or q.shape[-1] % (3 * n_heads):
            raise ValueError(f"multi_head_attention: expected qkv of shape (batch, t, 3*d_model) with d_model "
                             f"divisible by n_heads={n_heads}, got {q.shape}")
        parents = (q,)
        qh, kh, vh = _heads(q.data, n_heads, 3)
    elif fused == "q_kv":
        if q.ndim != 3 or kv is None or kv.ndim != 3 or kv.shape[-1] != 2 * q.shape[-1] \
                or q.shape[0] != kv.shape[0] or q.shape[-1] % n_heads:
            raise ValueError(f"multi_head_attention: expected q (batch, t_q, d_model) and kv (batch, t_k, "
                             f"2*d_model) with d_model divisible by n_heads={n_heads}, got "
                             f"{q.shape} and {None if kv is None else kv.shape}")
        parents = (q, kv)
        (qh,) = _heads(q.data, n_heads, 1)
        kh, vh = _heads(kv.data, n_heads, 2)
    else:
        raise ValueError(f"multi_head_attention: fused must be 'qkv' or 'q_kv', got {fused!r}")

    b, h, t_q, d_head = qh.shape
    dmask = None
    if dropout > 0:
        dmask = _dropout_mask((b, h, t_q, kh.shape[2]), dropout, qh.dtype, rng)
    o, cache = attention_forward(qh, kh, vh, mask, dmask)          # (B, h, Tq, dh)
    out = o.transpose(0, 2, 1, 3).reshape(b, t_q, h * d_head)      # (B, Tq, d_model), one copy

    def backward(g):
        # g: (B, Tq, d_model) -> per-head (B, h, Tq, dh) view, then the kernel's backward.
        dq, dk, dv = attention_backward(g.reshape(b, t_q, h, d_head).transpose(0, 2, 1, 3), cache)
        if fused == "qkv":
            return (_grad_of_heads([dq, dk, dv], n_heads),)
        return _grad_of_heads([dq], n_heads), _grad_of_heads([dk, dv], n_heads)

    return Tensor.from_op(out, parents, backward, "multi_head_attention"), cache[3]


def dense(x, weight, bias=None):
    """y = x W + b over the last axis, with the leading axes flattened into one 2-D gemm.

    Args:
        x: Tensor (..., d_in).  weight: Tensor (d_in, d_out).  bias: Tensor (d_out,) or None.

    Returns:
        Tensor (..., d_out).  Backward with X, G flattened to (N, d_in), (N, d_out):
        dL/dX = G W^T,  dL/dW = X^T G,  dL/db = Σ_rows G.

    Why not a stacked matmul: numpy runs (B, T, d) @ (d, k) as B small gemms, and
    (B, T, k) @ W^T (a transposed view) without BLAS at all; one (B*T, d) gemm is several
    times faster for the shapes of a Transformer.

    Example:
        >>> dense(Tensor(np.ones((2, 5, 8))), Tensor(np.ones((8, 3)))).shape
        (2, 5, 3)
    """
    xd, w = x.data, weight.data
    if xd.ndim < 1 or xd.shape[-1] != w.shape[0]:
        raise ValueError(f"dense: input has shape {xd.shape}, expected (..., {w.shape[0]}) to match "
                         f"weight {w.shape}")
    lead = xd.shape[:-1]
    x2 = xd.reshape(-1, w.shape[0])                                 # (N, d_in), a view
    y = x2 @ w                                                      # (N, d_out)
    if bias is not None:
        y += bias.data

    def backward(g):
        g2 = g.reshape(-1, w.shape[1])                              # (N, d_out)
        dx = (g2 @ w.T).reshape(*lead, w.shape[0]) if x.requires_grad else None
        dw = x2.T @ g2 if weight.requires_grad else None
        if bias is None:
            return dx, dw
        return dx, dw, g2.sum(axis=0)

    parents = (x, weight) if bias is None else (x, weight, bias)
    return Tensor.from_op(y.reshape(*lead, w.shape[1]), parents, backward, "dense")


def layer_norm(x, gamma, beta, eps: float = 1e-5):
    """Layer normalisation over the last axis as one graph node.

    Args:
        x: Tensor (..., n).  gamma, beta: Tensors (n,).  eps: variance floor.

    Returns:
        Tensor (..., n): γ ⊙ (x - μ)/σ + β.

    Example:
        >>> y = layer_norm(Tensor(np.random.randn(2, 3, 8)), Tensor(np.ones(8)), Tensor(np.zeros(8)))
    """
    y, cache = layer_norm_forward(x.data, gamma.data, beta.data, eps)

    def backward(g):
        return layer_norm_backward(g, cache)                       # (dx, dγ, dβ)

    return Tensor.from_op(y, (x, gamma, beta), backward, "layer_norm")


def cross_entropy(logits, targets, ignore_index: int = -100, label_smoothing: float = 0.0):
    """Mean softmax cross-entropy of `logits` against integer `targets`, as one graph node.

    Args:
        logits: Tensor (..., C).
        targets: int ndarray (...) of class indices, `ignore_index` marks rows to skip.
        ignore_index: target value that contributes no loss and no gradient.
        label_smoothing: ε in [0, 1).

    Returns:
        A scalar Tensor (0-d, the logits' dtype).  d loss/d logits = (softmax - q) / N_valid.

    Example:
        >>> loss = cross_entropy(Tensor(np.zeros((2, 4)), requires_grad=True), np.array([1, 3]))
        >>> round(loss.item(), 4)
        1.3863
    """
    if isinstance(targets, Tensor):
        targets = targets.data
    loss, cache = softmax_cross_entropy_forward(logits.data, np.asarray(targets), ignore_index,
                                                label_smoothing)

    def backward(g):
        return (softmax_cross_entropy_backward(cache, float(g)),)

    return Tensor.from_op(np.array(loss, dtype=logits.dtype), (logits,), backward, "cross_entropy")
