"""The Transformer decoder: masked self-attention, cross-attention to the encoder, feed-forward.

Pre-LN (default):
    y = y + Dropout(SelfAttn(LN(y), causal mask))
    y = y + Dropout(CrossAttn(LN(y), memory, source padding mask))
    y = y + Dropout(FFN(LN(y)))                          and a final LN after the stack
Post-LN puts each LN after its residual sum instead, as in the 2017 paper.
"""
from __future__ import annotations

from pmt.graph import Dropout, LayerNorm, Module, ModuleList

from .attention import MultiHeadAttention
from .layers import PositionwiseFeedForward


class TransformerDecoderLayer(Module):
    """One decoder block: causal self-attention, cross-attention over `memory`, feed-forward.

    Args:
        d_model, n_heads, d_ff, dropout, activation, norm_first, eps: as `TransformerEncoderLayer`.

    Shape:
        y: (batch, t, d_model) target-side states; memory: (batch, s, d_model) encoder output;
        self_mask: broadcastable to (batch, heads, t, t), usually `causal_mask(t)` (combined with
        a target padding mask if wanted); memory_mask: broadcastable to (batch, heads, t, s),
        usually the source padding mask (batch, 1, 1, s).  Output: (batch, t, d_model).

    Attributes:
        self_attn, cross_attn: `MultiHeadAttention`; set `cross_attn.keep_weights = True` to
        keep the cross-attention weights (batch, heads, t, s) of the last call.

    Example:
        >>> from pmt.graph import Tensor
        >>> layer = TransformerDecoderLayer(32, 4, 64)
        >>> layer(Tensor(np.random.randn(2, 5, 32)), Tensor(np.random.randn(2, 7, 32))).shape
        (2, 5, 32)
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = True, eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout, cross=True)
        self.ff = PositionwiseFeedForward(d_model, d_ff, dropout, activation)
        self.norm1, self.norm2, self.norm3 = (LayerNorm(d_model, eps) for _ in range(3))
        self.drop1, self.drop2, self.drop3 = (Dropout(dropout) for _ in range(3))

    def forward(self, y, memory, self_mask=None, memory_mask=None):
        if self.norm_first:
            y = y + self.drop1(self.self_attn(self.norm1(y), mask=self_mask))
            y = y + self.drop2(self.cross_attn(self.norm2(y), memory, mask=memory_mask))
            return y + self.drop3(self.ff(self.norm3(y)))
        y = self.norm1(y + self.drop1(self.self_attn(y, mask=self_mask)))
        y = self.norm2(y + self.drop2(self.cross_attn(y, memory, mask=memory_mask)))
        return self.norm3(y + self.drop3(self.ff(y)))

    def extra_repr(self):
        return f"norm_first={self.norm_first}"


class TransformerDecoder(Module):
    """A stack of `n_layers` decoder layers (plus a final LayerNorm when pre-LN).

    Shape:
        y: (batch, t, d_model), memory: (batch, s, d_model) -> (batch, t, d_model)

    Example:
        >>> from pmt.graph import Tensor
        >>> dec = TransformerDecoder(2, 32, 4, 64)
        >>> dec(Tensor(np.random.randn(2, 5, 32)), Tensor(np.random.randn(2, 7, 32))).shape
        (2, 5, 32)
    """

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = True, eps: float = 1e-5):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"TransformerDecoder: n_layers must be >= 1, got {n_layers}")
        self.layers = ModuleList([
            TransformerDecoderLayer(d_model, n_heads, d_ff, dropout, activation, norm_first, eps)
            for _ in range(n_layers)])
        self.norm = LayerNorm(d_model, eps) if norm_first else None

    def forward(self, y, memory, self_mask=None, memory_mask=None):
        for layer in self.layers:
            y = layer(y, memory, self_mask=self_mask, memory_mask=memory_mask)
        return self.norm(y) if self.norm is not None else y
