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

import numpy as np
from pmt.core.parameter import SparseRows
from pmt.core.seeding import get_rng
from pmt.graph import Dropout, Module, Parameter, no_grad
from pmt.graph.tensor import Tensor

from .attention_kernel import causal_mask, padding_mask
from .decoder import TransformerDecoder
from .encoder import TransformerEncoder
from .functional import cross_entropy
from .layers import LearnedPositionalEncoding, SinusoidalPositionalEncoding, xavier_linear


def embed(table, ids, scale: float = 1.0):
    """Row lookup `table[ids] * scale` as one graph op with a *sparse* gradient.

    Args:
        table: Tensor (V, d).  ids: int ndarray (...) of row indices in [0, V).
        scale: constant factor (sqrt(d_model) in the Transformer).

    Returns:
        Tensor (..., d).  Backward: `SparseRows(unique ids, scale · Σ dL/dy over each id's
        occurrences)`, so an optimizer touches only the looked-up rows of a 30,000-row table.
    """
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"embed: token ids must be integers, got dtype {ids.dtype}")
    n = table.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = ids[(ids < 0) | (ids >= n)][0]
        raise ValueError(f"embed: token id {int(bad)} is outside the vocabulary [0, {n})")
    y = table.data[ids]                                             # (..., d), a fresh copy
    if scale != 1.0:
        y *= y.dtype.type(scale)
    # Sum the rows of repeated ids here, with one sort and a segmented add (np.add.reduceat),
    # rather than leaving duplicates to a later np.add.at scatter, which is several times slower.
    flat = ids.reshape(-1)
    order = np.argsort(flat, kind="stable")
    sorted_ids = flat[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])

    def backward(g):
        if flat.size == 0:
            return (None,)
        rows = g.reshape(-1, g.shape[-1])                           # (N, d)
        summed = np.add.reduceat(rows[order], starts, axis=0)       # (unique ids, d)
        if scale != 1.0:
            summed *= summed.dtype.type(scale)
        return (SparseRows(sorted_ids[starts], summed),)

    return Tensor.from_op(y, (table,), backward, "embed")


class TokenEmbedding(Module):
    """A (vocab, d_model) embedding table looked up with a sparse gradient, times `scale`.

    Args:
        vocab: number of token ids.  d_model: embedding width.
        scale: multiply looked-up rows by this (sqrt(d_model) in the Transformer).
        std: initial values are N(0, std^2) (default d_model^-0.5, so scaled rows have unit RMS).

    Shape:
        ids: int (batch, seq) -> (batch, seq, d_model)

    Example:
        >>> emb = TokenEmbedding(100, 16, scale=4.0)
        >>> emb(np.array([[1, 2, 3]])).shape
        (1, 3, 16)
    """

    def __init__(self, vocab: int, d_model: int, scale: float = 1.0, std: float | None = None):
        super().__init__()
        if vocab < 1 or d_model < 1:
            raise ValueError(f"TokenEmbedding: need vocab >= 1 and d_model >= 1, got {vocab}, {d_model}")
        self.vocab, self.d_model, self.scale = vocab, d_model, float(scale)
        std = d_model ** -0.5 if std is None else std
        self.weight = Parameter(get_rng().normal(0.0, std, (vocab, d_model)), name="weight")

    def forward(self, ids):
        return embed(self.weight, ids, self.scale)

    def extra_repr(self):
        return f"{self.vocab}, {self.d_model}, scale={self.scale:.4g}"


class Transformer(Module):
    """Encoder-decoder Transformer for sequence-to-sequence tasks.

    Args:
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

    Shape:
        src: int (batch, S); tgt_in: int (batch, T) -> logits (batch, T, tgt_vocab).

    Example:
        >>> model = Transformer(20, 20, d_model=32, n_heads=4, d_ff=64, n_encoder_layers=1,
        ...                     n_decoder_layers=1, max_len=16)
        >>> model(np.array([[3, 4, 5]]), np.array([[1, 5]])).shape
        (1, 2, 20)
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 512, n_heads: int = 8,
                 d_ff: int = 2048, n_encoder_layers: int = 6, n_decoder_layers: int = 6,
                 dropout: float = 0.1, max_len: int = 512, pad_id: int = 0,
                 share_embeddings: bool = False, tie_output: bool = False, norm_first: bool = True,
                 positional: str = "sinusoidal", activation: str = "relu"):
        super().__init__()
        if share_embeddings and src_vocab != tgt_vocab:
            raise ValueError(f"Transformer: share_embeddings needs src_vocab == tgt_vocab, got "
                             f"{src_vocab} and {tgt_vocab}")
        if positional not in ("sinusoidal", "learned"):
            raise ValueError(f"Transformer: positional must be 'sinusoidal' or 'learned', got {positional!r}")
        self.config = dict(src_vocab=src_vocab, tgt_vocab=tgt_vocab, d_model=d_model, n_heads=n_heads,
                           d_ff=d_ff, n_encoder_layers=n_encoder_layers, n_decoder_layers=n_decoder_layers,
                           dropout=dropout, max_len=max_len, pad_id=pad_id,
                           share_embeddings=share_embeddings, tie_output=tie_output,
                           norm_first=norm_first, positional=positional, activation=activation)
        self.pad_id, self.tie_output, self.share_embeddings = pad_id, tie_output, share_embeddings
        scale = float(np.sqrt(d_model))
        self.src_embed = TokenEmbedding(src_vocab, d_model, scale)
        self.tgt_embed = None if share_embeddings else TokenEmbedding(tgt_vocab, d_model, scale)
        Pos = SinusoidalPositionalEncoding if positional == "sinusoidal" else LearnedPositionalEncoding
        self.src_pos, self.tgt_pos = Pos(d_model, max_len), Pos(d_model, max_len)
        self.src_drop, self.tgt_drop = Dropout(dropout), Dropout(dropout)
        self.encoder = TransformerEncoder(n_encoder_layers, d_model, n_heads, d_ff, dropout, activation,
                                          norm_first)
        self.decoder = TransformerDecoder(n_decoder_layers, d_model, n_heads, d_ff, dropout, activation,
                                          norm_first)
        self.out_proj = None if tie_output else xavier_linear(d_model, tgt_vocab)

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
        x = self.src_drop(self.src_pos(self.src_embed(src)))
        return self.encoder(x, mask=mask), mask

    def decode(self, tgt_in, memory, src_mask):
        """tgt_in: int (batch, T), memory (batch, S, d) -> logits Tensor (batch, T, tgt_vocab)."""
        tgt_in = self._check_ids(tgt_in, "tgt_in")
        y = self.tgt_drop(self.tgt_pos(self._target_table()(tgt_in)))
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
        logits = self.decode(prefix, memory, src_mask).data[:, -1]    # (N, V)
        z = logits - logits.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

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
            >>> out = model.greedy_decode(src, bos_id=1, eos_id=2)
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
            >>> out = model.beam_search(src, bos_id=1, eos_id=2, beam_size=4)
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
        cap = self.config["max_len"] - 1
        steps = src.shape[1] + 10 if max_len is None else int(max_len)
        if steps < 1:
            raise ValueError(f"decode: max_len must be >= 1, got {max_len}")
        return min(steps, cap)
