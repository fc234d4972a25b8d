"""pmt.graph against torch: every element-wise op with broadcasting, reductions, matmul, shape
ops, softmax, layer norm, linear, embedding, dropout with a fixed mask, and the losses."""
from __future__ import annotations

from functools import partial

import numpy as np
import pmt.graph as G
import torch
import torch.nn.functional as F

from .common import add
from .ops import op_pairs, rand

GROUP = "graph"
R = np.random.default_rng(1234)

BROADCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 1), (1, 4)), ((1,), (2, 3)), ((2, 1, 3), (4, 3)),
             ((0, 3), (3,))]
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "pow": lambda a, b: a ** b}

for name, fn in BINARY.items():
    for sa, sb in BROADCAST:
        pos = name in ("pow", "div")
        a = rand(R, sa, 0.5, 2.0) if name == "pow" else rand(R, sa)
        b = rand(R, sb, 0.5, 2.0) * (np.sign(rand(R, sb)) if name == "div" else 1) if pos else rand(R, sb)
        add(GROUP, f"{name} {sa} {sb}", partial(op_pairs, fn, fn, [a, b]))

# a ** b where the base is 0: d/db is 0 * log 0 and d/da of a**0 is 0 * 0**-1
add(GROUP, "pow base 0, exponents 0 / 0.5 / 2 / 3", partial(op_pairs, BINARY["pow"], BINARY["pow"],
                                                             [np.zeros(4), np.array([0.0, 0.5, 2.0, 3.0])]))
add(GROUP, "x ** 0 at x = 0", partial(op_pairs, lambda x: x ** 0, lambda x: x ** 0, [np.array([0.0, 1.0, -2.0])]))

CONST = {"x + 2": lambda x: x + 2, "3 - x": lambda x: 3 - x, "x * 0.5": lambda x: x * 0.5,
         "2 / x": lambda x: 2 / x, "x ** 3": lambda x: x ** 3, "x ** 0.5": lambda x: x ** 0.5}
for name, fn in CONST.items():
    add(GROUP, name, partial(op_pairs, fn, fn, [rand(R, (3, 4), 0.5, 2.0)]))

UNARY = {
    "neg": (G.neg, torch.neg, None), "exp": (G.exp, torch.exp, None), "log": (G.log, torch.log, (0.1, 3)),
    "sqrt": (G.sqrt, torch.sqrt, (0.1, 3)), "abs": (G.abs, torch.abs, None), "tanh": (G.tanh, torch.tanh, None),
    "sigmoid": (G.sigmoid, torch.sigmoid, None), "relu": (G.relu, torch.relu, None),
    "gelu (tanh approximation)": (G.gelu, partial(F.gelu, approximate="tanh"), None),
}
for name, (ours, ref, rng_) in UNARY.items():
    for shape in [(3, 4), (2, 3, 4), (0, 2)]:
        x = rand(R, shape, *rng_) * 3 if rng_ else rand(R, shape) * 3
        add(GROUP, f"{name} {shape}", partial(op_pairs, ours, ref, [x]))
add(GROUP, "sigmoid tail x in [-700, -30]", partial(op_pairs, G.sigmoid, torch.sigmoid,
                                                    [-np.geomspace(30, 700, 12)]))
add(GROUP, "sigmoid huge |x|", partial(op_pairs, G.sigmoid, torch.sigmoid, [np.array([-1e4, -50.0, 50.0, 1e4])]))

add(GROUP, "clip [-0.5, 0.7]", partial(op_pairs, lambda x: G.clip(x, -0.5, 0.7), lambda x: x.clamp(-0.5, 0.7),
                                      [rand(R, (4, 5))]))
add(GROUP, "clip low only", partial(op_pairs, lambda x: G.clip(x, 0.1), lambda x: x.clamp(min=0.1), [rand(R, (4, 5))]))
_cond = R.random((3, 1, 4)) > 0.5
add(GROUP, "where (3,1,4) (2,4) (4,)", partial(op_pairs, lambda a, b: G.where(_cond, a, b),
                                               lambda a, b: torch.where(torch.from_numpy(_cond), a, b),
                                               [rand(R, (2, 4)), rand(R, (4,))]))
_mask = R.random((1, 5)) > 0.5
add(GROUP, "masked_fill", partial(op_pairs, lambda x: G.masked_fill(x, _mask, -3.0),
                                  lambda x: x.masked_fill(torch.from_numpy(_mask), -3.0), [rand(R, (3, 5))]))

# reductions: torch.amax/amin share the gradient between ties, as pmt.graph's max/min do
RED = {"sum": (G.sum, lambda x, axis, keepdims: x.sum(dim=axis, keepdim=keepdims) if axis is not None else x.sum()),
       "mean": (G.mean, lambda x, axis, keepdims: x.mean(dim=axis, keepdim=keepdims) if axis is not None else x.mean()),
       "max": (G.max, lambda x, axis, keepdims: torch.amax(x, dim=axis if axis is not None else tuple(range(x.ndim)),
                                                           keepdim=keepdims)),
       "min": (G.min, lambda x, axis, keepdims: torch.amin(x, dim=axis if axis is not None else tuple(range(x.ndim)),
                                                           keepdim=keepdims))}
