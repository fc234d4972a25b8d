"""pmt.transformer against torch: the attention kernel against scaled_dot_product_attention
(masks, broadcast k/v batches, dropout as an explicit mask), multi-head attention against
torch.nn.MultiheadAttention with the same weights, and the CRF against a forward algorithm
written with torch's autograd and against brute-force enumeration of every tag path."""
from __future__ import annotations

import itertools
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from pmt.graph import dropout_mask
from pmt.transformer.attention import MultiHeadAttention
from pmt.transformer.attention_kernel import causal_mask, padding_mask, scaled_dot_product_attention
from pmt.transformer.crf import FORBIDDEN, allowed_transitions, crf_nll, viterbi_decode

from .common import add
from .ops import dense, op_pairs, rand

R = np.random.default_rng(99)


def _sdpa(mask, dmask):
    ours = lambda q, k, v: scaled_dot_product_attention(q, k, v, mask, dmask)[0]
    if dmask is None:
        tm = None if mask is None else torch.from_numpy(np.asarray(mask))
        ref = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=tm)
    else:  # torch draws its own dropout: compare with the same mask applied explicitly
        ref = lambda q, k, v: (torch.softmax(q @ k.transpose(-1, -2) / np.sqrt(q.shape[-1]), -1)
                               * torch.from_numpy(dmask)) @ v
    return ours, ref


ATT = [
    ("no mask", (2, 2, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3), None, None),
    ("causal", (2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), causal_mask(5), None),
    ("causal, more keys than queries", (1, 3, 2, 4), (1, 3, 4, 4), (1, 3, 4, 4), causal_mask(2, 4), None),
    ("padding", (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4),
     padding_mask(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]), pad_id=0), None),
    ("additive float mask", (2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 4), R.standard_normal((3, 3)), None),
    ("k, v shared over the batch (1, h)", (3, 2, 4, 4), (1, 2, 5, 4), (1, 2, 5, 2), None, None),
    ("k, v shared over batch and heads", (2, 3, 4, 4), (1, 1, 5, 4), (1, 1, 5, 4), causal_mask(4, 5), None),
    ("3-D (batch, t, d)", (2, 4, 6), (2, 5, 6), (2, 5, 3), None, None),
    ("dropout mask", (2, 2, 4, 4), (2, 2, 4, 4), (2, 2, 4, 4), None,
     dropout_mask((2, 2, 4, 4), 0.3, np.float64, np.random.default_rng(3))),
]
for name, sq, sk, sv, mask, dmask in ATT:
    ours, ref = _sdpa(mask, dmask)
    add("transformer", f"attention {name}", partial(op_pairs, ours, ref, [rand(R, sq), rand(R, sk), rand(R, sv)]))


def _mha_pairs(cross: bool, mask):
    """pmt's MultiHeadAttention against torch.nn.MultiheadAttention holding the same weights."""
    d, h = 8, 2
    m = MultiHeadAttention(d, h, cross=cross)
    for p in m.parameters():
        p.data = R.standard_normal(p.data.shape) * 0.5
    t = torch.nn.MultiheadAttention(d, h, bias=True, batch_first=True, dtype=torch.float64)
    if cross:
        w_in = np.concatenate([m.q_proj.weight.data, m.kv_proj.weight.data], axis=1)
        b_in = np.concatenate([m.q_proj.bias.data, m.kv_proj.bias.data])
    else:
        w_in, b_in = m.qkv_proj.weight.data, m.qkv_proj.bias.data
    with torch.no_grad():                      # torch keeps (out, in) weights: ours transposed
        t.in_proj_weight.copy_(torch.from_numpy(w_in.T))
        t.in_proj_bias.copy_(torch.from_numpy(b_in))
        t.out_proj.weight.copy_(torch.from_numpy(m.out_proj.weight.data.T))
        t.out_proj.bias.copy_(torch.from_numpy(m.out_proj.bias.data))
    x, mem = R.standard_normal((2, 3, d)), R.standard_normal((2, 5, d))
    tm = None if mask is None else torch.from_numpy(~mask)      # torch: True = may NOT attend
    if cross:
        pairs = op_pairs(lambda x, mem: m(x, mem, mask=mask[:, None, None, :]),
                         lambda x, mem: t(x, mem, mem, key_padding_mask=tm, need_weights=False)[0], [x, mem])
    else:
        pairs = op_pairs(lambda x: m(x, mask=mask), lambda x: t(x, x, x, attn_mask=tm, need_weights=False)[0], [x])
    projs = (m.q_proj, m.kv_proj) if cross else (m.qkv_proj,)
    pairs["grad W_in"] = (np.concatenate([dense(p.weight.grad, p.weight.shape) for p in projs], axis=1),
                          t.in_proj_weight.grad.numpy().T)
    pairs["grad b_in"] = (np.concatenate([dense(p.bias.grad, p.bias.shape) for p in projs]),
                          t.in_proj_bias.grad.numpy())
    pairs["grad W_out"] = (m.out_proj.weight.grad, t.out_proj.weight.grad.numpy().T)
    return pairs


add("transformer", "MultiHeadAttention self, causal", partial(_mha_pairs, False, causal_mask(3)))
add("transformer", "MultiHeadAttention cross, padding", partial(_mha_pairs, True, np.array([[1, 1, 1, 0, 0], [1] * 5],
                                                                                           dtype=bool)))

