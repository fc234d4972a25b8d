"""pmt.core's optimizers against torch.optim over several steps (parameters after each run),
including a parameter that receives its first gradient late, lazy Adam on sparse rows against
torch.optim.SparseAdam, and clip_grad_norm against torch.nn.utils.clip_grad_norm_."""
from __future__ import annotations

import numpy as np
import torch
from pmt.core import SGD, Adagrad, Adam, AdamW, Parameter, RMSProp, SparseRows, clip_grad_norm

from .common import add

GROUP = "optim"
SHAPES = [(3, 4), (5,)]


def _run(ours_cls, kw, torch_cls, tkw, steps=5, late=False, seed=0):
    """Both optimizers on the same two parameters and gradients; with `late`, the second
    parameter gets no gradient at the first two steps (a per-parameter step count matters)."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    ours = [Parameter(a, dtype=np.float64) for a in init]
    ref = [torch.tensor(a, requires_grad=True) for a in init]
    opt, topt = ours_cls(ours, **kw), torch_cls(ref, **tkw)
    for k, gs in enumerate(grads):
        for i, (p, t, g) in enumerate(zip(ours, ref, gs)):
            skip = late and i == 1 and k < 2
            p.grad = None if skip else g.copy()
            t.grad = None if skip else torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    return {f"param {i}": (p.data, t.detach().numpy()) for i, (p, t) in enumerate(zip(ours, ref))}


CASES = [
    ("SGD", SGD, dict(lr=0.1), torch.optim.SGD, dict(lr=0.1)),
    ("SGD momentum", SGD, dict(lr=0.1, momentum=0.9), torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
    ("SGD nesterov + weight decay", SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
     torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", Adam, dict(lr=0.01), torch.optim.Adam, dict(lr=0.01)),
    ("Adam betas (0.9, 0.98) eps 1e-9 + L2", Adam, dict(lr=0.01, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.1),
     torch.optim.Adam, dict(lr=0.01, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.1)),
    ("AdamW", AdamW, dict(lr=0.01, weight_decay=0.05), torch.optim.AdamW, dict(lr=0.01, weight_decay=0.05)),
    ("RMSProp", RMSProp, dict(lr=0.01), torch.optim.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-8)),
    ("Adagrad", Adagrad, dict(lr=0.1), torch.optim.Adagrad, dict(lr=0.1, eps=1e-10)),
]
for name, cls, kw, tcls, tkw in CASES:
    add(GROUP, name, lambda cls=cls, kw=kw, tcls=tcls, tkw=tkw: _run(cls, kw, tcls, tkw))
    add(GROUP, f"{name}, one parameter starts late",
        lambda cls=cls, kw=kw, tcls=tcls, tkw=tkw: _run(cls, kw, tcls, tkw, late=True, seed=1))


def _lazy_adam():
    """Sparse rows (repeated ids included) against torch.optim.SparseAdam on sparse COO gradients.

    SparseAdam adds eps to sqrt(v) where Adam (and pmt's lazy update) adds it to sqrt(v_hat):
    with eps = 1e-12 the two forms differ by ~1e-12 relative, well inside the tolerance, so what
    the case checks is the rest: which rows move, their moments, the table-wide step count.
    """
    rng = np.random.default_rng(2)
    init = rng.standard_normal((6, 3))
    ours = Parameter(init, dtype=np.float64)
    ref = torch.tensor(init, requires_grad=True)
    opt, topt = Adam([ours], lr=0.01, eps=1e-12), torch.optim.SparseAdam([ref], lr=0.01, eps=1e-12)
    for rows in ([1, 4, 1], [4, 2], [0, 4], [5, 2, 2]):
        vals = rng.standard_normal((len(rows), 3))
        ours.grad = SparseRows(np.array(rows), vals)
        ref.grad = torch.sparse_coo_tensor(torch.tensor([rows]), torch.from_numpy(vals.copy()), (6, 3))
        opt.step()
        topt.step()
    return {"parameter": (ours.data, ref.detach().numpy())}


def _clip(max_norm):
    rng = np.random.default_rng(3)
    gs = [rng.standard_normal(s) for s in SHAPES]
    ours = [Parameter(np.zeros(s), dtype=np.float64) for s in SHAPES]
    ref = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, t, g in zip(ours, ref, gs):
        p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
    norm = clip_grad_norm(ours, max_norm)
    tnorm = torch.nn.utils.clip_grad_norm_(ref, max_norm)
    out = {"norm": (norm, tnorm.item())}
    out.update({f"grad {i}": (p.grad, t.grad.numpy()) for i, (p, t) in enumerate(zip(ours, ref))})
    return out


add(GROUP, "lazy Adam on sparse rows vs torch SparseAdam", _lazy_adam)
add(GROUP, "clip_grad_norm clipping (max_norm 1)", lambda: _clip(1.0))
add(GROUP, "clip_grad_norm no clipping (max_norm 100)", lambda: _clip(100.0))
