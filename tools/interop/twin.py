"""PyTorch twins of PMT's task models, built from stock `torch.nn` modules.

    PairClassifierTwin   the QQP cross-encoder:   (ids, segments) -> logits (B, classes)
    TaggerTwin           the NER tagger:          (words, cases, chars) -> emissions (B, T, tags)
                         (CRF transitions/start/end are kept as parameters; decoding stays in numpy)

The twins take the config PMT writes into an exported file's metadata ("pmt.config") and hold the
same numbers as PMT's `state_dict()` under PyTorch's names and layouts.  Converting is a renaming
plus a few layout changes, listed in `RULES`:

    PMT                                        PyTorch
    *.qkv_proj.weight   (d, 3d)  x W           *.in_proj_weight   (3d, d)  x W^T     transpose
    *.qkv_proj.bias                             *.in_proj_bias
    Linear .weight      (d_in, d_out)          nn.Linear .weight (d_out, d_in)      transpose
    LayerNorm gamma / beta                     nn.LayerNorm weight / bias
    chars.conv.weight   (k·dim, filters)       nn.Conv1d weight  (filters, dim, k)  row j·dim + c -> [:, c, j]
    embeddings, biases, CRF tables             same name, same layout

`pmt_to_torch` applies the rules to a PMT state dict (e.g. `safetensors.torch.load_file` of a PMT
export), `torch_to_pmt` inverts them (for `safetensors.torch.save_file` of a file PMT loads).
"""
from __future__ import annotations

import math
import re

import torch
from torch import nn
from torch.nn import functional as F

# (PMT key pattern, PyTorch key template, layout change).  The first matching rule applies.
RULES = [
    (r"(.+)\.qkv_proj\.weight", r"\1.in_proj_weight", "transpose"),
    (r"(.+)\.qkv_proj\.bias", r"\1.in_proj_bias", None),
    (r"(.+)\.ff\.(linear[12])\.weight", r"\1.\2.weight", "transpose"),
    (r"(.+)\.ff\.(linear[12])\.bias", r"\1.\2.bias", None),
    (r"chars\.conv\.weight", r"chars.conv.weight", "conv"),
    (r"(.*\.)?(out_proj|head|proj|out)\.weight", r"\1\2.weight", "transpose"),
    (r"(.+)\.gamma", r"\1.weight", None),
    (r"(.+)\.beta", r"\1.bias", None),
    (r"(.+)", r"\1", None),
]


def _rule(pmt_key):
    for pattern, template, change in RULES:
        m = re.fullmatch(pattern, pmt_key)
        if m:
            return m.expand(template), change


def pmt_to_torch(state: dict, char_window: int | None = None) -> dict:
    """PMT state dict (tensors) -> the twin's state dict."""
    out = {}
    for k, v in state.items():
        key, change = _rule(k)
        if change == "transpose":
            v = v.T
        elif change == "conv":                        # (k·dim, F) -> (F, dim, k)
            v = v.reshape(char_window, -1, v.shape[1]).permute(2, 1, 0)
        out[key] = v.contiguous()
    return out


def torch_to_pmt(twin: nn.Module, pmt_keys) -> dict:
    """The twin's weights under PMT's keys and layouts (contiguous float32 tensors)."""
    own = twin.state_dict()
    out = {}
    for k in pmt_keys:
        key, change = _rule(k)
        v = own[key]
        if change == "transpose":
            v = v.T
        elif change == "conv":                        # (F, dim, k) -> (k·dim, F)
            v = v.permute(2, 1, 0).reshape(-1, v.shape[0])
        out[k] = v.detach().float().contiguous()
    return out


def _encoder(d_model, n_heads, d_ff, n_layers, dropout):
    """PMT's pre-LN TransformerEncoder: ReLU feed-forward, eps 1e-5, a final LayerNorm."""
    layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation="relu", layer_norm_eps=1e-5,
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model, eps=1e-5), enable_nested_tensor=False)


