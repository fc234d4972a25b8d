"""ELECTRA's replaced-token detection (Clark et al., 2020): learn from every token, not 15 %.

A masked LM learns from the 15 % of positions it must fill in; the other 85 % cost a forward and
backward pass and teach nothing directly.  ELECTRA trains two encoders together:

    generator      a small masked LM: fills the masked positions of the segment
    corrupted      the original segment with each chosen position replaced by a token *sampled*
                   from the generator's distribution there (no gradient flows through the sample)
    discriminator  the encoder we keep: for every position, was this token replaced?

    loss = mean over masked tokens of -log p_gen(original)                      (generator MLM)
         + λ · mean over real tokens of BCE(d(h_t), [corrupted_t != original_t])   (detection)

A sample that happens to equal the original counts as *not replaced*: the question is whether
the token fits, not whether the generator touched it.  The generator must be weaker than the
discriminator (a perfect one would leave nothing to detect; the paper finds 1/4 to 1/2 of the
discriminator's size best); here it is `gen_layers` encoder layers of the discriminator's width,
so both read the same embedding tables (token, segment, position), which the paper also shares,
and the generator's output projection is tied to the shared token table.  λ = 50 (the paper's)
makes up for the detection loss being a binary one, much smaller than a 16,000-way one.

After pretraining only the discriminator's body is used: its parameters have the names of
`MaskedLM`'s body (`tok_emb`, `seg_emb`, `pos`, `encoder.*`), so fine-tuning loads it as it loads
a masked LM's, and skips `generator.*` and `rtd_head.*`.  `forward` returns the generator's
guesses at masked positions, so `pmt-pretrain fill` and the held-out masked-token accuracy work on
an ELECTRA run too (they describe the small generator, not the discriminator).

Sampling is by the inverse CDF at one uniform number per position that comes *with the batch*
(`PretrainBatches(..., noise=True)`): a batch stays a pure function of (seed, step), so a resumed
run and every rank under MPI sample the same tokens.
"""
from __future__ import annotations

import numpy as np

from pmt.graph import GELU, Linear, Module, binary_cross_entropy_with_logits

from ..encoder import TransformerEncoder
from ..tokenizer import SPECIAL_TOKENS
from .model import MaskedLM, MaskedLMConfig, MLMHead

__all__ = ["Electra", "Generator", "RTDHead", "sample_replacements", "rtd_accuracy", "rtd_f1", "rtd_loss",
           "rtd_baseline",
           "build_pretraining_model"]


