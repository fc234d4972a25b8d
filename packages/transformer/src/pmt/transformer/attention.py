"""Multi-head attention: the op over projections, and the Module that owns the projections.

    head_i = softmax(Q_i K_i^T / sqrt(d_head) + mask) V_i,   Q = x W_q, K = m W_k, V = m W_v
    MHA(x, m) = concat(head_1, ..., head_h) W_o

Self-attention (m = x) computes Q, K and V with *one* fused (d_model, 3 d_model) projection: one
gemm instead of three.  Its heads are strided views of that projection's output, handed to the
attention kernel (`attention_kernel.attention_op`) without a copy, so splitting heads costs no
graph node and no memory; the gradients of the three views are written back into one
(batch, t, 3 d_model) array.  Cross-attention has a query projection for x and a fused
(d_model, 2 d_model) key/value projection for the memory m.
"""
from __future__ import annotations

import numpy as np
from pmt.graph import Module, dropout_mask

from .attention_kernel import attention_op
from .layers import xavier_linear


def _split_heads(x, n_heads, parts):
    """View a (B, T, parts*d) array as `parts` arrays of shape (B, h, T, d/h) (no copy)."""
    b, t, width = x.shape
    d_head = width // (parts * n_heads)
    x = x.reshape(b, t, parts, n_heads, d_head)
    return [x[:, :, i].transpose(0, 2, 1, 3) for i in range(parts)]  # each (B, h, T, dh)


def _merge_head_grads(grads):
    """Inverse of `_split_heads` for gradients: [(B, h, T, dh)] * parts -> (B, T, parts*h*dh)."""
    b, h, t, dh = grads[0].shape
    out = np.empty((b, t, len(grads), h, dh), dtype=grads[0].dtype)
    for i, g in enumerate(grads):
        out[:, :, i] = g.transpose(0, 2, 1, 3)
    return out.reshape(b, t, len(grads) * h * dh)


