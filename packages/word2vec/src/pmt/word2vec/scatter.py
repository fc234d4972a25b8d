"""Adding many gradient rows into a table when row indices repeat.

`W[idx] += vals` is wrong when `idx` has duplicates (numpy buffers the fancy assignment, so
only one of the repeated rows lands), and `np.add.at(W, idx, vals)` is right but slow
(several µs a row).  Here the indices are sorted once, which splits the rows in two:

* the first occurrence of every index: unique, so one buffered `W[first] += rows` is right;
* the repeats (frequent words met again in the same batch): few, and contiguous per index
  after the sort, so `np.add.reduceat` sums them per index before one more buffered add.

Gathers use `np.take(..., axis=0)`, measurably faster than fancy indexing for row lookups.

For few rows the sort costs more than it saves: `np.add.at` on the *flattened* table (one
index per element, numpy's fast 1-D path, ~2 ns an element) has almost no fixed cost, and is
used below `_FLAT_LIMIT` elements (measured crossover between 266 and 1,536 rows of 100).
"""
from __future__ import annotations

import numpy as np

_FLAT_LIMIT = 65_536  # rows x columns below which flat np.add.at beats sorting


def scatter_add_rows(table: np.ndarray, idx: np.ndarray, vals: np.ndarray) -> None:
    """table[idx[i]] += vals[i] for every i, summing rows whose index repeats (in place).

    Args:
        table: (V, D) array, updated in place.
        idx: (n,) int row indices, duplicates allowed.
        vals: (n, D) rows to add.

    Example:
        >>> t = np.zeros((3, 1)); scatter_add_rows(t, np.array([2, 0, 2]), np.ones((3, 1)))
        >>> t.ravel().tolist()
        [1.0, 0.0, 2.0]
    """
    if len(idx) == 0:
        return
    D = table.shape[1] if table.ndim == 2 else 1
    if len(idx) * D <= _FLAT_LIMIT and table.ndim == 2 and table.flags.c_contiguous:
        # Element (i, j) of the table is element i * D + j of its flat view.
        flat_idx = (np.asarray(idx, dtype=np.int64)[:, None] * D + np.arange(D)).ravel()
        np.add.at(table.reshape(-1), flat_idx, np.asarray(vals, dtype=table.dtype).reshape(-1))
        return
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    first = np.empty(len(s), dtype=bool)  # True at the first row of each index's group
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    lead = order[first]
    rows = s[first]
    table[rows] = np.take(table, rows, axis=0) + np.take(vals, lead, axis=0)
    if len(lead) == len(idx):
        return
    rest = ~first
    r_idx, r_rows = s[rest], order[rest]                 # repeats, sorted by index
    new = np.empty(len(r_idx), dtype=bool)
    new[0] = True
    np.not_equal(r_idx[1:], r_idx[:-1], out=new[1:])
    sums = np.add.reduceat(np.take(vals, r_rows, axis=0), np.flatnonzero(new), axis=0)  # (G, D)
    words = r_idx[new]
    table[words] = np.take(table, words, axis=0) + sums
