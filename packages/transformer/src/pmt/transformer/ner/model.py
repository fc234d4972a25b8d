"""The NER tagger: word + case + character-CNN features, a Transformer encoder, softmax or CRF output.

    e_w  = E_word[word]                       (B, T, word_dim)   lower-cased, digits folded
    e_c  = E_case[case]                       (B, T, case_dim)   lower / Title / UPPER / ...
    e_ch = max over characters of relu(W · [c_{i-1}; c_i; c_{i+1}] + b)   (B, T, char_filters)
    e_p  = TextEncoder(sub-words)[first sub-word of each word]   (B, T, d_pre)  only with `pretrained`
           (with `pretrained_scale`: γ · e_p / √d_pre, a learned scalar γ starting at 1;
            `pretrained_view` chooses which of the encoder's layers e_p reads, see below)
    x    = Linear([e_w; e_c; e_ch (; e_p)]) + PE     (B, T, d_model)
    h    = TransformerEncoder(x, padding mask)        (n_layers = 0: h = x, with `pretrained` only)
    E    = Linear(h)                          (B, T, num_tags)   emission scores
    loss = mean token cross-entropy of softmax(E), or the CRF negative log-likelihood

The character CNN gathers each character's window of ids first (integer indexing, no
gradient), so the convolution is one embedding lookup and one matmul.

With a `pretrained` config (`pmt-ner train --init RUN`) the tagger holds a `TextEncoder` of the
pretraining run's shape, reads each sentence in that run's sub-words (`features.subword_windows`)
and gives every word the encoder's output at the word's first sub-word, beside the three views
above (the first sub-word stands for the word, as in BERT's NER fine-tuning).

Which layers make the view (`pretrained_view`), with h_1 ... h_L the outputs of the encoder's L
blocks at the word's first sub-word (the last through the encoder's final LayerNorm; the others
are the pre-LN residual stream, whose size grows with depth, so each is standardised over its d
features to zero mean and unit variance before it is used):

    "last"    e_p = h_L                                  (B, T, d)     what the MLM head read
    "mix"     e_p = Σ_l softmax(w)_l h_l                 (B, T, d)     w (L,) learned, from 0: the
                                                                       mean of the layers (ELMo)
    "concat"  e_p = [h_1; ...; h_L]                      (B, T, L·d)   every layer side by side

The last layer of a masked LM is trained to predict the missing token, not to describe the word
in front of it, so the layers below may carry what a tagger needs and the last one lacks.  BERT's
feature-based CoNLL runs (Devlin et al. 2019, table 7) scored the last layer alone below a
weighted sum of all layers and below the last four side by side; what the views give here is
measured in docs/pretraining.md.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pmt.graph import (Dropout, Embedding, Module, Parameter, Tensor, concatenate, cross_entropy, embedding,
                       layer_norm, no_grad, softmax)
from pmt.graph import max as tmax

from ..attention_kernel import padding_mask
from ..crf import allowed_transitions, crf_nll, viterbi_decode
from ..encoder import TransformerEncoder
from ..layers import SinusoidalPositionalEncoding, xavier_linear
from ..text_encoder import TextEncoder


PRETRAINED_VIEWS = ("last", "mix", "concat")


@dataclass
class TaggerConfig:
    """Hyper-parameters of `NERTagger` (saved as JSON beside its checkpoint)."""

    n_words: int
    n_chars: int
    tags: list                    # tag of each id, e.g. ["O", "B-LOC", ...]
    word_dim: int = 100
    case_dim: int = 8
    char_dim: int = 30
    char_filters: int = 64
    char_window: int = 3
    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 256
    n_layers: int = 2
    dropout: float = 0.2
    crf: bool = True
    scheme: str = "iob2"
    pretrained: dict | None = None     # TextEncoder arguments (vocab_size ... pad_id) of a pretraining run
    pretrained_dropout: float = 0.1    # dropout inside that encoder
    pretrained_scale: bool = False     # the view enters as γ · h / √d_pre, γ learned (from 1)
    pretrained_view: str = "last"      # which encoder layers make the view: "last", "mix" or "concat"

    def __post_init__(self):
        if self.pretrained_view not in PRETRAINED_VIEWS:
            raise ValueError(f"TaggerConfig: pretrained_view must be one of {', '.join(PRETRAINED_VIEWS)}, "
                             f"got {self.pretrained_view!r}")

    def to_dict(self):
        return asdict(self)


def crf_loss(emissions: Tensor, tags, mask, transitions, start, end, constraints=None) -> Tensor:
    """The CRF negative log-likelihood (batch mean) as one graph op over its four score inputs.

    `pmt.transformer.crf.crf_nll` computes the loss and all gradients (forward-backward), so
    the op's backward only scales them by the upstream gradient.
    """
    nll, d_em, d_t, d_s, d_e = crf_nll(emissions.data, tags, mask, transitions.data, start.data, end.data,
                                       constraints)

    def backward(g):
        g = float(g)
        return g * d_em, g * d_t, g * d_s, g * d_e

    return Tensor.from_op(np.array(nll, dtype=emissions.dtype), (emissions, transitions, start, end),
                          backward, "crf_nll")


class CharCNN(Module):
    """Character embeddings, a width-k convolution and max-pooling over each word's characters.

    Shape:
        chars: int (B, T, L) character ids, 0 = padding;  output: (B, T, filters).
    """

    def __init__(self, n_chars, dim=30, filters=64, window=3):
        super().__init__()
        self.window = window
        self.emb = Embedding(n_chars, dim, std=0.1)
        self.conv = xavier_linear(window * dim, filters)

    def forward(self, chars):
        B, T, L = chars.shape
        k, h = self.window, self.window // 2
        padded = np.pad(chars, ((0, 0), (0, 0), (h, k - 1 - h)))               # (B, T, L + k - 1)
        windows = padded[..., np.arange(L)[:, None] + np.arange(k)[None, :]]   # (B, T, L, k)
        e = self.emb(windows)                                                  # (B, T, L, k, dim)
        z = self.conv(e.reshape(B, T, L, -1)).relu()                           # (B, T, L, filters)
        valid = chars != 0
        valid[..., 0] = True                                  # a padding word still pools one slot
        z = z.masked_fill(~valid[..., None], -1e4)
        return tmax(z, axis=2)                                                 # (B, T, filters)


class NERTagger(Module):
    """Word-level named-entity tagger (see the module docstring for the architecture).

    Args:
        config: a `TaggerConfig`.

    Shape:
        words, cases: int (B, T);  chars: int (B, T, L);  output: emissions (B, T, num_tags).
        With `pretrained`: also sub_ids (B, K, S) and sub_first (B, T) (`features.SentenceBatches`).
        Targets given to `loss` / `train_step`: int (B, W >= T), -100 on padding.

    Example:
        >>> cfg = TaggerConfig(n_words=50, n_chars=20, tags=["O", "B-PER", "I-PER"], d_model=16,
        ...                    n_heads=2, d_ff=32, n_layers=1)
        >>> NERTagger(cfg)(np.ones((2, 4), int), np.ones((2, 4), int), np.ones((2, 4, 3), int)).shape
        (2, 4, 3)
    """

    def __init__(self, config: TaggerConfig):
        super().__init__()
        c = self.config = config
        K = len(c.tags)
        self.word_emb = Embedding(c.n_words, c.word_dim, std=0.1)
        self.case_emb = Embedding(8, c.case_dim, std=0.1)
        self.chars = CharCNN(c.n_chars, c.char_dim, c.char_filters, c.char_window)
        d_pre = 0
        if c.pretrained is not None:
            self.pretrained = TextEncoder(**c.pretrained, dropout=c.pretrained_dropout)
            n_layers = c.pretrained["n_layers"]
            d_pre = c.pretrained["d_model"] * (n_layers if c.pretrained_view == "concat" else 1)
            if c.pretrained_view == "mix":
                self.pretrained_mix = Parameter(np.zeros(n_layers), name="pretrained_mix")
            if c.pretrained_scale:
                self.pretrained_gain = Parameter(np.ones(1), name="pretrained_gain")
        elif c.n_layers < 1:
            raise ValueError(f"NERTagger: n_layers must be >= 1 without a pretrained encoder, got {c.n_layers}")
        self.proj = xavier_linear(c.word_dim + c.case_dim + c.char_filters + d_pre, c.d_model)
        self.pos = SinusoidalPositionalEncoding(c.d_model, max_len=512)
        self.drop = Dropout(c.dropout)
        if c.n_layers:
            self.encoder = TransformerEncoder(c.n_layers, c.d_model, c.n_heads, c.d_ff, c.dropout)
        self.out = xavier_linear(c.d_model, K)
        if c.crf:
            self.transitions = Parameter(np.zeros((K, K)), name="transitions")
            self.start = Parameter(np.zeros(K), name="start")
            self.end = Parameter(np.zeros(K), name="end")
            self.constraints = allowed_transitions(c.tags, c.scheme)

    def forward(self, words, cases, chars, sub_ids=None, sub_first=None):
        words, cases, chars = np.asarray(words), np.asarray(cases), np.asarray(chars)
        if words.ndim != 2 or cases.shape != words.shape or chars.shape[:2] != words.shape:
            raise ValueError(f"NERTagger: expected words, cases (B, T) and chars (B, T, L), got "
                             f"{words.shape}, {cases.shape}, {chars.shape}")
        views = [self.word_emb(words), self.case_emb(cases), self.chars(chars)]
        if self.config.pretrained is not None:
            e_p = self.first_subword_states(sub_ids, sub_first, words.shape)          # (B, T, d_pre)
            if self.config.pretrained_scale:
                # The encoder ends in a LayerNorm, so |e_p| ≈ √d_pre (16 at d 256) while a word
                # embedding starts near 1 (std 0.1, 100 dims): unscaled, the pretrained view
                # swamps the others in `proj`.  Divided by √d_pre it starts on a par; γ (ELMo's
                # scalar) lets training choose its weight.
                e_p = e_p * (self.pretrained_gain * self.config.pretrained["d_model"] ** -0.5)
            views.append(e_p)
        x = self.drop(self.pos(self.proj(self.drop(concatenate(views, axis=-1)))))   # (B, T, d_model)
        if self.config.n_layers:
            x = self.encoder(x, mask=padding_mask(words != 0))            # (B, T, d_model)
        return self.out(x)                                                # (B, T, K)

    def first_subword_states(self, sub_ids, sub_first, shape) -> Tensor:
        """The pretrained encoder's output at each word's first sub-word: (B, T, d_pre).

        Args:
            sub_ids: int (B, K, S), each sentence's K windows of sub-words (all-[PAD] rows for
                sentences with fewer windows).  sub_first: int (B, T), the position of each word's
                first sub-word in its sentence's flattened (K·S) block (any on padding words).
            shape: (B, T) of the word arrays, checked against sub_first.
        """
        if sub_ids is None or sub_first is None:
            raise ValueError("NERTagger: this tagger also reads the pretrained encoder's sub-words: give sub_ids "
                             "and sub_first (SentenceBatches of sentences encoded with the run's tokenizer)")
        sub_ids, sub_first = np.asarray(sub_ids), np.asarray(sub_first)
        if sub_ids.ndim != 3 or sub_first.shape != tuple(shape) or len(sub_ids) != shape[0]:
            raise ValueError(f"NERTagger: expected sub_ids (B, K, S) and sub_first (B, T) with words of shape "
                             f"{tuple(shape)}, got {sub_ids.shape} and {sub_first.shape}")
        B, K, S = sub_ids.shape
        rows = sub_ids.reshape(B * K, S)
        kept = rows[:, 0] != self.config.pretrained["pad_id"]         # windows that exist ([CLS] first)
        h = self.pretrained_states(rows[kept])                         # (R, S, d) or (R, S, L·d)
        # Row of (sentence b, window k) among the kept rows, then the flat position of each word's
        # first sub-word in h viewed as (R·S, d_pre).  Every real word's position is its own; the
        # lookup's backward sums repeats (padding words all read row 0), with a sort, not np.add.at.
        new_row = np.cumsum(kept) - 1                                  # (B·K,)
        window = np.arange(B)[:, None] * K + sub_first // S            # (B, T)
        at = new_row[window] * S + sub_first % S                       # (B, T) into (R·S)
        e = embedding(h.reshape(-1, h.shape[-1]), at)                  # (B, T, d) or (B, T, L·d)
        if self.config.pretrained_view != "mix":
            return e
        L = len(self.pretrained_mix.data)
        s = softmax(self.pretrained_mix).reshape(L, 1)                 # (L, 1), sums to 1
        return (e.reshape(*e.shape[:2], L, -1) * s).sum(axis=2)        # (B, T, d)

    def pretrained_states(self, rows) -> Tensor:
        """The pretrained encoder's output for windows `rows` (R, S): the view's layers, side by side.

        "last": the final output (R, S, d).  "mix" and "concat": every block's output, the lower
        ones standardised over their features, the last as the final LayerNorm gives it, joined to
        (R, S, L·d); the mix
        weighs the L slices after the first-sub-word lookup, on T words instead of S sub-words.
        """
        segments = np.zeros(rows.shape, np.int64)
        if self.config.pretrained_view == "last":
            return self.pretrained(rows, segments)
        states = self.pretrained.encode_layers(rows, segments)
        # layer_norm without gamma/beta is plain standardisation; the last state went through the
        # encoder's final LayerNorm already (its gain and shift are part of what was pretrained).
        return concatenate([layer_norm(h) for h in states[:-1]] + [states[-1]], axis=-1)

    def loss(self, emissions: Tensor, tags) -> Tensor:
        """Mean loss of `emissions` (B, T, K) against tags (B, W >= T), -100 = padding."""
        tags = np.asarray(tags)[:, : emissions.shape[1]]
        mask = tags != -100
        if self.config.crf:
            return crf_loss(emissions, np.where(mask, tags, 0), mask, self.transitions, self.start,
                            self.end, self.constraints)
        return cross_entropy(emissions, tags, ignore_index=-100)

    def loss_weight(self, batch) -> int:
        """Terms `loss` averages over: sentences (CRF, a per-sentence mean) or real tokens (softmax).

        The Trainer weights each rank's share by it under MPI (pmt.core.distributed), so the
        token mean over a batch split across ranks is the token mean of the whole batch.
        """
        tags = np.asarray(batch[-1])
        return len(tags) if self.config.crf else int((tags != -100).sum())

    def decode(self, emissions: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Best tag ids (B, T), -100 on padding: Viterbi with a CRF, else per-token argmax."""
        if self.config.crf:
            paths, _ = viterbi_decode(emissions, mask, self.transitions.data, self.start.data, self.end.data,
                                      self.constraints, pad=-100)
            return paths
        return np.where(mask, emissions.argmax(-1), -100)

    def _step(self, batch, loss, train):
        *inputs, tags = batch
        emissions = self(*inputs)
        value = loss(emissions, tags)
        if train:
            value.backward()
        pred = np.full(np.shape(tags), -100, dtype=np.int64)
        T = emissions.shape[1]
        pred[:, :T] = self.decode(emissions.data, np.asarray(inputs[0]) != 0)
        return float(value.data), pred

    def train_step(self, batch, loss):
        """Forward, loss, backward; outputs are the decoded tag ids (B, W), -100 on padding."""
        return self._step(batch, loss, True)

    def eval_step(self, batch, loss):
        with no_grad():
            return self._step(batch, loss, False)

    def extra_repr(self):
        c = self.config
        pre = (f", pretrained={c.pretrained['d_model']}d x {c.pretrained['n_layers']} ({c.pretrained_view})"
               if c.pretrained else "")
        return f"tags={len(c.tags)}, d_model={c.d_model}, layers={c.n_layers}, crf={c.crf}{pre}"
