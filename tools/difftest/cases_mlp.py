"""pmt.mlp's explicit-backprop layers and losses against torch (value, dL/dx, parameter grads)."""
from __future__ import annotations


import numpy as np
import torch
import torch.nn.functional as F
from pmt.mlp import (BatchNorm1d, BinaryCrossEntropy, CategoricalCrossEntropy, Dense, Dropout, LayerNorm, LeakyReLU,
                     LogSoftmax, MeanSquaredError, ReLU, Sigmoid, Softmax, Tanh)

from .common import add
from .ops import dense

GROUP = "mlp"
R = np.random.default_rng(7)


def _layer_pairs(layer, ref_fn, x, extra=()):
    """Forward + backward of an mlp layer against ref_fn(x, *params) in torch."""
    x = np.asarray(x, np.float64)
    params = layer.parameters() if hasattr(layer, "parameters") else []
    tx = torch.tensor(x, requires_grad=True)
    tp = [torch.tensor(p.data, requires_grad=True) for p in params]
    y = layer.forward(x)
    ref = ref_fn(tx, *tp)
    g = np.random.default_rng(0).standard_normal(y.shape)
    dx = layer.backward(g)
    ref.backward(torch.from_numpy(g))
    pairs = {"value": (y, ref.detach().numpy()), "dL/dx": (dx, tx.grad.numpy())}
    for i, (p, t) in enumerate(zip(params, tp)):
        pairs[f"grad {getattr(p, 'name', i)}"] = (dense(p.grad, p.data.shape), t.grad.numpy())
    for label, (ours, fn) in dict(extra).items():
        pairs[label] = (ours(), fn())
    return pairs


def _dense_layer():
    layer = Dense(3, in_features=4, dtype=np.float64)
    layer.b.data[:] = R.standard_normal(3)
    return layer


add(GROUP, "Dense (5, 4) -> 3", lambda: _layer_pairs(_dense_layer(), lambda x, W, b: F.linear(x, W.T, b),
                                                      R.standard_normal((5, 4))))
add(GROUP, "Dense (2, 3, 4) -> 3", lambda: _layer_pairs(_dense_layer(), lambda x, W, b: F.linear(x, W.T, b),
                                                         R.standard_normal((2, 3, 4))))
for name, layer, ref in [("ReLU", ReLU, torch.relu), ("LeakyReLU 0.1", lambda **k: LeakyReLU(0.1, **k),
                                                       lambda x: F.leaky_relu(x, 0.1)),
                         ("Tanh", Tanh, torch.tanh), ("Sigmoid", Sigmoid, torch.sigmoid),
                         ("Softmax", Softmax, lambda x: torch.softmax(x, -1)),
                         ("LogSoftmax", LogSoftmax, lambda x: torch.log_softmax(x, -1))]:
    add(GROUP, name, lambda layer=layer, ref=ref: _layer_pairs(layer(dtype=np.float64), ref,
                                                               R.standard_normal((4, 6)) * 3))
add(GROUP, "Sigmoid tail x in [-700, -30]", lambda: _layer_pairs(Sigmoid(dtype=np.float64), torch.sigmoid,
                                                                  -np.geomspace(30, 700, 8)[None]))


def _layer_norm():
    ln = LayerNorm(5, dtype=np.float64)
    ln.gamma.data[:], ln.beta.data[:] = R.standard_normal(5), R.standard_normal(5)
    return _layer_pairs(ln, lambda x, g, b: F.layer_norm(x, (5,), g, b), R.standard_normal((2, 3, 5)) * 2 + 1)


def _batch_norm():
    bn = BatchNorm1d(4, momentum=0.1, dtype=np.float64)
    bn.gamma.data[:], bn.beta.data[:] = R.standard_normal(4), R.standard_normal(4)
    rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    return _layer_pairs(bn, lambda x, g, b: F.batch_norm(x, rm, rv, g, b, training=True, momentum=0.1, eps=1e-5),
                        R.standard_normal((6, 4)) * 2 + 1,
                        extra={"running_mean": (lambda: bn.running_mean, lambda: rm.numpy()),
                               "running_var": (lambda: bn.running_var, lambda: rv.numpy())})


def _dropout():
    shape, rate = (4, 5), 0.3
    mask = (np.random.default_rng(4).random(shape) >= rate) / (1 - rate)
    return _layer_pairs(Dropout(rate, rng=np.random.default_rng(4), dtype=np.float64),
                        lambda x: x * torch.from_numpy(mask), R.standard_normal(shape))


add(GROUP, "LayerNorm (2, 3, 5)", _layer_norm)
add(GROUP, "BatchNorm1d training, running statistics", _batch_norm)
add(GROUP, "Dropout 0.3, fixed generator", _dropout)


def _loss_pairs(loss, ref_fn, pred, target):
    pred = np.asarray(pred, np.float64)
    tp = torch.tensor(pred, requires_grad=True)
    value = loss.forward(pred, target)
    ref = ref_fn(tp)
    ref.backward()
    return {"value": (value, ref.item()), "dL/dpred": (loss.backward(), tp.grad.numpy())}


_z, _y = R.standard_normal((6, 4)) * 2, R.integers(0, 4, 6)
_q = np.random.default_rng(5).dirichlet(np.ones(4), 6)
_p = np.exp(_z) / np.exp(_z).sum(1, keepdims=True)
add(GROUP, "CategoricalCrossEntropy logits, labels",
    lambda: _loss_pairs(CategoricalCrossEntropy("logits"), lambda z: F.cross_entropy(z, torch.from_numpy(_y)), _z, _y))
add(GROUP, "CategoricalCrossEntropy logits, distributions",
    lambda: _loss_pairs(CategoricalCrossEntropy("logits"), lambda z: F.cross_entropy(z, torch.from_numpy(_q)), _z, _q))
add(GROUP, "CategoricalCrossEntropy log_probs",
    lambda: _loss_pairs(CategoricalCrossEntropy("log_probs"), lambda z: F.nll_loss(z, torch.from_numpy(_y)),
                        np.log(_p), _y))
add(GROUP, "CategoricalCrossEntropy probs",
    lambda: _loss_pairs(CategoricalCrossEntropy("probs"), lambda p: F.nll_loss(p.log(), torch.from_numpy(_y)), _p, _y))
_t = (R.random((5, 3)) > 0.5).astype(np.float64)
add(GROUP, "BinaryCrossEntropy logits",
    lambda: _loss_pairs(BinaryCrossEntropy(), lambda z: F.binary_cross_entropy_with_logits(z, torch.from_numpy(_t)),
                        R.standard_normal((5, 3)) * 4, _t))
add(GROUP, "MeanSquaredError",
    lambda: _loss_pairs(MeanSquaredError(), lambda p: F.mse_loss(p, torch.from_numpy(_t)), R.standard_normal((5, 3)), _t))
