"""BERT's body: token, segment and position embeddings, then a Transformer encoder.

    x = E_tok[ids] + E_seg[segments] + P[0:seq]     (batch, seq, d_model)
    h = Encoder(x, padding mask)                    (batch, seq, d_model)

Three models share it, and with it their parameter names (`tok_emb`, `seg_emb`, `pos`,
`encoder.*`): the masked language model that pretrains it (`pretrain.MaskedLM`), the QQP
cross-encoder (`qqp.PairClassifier`) and the NER tagger's pretrained view of a sentence
(`ner.NERTagger` with a `pretrained` config).  The first two subclass it, so the names sit at
the top of their state dicts and a pretrained encoder moves into a classifier key by key
(`pretrain.transfer.load_pretrained`); the tagger holds one as its `pretrained` member.
"""
from __future__ import annotations

import numpy as np

from pmt.graph import Embedding, Module

from .attention_kernel import padding_mask
from .encoder import TransformerEncoder
from .layers import LearnedPositionalEncoding

__all__ = ["TextEncoder"]


class TextEncoder(Module):
    """Token + segment + learned position embeddings and a pre-LN Transformer encoder.

    Args:
        vocab_size, d_model, n_heads, d_ff, n_layers: the shape.
        max_len: rows of the position table (the longest sequence it reads).
        dropout: inside the encoder layers.  pad_id: the token id that marks padding.

    Shape:
        ids, segments: int (batch, seq), seq <= max_len;  output: h (batch, seq, d_model).
        Padding keys are masked; a row that is all padding gives zeros, never NaN.

    Example:
        >>> enc = TextEncoder(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=8)
        >>> enc(np.array([[2, 7, 3, 0]]), np.zeros((1, 4), int)).shape
        (1, 4, 16)
    """

    def __init__(self, vocab_size: int, d_model: int, n_heads: int, d_ff: int, n_layers: int, max_len: int,
                 dropout: float = 0.0, pad_id: int = 0):
        super().__init__()
        self.pad_id = pad_id
        self.tok_emb = Embedding(vocab_size, d_model, std=d_model ** -0.5)
        self.seg_emb = Embedding(2, d_model, std=d_model ** -0.5)
        self.pos = LearnedPositionalEncoding(d_model, max_len)
        self.encoder = TransformerEncoder(n_layers, d_model, n_heads, d_ff, dropout)

    def embed(self, ids, segments):
        """The encoder's input x = E_tok[ids] + E_seg[segments] + P (batch, seq, d_model)."""
        ids, segments = np.asarray(ids), np.asarray(segments)
        if ids.ndim != 2 or ids.shape != segments.shape:
            raise ValueError(f"{type(self).__name__}: ids and segments must both be (batch, seq), got "
                             f"{ids.shape} and {segments.shape}")
        return self.pos(self.tok_emb(ids) + self.seg_emb(segments))

    def attention_mask(self, ids):
        """The padding mask of `ids` (batch, seq) for the encoder, or None when nothing is padding."""
        real = np.asarray(ids) != self.pad_id                          # (B, T)
        return None if real.all() else padding_mask(real)              # packed segments have no padding

    def encode(self, ids, segments):
        """Hidden states h (batch, seq, d_model) of every position."""
        x = self.embed(ids, segments)                                  # (B, T, d)
        return self.encoder(x, mask=self.attention_mask(ids))          # (B, T, d)

    def encode_layers(self, ids, segments) -> list:
        """Every encoder block's output, n_layers tensors of (batch, seq, d_model); the last is `encode`'s."""
        x = self.embed(ids, segments)
        return self.encoder.layer_states(x, mask=self.attention_mask(ids))

    def forward(self, ids, segments):
        return self.encode(ids, segments)
