"""word2vec models assembled from layers, for the `pmt.mlp` / `pmt.core` training loop.

* `cbow_softmax(V, dim)`: CBOW with a full softmax over the vocabulary, as the original
  project built it: Embedding -> AxisMean -> Dense(V), trained with
  `CategoricalCrossEntropy` on the centre word.  Cost O(V) per example: fine for toy
  vocabularies, hopeless for 50,000 words (that is what negative sampling is for).
* `NegativeSamplingModel(V, dim, mode)`: skip-gram (one input word) or CBOW (the mean of
  several) scored against the true word and K negatives with `AxisDot`, trained with
  `BinaryCrossEntropy` from logits (labels 1 for the true word, 0 for negatives).  It follows
  the Trainer protocol (`train_step`, `eval_step`, `parameters`, `state_dict`, ...).

Both use sparse `Embedding` gradients, so an optimizer updates only the touched rows.
"""
from __future__ import annotations

import numpy as np

from pmt.mlp import Dense, Sequential

from .layers import AxisDot, AxisMean, Embedding


def cbow_softmax(vocab_size: int, dim: int, context: int, rng=None) -> Sequential:
    """CBOW with a full softmax: ids (batch, context) -> logits (batch, vocab_size).

    Example:
        >>> model = cbow_softmax(50, 8, context=4)
        >>> model.forward(np.zeros((2, 4))).shape
        (2, 50)
    """
    return Sequential([Embedding(vocab_size, dim, rng=rng, name="embedding"), AxisMean(0), Dense(vocab_size)],
                      input_shape=(context,), name="cbow_softmax")


class NegativeSamplingModel:
    """Skip-gram or CBOW with negative sampling, made of Embedding, AxisMean and AxisDot layers.

    Batch: `(inputs, outputs, labels)`:
        inputs:  (batch, C) int ids: C = 1 (skip-gram: the context word) or the window (CBOW).
        outputs: (batch, 1 + K) int ids: the true word, then K negatives.
        labels:  (batch, 1 + K) floats: 1 for the true word, 0 for the negatives.

    Forward: u = mean_c W_in[inputs]  (batch, D);  s = u · W_out[outputs]  (batch, 1 + K) logits.

    Args:
        vocab_size: V.
        dim: D.
        rng: generator for W_in's initialisation (W_out starts at zero, as in word2vec.c).

    Example:
        >>> from pmt.word2vec import BinaryCrossEntropy
        >>> m = NegativeSamplingModel(100, 16)
        >>> ids = np.array([[3], [7]])                        # skip-gram: one input word per example
        >>> outs = np.array([[5, 1, 2], [9, 4, 0]])           # the true word, then K = 2 negatives
        >>> labels = np.array([[1, 0, 0], [1, 0, 0]], np.float32)
        >>> value, scores = m.train_step((ids, outs, labels), BinaryCrossEntropy())
        >>> scores.shape, round(float(value), 4)              # W_out starts at 0: every logit is 0
        ((2, 3), 0.6931)
    """

    def __init__(self, vocab_size: int, dim: int, rng=None, dtype=np.float32):
        self.embed_in = Embedding(vocab_size, dim, init="uniform", rng=rng, name="W_in", dtype=dtype)
        self.embed_out = Embedding(vocab_size, dim, init="zeros", name="W_out", dtype=dtype)
        self.mean = AxisMean(0, dtype=dtype)
        self.dot = AxisDot(dtype=dtype)
        self.embed_in.build((1,))
        self.embed_out.build((1,))
        self.training = True

    def forward(self, inputs, outputs) -> np.ndarray:
        """Logits (batch, 1 + K)."""
        inputs, outputs = np.asarray(inputs), np.asarray(outputs)
        if inputs.ndim != 2 or outputs.ndim != 2 or len(inputs) != len(outputs):
            raise ValueError(f"NegativeSamplingModel: inputs must be (batch, C) and outputs (batch, 1 + K) "
                             f"with the same batch, got {inputs.shape} and {outputs.shape}")
        u = self.mean.forward(self.embed_in.forward(inputs))           # (B, D)
        v = self.embed_out.forward(outputs)                             # (B, 1+K, D)
        return self.dot.forward(u[:, None, :], v)                       # (B, 1+K)

    def backward(self, ds):
        """Chain rule: ds -> (du, dV) -> dW_out rows, then du -> each context row -> dW_in rows."""
        du, dv = self.dot.backward(ds)                                  # (B, 1, D), (B, 1+K, D)
        self.embed_out.backward(dv)
        self.embed_in.backward(self.mean.backward(du[:, 0, :]))

    def train_step(self, batch, loss):
        inputs, outputs, labels = self._split(batch)
        scores = self.forward(inputs, outputs)
        value = loss.forward(scores, labels)
        self.backward(loss.backward())
        return value, scores

    def eval_step(self, batch, loss):
        inputs, outputs, labels = self._split(batch)
        scores = self.forward(inputs, outputs)
        return loss.forward(scores, labels), scores

    @staticmethod
    def _split(batch):
        if not isinstance(batch, (tuple, list)) or len(batch) != 3:
            raise ValueError("NegativeSamplingModel: a batch is (inputs, outputs, labels)")
        return batch

    def parameters(self):
        return self.embed_in.parameters() + self.embed_out.parameters()

    def train(self, mode: bool = True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self) -> dict:
        return {"W_in": self.embed_in.weight.data, "W_out": self.embed_out.weight.data}

    def load_state_dict(self, d: dict):
        for key, p in (("W_in", self.embed_in.weight), ("W_out", self.embed_out.weight)):
            if key not in d or np.shape(d[key]) != p.data.shape:
                raise ValueError(f"NegativeSamplingModel: state dict needs {key} of shape {p.data.shape}")
            p.data[...] = d[key]

    @property
    def vectors(self) -> np.ndarray:
        """(V, D) the input vectors (the word vectors)."""
        return self.embed_in.weight.data