for name, (ours, ref) in RED.items():
    for axis, keepdims in [(None, False), (0, False), ((0, 2), False), (-1, True)]:
        x = np.round(rand(R, (2, 3, 4)), 1) if name in ("max", "min") else rand(R, (2, 3, 4))  # ties
        add(GROUP, f"{name} axis={axis} keepdims={keepdims}",
            partial(op_pairs, lambda x, o=ours, a=axis, k=keepdims: o(x, a, k),
                    lambda x, r=ref, a=axis, k=keepdims: r(x, a, k), [x]))

for sa, sb in [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
               ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((0, 4), (4, 3))]:
    add(GROUP, f"matmul {sa} {sb}", partial(op_pairs, lambda a, b: a @ b, torch.matmul, [rand(R, sa), rand(R, sb)]))

for shape in [(5, 4), (2, 3, 4), (4,)]:
    add(GROUP, f"linear {shape} with bias", partial(op_pairs, G.linear, lambda x, w, b: F.linear(x, w.T, b),
                                                    [rand(R, shape), rand(R, (4, 3)), rand(R, (3,))]))
    add(GROUP, f"linear {shape} no bias", partial(op_pairs, G.linear, lambda x, w: F.linear(x, w.T),
                                                  [rand(R, shape), rand(R, (4, 3))]))

add(GROUP, "reshape", partial(op_pairs, lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), [rand(R, (2, 3, 4))]))
add(GROUP, "transpose", partial(op_pairs, lambda x: x.transpose(2, 0, 1), lambda x: x.permute(2, 0, 1),
                                [rand(R, (2, 3, 4))]))
_idx = np.array([0, 2, 2, 1])
add(GROUP, "getitem slices", partial(op_pairs, lambda x: x[1:, ::2], lambda x: x[1:, ::2], [rand(R, (3, 5))]))
add(GROUP, "getitem repeated ints", partial(op_pairs, lambda x: x[_idx], lambda x: x[torch.from_numpy(_idx)],
                                            [rand(R, (3, 5))]))
_bm = R.random((3, 5)) > 0.4
add(GROUP, "getitem boolean mask", partial(op_pairs, lambda x: x[_bm], lambda x: x[torch.from_numpy(_bm)],
                                           [rand(R, (3, 5))]))
_gi = R.integers(0, 5, (3, 2))
add(GROUP, "gather axis 1", partial(op_pairs, lambda x: G.gather(x, _gi, axis=1),
                                    lambda x: torch.gather(x, 1, torch.from_numpy(_gi)), [rand(R, (3, 5))]))
add(GROUP, "concatenate axis 1", partial(op_pairs, lambda a, b: G.concatenate([a, b], axis=1),
                                         lambda a, b: torch.cat([a, b], dim=1), [rand(R, (2, 3)), rand(R, (2, 4))]))
add(GROUP, "stack axis 1", partial(op_pairs, lambda a, b: G.stack([a, b], axis=1),
                                   lambda a, b: torch.stack([a, b], dim=1), [rand(R, (2, 3)), rand(R, (2, 3))]))
add(GROUP, "split [2, 5] then concatenate reversed",
    partial(op_pairs, lambda x: G.concatenate(G.split(x, [2, 5], axis=0)[::-1], axis=0),
            lambda x: torch.cat(torch.tensor_split(x, [2, 5], dim=0)[::-1], dim=0), [rand(R, (6, 2))]))
for ids in [np.array([3, 1, 3, 0]), np.array([[1, 4, 4], [0, 4, 2]])]:
    add(GROUP, f"embedding ids {ids.shape} with repeats",
        partial(op_pairs, lambda t, i=ids: G.embedding(t, i), lambda t, i=ids: F.embedding(torch.from_numpy(i), t),
                [rand(R, (5, 3))]))

for op, ref in [(G.softmax, torch.softmax), (G.log_softmax, torch.log_softmax)]:
    for axis in (-1, 0, 1):
        add(GROUP, f"{op.__name__} axis {axis}", partial(op_pairs, lambda x, o=op, a=axis: o(x, a),
                                                         lambda x, r=ref, a=axis: r(x, a), [rand(R, (2, 3, 4)) * 3]))
    add(GROUP, f"{op.__name__} logits +-1e3", partial(op_pairs, op, lambda x, r=ref: r(x, -1),
                                                     [np.array([[1e3, 0.0, -1e3], [5.0, 5.0, -1e3]])]))
    _m = np.array([[True, False, True, True], [False, True, True, True]])
    add(GROUP, f"{op.__name__} with -inf entries",
        partial(op_pairs, lambda x, o=op: o(G.masked_fill(x, ~_m, -np.inf)),
                lambda x, r=ref: r(x.masked_fill(~torch.from_numpy(_m), -np.inf), -1), [rand(R, (2, 4))]))

