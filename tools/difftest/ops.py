"""Running one function on pmt.graph Tensors and on torch tensors made from the same arrays."""
from __future__ import annotations

import numpy as np
import torch
from pmt.core import SparseRows
from pmt.graph import Tensor


def dense(g, shape):
    if g is None:
        return np.zeros(shape)
    return g.to_dense(shape, np.float64) if isinstance(g, SparseRows) else np.asarray(g)


def op_pairs(ours_fn, ref_fn, arrays, seed: int = 0) -> dict:
    """Value and the gradient of every input of `ours_fn(*Tensors)` against `ref_fn(*torch tensors)`.

    Both outputs are seeded with the same random projection R, so the gradients compared are
    those of sum(R * f(inputs)).
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours_fn(*ts), ref_fn(*tt)
    pairs = {"value": (out.data, ref.detach().numpy())}
    R = np.random.default_rng(seed).standard_normal(out.shape)
    if out.requires_grad:
        out.backward(R)
    if ref.requires_grad:
        ref.backward(torch.from_numpy(np.asarray(R)))
    for i, (t, r, a) in enumerate(zip(ts, tt, arrays)):
        pairs[f"grad {i}"] = (dense(t.grad, a.shape), dense(None if r.grad is None else r.grad.numpy(), a.shape))
    return pairs


def rand(rng, shape, low=None, high=None):
    """Normal entries, or uniform in [low, high)."""
    if low is None:
        return rng.standard_normal(shape)
    return rng.uniform(low, high, shape)
