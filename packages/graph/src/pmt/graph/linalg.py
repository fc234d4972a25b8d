"""Matrix products: `matmul` (batched, broadcasting) and the fused affine map `linear`.

For C = A B with A: (..., n, k), B: (..., k, m) and upstream gradient G = dL/dC: (..., n, m):

    dL/dA = G B^T          (..., n, k)
    dL/dB = A^T G          (..., k, m)

summed over any batch axes that broadcasting created (`pmt.core.numerics.unbroadcast`).
"""
from __future__ import annotations

import numpy as np
from pmt.core.numerics import unbroadcast

from .tensor import Tensor


def _arr(x, name):
    if isinstance(x, Tensor):
        return x.data
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name}: expected a Tensor or numeric array, got {type(x).__name__}")
    return arr


def matmul(a, b) -> Tensor:
    """Matrix product with numpy's rules: batched over leading axes, which broadcast; a 1-D
    operand is a vector (its axis is dropped from the result).

    Args:
        a: (..., n, k) or (k,).
        b: (..., k, m) or (k,).

    Returns:
        (..., n, m) Tensor.  Backward: dL/da = g b^T, dL/db = a^T g (batch axes summed back).

    Example:
        >>> matmul(Tensor(np.ones((5, 2, 3))), Tensor(np.ones((3, 4)))).shape
        (5, 2, 4)
    """
    ad, bd = _arr(a, "matmul"), _arr(b, "matmul")
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes {ad.shape} and {bd.shape}")
    if ad.shape[-1] != bd.shape[-2 if bd.ndim > 1 else 0]:
        raise ValueError(f"matmul: inner dimensions differ: a is {ad.shape}, b is {bd.shape}")
    try:
        out = ad @ bd
    except ValueError:
        raise ValueError(f"matmul: batch axes of {ad.shape} and {bd.shape} cannot be broadcast together") from None
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    need_a, need_b = ta and a.requires_grad, tb and b.requires_grad

    if ad.ndim == 2 and bd.ndim == 2:  # the common case, without reshaping
        def backward(g):
            grads = []
            if ta:
                grads.append(g @ bd.T if need_a else None)
            if tb:
                grads.append(ad.T @ g if need_b else None)
            return grads
    else:
        def backward(g):
            # Treat vectors as (1, k) / (k, 1) matrices, then drop the added axis again.
            a2 = ad[None, :] if ad.ndim == 1 else ad
            b2 = bd[:, None] if bd.ndim == 1 else bd
            g2 = g[..., None] if bd.ndim == 1 else g       # (..., n, 1)
            if ad.ndim == 1:
                g2 = g2[..., None, :]                        # (..., 1, m)
            grads = []
            if ta:
                grads.append(unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(ad.shape)
                             if need_a else None)
            if tb:
                grads.append(unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(bd.shape)
                             if need_b else None)
            return grads
    return Tensor.from_op(out, tuple(t for t in (a, b) if isinstance(t, Tensor)), backward, "matmul")


def linear(x, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """The affine map y = x W + b over the last axis, as one graph node and one 2-D gemm.

    The leading axes of x are flattened first: (B, T, d_in) is multiplied as one (B*T, d_in)
    matrix.  numpy runs a stacked (B, T, d) @ (d, k) as B small gemms, and the backward
    (B, T, k) @ W^T on a transposed view worse still; one large gemm is 1.1-1.7x faster for a
    Transformer's (32, 64, 128/512) activations (`python -m tools.bench.linear_layout`).  Fused rather than composed
    from matmul and add because it is the hot path of every model: one node instead of two,
    and the bias gradient is a plain column sum instead of a generic un-broadcast.

    Args:
        x: (..., in_features) Tensor or array.
        weight: (in_features, out_features).
        bias: (out_features,) or None.

    Returns:
        (..., out_features).  Backward, with X and G = dL/dy flattened to (N, in) and (N, out):
        dL/dX = G W^T,  dL/dW = X^T G,  dL/db = sum_rows(G).

    Example:
        >>> linear(Tensor(np.ones((2, 5, 3))), Tensor(np.ones((3, 4)))).shape
        (2, 5, 4)
    """
    xd = _arr(x, "linear")
    W = weight.data
    if W.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (in_features, out_features), got shape {W.shape}")
    if xd.ndim == 0 or xd.shape[-1] != W.shape[0]:
        raise ValueError(f"linear: input has shape {xd.shape}, expected (..., {W.shape[0]}) to match weight {W.shape}")
    if bias is not None and bias.shape != (W.shape[1],):
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({W.shape[1]},)")
    flat = xd.ndim != 2                                 # 2-D input (an MLP's batch) needs no reshape
    lead = xd.shape[:-1]
    x2 = xd.reshape(-1, W.shape[0]) if flat else xd     # (N, in), a view when x is contiguous
    y = x2 @ W                                          # (N, out)
    if bias is not None:
        y += bias.data  # y is fresh: adding in place saves an allocation
    tx = isinstance(x, Tensor)

    def backward(g):
        g2 = g.reshape(-1, W.shape[1]) if flat else g   # (N, out)
        grads = []
        if tx:
            dx = g2 @ W.T if x.requires_grad else None                                        # (N, in)
            grads.append(dx.reshape(*lead, W.shape[0]) if flat and dx is not None else dx)    # (..., in)
        grads.append(x2.T @ g2 if weight.requires_grad else None)                             # (in, out)
        if bias is not None:
            grads.append(g2.sum(axis=0) if bias.requires_grad else None)                      # (out,)
        return grads
    parents = ((x,) if tx else ()) + (weight,) + ((bias,) if bias is not None else ())
    return Tensor.from_op(y.reshape(*lead, W.shape[1]) if flat else y, parents, backward, "linear")