# ------------------------------------------------------------------------------------ CRF
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _crf_inputs(B, S, K, seed):
    rng = np.random.default_rng(seed)
    E, T = rng.standard_normal((B, S, K)), rng.standard_normal((K, K))
    start, end = rng.standard_normal(K), rng.standard_normal(K)
    lengths = rng.integers(1, S + 1, B)
    lengths[0] = S
    mask = np.arange(S)[None, :] < lengths[:, None]
    tags = np.where(mask, rng.integers(0, K, (B, S)), 0)
    return E, tags, mask, T, start, end


def _penalised(T, start, end, constraints):
    if constraints is None:
        return T, start, end
    allowed, s_ok, e_ok = constraints
    pen = lambda ok: torch.from_numpy(np.where(ok, 0.0, FORBIDDEN))
    return T + pen(allowed), start + pen(s_ok), end + pen(e_ok)


def _torch_crf_nll(E, tags, mask, T, start, end, constraints, brute=False):
    """Mean NLL by torch autograd: log Z by the forward algorithm (or by summing every path)."""
    T, start, end = _penalised(T, start, end, constraints)
    B, S, K = E.shape
    total = 0
    for b in range(B):
        L = int(mask[b].sum())
        y = tags[b, :L]
        gold = start[y[0]] + E[b, torch.arange(L), torch.from_numpy(y)].sum() + end[y[-1]]
        gold = gold + sum(T[y[t - 1], y[t]] for t in range(1, L))
        if brute:
            scores = []
            for path in itertools.product(range(K), repeat=L):
                s = start[path[0]] + end[path[-1]] + sum(E[b, t, path[t]] for t in range(L))
                scores.append(s + sum(T[path[t - 1], path[t]] for t in range(1, L)))
            log_z = torch.logsumexp(torch.stack(scores), 0)
        else:
            alpha = start + E[b, 0]
            for t in range(1, L):
                alpha = torch.logsumexp(alpha[:, None] + T, 0) + E[b, t]
            log_z = torch.logsumexp(alpha + end, 0)
        total = total + log_z - gold
    return total / B


def _crf_pairs(B, S, K, constrained, brute, seed):
    E, tags, mask, T, start, end = _crf_inputs(B, S, K, seed)
    constraints = allowed_transitions(TAGS[:K], "iob2") if constrained else None
    nll, dE, dT, ds, de = crf_nll(E, tags, mask, T, start, end, constraints)
    tt = [torch.tensor(a, requires_grad=True) for a in (E, T, start, end)]
    ref = _torch_crf_nll(tt[0], tags, mask, *tt[1:], constraints, brute=brute)
    ref.backward()
    return {"nll": (nll, ref.item()), "d emissions": (dE * mask[..., None], tt[0].grad.numpy() * mask[..., None]),
            "d transitions": (dT, tt[1].grad.numpy()), "d start": (ds, tt[2].grad.numpy()),
            "d end": (de, tt[3].grad.numpy())}


def _viterbi_pairs(B, S, K, seed):
    """Viterbi paths against the brute-force best path (error 0 when every path agrees)."""
    E, _, mask, T, start, end = _crf_inputs(B, S, K, seed)
    paths, _ = viterbi_decode(E, mask, T, start, end, pad=0)
    best = np.zeros_like(paths)
    for b in range(B):
        L = int(mask[b].sum())
        score = lambda p: start[p[0]] + end[p[-1]] + sum(E[b, t, p[t]] for t in range(L)) + sum(
            T[p[t - 1], p[t]] for t in range(1, L))
        best[b, :L] = max(itertools.product(range(K), repeat=L), key=score)
    return {"paths": (paths, best)}


add("transformer", "crf_nll vs forward algorithm (B4 S7 K5, padding)", partial(_crf_pairs, 4, 7, 5, False, False, 0))
add("transformer", "crf_nll vs forward algorithm, IOB2 constraints", partial(_crf_pairs, 4, 7, 5, True, False, 1))
add("transformer", "crf_nll vs brute force (B3 S4 K3, padding)", partial(_crf_pairs, 3, 4, 3, False, True, 2))
add("transformer", "viterbi_decode vs brute force (B4 S5 K3)", partial(_viterbi_pairs, 4, 5, 3, 3))


def _fully_masked_reference(q, k, v, mask):
    """torch composition with pmt's convention for a query whose keys are all masked: weights 0.
    (torch's scaled_dot_product_attention gives NaN there; -1e30 instead of -inf keeps torch's
    gradients finite, and the where() zeroes the rows with no allowed key.)"""
    m = torch.from_numpy(mask)
    s = (q @ k.transpose(-1, -2) / np.sqrt(q.shape[-1])).masked_fill(~m, -1e30)
    p = torch.where(m.any(-1, keepdim=True), torch.softmax(s, -1), torch.zeros(()))
    return p @ v


_fm = np.array([[True, False, True, False], [False, False, False, False], [True, True, True, True]])
add("transformer", "attention fully masked query row (convention: zero weights)",
    partial(op_pairs, lambda q, k, v: scaled_dot_product_attention(q, k, v, _fm)[0],
            lambda q, k, v: _fully_masked_reference(q, k, v, _fm),
            [rand(R, (2, 3, 5)), rand(R, (2, 4, 5)), rand(R, (2, 4, 3))]))