for shape in [(4, 6), (2, 3, 5)]:
    n = shape[-1]
    add(GROUP, f"layer_norm {shape}", partial(op_pairs, G.layer_norm, lambda x, g, b: F.layer_norm(x, (g.shape[0],), g, b),
                                              [rand(R, shape) * 2 + 1, rand(R, (n,)), rand(R, (n,))]))
    add(GROUP, f"layer_norm {shape} no affine, eps 1e-3",
        partial(op_pairs, lambda x: G.layer_norm(x, eps=1e-3), lambda x: F.layer_norm(x, (x.shape[-1],), eps=1e-3),
                [rand(R, shape)]))

_dm = G.dropout_mask((4, 5), 0.3, np.float64, rng=np.random.default_rng(9))
add(GROUP, "dropout p=0.3, fixed mask", partial(op_pairs, lambda x: G.dropout(x, 0.3, rng=np.random.default_rng(9)),
                                                lambda x: x * torch.from_numpy(_dm), [rand(R, (4, 5))]))


def _ce_ref(z, y, weight, ignore_index, eps, reduction):
    zz = z.movedim(-1, 1) if z.ndim > 2 else z                  # torch puts the class axis at 1
    return F.cross_entropy(zz, torch.from_numpy(y), weight=None if weight is None else torch.from_numpy(weight),
                           ignore_index=ignore_index, label_smoothing=eps, reduction=reduction)


for shape in [(6, 4), (2, 3, 5)]:
    C = shape[-1]
    y = R.integers(0, C, shape[:-1])
    y_ign = y.copy()
    y_ign.reshape(-1)[[0, 3]] = -100
    w = R.random(C) + 0.5
    for label, targets, weight, eps, reduction in [
            ("plain", y, None, 0.0, "mean"), ("class weights", y, w, 0.0, "mean"),
            ("label smoothing 0.1", y, None, 0.1, "mean"), ("weights + smoothing", y, w, 0.2, "mean"),
            ("ignore_index", y_ign, None, 0.0, "mean"), ("ignore + weights + smoothing", y_ign, w, 0.1, "mean"),
            ("sum, ignore + smoothing", y_ign, None, 0.1, "sum"), ("none, ignore + weights", y_ign, w, 0.0, "none")]:
        add(GROUP, f"cross_entropy {shape} {label}",
            partial(op_pairs, lambda z, t=targets, wt=weight, e=eps, r=reduction:
                    G.cross_entropy(z, t, weight=wt, label_smoothing=e, reduction=r),
                    lambda z, t=targets, wt=weight, e=eps, r=reduction: _ce_ref(z, t, wt, -100, e, r),
                    [rand(R, shape) * 2]))
add(GROUP, "cross_entropy logits +-1e4", partial(op_pairs, lambda z: G.cross_entropy(z, np.array([1, 0])),
                                                 lambda z: F.cross_entropy(z, torch.tensor([1, 0])),
                                                 [np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]])]))

_yb = (R.random((3, 4)) > 0.5).astype(np.float64)
_wb = R.random((3, 4))
for reduction in ("mean", "sum", "none"):
    add(GROUP, f"binary_cross_entropy_with_logits {reduction}",
        partial(op_pairs, lambda z, r=reduction: G.binary_cross_entropy_with_logits(z, _yb, reduction=r),
                lambda z, r=reduction: F.binary_cross_entropy_with_logits(z, torch.from_numpy(_yb), reduction=r),
                [rand(R, (3, 4)) * 3]))
    add(GROUP, f"mse_loss {reduction}", partial(op_pairs, lambda p, r=reduction: G.mse_loss(p, _yb, reduction=r),
                                                lambda p, r=reduction: F.mse_loss(p, torch.from_numpy(_yb), reduction=r),
                                                [rand(R, (3, 4))]))
add(GROUP, "binary_cross_entropy_with_logits weighted, logits +-50",
    partial(op_pairs, lambda z: G.binary_cross_entropy_with_logits(z, _yb, weight=_wb),
            lambda z: F.binary_cross_entropy_with_logits(z, torch.from_numpy(_yb), weight=torch.from_numpy(_wb)),
            [rand(R, (3, 4)) * 50]))

# pmt's convention: a mean over zero elements is 0 with a zero gradient (torch gives NaN)
for name, ours, ref in [("binary_cross_entropy_with_logits", G.binary_cross_entropy_with_logits,
                         F.binary_cross_entropy_with_logits), ("mse_loss", G.mse_loss, F.mse_loss)]:
    add(GROUP, f"{name} mean over zero elements (convention: 0)",
        partial(op_pairs, lambda z, o=ours: o(z, np.zeros((0, 3))),
                lambda z, r=ref: torch.nan_to_num(r(z, torch.zeros((0, 3)))), [np.zeros((0, 3))]))
add(GROUP, "cross_entropy every target ignored (convention: 0)",
    partial(op_pairs, lambda z: G.cross_entropy(z, np.array([-100, -100])),
            lambda z: torch.nan_to_num(F.cross_entropy(z, torch.tensor([-100, -100]))), [rand(R, (2, 3))]))
