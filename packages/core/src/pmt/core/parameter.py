"""Parameters: a named float32 array together with its gradient.

A gradient is either dense (an array of the parameter's shape) or *sparse rows*
(`SparseRows`: row indices plus one gradient row per index).  Sparse rows are what an
embedding lookup produces: a batch touches a few hundred rows of a 30,000-row table, so
the optimizer should read and write only those rows.

Everything in `pmt.core` that consumes parameters (optimizers, clipping, checkpoints)
relies only on two attributes, so the autograd tensors of `pmt.graph` can act as
parameters too:

    p.data : np.ndarray                     # the values, updated in place
    p.grad : np.ndarray | SparseRows | None # None until a backward pass writes it
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SparseRows:
    """A gradient that is zero except on some rows of a 2-D (or N-D) parameter.

    Args:
        indices: (n,) int array of row indices; may contain duplicates.
        values: (n, *row_shape) gradient rows, one per index.

    Duplicated indices mean "add these rows": `to_dense` and `coalesce` sum them.
    """

    indices: np.ndarray
    values: np.ndarray

    def __post_init__(self):
        self.indices = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        if self.values.shape[0] != self.indices.shape[0]:
            raise ValueError(
                f"SparseRows: {self.indices.shape[0]} indices but {self.values.shape[0]} value rows"
            )

    def coalesce(self) -> "SparseRows":
        """Return an equivalent SparseRows with unique, sorted indices (duplicates summed)."""
        uniq, inverse = np.unique(self.indices, return_inverse=True)
        if len(uniq) == len(self.indices):
            order = np.argsort(self.indices, kind="stable")
            return SparseRows(self.indices[order], self.values[order])
        summed = np.zeros((len(uniq),) + self.values.shape[1:], dtype=self.values.dtype)
        np.add.at(summed, inverse, self.values)  # unbuffered: repeated rows accumulate
        return SparseRows(uniq, summed)

    def to_dense(self, shape, dtype=None) -> np.ndarray:
        """Scatter-add the rows into a zero array of `shape`."""
        out = np.zeros(shape, dtype=dtype or self.values.dtype)
        np.add.at(out, self.indices, self.values)
        return out


def add_grad(current, new):
    """Accumulate gradient `new` into `current` (either may be dense, sparse or None).

    Dense + dense allocates the sum (never writes into an array a caller may still hold);
    sparse + sparse concatenates rows (coalesced later, by the optimizer); a mix turns the
    sparse part dense.  Returns the accumulated gradient.
    """
    if current is None:
        return new
    if isinstance(current, SparseRows) and isinstance(new, SparseRows):
        return SparseRows(np.concatenate([current.indices, new.indices]),
                          np.concatenate([current.values, new.values]))
    if isinstance(current, SparseRows):
        current, new = new, current
    if isinstance(new, SparseRows):
        current = np.array(current, copy=True)
        np.add.at(current, new.indices, new.values)
        return current
    return current + new


class Parameter:
    """A trainable array with a name and a gradient slot.

    Args:
        data: initial values; converted to float32 unless `dtype` says otherwise
            (float64 is used by gradient checks).
        name: a label used in error messages, summaries and checkpoints.
        dtype: numpy dtype of the stored values (default float32).

    Attributes:
        data: the values (updated in place by optimizers).
        grad: None, a dense array of `data.shape`, or `SparseRows`.

    Example:
        >>> w = Parameter(np.zeros((3, 2)), name="W")
        >>> w.grad = np.ones((3, 2), np.float32)
    """

    def __init__(self, data, name: str = "param", dtype=np.float32):
        self.data = np.ascontiguousarray(data, dtype=dtype)
        self.name = name
        self.grad = None

    @property
    def shape(self):
        return self.data.shape

    @property
    def size(self):
        return self.data.size

    def zero_grad(self):
        self.grad = None

    def accumulate(self, grad):
        """Add a dense array or SparseRows to this parameter's gradient, checking its shape."""
        if isinstance(grad, SparseRows):
            if grad.values.shape[1:] != self.data.shape[1:]:
                raise ValueError(f"{self.name}: sparse gradient rows of shape {grad.values.shape[1:]}, "
                                 f"parameter rows have shape {self.data.shape[1:]}")
        elif np.shape(grad) != self.data.shape:
            raise ValueError(f"{self.name}: gradient of shape {np.shape(grad)} for parameter of "
                             f"shape {self.data.shape}")
        self.grad = add_grad(self.grad, grad)

    def __repr__(self):
        return f"Parameter(name={self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"
