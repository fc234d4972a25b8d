"""Adding many gradient rows into a table when row indices repeat.

`W[idx] += vals` is wrong when `idx` has duplicates (numpy buffers the fancy assignment, so
only one of the repeated rows lands), and row-wise `np.add.at(W, idx, vals)` is right but slow
(~1 µs a row).  `np.add.at` on the *flattened* table, one index per element, takes numpy's
fast 1-D path (~1-2 ns an element) and has almost no fixed cost.  For many rows it is cheaper
still to sort the indices once, which splits the rows in two:

* the first occurrence of every index: unique, so one buffered `W[first] += rows` is right
  (a gather, an add and a scatter of whole rows: ~0.3 ns an element);
* the repeats (frequent words met again in the same batch): the flat `np.add.at` above.

(`np.add.reduceat` over the sorted repeats looks natural but costs ~0.5 µs *per group*, and a
batch has hundreds of distinct repeated words: measured 3x slower than the flat `np.add.at`.)

Gathers use `np.take(..., axis=0)`, measurably faster than fancy indexing for row lookups.
"""
from __future__ import annotations

import numpy as np

_FLAT_LIMIT = 32_768  # rows x columns below which flat np.add.at alone beats sorting first


def _flat_add_at(table: np.ndarray, idx: np.ndarray, vals: np.ndarray) -> None:
    """table[idx[i]] += vals[i] through the flat view: element (i, j) is i * D + j."""
    D = table.shape[1]
    flat_idx = (np.asarray(idx, dtype=np.intp)[:, None] * D + np.arange(D)).ravel()
    np.add.at(table.reshape(-1), flat_idx, np.asarray(vals, dtype=table.dtype).reshape(-1))


def scatter_add_rows(table: np.ndarray, idx: np.ndarray, vals: np.ndarray) -> None:
    """table[idx[i]] += vals[i] for every i, summing rows whose index repeats (in place).

    Args:
        table: (V, D) C-contiguous array, updated in place.
        idx: (n,) int row indices, duplicates allowed.
        vals: (n, D) rows to add.

    Example:
        >>> t = np.zeros((3, 1)); scatter_add_rows(t, np.array([2, 0, 2]), np.ones((3, 1)))
        >>> t.ravel().tolist()
        [1.0, 0.0, 2.0]
    """
    if len(idx) == 0:
        return
    if table.ndim != 2 or not table.flags.c_contiguous:
        raise ValueError(f"scatter_add_rows: table must be a C-contiguous 2-D array, got shape "
                         f"{table.shape} (contiguous={table.flags.c_contiguous})")
    if len(idx) * table.shape[1] <= _FLAT_LIMIT:
        _flat_add_at(table, idx, vals)
        return
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    first = np.empty(len(s), dtype=bool)  # True at the first row of each index's group
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    rows = s[first]
    table[rows] = np.take(table, rows, axis=0) + np.take(vals, order[first], axis=0)
    if len(rows) < len(idx):
        repeat = ~first
        _flat_add_at(table, s[repeat], np.take(vals, order[repeat], axis=0))
