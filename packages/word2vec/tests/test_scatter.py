import numpy as np
import pytest

from pmt.word2vec import scatter_add_rows


# Few rows x columns take the flat np.add.at path; many (D = 100, n >= 1000) sort first and
# add the first occurrences with one buffered add, the repeats with the flat path.
@pytest.mark.parametrize("n,V,D", [(1, 5, 3), (50, 5, 3), (300, 1000, 3), (2000, 40, 3),
                                   (1000, 50, 100), (1500, 100_000, 100), (700, 3, 100)])
def test_scatter_add_rows_equals_unbuffered_add_at(n, V, D):
    rng = np.random.default_rng(n)
    idx = rng.integers(0, V, n)
    vals = rng.standard_normal((n, D))
    got = rng.standard_normal((V, D))
    want = got.copy()
    scatter_add_rows(got, idx, vals)
    np.add.at(want, idx, vals)
    assert np.allclose(got, want)


def test_scatter_add_rows_sums_repeated_rows():
    t = np.zeros((3, 2))
    scatter_add_rows(t, np.array([1, 1, 1, 0]), np.ones((4, 2)))
    assert t.tolist() == [[1, 1], [3, 3], [0, 0]]


def test_scatter_add_rows_with_no_rows_is_a_no_op():
    t = np.ones((2, 2))
    scatter_add_rows(t, np.zeros(0, dtype=np.int64), np.zeros((0, 2)))
    assert (t == 1).all()


def test_scatter_add_rows_rejects_a_non_contiguous_table():
    t = np.zeros((4, 6))[:, ::2]
    with pytest.raises(ValueError, match="C-contiguous 2-D array"):
        scatter_add_rows(t, np.array([0]), np.ones((1, 3)))
