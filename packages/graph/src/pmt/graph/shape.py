"""Operations that move values without changing them: reshape, transpose, indexing, gather,
embedding lookup, concatenate, stack, split.

Their gradients move the upstream gradient back to where each value came from:

    reshape:      dL/dx = g reshaped to x's shape
    transpose:    dL/dx = g transposed by the inverse permutation
    x[index]:     dL/dx = zeros with g scattered into x[index]; with repeated integer
                  indices the contributions are *added* (np.add.at), not overwritten
    embedding:    dL/dtable = SparseRows(unique ids, g summed per id): only the looked-up
                  rows (a 30,000-row table is never densified)
    concatenate/stack/split: slice the gradient apart / put the pieces together
"""
from __future__ import annotations

import numpy as np
from pmt.core.parameter import SparseRows

from .tensor import Tensor


def reshape(x: Tensor, shape) -> Tensor:
    """x with a new shape (same number of elements; one entry may be -1).

    dL/dx = g.reshape(x.shape).
    """
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    try:
        out = x.data.reshape(shape)
    except (ValueError, TypeError):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                         f"into {shape}") from None
    in_shape = x.shape
    return Tensor.from_op(out, (x,), lambda g: (g.reshape(in_shape),), "reshape")


def transpose(x: Tensor, axes=None) -> Tensor:
    """Permute axes (`axes=None` reverses them, as `.T`).  Also available as `x.permute(...)`.

    dL/dx = g transposed by the inverse permutation (argsort(axes)).

    Example:
        >>> transpose(Tensor(np.zeros((2, 3, 4))), (0, 2, 1)).shape
        (2, 4, 3)
    """
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    axes = tuple(int(a) % x.ndim if isinstance(a, (int, np.integer)) and -x.ndim <= a < x.ndim else a
                 for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    inverse = tuple(np.argsort(axes))
    return Tensor.from_op(x.data.transpose(axes), (x,), lambda g: (g.transpose(inverse),), "transpose")


def _plain_index(index):
    """Tensor indices become arrays; lists become arrays (so numpy treats them as fancy)."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index) -> bool:
    """True if the index only selects (ints, slices, None, ...): each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def _no_repeats(index) -> bool:
    """Boolean masks and basic indices never pick an element twice; integer arrays may."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(not isinstance(p, np.ndarray) or p.dtype == bool for p in parts)


def getitem(x: Tensor, index) -> Tensor:
    """x[index] with numpy semantics: ints, slices, None, Ellipsis, boolean masks, integer arrays.

    dL/dx = zeros(x.shape) with g scattered to the selected positions; an element selected
    several times (repeated integer indices) receives the sum of its gradients.
    """
    index = _plain_index(index)
    try:
        out = x.data[index]
    except IndexError as e:
        raise IndexError(f"indexing a tensor of shape {x.shape} with {index!r}: {e}") from None
    shape = x.shape
    basic = _is_basic(index)
    if basic:
        out = np.asarray(out)  # an int index on a 1-D tensor gives a numpy scalar

    def backward(g):
        dx = np.zeros(shape, dtype=g.dtype)
        if basic or _no_repeats(index):
            dx[index] = g
        else:
            np.add.at(dx, index, g)  # unbuffered: repeated indices accumulate
        return (dx,)
    return Tensor.from_op(out, (x,), backward, "getitem")


def _int_ids(ids, name):
    ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got dtype {ids.dtype}")
    return ids


def embedding(table: Tensor, ids) -> Tensor:
    """Look up rows of `table`: out[..., :] = table[ids[...], :].

    Args:
        table: (num_rows, *row_shape), usually (vocab, dim).
        ids: integer array of any shape, entries in [0, num_rows).

    Returns:
        (*ids.shape, *row_shape).  dL/dtable = SparseRows(unique ids, the sum of g over each
        id's occurrences): the gradient touches only the looked-up rows, so an optimizer
        updates a few hundred rows of a 30,000-row table, never the whole of it.

    Repeated ids are summed here, with one stable sort and a segmented sum (np.add.reduceat
    over the runs of equal ids), rather than left to a later np.add.at scatter, which is
    several times slower; the optimizer then receives unique, sorted rows.

    Example:
        >>> E = Tensor(np.random.randn(100, 8), requires_grad=True)
        >>> embedding(E, np.array([[1, 2], [2, 3]])).shape
        (2, 2, 8)
    """
    ids = _int_ids(ids, "embedding")
    n = table.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = ids[(ids < 0) | (ids >= n)].flat[0]
        raise IndexError(f"embedding: index {bad} is out of range for a table of {n} rows")
    out = table.data[ids]                                            # (*ids.shape, *row_shape), a copy
    row_shape = table.shape[1:]

    def backward(g):
        flat = ids.reshape(-1)                                       # (N,)
        if flat.size == 0:
            return (SparseRows(flat, g.reshape((0,) + row_shape)),)
        order = np.argsort(flat, kind="stable")
        sorted_ids = flat[order]
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # first of each run
        rows = g.reshape((-1,) + row_shape)                          # (N, *row_shape)
        return (SparseRows(sorted_ids[starts], np.add.reduceat(rows[order], starts, axis=0)),)
    return Tensor.from_op(out, (table,), backward, "embedding")


def gather(x: Tensor, index, axis: int = -1) -> Tensor:
    """Pick entries along `axis`: out[..., i, ...] = x[..., index[..., i, ...], ...]
    (numpy's take_along_axis; index has x's number of dimensions).

    dL/dx = zeros with g added at the picked positions (repeats summed).

    Example:
        >>> logp = Tensor(np.log(np.full((2, 3), 1 / 3)))
        >>> gather(logp, np.array([[0], [2]]), axis=1).shape
        (2, 1)
    """
    index = _int_ids(index, "gather")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"gather: axis {axis} is out of range for shape {x.shape}")
    axis %= x.ndim
    if index.ndim != x.ndim:
        raise ValueError(f"gather: index must have {x.ndim} dimensions like x, got shape {index.shape}")
    try:
        out = np.take_along_axis(x.data, index, axis=axis)
    except (IndexError, ValueError) as e:
        raise IndexError(f"gather: index of shape {index.shape} into x of shape {x.shape} along "
                         f"axis {axis}: {e}") from None
    shape = x.shape

    def backward(g):
        full = np.broadcast_shapes(index.shape, g.shape)
        where = list(np.ix_(*[np.arange(n) for n in full]))  # open mesh over every axis
        where[axis] = np.broadcast_to(index, full)
        dx = np.zeros(shape, dtype=g.dtype)
        np.add.at(dx, tuple(where), g)
        return (dx,)
    return Tensor.from_op(out, (x,), backward, "gather")


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis.  dL/dx_i = the slice of g that came from x_i."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: need at least one tensor")
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except (ValueError, np.exceptions.AxisError) as e:
        raise ValueError(f"concatenate: shapes {[t.shape for t in tensors]} along axis {axis}: {e}") from None
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return [piece if t.requires_grad else None
                for t, piece in zip(tensors, np.split(g, bounds, axis=axis))]
    return Tensor.from_op(out, tuple(tensors), backward, "concatenate")


def stack(tensors, axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new axis.  dL/dx_i = g taken at position i of `axis`."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {[t.shape for t in tensors]}")
    try:
        out = np.stack([t.data for t in tensors], axis=axis)
    except np.exceptions.AxisError as e:
        raise ValueError(f"stack: {e}") from None

    def backward(g):
        return [np.take(g, i, axis=axis) if t.requires_grad else None for i, t in enumerate(tensors)]
    return Tensor.from_op(out, tuple(tensors), backward, "stack")


def split(x: Tensor, sections, axis: int = 0) -> list:
    """Split x along `axis` into pieces (numpy.split semantics).

    Args:
        sections: number of equal pieces, or the list of split points.

    Each piece is a slice of x, so dL/dx sums the pieces' gradients back into place.

    Example:
        >>> [p.shape for p in split(Tensor(np.zeros((6, 2))), [2, 5])]
        [(2, 2), (3, 2), (1, 2)]
    """
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"split: axis {axis} is out of range for shape {x.shape}")
    axis %= x.ndim
    n = x.shape[axis]
    if isinstance(sections, (int, np.integer)):
        if sections <= 0 or n % sections:
            raise ValueError(f"split: cannot split axis {axis} of length {n} into {sections} equal pieces")
        points = list(range(n // sections, n, n // sections)) if n else [0] * (sections - 1)
    else:
        points = [int(p) for p in sections]
    edges = [0, *points, n]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(lo, hi),)) for lo, hi in zip(edges[:-1], edges[1:])]