class PairClassifierTwin(nn.Module):
    """x = E_tok[ids] + E_seg[segments] + P[:T]; h = Encoder(x, padding mask); logits = W pool(h) + b."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = cfg
        d = cfg["d_model"]
        self.tok_emb = nn.Embedding(cfg["vocab_size"], d)
        self.seg_emb = nn.Embedding(2, d)
        self.pos = nn.Embedding(cfg["max_len"], d)
        self.encoder = _encoder(d, cfg["n_heads"], cfg["d_ff"], cfg["n_layers"], cfg["dropout"])
        self.head = nn.Linear(d, cfg["num_classes"])

    def forward(self, ids, segments):
        pad = ids == self.cfg["pad_id"]                                            # (B, T) True = ignore
        x = self.tok_emb(ids) + self.seg_emb(segments) + self.pos.weight[: ids.shape[1]]
        h = self.encoder(x, src_key_padding_mask=pad)                              # (B, T, d)
        if self.cfg["pooling"] == "cls":
            pooled = h[:, 0]
        else:
            w = (~pad).float()
            pooled = (h * (w / w.sum(1, keepdim=True).clamp(min=1))[..., None]).sum(1)
        return self.head(pooled)                                                   # (B, classes)


def sinusoidal(max_len, d):
    """PE[t, 2i] = sin(t ω_i), PE[t, 2i+1] = cos(t ω_i), ω_i = 10000^(-2i/d), float64 then float32."""
    t = torch.arange(max_len, dtype=torch.float64)[:, None]
    omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.empty(max_len, d, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(t * omega), torch.cos(t * omega)
    return pe.float()


class CharCNNTwin(nn.Module):
    """max over a word's characters of relu(Conv1d(E_char[ids padded with id 0]))."""

    def __init__(self, n_chars, dim, filters, window):
        super().__init__()
        self.window = window
        self.emb = nn.Embedding(n_chars, dim)
        self.conv = nn.Conv1d(dim, filters, window)

    def forward(self, chars):                                                      # (B, T, L)
        b, t, length = chars.shape
        left = self.window // 2
        # Pad with id 0 *before* the lookup: PMT's padding is a learned embedding row, not zeros.
        e = self.emb(F.pad(chars, (left, self.window - 1 - left)))                 # (B, T, L+k-1, dim)
        z = torch.relu(self.conv(e.reshape(b * t, -1, e.shape[-1]).transpose(1, 2)))  # (B*T, F, L)
        z = z.reshape(b, t, -1, length)
        valid = chars != 0
        valid[..., 0] = True                                  # a padding word still pools one slot
        return z.masked_fill(~valid[:, :, None, :], -1e4).amax(-1)                 # (B, T, F)


class TaggerTwin(nn.Module):
    """emissions = W_out Encoder(W_proj [E_word[w]; E_case[c]; CharCNN(chars)] + PE) + b."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = cfg
        k = len(cfg["tags"])
        self.word_emb = nn.Embedding(cfg["n_words"], cfg["word_dim"])
        self.case_emb = nn.Embedding(8, cfg["case_dim"])
        self.chars = CharCNNTwin(cfg["n_chars"], cfg["char_dim"], cfg["char_filters"], cfg["char_window"])
        self.proj = nn.Linear(cfg["word_dim"] + cfg["case_dim"] + cfg["char_filters"], cfg["d_model"])
        self.register_buffer("pe", sinusoidal(512, cfg["d_model"]), persistent=False)
        self.encoder = _encoder(cfg["d_model"], cfg["n_heads"], cfg["d_ff"], cfg["n_layers"], cfg["dropout"])
        self.out = nn.Linear(cfg["d_model"], k)
        if cfg["crf"]:
            self.transitions = nn.Parameter(torch.zeros(k, k))
            self.start = nn.Parameter(torch.zeros(k))
            self.end = nn.Parameter(torch.zeros(k))

    def forward(self, words, cases, chars):
        feats = torch.cat([self.word_emb(words), self.case_emb(cases), self.chars(chars)], -1)
        x = self.proj(feats) + self.pe[: words.shape[1]]                           # (B, T, d)
        return self.out(self.encoder(x, src_key_padding_mask=words == 0))          # (B, T, K)


def build(task: str, cfg: dict) -> nn.Module:
    """The twin of a PMT task model from its config dict, in eval mode."""
    return (PairClassifierTwin if task == "qqp" else TaggerTwin)(cfg).eval()


def randomize_(twin: nn.Module, seed: int = 0) -> nn.Module:
    """Draw every parameter at random (no ones, zeros or symmetric matrices), so that a mistake in
    the key or layout mapping cannot hide behind a default initialisation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in twin.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(max(p.shape[-1], 1)))
    return twin
