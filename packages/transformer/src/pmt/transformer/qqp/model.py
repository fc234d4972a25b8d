"""The QQP cross-encoder: both questions in one sequence, a Transformer encoder, a 2-way classifier.

    ids      = [CLS] q1 [SEP] q2 [SEP] [PAD]...          (batch, seq)
    x        = E_tok[ids] + E_seg[segments] + P[0:seq]    (batch, seq, d_model)
    h        = Encoder(x, padding mask)                   (batch, seq, d_model)
    pooled   = h[:, 0]  (the [CLS] vector)  or  the mean of h over real tokens
    logits   = W pooled + b                               (batch, 2)

Reading both questions together lets every token of q1 attend to every token of q2, which is
what makes a cross-encoder stronger than encoding the questions separately.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pmt.graph import Tensor, log_softmax, no_grad, sum as tsum

from ..layers import xavier_linear
from ..text_encoder import TextEncoder


@dataclass
class PairClassifierConfig:
    """Hyper-parameters of `PairClassifier` (saved beside its checkpoint as JSON)."""

    vocab_size: int
    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 512
    n_layers: int = 2
    max_len: int = 128
    dropout: float = 0.1
    pooling: str = "cls"          # "cls" or "mean"
    num_classes: int = 2
    pad_id: int = 0

    def to_dict(self):
        return asdict(self)


class PairClassifier(TextEncoder):
    """Cross-encoder for sentence-pair classification (QQP: duplicate or not).

    The body is `TextEncoder` (so a pretrained `MaskedLM` body loads key by key); the head is
    this class's own.

    Args:
        config: a `PairClassifierConfig`.

    Shape:
        ids: int (batch, seq) token ids with `[PAD]` = config.pad_id;
        segments: int (batch, seq), 0 for [CLS] q1 [SEP], 1 for q2 [SEP];
        output: logits (batch, num_classes).

    Example:
        >>> model = PairClassifier(PairClassifierConfig(vocab_size=100, d_model=16, n_heads=2, d_ff=32))
        >>> model(np.array([[2, 7, 3, 9, 3]]), np.array([[0, 0, 0, 1, 1]])).shape
        (1, 2)
    """

    def __init__(self, config: PairClassifierConfig):
        if config.pooling not in ("cls", "mean"):
            raise ValueError(f"PairClassifier: pooling must be 'cls' or 'mean', got {config.pooling!r}")
        c = config
        super().__init__(c.vocab_size, c.d_model, c.n_heads, c.d_ff, c.n_layers, c.max_len, c.dropout, c.pad_id)
        self.config = config
        self.head = xavier_linear(c.d_model, c.num_classes)

    def forward(self, ids, segments):
        h = self.encode(ids, segments)                                # (B, T, d)
        real = np.asarray(ids) != self.config.pad_id                  # (B, T)
        if self.config.pooling == "cls":
            pooled = h[:, 0]                                          # (B, d)
        else:
            w = (real / np.maximum(real.sum(1, keepdims=True), 1)).astype(h.dtype)[..., None]
            pooled = tsum(h * Tensor(w), axis=1)                      # (B, d)
        return self.head(pooled)                                      # (B, classes)

    def symmetric_log_proba(self, ids, segments, ids_swapped, segments_swapped):
        """log of the mean of the class probabilities of both orders, (batch, classes) ndarray.

        p = (softmax(f(q1, q2)) + softmax(f(q2, q1))) / 2: the prediction no longer depends on
        which question came first.  Its log works as logits: softmax(log p) = p, so cross-entropy
        and argmax read it unchanged.  No graph is recorded (evaluation only).
        """
        with no_grad():
            la = log_softmax(self(ids, segments), axis=-1).data
            lb = log_softmax(self(ids_swapped, segments_swapped), axis=-1).data
        return np.logaddexp(la, lb) - np.log(2.0, dtype=la.dtype)   # log((e^la + e^lb) / 2), stable

    def eval_step(self, batch, loss):
        """As `Module.eval_step`; a batch `(ids, segs, ids_swapped, segs_swapped, labels)` is scored
        on both question orders (see `symmetric_log_proba`)."""
        if len(batch) != 5:
            return super().eval_step(batch, loss)
        *inputs, targets = batch
        out = self.symmetric_log_proba(*inputs)
        with no_grad():
            value = loss(Tensor(out), targets)
        return float(value.data), out

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.config.to_dict().items())
