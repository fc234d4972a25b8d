"""The masked language model: the QQP cross-encoder's body with a head that predicts masked tokens.

    x      = E_tok[ids] + E_seg[segments] + P[0:seq]         (batch, seq, d)   same names as
    h      = Encoder(x)                                      (batch, seq, d)   qqp.PairClassifier
    r      = h[chosen]                                       (M, d)   only the M masked positions
    z      = LayerNorm(GELU(r W + c))                        (M, d)   the head's transform
    logits = z E_tokᵀ + b                                    (M, V)   output tied to the input table

Tied output: the score of token v is the dot product of the transformed hidden vector with v's own
input embedding (Press & Wolf, 2017; BERT does the same).  It saves V·d parameters (4 M of a
d = 256, V = 16 k model) and gives every row of E_tok a dense gradient at every step, instead of
only the rows that happened to occur in the batch.  So E_tok's gradient has two parts, which the
autograd tape adds: SparseRows from the lookup E_tok[ids], and the dense (V, d) matrix
dL/dlogitsᵀ · z from the projection.

Only masked positions are scored: the loss has no term at the other 85 %, so their (seq, V)
logits would be computed and thrown away; gathering the M ≈ 0.15 · batch · seq rows first makes
the largest matmul of the model (d × V per row) about 6.7 times cheaper.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pmt.graph import GELU, LayerNorm, Linear, Module, Parameter, Tensor, no_grad

from ..text_encoder import TextEncoder
from .masking import NOT_MASKED

__all__ = ["MaskedLMConfig", "MaskedLM", "MLMHead", "tied_logits", "masked_accuracy", "masked_perplexity",
           "OBJECTIVES"]

OBJECTIVES = ("mlm", "electra")


@dataclass
class MaskedLMConfig:
    """Hyper-parameters of `MaskedLM` (saved in the run folder's config.json).

    The encoder fields mean what they mean in `qqp.PairClassifierConfig`, so a pretrained
    encoder fits a PairClassifier built with the same values.  Dropout defaults to 0: a run of a
    few passes over the corpus underfits rather than overfits (the "cramming" recipe of Geiping
    and Goldstein, 2022, drops it too), and masks cost time.
    """

    vocab_size: int
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 1024
    n_layers: int = 4
    max_len: int = 128
    dropout: float = 0.0
    pad_id: int = 0
    objective: str = "mlm"        # "mlm", or "electra": replaced-token detection (`electra.Electra`)
    gen_layers: int = 1           # electra only: the generator's encoder layers (same width)
    rtd_weight: float = 50.0      # electra only: λ in loss = generator MLM + λ · detection

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        bad = [f"{k} {v!r}" for k, v in asdict(self).items()
               if k != "objective" and (isinstance(v, bool) or not isinstance(v, (int, float)))]
        if bad:
            raise ValueError(f"{', '.join(bad)} (numbers expected)")

    def to_dict(self):
        return asdict(self)


def tied_logits(z, table, bias):
    """logits = z Eᵀ + b: the output projection whose weight is the (V, d) embedding table E itself.

    Args:
        z: Tensor (M, d).  table: Tensor (V, d), read as stored.  bias: Tensor (V,).

    Returns:
        Tensor (M, V).  Backward, with G = dL/dlogits (M, V):
        dL/dz = G E,  dL/dE = Gᵀ z  (V, d),  dL/db = Σ_rows G.

    Why its own node rather than `pmt.graph.linear(z, E.T, b)`: through the transpose node dL/dE
    would arrive as a transposed (V, d) view, and every later pass over the V·d gradient (adding
    the lookup's sparse rows, clipping, AdamW) would run on a strided array: 5 % of a d128 step
    (docs/pretraining.md).  Gᵀ z is written row-major directly.
    """
    zd, E = z.data, table.data
    y = zd @ E.T                                                   # (M, V)
    y += bias.data

    def backward(g):                                               # g: (M, V)
        return g @ E, g.T @ zd, g.sum(axis=0)

    return Tensor.from_op(y, (z, table, bias), backward, "tied_logits")


class MLMHead(Module):
    """logits = LayerNorm(GELU(r W + c)) Eᵀ + b, with E the (tied) token embedding table.

    Args:
        d_model: width of r.  vocab_size: number of output tokens (rows of E).

    Shape:
        rows: (M, d_model) hidden vectors at masked positions; table: Parameter (vocab, d_model);
        output: (M, vocab) logits.

    Attributes:
        dense (d, d), norm, bias (vocab,): the head's own parameters; E is not one of them.

    Example:
        >>> head = MLMHead(16, 100)
        >>> head(Tensor(np.zeros((5, 16))), Parameter(np.zeros((100, 16)))).shape
        (5, 100)
    """

    def __init__(self, d_model: int, vocab_size: int):
        super().__init__()
        self.dense = Linear(d_model, d_model, init="glorot")
        self.act = GELU()
        self.norm = LayerNorm(d_model)
        self.bias = Parameter(np.zeros(vocab_size), name="bias")

    def forward(self, rows, table):
        z = self.norm(self.act(self.dense(rows)))                  # (M, d)
        return tied_logits(z, table, self.bias)                    # (M, V): z Eᵀ + b


class MaskedLM(TextEncoder):
    """A Transformer encoder pretrained by masked-token prediction (BERT without next-sentence).

    The body (`tok_emb`, `seg_emb`, `pos`, `encoder`; `encode(ids, segments)`) is `TextEncoder`,
    shared with the models fine-tuned from it; the MLM head is this class's own.

    Args:
        config: a `MaskedLMConfig`.

    Shape:
        ids, segments: int (batch, seq); chosen: bool (batch, seq), the M positions to score;
        output: logits (M, vocab_size), rows in row-major order of `chosen`.

    Trainer protocol: a batch is `(inputs, segments, labels)` from `masking.mask_tokens`
    (labels -1 where nothing is predicted); `loss` must accept `reduction="none"`
    (`pmt.graph.cross_entropy`).  The outputs handed to metrics are per-segment sums
    (batch, 3): masked tokens, correct predictions, summed negative log-likelihood, so that
    `masked_accuracy` and `masked_perplexity` are exact over any number of batches.

    Example:
        >>> model = MaskedLM(MaskedLMConfig(vocab_size=100, d_model=16, n_heads=2, d_ff=32, n_layers=1))
        >>> ids = np.array([[2, 7, 4, 9, 3]])
        >>> model(ids, np.zeros_like(ids), ids == 4).shape
        (1, 100)
    """

    def __init__(self, config: MaskedLMConfig):
        c = config
        super().__init__(c.vocab_size, c.d_model, c.n_heads, c.d_ff, c.n_layers, c.max_len, c.dropout, c.pad_id)
        self.config = c
        self.build_heads(c)

    def build_heads(self, c: MaskedLMConfig):
        """The pretraining heads on top of the body (here the MLM head; `Electra` builds its own)."""
        self.mlm_head = MLMHead(c.d_model, c.vocab_size)

    @property
    def output_head(self) -> MLMHead:
        """The MLMHead whose logits `forward` returns (and whose bias `init_output_bias` sets)."""
        return self.mlm_head

    def init_output_bias(self, counts):
        """Start the output bias at the log unigram frequencies: b_v = log((n_v + 1) / Σ (n + 1)).

        An untrained head then predicts the unigram distribution (the best guess without
        context) instead of a uniform one, so the first thousand steps are not spent moving V
        biases by a few units at Adam's small step size, and all learning goes into context.

        Args:
            counts: (vocab_size,) how often each token occurs in the training text.
        """
        counts = np.asarray(counts, dtype=np.float64)
        if counts.shape != (self.config.vocab_size,):
            raise ValueError(f"init_output_bias: counts must have shape ({self.config.vocab_size},), "
                             f"got {counts.shape}")
        self.output_head.bias.data[...] = np.log((counts + 1) / (counts + 1).sum())

    def forward(self, ids, segments, chosen):
        h = self.encode(ids, segments)                                 # (B, T, d)
        return self.mlm_head(h[np.asarray(chosen, dtype=bool)], self.tok_emb.weight)   # (M, V)

    # ------------------------------------------------------------------ Trainer protocol
    def masked_lm_terms(self, ids, segments, labels, loss):
        """The masked-LM loss of `forward`'s logits, and what metrics need of it.

        Returns:
            value: Tensor, mean -log p(target) over the masked tokens (0 if none is masked);
            logits: Tensor (M, V); chosen: bool (B, T);
            stats: (B, 3) per segment: masked tokens, correct argmax guesses, summed NLL.
        """
        chosen = labels != NOT_MASKED                                  # (B, T)
        targets = labels[chosen]                                       # (M,)
        logits = self(ids, segments, chosen)                           # (M, V)
        per_token = loss(logits, targets, reduction="none")            # (M,) -log p(target)
        value = per_token.sum() * (1.0 / max(len(targets), 1))         # mean; 0 if nothing is masked
        row = np.nonzero(chosen)[0]                                    # (M,) segment of each target
        b = len(ids)
        stats = np.stack([np.bincount(row, minlength=b),
                          np.bincount(row, weights=logits.data.argmax(axis=1) == targets, minlength=b),
                          np.bincount(row, weights=per_token.data, minlength=b)], axis=1)   # (B, 3)
        return value, logits, chosen, stats

    def _loss_and_stats(self, batch, loss):
        value, _, _, stats = self.masked_lm_terms(*batch, loss)
        return value, stats

    def loss_weight(self, batch) -> float:
        """The number of masked tokens: what the loss is a mean over (weights ranks' shares under MPI)."""
        return float(np.count_nonzero(batch[2] != NOT_MASKED))

    def train_step(self, batch, loss):
        """Forward on the masked batch, mean cross-entropy over masked tokens, backward."""
        value, stats = self._loss_and_stats(batch, loss)
        value.backward()
        return float(value.data), stats

    def eval_step(self, batch, loss):
        """As `train_step` without gradients."""
        with no_grad():
            value, stats = self._loss_and_stats(batch, loss)
        return float(value.data), stats

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.config.to_dict().items())


def masked_accuracy(stats, targets=None) -> float:
    """Share of masked tokens predicted exactly (argmax), from `MaskedLM` outputs (batch, 3)."""
    stats = np.asarray(stats)
    return float(stats[:, 1].sum() / max(stats[:, 0].sum(), 1))


def masked_perplexity(stats, targets=None) -> float:
    """exp(mean negative log-likelihood of the masked tokens), from `MaskedLM` outputs (batch, 3)."""
    stats = np.asarray(stats)
    return float(np.exp(stats[:, 2].sum() / max(stats[:, 0].sum(), 1)))
