"""The Transformer's own small modules: position-wise feed-forward, positional encodings, and the
Xavier initialisation of its projections.  Layer norm, linear maps, embeddings and dropout are
`pmt.graph`'s (one home per op); these modules compose them.

    PositionwiseFeedForward:   FFN(x) = act(x W1 + b1) W2 + b2  applied to every position alike
    SinusoidalPositionalEncoding:  PE[t, 2i] = sin(t / 10000^(2i/d)),  PE[t, 2i+1] = cos(same)
    LearnedPositionalEncoding:     PE = a trained (max_len, d) table

Projections are initialised Xavier-uniform, U(+-sqrt(6 / (fan_in + fan_out))), as in the paper's
reference implementation; biases start at zero.
"""
from __future__ import annotations

import numpy as np
from pmt.core.seeding import get_rng
from pmt.graph import Dropout, Linear, Module, Parameter
from pmt.graph.tensor import Tensor


def xavier_linear(d_in: int, d_out: int, blocks: int = 1, bias: bool = True) -> Linear:
    """A `pmt.graph.Linear(d_in, d_out)` with Xavier-uniform weights and zero bias.

    `blocks > 1` treats the output as `blocks` side-by-side projections of d_out/blocks units
    (a fused Q|K|V projection) and draws from U(+-sqrt(6 / (d_in + d_out/blocks))), each
    block's fan-out, so that the fused layer starts exactly like separate ones would.

    Example:
        >>> xavier_linear(16, 48, blocks=3).weight.shape
        (16, 48)
    """
    if blocks < 1 or d_out % blocks:
        raise ValueError(f"xavier_linear: d_out={d_out} must split into blocks={blocks} equal parts")
    lin = Linear(d_in, d_out, bias=bias, init="glorot")        # U(+-sqrt(6 / (d_in + d_out))), bias 0
    if blocks > 1:
        limit = np.sqrt(6.0 / (d_in + d_out // blocks))
        lin.weight.data[...] = get_rng().uniform(-limit, limit, lin.weight.shape)
    return lin


class PositionwiseFeedForward(Module):
    """FFN(x) = act(x W1 + b1) W2 + b2, the same two-layer MLP at every position.

    Args:
        d_model: input and output size.
        d_ff: hidden size (4 * d_model in the paper).
        dropout: dropout on the hidden activations (the paper drops only residuals; PyTorch
            drops here too; 0 disables).
        activation: "relu" (the paper) or "gelu" (BERT/GPT).

    Shape:
        x: (batch, seq, d_model) -> (batch, seq, d_model)

    Example:
        >>> ff = PositionwiseFeedForward(16, 64)
        >>> ff(Tensor(np.random.randn(2, 5, 16))).shape
        (2, 5, 16)
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"PositionwiseFeedForward: activation must be 'relu' or 'gelu', got {activation!r}")
        self.activation = activation
        self.linear1 = xavier_linear(d_model, d_ff)
        self.linear2 = xavier_linear(d_ff, d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x):
        h = self.linear1(x)                                        # (B, T, d_ff)
        h = h.relu() if self.activation == "relu" else h.gelu()
        return self.linear2(self.dropout(h))                       # (B, T, d_model)

    def extra_repr(self):
        return f"activation={self.activation}"


def sinusoidal_table(max_len: int, d_model: int) -> np.ndarray:
    """(max_len, d_model) float32 table: PE[t, 2i] = sin(t ω_i), PE[t, 2i+1] = cos(t ω_i), ω_i = 10000^(-2i/d).

    Example:
        >>> sinusoidal_table(4, 6)[0]
        array([0., 1., 0., 1., 0., 1.], dtype=float32)
    """
    if max_len < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"sinusoidal_table: need max_len >= 1 and an even d_model >= 2, got "
                         f"{max_len}, {d_model}")
    t = np.arange(max_len)[:, None]                                 # (T, 1)
    omega = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)        # (d/2,)
    pe = np.empty((max_len, d_model))
    pe[:, 0::2] = np.sin(t * omega)
    pe[:, 1::2] = np.cos(t * omega)
    return pe.astype(np.float32)


class SinusoidalPositionalEncoding(Module):
    """Add the fixed sinusoidal position table: x[:, t] + PE[offset + t].  No parameters.

    Args:
        d_model: feature size (even).
        max_len: longest sequence supported.

    Shape:
        x: (batch, seq, d_model) -> (batch, seq, d_model)

    Example:
        >>> pe = SinusoidalPositionalEncoding(16, max_len=50)
        >>> pe(Tensor(np.zeros((2, 5, 16)))).shape
        (2, 5, 16)
    """

    def __init__(self, d_model: int, max_len: int = 512):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.table = sinusoidal_table(max_len, d_model)             # a constant, not a Parameter

    def forward(self, x, offset: int = 0):
        t = x.shape[1]
        if offset + t > self.max_len:
            raise ValueError(f"SinusoidalPositionalEncoding: sequence of length {offset + t} exceeds "
                             f"max_len={self.max_len}")
        return x + self.table[offset:offset + t].astype(x.dtype, copy=False)

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEncoding(Module):
    """Add a trained position table: x[:, t] + P[offset + t].

    Args:
        d_model: feature size.
        max_len: number of positions (rows of P).
        std: initial values are N(0, std^2).

    Shape:
        x: (batch, seq, d_model) -> (batch, seq, d_model)

    Attributes:
        weight: (max_len, d_model) Parameter.

    Example:
        >>> pe = LearnedPositionalEncoding(16, max_len=64)
        >>> pe(Tensor(np.zeros((2, 5, 16)))).shape
        (2, 5, 16)
    """

    def __init__(self, d_model: int, max_len: int = 512, std: float = 0.02):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.weight = Parameter(get_rng().normal(0.0, std, (max_len, d_model)), name="weight")

    def forward(self, x, offset: int = 0):
        t = x.shape[1]
        if offset + t > self.max_len:
            raise ValueError(f"LearnedPositionalEncoding: sequence of length {offset + t} exceeds "
                             f"max_len={self.max_len}")
        return add_rows(x, self.weight, offset)

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}"


def add_rows(x, table, offset: int = 0):
    """x + table[offset:offset+T] broadcast over the batch, as one graph op.

    Args:
        x: Tensor (batch, T, d).  table: Tensor (max_len, d).

    The backward sums the gradient over the batch straight into a (max_len, d) array
    (dL/dtable[offset+t] = Σ_b dL/dy[b, t]), instead of a slice op followed by a broadcast add.
    """
    t = x.shape[1]
    y = x.data + table.data[offset:offset + t]

    def backward(g):                                                # g: (B, T, d)
        dtable = np.zeros_like(table.data)
        dtable[offset:offset + t] = g.sum(axis=0)
        return g, dtable

    return Tensor.from_op(y, (x, table), backward, "add_positions")
