"""The Transformer encoder: a stack of (self-attention, feed-forward) blocks with residuals.

Pre-LN (default; Xiong et al. 2020 — trains without learning-rate warm-up):
    x = x + Dropout(SelfAttn(LN(x)));   x = x + Dropout(FFN(LN(x)));   final LN after the stack
Post-LN (the 2017 paper):
    x = LN(x + Dropout(SelfAttn(x)));   x = LN(x + Dropout(FFN(x)))
"""
from __future__ import annotations

from pmt.graph import Dropout, LayerNorm, Module, ModuleList

from .attention import MultiHeadAttention
from .layers import PositionwiseFeedForward


class TransformerEncoderLayer(Module):
    """One encoder block: multi-head self-attention then a position-wise feed-forward network.

    Args:
        d_model: model width.  n_heads: attention heads.  d_ff: feed-forward hidden size.
        dropout: on residual branches, attention weights and the FFN hidden layer.
        activation: "relu" or "gelu".
        norm_first: True for pre-LN (default), False for post-LN.
        eps: layer-norm epsilon.

    Shape:
        x: (batch, seq, d_model); mask: broadcastable to (batch, heads, seq, seq), True = attend
        (usually a padding mask (batch, 1, 1, seq)); output: (batch, seq, d_model).

    Example:
        >>> from pmt.graph import Tensor
        >>> layer = TransformerEncoderLayer(32, 4, 64)
        >>> layer(Tensor(np.random.randn(2, 7, 32))).shape
        (2, 7, 32)
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = True, eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.ff = PositionwiseFeedForward(d_model, d_ff, dropout, activation)
        self.norm1, self.norm2 = LayerNorm(d_model, eps), LayerNorm(d_model, eps)
        self.drop1, self.drop2 = Dropout(dropout), Dropout(dropout)

    def forward(self, x, mask=None):
        if self.norm_first:
            x = x + self.drop1(self.self_attn(self.norm1(x), mask=mask))
            return x + self.drop2(self.ff(self.norm2(x)))
        x = self.norm1(x + self.drop1(self.self_attn(x, mask=mask)))
        return self.norm2(x + self.drop2(self.ff(x)))

    def extra_repr(self):
        return f"norm_first={self.norm_first}"


class TransformerEncoder(Module):
    """A stack of `n_layers` encoder layers (plus a final LayerNorm when pre-LN).

    Args:
        n_layers: number of blocks; the other arguments go to every `TransformerEncoderLayer`.

    Shape:
        x: (batch, seq, d_model) -> (batch, seq, d_model)

    Attributes:
        layers: `ModuleList` of the blocks.

    Example:
        >>> from pmt.graph import Tensor
        >>> enc = TransformerEncoder(2, 32, 4, 64)
        >>> enc(Tensor(np.random.randn(2, 7, 32))).shape
        (2, 7, 32)
    """

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = True, eps: float = 1e-5):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"TransformerEncoder: n_layers must be >= 1, got {n_layers}")
        self.layers = ModuleList([
            TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation, norm_first, eps)
            for _ in range(n_layers)])
        self.norm = LayerNorm(d_model, eps) if norm_first else None

    def forward(self, x, mask=None):
        return self.layer_states(x, mask)[-1]

    def layer_states(self, x, mask=None) -> list:
        """The output of every block, n_layers tensors of (batch, seq, d_model); the last is `forward`'s.

        Pre-LN: the blocks' outputs are the residual stream, unnormalised; only the last goes
        through the final LayerNorm (as `forward` returns it).
        """
        states = []
        for layer in self.layers:
            x = layer(x, mask=mask)
            states.append(x)
        if self.norm is not None:
            states[-1] = self.norm(x)
        return states
