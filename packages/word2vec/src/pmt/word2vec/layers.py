"""Layers for word2vec on the `pmt.mlp` framework: Embedding, AxisMean, AxisDot.

(`Sigmoid` and `BinaryCrossEntropy` from logits come from `pmt.mlp` and are re-exported
by `pmt.word2vec`.)  These are the readable building blocks; `training.Word2Vec` fuses the
same mathematics into a few array operations per batch for speed.
"""
from __future__ import annotations

import numpy as np

from pmt.core import Parameter, SparseRows, get_rng
from pmt.core.numerics import unbroadcast
from pmt.mlp.layer import Layer, ShapeError


class Embedding(Layer):
    """Look up rows of a table: y[..., :] = W[ids[...], :].

    The gradient with respect to W is zero except on the rows that were looked up, so
    `backward` hands the optimizer a `SparseRows(ids, dL/dy rows)`: only the touched rows are
    updated (repeated ids are summed by the optimizer).  The ids themselves get no gradient.

    Args:
        num_embeddings: V, rows of the table.
        dim: D, columns.
        init: "uniform" (word2vec.c's U(-0.5/D, 0.5/D)), "zeros" (its output vectors) or
            "normal" (N(0, 1)).
        rng: generator for the initialisation (default `pmt.core.get_rng()`).

    Shape:
        ids: (batch, *ids_shape) integers in [0, V) (floats that are whole numbers are
        accepted, as `Sequential` casts inputs to its dtype) -> (batch, *ids_shape, D).

    Example:
        >>> emb = Embedding(10, 4); emb.build((3,))
        (3, 4)
        >>> emb.forward(np.array([[1, 2, 2]])).shape
        (1, 3, 4)
    """

    def __init__(self, num_embeddings: int, dim: int, init: str = "uniform", rng=None, name=None,
                 dtype=np.float32):
        super().__init__(name, dtype)
        for arg, v in (("num_embeddings", num_embeddings), ("dim", dim)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Embedding: {arg} must be a positive integer, got {v!r}")
        if init not in ("uniform", "zeros", "normal"):
            raise ValueError(f"Embedding: init must be 'uniform', 'zeros' or 'normal', got {init!r}")
        self.num_embeddings, self.dim, self.init_kind = int(num_embeddings), int(dim), init
        # The table's shape does not depend on the input, so it is created at once.
        rng = rng or get_rng()
        shape = (self.num_embeddings, self.dim)
        if init == "uniform":
            data = (rng.random(shape) - 0.5) / self.dim
        elif init == "normal":
            data = rng.standard_normal(shape)
        else:
            data = np.zeros(shape)
        self.weight = Parameter(data, name=f"{self.name}.weight", dtype=self.dtype)
        self._ids = None

    def build(self, input_shape):
        if isinstance(input_shape, (int, np.integer)):
            input_shape = (input_shape,)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_shape = self.input_shape + (self.dim,)
        if self.weight.data.dtype != self.dtype:  # a Sequential changed the dtype before building
            self.weight.data = self.weight.data.astype(self.dtype)
        return self.output_shape

    def _check_ids(self, ids) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.dtype.kind == "f":
            as_int = ids.astype(np.int64)
            if not np.array_equal(as_int, ids):
                raise TypeError(f"{self.name}: ids must be whole numbers, got non-integral values")
            ids = as_int
        elif ids.dtype.kind not in "iu":
            raise TypeError(f"{self.name}: ids must be integers, got dtype {ids.dtype}")
        if ids.ndim < 1:
            raise ShapeError(f"{self.name}: ids need a batch axis, got a scalar", got=(), expected="(batch, ...)")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise ValueError(f"{self.name}: id {int(bad)} is out of range [0, {self.num_embeddings})")
        return ids

    def forward(self, ids):
        ids = self._check_ids(ids)
        self._ids = ids
        return self.weight.data[ids]                                   # (batch, *ids_shape, D)

    def backward(self, dy):
        """dL/dW = Σ over positions of one-hot(id) ⊗ dL/dy  ->  SparseRows(ids, dL/dy rows).

        Returns None: integer ids have no gradient.
        """
        self._need_forward(self._ids)
        dy = np.asarray(dy)
        if dy.shape != self._ids.shape + (self.dim,):
            raise ShapeError(f"{self.name}: dL/dy of shape {dy.shape}, expected {self._ids.shape + (self.dim,)}",
                             got=dy.shape, expected=self._ids.shape + (self.dim,))
        self.weight.accumulate(SparseRows(self._ids.reshape(-1), dy.reshape(-1, self.dim)))
        return None

    def parameters(self):
        return [self.weight]

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.dim}"


