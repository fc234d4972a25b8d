"""The encoder-decoder Transformer of "Attention Is All You Need" (Vaswani et al., 2017),
with greedy and beam-search decoding.

    memory = Encoder(PE(E_src[src] · sqrt(d)), source padding mask)        (B, S, d)
    h      = Decoder(PE(E_tgt[tgt_in] · sqrt(d)), memory, causal mask)      (B, T, d)
    logits = h W_out + b  (or h E_tgt^T when the output projection is tied)  (B, T, V_tgt)

Training uses teacher forcing: `tgt_in` is the target shifted right behind a BOS token and the
loss compares `logits` with the unshifted target (EOS-terminated, padded with `pad_id`, which
the loss ignores).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from pmt.core import numerics
from pmt.graph import Dropout, Embedding, Module, cross_entropy, no_grad
from pmt.graph.tensor import Tensor

from .attention_kernel import causal_mask, padding_mask
from .decoder import TransformerDecoder
from .encoder import TransformerEncoder
from .layers import LearnedPositionalEncoding, SinusoidalPositionalEncoding, xavier_linear


@dataclass
class TransformerConfig:
    """Hyper-parameters of `Transformer` (JSON-able through `to_dict`, saved with checkpoints).

    Attributes:
        src_vocab, tgt_vocab: vocabulary sizes (ids 0..V-1).
        d_model, n_heads, d_ff: widths (512, 8, 2048 in the paper's base model).
        n_encoder_layers, n_decoder_layers: stack depths (6 and 6 in the paper).
        dropout: residual/attention/FFN dropout (0.1 in the paper).
        max_len: longest source or target sequence.
        pad_id: padding id (masked in attention, ignored by `loss`).
        share_embeddings: one table for source and target (needs src_vocab == tgt_vocab).
        tie_output: output projection = target embedding transposed (no separate W_out).
        norm_first: pre-LN (default) or post-LN blocks.
        positional: "sinusoidal" (the paper) or "learned".
        activation: "relu" or "gelu".
    """

    src_vocab: int
    tgt_vocab: int
    d_model: int = 512
    n_heads: int = 8
    d_ff: int = 2048
    n_encoder_layers: int = 6
    n_decoder_layers: int = 6
    dropout: float = 0.1
    max_len: int = 512
    pad_id: int = 0
    share_embeddings: bool = False
    tie_output: bool = False
    norm_first: bool = True
    positional: str = "sinusoidal"
    activation: str = "relu"

    def to_dict(self):
        return asdict(self)


class Transformer(Module):
    """Encoder-decoder Transformer for sequence-to-sequence tasks.

    Args:
        config: a `TransformerConfig`.  For convenience the config's fields may be given
            instead, as `Transformer(src_vocab, tgt_vocab, d_model=..., ...)`.

    Shape:
        src: int (batch, S); tgt_in: int (batch, T) -> logits (batch, T, tgt_vocab).

    Attributes:
        config: the `TransformerConfig`.
        src_embed, tgt_embed: `pmt.graph.Embedding` tables (tgt_embed is None when shared),
            N(0, 1/d_model), looked up with a sparse gradient and multiplied by sqrt(d_model)
            (`embed_scale`), so the scaled rows have unit RMS like the positional encodings.

    Example:
        >>> model = Transformer(TransformerConfig(20, 20, d_model=32, n_heads=4, d_ff=64, n_encoder_layers=1,
        ...                                       n_decoder_layers=1, max_len=16))
        >>> model(np.array([[3, 4, 5]]), np.array([[1, 5]])).shape
        (1, 2, 20)
    """

    def __init__(self, config: TransformerConfig | int | None = None, tgt_vocab: int | None = None, **kwargs):
        super().__init__()
        if isinstance(config, TransformerConfig):
            if tgt_vocab is not None or kwargs:
                raise TypeError("Transformer: give either a TransformerConfig or its fields, not both")
        else:                                   # the fields: Transformer(src_vocab, tgt_vocab, d_model=...)
            fields = dict(kwargs, **{k: v for k, v in (("src_vocab", config), ("tgt_vocab", tgt_vocab))
                                     if v is not None})
            config = TransformerConfig(**fields)
        c = self.config = config
        if c.share_embeddings and c.src_vocab != c.tgt_vocab:
            raise ValueError(f"Transformer: share_embeddings needs src_vocab == tgt_vocab, got "
                             f"{c.src_vocab} and {c.tgt_vocab}")
        if c.positional not in ("sinusoidal", "learned"):
            raise ValueError(f"Transformer: positional must be 'sinusoidal' or 'learned', got {c.positional!r}")
        self.pad_id, self.tie_output, self.share_embeddings = c.pad_id, c.tie_output, c.share_embeddings
        self.embed_scale = float(np.sqrt(c.d_model))
        std = c.d_model ** -0.5
        self.src_embed = Embedding(c.src_vocab, c.d_model, std=std)
        self.tgt_embed = None if c.share_embeddings else Embedding(c.tgt_vocab, c.d_model, std=std)
        Pos = SinusoidalPositionalEncoding if c.positional == "sinusoidal" else LearnedPositionalEncoding
        self.src_pos, self.tgt_pos = Pos(c.d_model, c.max_len), Pos(c.d_model, c.max_len)
        self.src_drop, self.tgt_drop = Dropout(c.dropout), Dropout(c.dropout)
        self.encoder = TransformerEncoder(c.n_encoder_layers, c.d_model, c.n_heads, c.d_ff, c.dropout,
                                          c.activation, c.norm_first)
        self.decoder = TransformerDecoder(c.n_decoder_layers, c.d_model, c.n_heads, c.d_ff, c.dropout,
                                          c.activation, c.norm_first)
        self.out_proj = None if c.tie_output else xavier_linear(c.d_model, c.tgt_vocab)

    # ------------------------------------------------------------------ the three passes
    def _target_table(self):
        return self.src_embed if self.tgt_embed is None else self.tgt_embed

    def _check_ids(self, ids, what):
        ids = np.asarray(ids)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"Transformer: {what} must be an int array (batch, seq), got "
                             f"{ids.dtype} of shape {ids.shape}")
        return ids

    def encode(self, src):
        """src: int (batch, S) -> (memory Tensor (batch, S, d_model), source mask (batch, 1, 1, S))."""
        src = self._check_ids(src, "src")
        mask = padding_mask(src, self.pad_id)
        x = self.src_drop(self.src_pos(self.src_embed(src) * self.embed_scale))        # (B, S, d)
        return self.encoder(x, mask=mask), mask

    def decode(self, tgt_in, memory, src_mask):
        """tgt_in: int (batch, T), memory (batch, S, d) -> logits Tensor (batch, T, tgt_vocab)."""
        tgt_in = self._check_ids(tgt_in, "tgt_in")
        y = self.tgt_drop(self.tgt_pos(self._target_table()(tgt_in) * self.embed_scale))  # (B, T, d)
        h = self.decoder(y, memory, self_mask=causal_mask(tgt_in.shape[1]), memory_mask=src_mask)
        if self.out_proj is None:
            return h @ self._target_table().weight.T                  # (B, T, V)
        return self.out_proj(h)                                       # (B, T, V)

    def forward(self, src, tgt_in):
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)

    # ------------------------------------------------------------------ Trainer protocol
    def loss(self, logits, targets, label_smoothing: float = 0.0):
        """Mean token cross-entropy, ignoring `pad_id` targets.  logits (B, T, V), targets (B, T)."""
        return cross_entropy(logits, targets, ignore_index=self.pad_id, label_smoothing=label_smoothing)

    def train_step(self, batch, loss=None):
        """batch = (src, tgt_in, tgt_out): forward, loss, backward.  Returns (loss value, logits)."""
        src, tgt_in, tgt_out = batch
        self.train()
        logits = self(src, tgt_in)
        value = (loss or self.loss)(logits, tgt_out)
        value.backward()
        return float(value.item()), logits.data

    def eval_step(self, batch, loss=None):
        """Like `train_step` in eval mode, without gradients."""
        src, tgt_in, tgt_out = batch
        self.eval()
        with no_grad():
            logits = self(src, tgt_in)
            value = (loss or self.loss)(logits, tgt_out)
        return float(value.item()), logits.data

    # ------------------------------------------------------------------ decoding
    def _step_logprobs(self, prefix, memory, src_mask):
        """log p(next token | prefix): (N, V) float, from a full decoder pass over the prefix."""
        return numerics.log_softmax(self.decode(prefix, memory, src_mask).data[:, -1], axis=1)   # (N, V)

    def greedy_decode(self, src, bos_id: int, eos_id: int, max_len: int | None = None) -> np.ndarray:
        """Decode by taking the most likely token at each step.

        Args:
            src: int (batch, S) source ids (padded with pad_id).
            bos_id, eos_id: start and end tokens.
            max_len: most tokens to generate (default S + 10, capped by the model's max_len).

        Returns:
            int (batch, L) generated ids (no BOS), each row ending at its EOS and padded with
            pad_id after it.

        Example:
            >>> model = Transformer(12, 12, d_model=16, n_heads=2, d_ff=32, n_encoder_layers=1, n_decoder_layers=1)
            >>> src = np.array([[3, 4, 5, 2], [6, 7, 2, 0]])          # two sources, EOS = 2, padded with 0
            >>> model.greedy_decode(src, bos_id=1, eos_id=2, max_len=6)  # untrained: any tokens, then EOS
            array([[3, 2],
                   [3, 2]])
        """
        src = self._check_ids(src, "src")
        max_len = self._max_steps(src, max_len)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                memory, src_mask = self.encode(src)
                b = src.shape[0]
                seqs = np.full((b, 1), bos_id, dtype=np.int64)
                done = np.zeros(b, dtype=bool)
                for _ in range(max_len):
                    nxt = self._step_logprobs(seqs, memory, src_mask).argmax(axis=1)
                    nxt[done] = self.pad_id
                    seqs = np.concatenate([seqs, nxt[:, None]], axis=1)
                    done |= nxt == eos_id
                    if done.all():
                        break
        finally:
            self.train(was_training)
        return seqs[:, 1:]

    def beam_search(self, src, bos_id: int, eos_id: int, beam_size: int = 4, max_len: int | None = None,
                    length_penalty: float = 0.6) -> np.ndarray:
        """Beam-search decoding, vectorised over batch and beams (one decoder call per step).

        Each of the `beam_size` hypotheses per example is extended by every token; the
        `beam_size` best of the beam_size × V candidates (by summed log-probability) survive.
        Finished hypotheses (ended by EOS) are carried along unchanged at no cost.  The winner
        maximises  log p / lp(len),  lp(len) = ((5 + len) / 6) ** length_penalty  (GNMT).

        Args:
            src: int (batch, S).  bos_id, eos_id: start and end tokens.
            beam_size: hypotheses kept per example (1 = greedy).
            max_len: most tokens to generate (default S + 10, capped by the model's max_len).
            length_penalty: α above; 0 compares raw log-probabilities.

        Returns:
            int (batch, L) best hypothesis per example (no BOS), padded with pad_id after EOS.

        Example:
            >>> model = Transformer(12, 12, d_model=16, n_heads=2, d_ff=32, n_encoder_layers=1, n_decoder_layers=1)
            >>> src = np.array([[3, 4, 5, 2], [6, 7, 2, 0]])          # two sources, EOS = 2, padded with 0
            >>> model.beam_search(src, bos_id=1, eos_id=2, beam_size=3, max_len=6)
            array([[3, 2, 0, 0, 0, 0],
                   [3, 2, 0, 0, 0, 0]])
        """
        src = self._check_ids(src, "src")
        if beam_size < 1:
            raise ValueError(f"beam_search: beam_size must be >= 1, got {beam_size}")
        max_len = self._max_steps(src, max_len)
        b, k = src.shape[0], beam_size
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                memory, src_mask = self.encode(src)
                # Every beam of an example shares its encoder output: repeat rows k times.
                memory = Tensor(np.repeat(memory.data, k, axis=0))           # (B*k, S, d)
                src_mask = np.repeat(src_mask, k, axis=0)                   # (B*k, 1, 1, S)
                seqs = np.full((b, k, 1), bos_id, dtype=np.int64)
                scores = np.full((b, k), -np.inf)
                scores[:, 0] = 0.0          # start from one live beam so the k beams differ
                done = np.zeros((b, k), dtype=bool)
                lengths = np.zeros((b, k), dtype=np.int64)
                for _ in range(max_len):
                    logp = self._step_logprobs(seqs.reshape(b * k, -1), memory, src_mask)
                    v = logp.shape[1]
                    logp = logp.reshape(b, k, v)
                    # A finished beam may only append pad, at log-probability 0.
                    logp[done] = -np.inf
                    logp[done, self.pad_id] = 0.0
                    cand = (scores[:, :, None] + logp).reshape(b, k * v)     # (B, k*V)
                    top = np.argpartition(-cand, k - 1, axis=1)[:, :k]      # k best, unordered
                    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(cand, top, 1), 1), 1)
                    beam, tok = top // v, top % v                            # (B, k) each
                    scores = np.take_along_axis(cand, top, 1)
                    seqs = np.concatenate([np.take_along_axis(seqs, beam[:, :, None], 1), tok[:, :, None]],
                                          axis=2)
                    was_done = np.take_along_axis(done, beam, 1)
                    lengths = np.take_along_axis(lengths, beam, 1) + ~was_done
                    done = was_done | (tok == eos_id)
                    if done.all():
                        break
        finally:
            self.train(was_training)
        norm = scores / (((5.0 + lengths) / 6.0) ** length_penalty)
        best = np.argmax(norm, axis=1)                                       # (B,)
        return seqs[np.arange(b), best, 1:]

    def _max_steps(self, src, max_len):
        cap = self.config.max_len - 1
        steps = src.shape[1] + 10 if max_len is None else int(max_len)
        if steps < 1:
            raise ValueError(f"decode: max_len must be >= 1, got {max_len}")
        return min(steps, cap)