def sample_replacements(logits: np.ndarray, u: np.ndarray, n_special: int = len(SPECIAL_TOKENS),
                        block: int = 128) -> np.ndarray:
    """Draw one token per row from softmax(logits), by the inverse CDF at the uniform numbers u.

    Token j is returned when F(j-1) <= u·F(V-1) < F(j), with F the running sum of the
    unnormalised probabilities p = exp(z - max z); special tokens get probability 0 (the
    generator is never trained to produce them).  A running sum over all V = 16,000 columns
    costs more than the exponentials, so it goes in two levels: sum p over blocks of `block`
    columns, find the block by the inverse CDF of the block sums, then the token inside it by
    the running sum of that one block.

    Args:
        logits: (M, V) generator scores.  u: (M,) uniform numbers in [0, 1).
        n_special: ids below it are never drawn.  block: columns per block.

    Returns:
        (M,) int64 token ids in [n_special, V).

    Example:
        >>> sample_replacements(np.log(np.array([[1.0, 1, 1, 1, 1, 1, 1, 2, 2]])), np.array([0.9]))
        array([8])
    """
    logits = np.asarray(logits)
    M, V = logits.shape
    nb = -(-V // block)
    p = np.zeros((M, nb * block), dtype=logits.dtype)                 # padded to whole blocks
    np.subtract(logits, logits.max(axis=1, keepdims=True), out=p[:, :V])
    np.exp(p[:, :V], out=p[:, :V])                                    # (M, V) unnormalised
    p[:, :n_special] = 0.0
    p = p.reshape(M, nb, block)
    sums = np.cumsum(p.sum(axis=2, dtype=np.float64), axis=1)         # (M, nb) F at each block's end
    target = np.asarray(u, dtype=np.float64) * sums[:, -1]            # (M,)
    k = np.minimum(np.count_nonzero(sums <= target[:, None], axis=1), nb - 1)   # the block
    rows = np.arange(M)
    rest = target - np.where(k > 0, sums[rows, k - 1], 0.0)           # how far into block k
    inside = p[rows, k]                                               # (M, block)
    j = np.count_nonzero(np.cumsum(inside, axis=1, dtype=np.float64) <= rest[:, None], axis=1)
    # Rounding (block sum vs. running sum) may push j past the block's last possible token.
    last = block - 1 - np.argmax(inside[:, ::-1] > 0, axis=1)
    return (k * block + np.minimum(j, last)).astype(np.int64)


class Generator(Module):
    """The small masked LM: `n_layers` encoder layers on the shared input x, then an MLMHead.

    Shape:
        x: (B, T, d) the shared embeddings; chosen: bool (B, T); table: the (V, d) token table.
        output: (M, V) logits at the M chosen positions.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, n_layers: int, vocab_size: int):
        super().__init__()
        self.encoder = TransformerEncoder(n_layers, d_model, n_heads, d_ff, 0.0)
        self.mlm_head = MLMHead(d_model, vocab_size)

    def forward(self, x, chosen, table, mask=None):
        h = self.encoder(x, mask=mask)                                # (B, T, d)
        return self.mlm_head(h[chosen], table)                       # (M, V)


class RTDHead(Module):
    """Per-position replaced-token logit: d(h) = w · GELU(h W + c) + b.

    Shape:
        h: (B, T, d);  output: (B, T) logits (> 0: "replaced").
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.dense = Linear(d_model, d_model, init="glorot")
        self.act = GELU()
        self.out = Linear(d_model, 1, init="glorot")

    def forward(self, h):
        B, T, _ = h.shape
        return self.out(self.act(self.dense(h))).reshape(B, T)       # (B, T)


class Electra(MaskedLM):
    """The discriminator body (`MaskedLM`'s names) + a `Generator` and an `RTDHead`.

    Args:
        config: a `MaskedLMConfig` with objective "electra" (`gen_layers`, `rtd_weight`).

    Shape:
        forward(ids, segments, chosen): the generator's logits (M, V) at the chosen positions.
        A training batch is `(inputs, segments, noise, labels)`: the masked inputs and labels of
        `masking.mask_tokens`, and noise (B, T) uniform numbers for sampling.

    Trainer protocol: as `MaskedLM`, with outputs per segment (B, 9): masked tokens, generator
    hits, generator NLL sum (so `masked_accuracy` / `masked_perplexity` read the generator), then
    real tokens, correct detections, replaced tokens, replaced ones detected, tokens called
    replaced, detection loss sum (`rtd_accuracy`, `rtd_f1`, `rtd_loss`).

    Example:
        >>> cfg = MaskedLMConfig(vocab_size=100, d_model=16, n_heads=2, d_ff=32, n_layers=2, objective="electra")
        >>> model = Electra(cfg)
        >>> ids = np.array([[2, 7, 4, 9, 3]])
        >>> model(ids, np.zeros_like(ids), ids == 4).shape
        (1, 100)
    """

    def build_heads(self, c: MaskedLMConfig):
        self.generator = Generator(c.d_model, c.n_heads, c.d_ff, c.gen_layers, c.vocab_size)
        self.rtd_head = RTDHead(c.d_model)

    @property
    def output_head(self) -> MLMHead:
        return self.generator.mlm_head

    def forward(self, ids, segments, chosen):
        x = self.embed(ids, segments)                                 # (B, T, d), shared tables
        return self.generator(x, np.asarray(chosen, dtype=bool), self.tok_emb.weight, self.attention_mask(ids))

    def _loss_and_stats(self, batch, loss):
        inputs, segments, noise, labels = batch
        gen_loss, logits, chosen, gen_stats = self.masked_lm_terms(inputs, segments, labels, loss)   # generator
        # The corrupted segment: originals everywhere, generator samples at the chosen positions.
        original = np.where(chosen, labels, inputs)                   # (B, T)
        corrupted = original.copy()
        corrupted[chosen] = sample_replacements(logits.data, noise[chosen])    # numpy: no gradient
        replaced = corrupted != original                              # (B, T) the detection targets
        real = original != self.pad_id
        d = self.rtd_head(self.encode(corrupted, segments))           # (B, T) logits
        bce = binary_cross_entropy_with_logits(d, replaced.astype(d.dtype), weight=real, reduction="none")   # (B, T)
        value = gen_loss + bce.sum() * (self.config.rtd_weight / max(int(real.sum()), 1))
        called = d.data > 0
        rtd_stats = np.stack([real.sum(axis=1), ((called == replaced) & real).sum(axis=1), replaced.sum(axis=1),
                              (called & replaced).sum(axis=1), (called & real).sum(axis=1),
                              bce.data.sum(axis=1)], axis=1)                       # (B, 6)
        return value, np.concatenate([gen_stats, rtd_stats], axis=1).astype(np.float64)   # (B, 9)

    def loss_weight(self, batch) -> float:
        """Real tokens: what the (dominant) detection term is a mean over.

        Under MPI each rank's share is weighted by it; the generator's term is a mean over each
        share's masked tokens, so the whole-batch loss is matched exactly only for its detection
        part (packed segments give every share the same number of tokens; the masked counts of
        two shares differ by a few per cent).
        """
        return float(np.count_nonzero(np.asarray(batch[0]) != self.pad_id))


def rtd_accuracy(stats, targets=None) -> float:
    """Share of real tokens the discriminator classifies right, from `Electra` outputs (batch, 9)."""
    stats = np.asarray(stats)
    return float(stats[:, 4].sum() / max(stats[:, 3].sum(), 1))


def rtd_f1(stats, targets=None) -> float:
    """F1 of the "replaced" class (0 for a discriminator that never calls one), from (batch, 9)."""
    stats = np.asarray(stats)
    return float(2 * stats[:, 6].sum() / max(stats[:, 5].sum() + stats[:, 7].sum(), 1))


def rtd_loss(stats, targets=None) -> float:
    """Mean detection cross-entropy per real token (nats), from (batch, 9).

    Its baseline is the entropy of the replaced share r, -r log r - (1-r) log(1-r): what a
    discriminator that ignores the tokens (always saying "replaced with probability r") scores.
    """
    stats = np.asarray(stats)
    return float(stats[:, 8].sum() / max(stats[:, 3].sum(), 1))


def rtd_baseline(stats, targets=None) -> float:
    """The entropy of the replaced share (nats): `rtd_loss` of a discriminator blind to context."""
    stats = np.asarray(stats)
    r = stats[:, 5].sum() / max(stats[:, 3].sum(), 1)
    return float(-sum(q * np.log(q) for q in (r, 1 - r) if q > 0))


def build_pretraining_model(config: MaskedLMConfig) -> MaskedLM:
    """The model a config describes: `MaskedLM` (objective "mlm") or `Electra` ("electra")."""
    return Electra(config) if config.objective == "electra" else MaskedLM(config)