def multi_head_attention(x, kv, n_heads: int, mask=None, dropout: float = 0.0, rng=None):
    """Multi-head scaled dot-product attention on projected inputs.

    Args:
        x: with `kv=None` (self-attention), a Tensor (batch, t, 3*d_model) holding [Q | K | V]
            from one fused projection.  Otherwise the queries (batch, t_q, d_model), and `kv`
            the keys and values (batch, t_k, 2*d_model) (cross-attention).
        kv: see `x`.
        n_heads: number of heads h; d_model must be divisible by h.
        mask: None or an array broadcastable to (batch, h, t_q, t_k): boolean (True = attend)
            or additive float.
        dropout: probability of zeroing an attention weight (0 disables; pass 0 in eval mode).
        rng: numpy Generator for the dropout mask (default: `pmt.core.get_rng()`).

    Returns:
        (out, weights): out a Tensor (batch, t_q, d_model), the heads concatenated; weights
        the (batch, h, t_q, t_k) ndarray of attention probabilities (before dropout).

    Example:
        >>> from pmt.graph import Tensor
        >>> qkv = Tensor(np.random.randn(2, 5, 3 * 16), requires_grad=True)
        >>> out, w = multi_head_attention(qkv, None, n_heads=4)
        >>> out.shape, w.shape
        ((2, 5, 16), (2, 4, 5, 5))
    """
    if n_heads < 1:
        raise ValueError(f"multi_head_attention: n_heads must be >= 1, got {n_heads}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"multi_head_attention: dropout must lie in [0, 1), got {dropout}")
    if kv is None:                                                 # self-attention: x = [Q | K | V]
        if x.ndim != 3 or x.shape[-1] % (3 * n_heads):
            raise ValueError(f"multi_head_attention: expected qkv of shape (batch, t, 3*d_model) with d_model "
                             f"divisible by n_heads={n_heads}, got {x.shape}")
        parents = (x,)
        qh, kh, vh = _split_heads(x.data, n_heads, 3)

        def grads_to_parents(dq, dk, dv):
            return (_merge_head_grads([dq, dk, dv]),)
    else:                                                          # cross-attention: x = Q, kv = [K | V]
        if x.ndim != 3 or kv.ndim != 3 or kv.shape[-1] != 2 * x.shape[-1] \
                or x.shape[0] != kv.shape[0] or x.shape[-1] % n_heads:
            raise ValueError(f"multi_head_attention: expected q (batch, t_q, d_model) and kv (batch, t_k, "
                             f"2*d_model) with d_model divisible by n_heads={n_heads}, got "
                             f"{x.shape} and {kv.shape}")
        parents = (x, kv)
        (qh,) = _split_heads(x.data, n_heads, 1)
        kh, vh = _split_heads(kv.data, n_heads, 2)

        def grads_to_parents(dq, dk, dv):
            return _merge_head_grads([dq]), _merge_head_grads([dk, dv])

    b, h, t_q, d_head = qh.shape
    dmask = dropout_mask((b, h, t_q, kh.shape[2]), dropout, qh.dtype, rng) if dropout > 0 else None
    o, weights = attention_op(qh, kh, vh, parents, grads_to_parents, mask, dmask)   # (B, h, Tq, dh)
    return o.transpose(0, 2, 1, 3).reshape(b, t_q, h * d_head), weights             # (B, Tq, d_model)


class MultiHeadAttention(Module):
    """Multi-head scaled dot-product attention with learned projections.

    Args:
        d_model: model width; must be divisible by `n_heads`.
        n_heads: number of heads h (each of width d_model / h).
        dropout: dropout probability on the attention weights (training mode only).
        cross: False for self-attention (fused Q|K|V projection of x), True for
            cross-attention (queries from x, keys/values from `memory`).

    Shape:
        x: (batch, t_q, d_model); memory: (batch, t_k, d_model) (cross only);
        mask: broadcastable to (batch, h, t_q, t_k), boolean True = attend;
        output: (batch, t_q, d_model).

    Attributes:
        qkv_proj (self) or q_proj and kv_proj (cross), out_proj: `pmt.graph.Linear` layers
            (Xavier-uniform, zero bias).
        keep_weights: set True to keep the last attention weights in `weights`
            ((batch, h, t_q, t_k) ndarray), e.g. to draw a heat-map.

    Example:
        >>> from pmt.graph import Tensor
        >>> mha = MultiHeadAttention(32, 4)
        >>> mha(Tensor(np.random.randn(2, 7, 32))).shape
        (2, 7, 32)
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, cross: bool = False):
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(f"MultiHeadAttention: d_model={d_model} must be divisible by n_heads={n_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must lie in [0, 1), got {dropout}")
        self.d_model, self.n_heads, self.dropout, self.cross = d_model, n_heads, dropout, cross
        if cross:
            self.q_proj = xavier_linear(d_model, d_model)
            self.kv_proj = xavier_linear(d_model, 2 * d_model, blocks=2)
        else:
            self.qkv_proj = xavier_linear(d_model, 3 * d_model, blocks=3)
        self.out_proj = xavier_linear(d_model, d_model)
        self.keep_weights = False
        self.weights = None

    def forward(self, x, memory=None, mask=None):
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"MultiHeadAttention: expected x of shape (batch, t, {self.d_model}), got {x.shape}")
        p = self.dropout if self.training else 0.0
        if self.cross:
            if memory is None or memory.ndim != 3 or memory.shape[-1] != self.d_model:
                raise ValueError(f"MultiHeadAttention(cross=True): expected memory of shape (batch, t_k, "
                                 f"{self.d_model}), got {None if memory is None else memory.shape}")
            heads, w = multi_head_attention(self.q_proj(x), self.kv_proj(memory), self.n_heads, mask, p)
        else:
            if memory is not None:
                raise ValueError("MultiHeadAttention: a self-attention layer takes no memory (use cross=True)")
            heads, w = multi_head_attention(self.qkv_proj(x), None, self.n_heads, mask, p)
        self.weights = w if self.keep_weights else None
        return self.out_proj(heads)                                # (B, Tq, d_model)

    def extra_repr(self):
        return (f"d_model={self.d_model}, n_heads={self.n_heads}, dropout={self.dropout}"
                + (", cross=True" if self.cross else ""))