class AxisMean(Layer):
    """Mean over one per-example axis (CBOW's average of the context vectors).

    y = (1/n) Σ_i x[:, i, ...] for axis=0 of the per-example shape (array axis 1).

    Args:
        axis: per-example axis to average (0 = the first axis after the batch axis).

    Shape:
        (batch, n, D) -> (batch, D) for axis=0.

    Example:
        >>> AxisMean().forward(np.ones((2, 3, 4))).shape
        (2, 4)
    """

    def __init__(self, axis: int = 0, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        if not isinstance(axis, (int, np.integer)) or axis < 0:
            raise ValueError(f"AxisMean: axis must be a non-negative per-example axis, got {axis!r}")
        self.axis = int(axis)
        self._shape = None

    def build(self, input_shape):
        shape = tuple(int(s) for s in input_shape)
        if self.axis >= len(shape):
            raise ShapeError(f"{self.name}: axis {self.axis} does not exist in per-example shape {shape}",
                             got=shape, expected=f"at least {self.axis + 1} axes")
        self.input_shape = shape
        self.output_shape = shape[:self.axis] + shape[self.axis + 1:]
        return self.output_shape

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim < self.axis + 2:
            raise ShapeError(f"{self.name}: input of shape {x.shape} has no per-example axis {self.axis}",
                             got=x.shape[1:], expected=f"at least {self.axis + 1} axes")
        self._shape = x.shape
        return x.mean(axis=self.axis + 1)

    def backward(self, dy):
        """dL/dx[:, i] = dL/dy / n for every i (the mean spreads the gradient evenly)."""
        self._need_forward(self._shape)
        n = self._shape[self.axis + 1]
        # A real (writable) array, not a broadcast view: callers may update it in place.
        return np.broadcast_to(np.expand_dims(dy / n, self.axis + 1), self._shape).copy()

    def extra_repr(self):
        return f"axis={self.axis}"


class AxisDot(Layer):
    """Dot products along the last axis of two inputs (with broadcasting): s = Σ_d a[..., d] b[..., d].

    A two-input layer: `forward(a, b)` and `backward(ds) -> (da, db)`.  For skip-gram scores
    a = u (batch, 1, D) (the input word) and b = V (batch, 1+K, D) (true word and negatives):
    s (batch, 1+K).

    Shape:
        a, b: broadcastable (..., D) -> (broadcast shape without D)

    Example:
        >>> AxisDot().forward(np.ones((2, 1, 3)), np.ones((2, 4, 3))).shape
        (2, 4)
    """

    def __init__(self, name=None, dtype=np.float32):
        super().__init__(name, dtype)
        self._cache = None

    def forward(self, a, b=None):
        if b is None:
            if not isinstance(a, (tuple, list)) or len(a) != 2:
                raise TypeError(f"{self.name}: call forward(a, b) or forward((a, b))")
            a, b = a
        a, b = np.asarray(a), np.asarray(b)
        if a.shape[-1] != b.shape[-1]:
            raise ShapeError(f"{self.name}: last axes differ: {a.shape} and {b.shape}",
                             got=(a.shape, b.shape), expected="equal last axis")
        try:
            out_shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
        except ValueError:
            raise ShapeError(f"{self.name}: shapes {a.shape} and {b.shape} do not broadcast",
                             got=(a.shape, b.shape), expected="broadcastable") from None
        self._cache = (a, b)
        return np.einsum("...d,...d->...", a, b).reshape(out_shape)

    __call__ = forward

    def backward(self, ds):
        """dL/da = ds ⊗ b and dL/db = ds ⊗ a, summed over the axes each input was broadcast along."""
        self._need_forward(self._cache)
        a, b = self._cache
        ds = np.asarray(ds)[..., None]
        return unbroadcast(ds * b, a.shape), unbroadcast(ds * a, b.shape)
