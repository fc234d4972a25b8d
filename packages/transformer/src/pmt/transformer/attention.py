"""Multi-head attention as a `pmt.graph` Module.

    head_i = softmax(Q_i K_i^T / sqrt(d_head) + mask) V_i,   Q = x W_q, K = m W_k, V = m W_v
    MHA(x, m) = concat(head_1, ..., head_h) W_o

Self-attention (m = x) computes Q, K and V with *one* fused (d_model, 3 d_model) projection: one
gemm instead of three, and the heads are strided views of its output.  Cross-attention has a
query projection for x and a fused (d_model, 2 d_model) key/value projection for the memory m.
The attention itself is the fused kernel of `attention_kernel.py` (one graph node).
"""
from __future__ import annotations

from pmt.graph import Module

from .functional import multi_head_attention
from .layers import xavier_linear


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
        qkv_proj (self) or q_proj and kv_proj (cross), out_proj: `pmt.graph.Linear` layers.
        keep_weights: set True to keep the last attention weights in `weights`
            ((batch, h, t_q, t_k) ndarray), e.g. to draw a heat-map.

    Example:
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
            heads, w = multi_head_attention(self.q_proj(x), self.kv_proj(memory), self.n_heads, mask, p,
                                            fused="q_kv")
        else:
            if memory is not None:
                raise ValueError("MultiHeadAttention: a self-attention layer takes no memory (use cross=True)")
            heads, w = multi_head_attention(self.qkv_proj(x), None, self.n_heads, mask, p, fused="qkv")
        self.weights = w if self.keep_weights else None
        return self.out_proj(heads)                                # (B, Tq, d_model)

    def extra_repr(self):
        return (f"d_model={self.d_model}, n_heads={self.n_heads}, dropout={self.dropout}"
                + (", cross=True" if self.cross else ""))
