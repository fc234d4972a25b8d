import numpy as np
import pytest

from pmt.core import Parameter, SparseRows
from pmt.core.parameter import add_grad


def test_parameter_defaults_to_float32_contiguous():
    p = Parameter(np.arange(6).reshape(2, 3), name="w")
    assert p.data.dtype == np.float32 and p.data.flags.c_contiguous
    assert p.shape == (2, 3) and p.size == 6 and p.grad is None
    assert "w" in repr(p)


def test_parameter_keeps_float64_when_asked():
    assert Parameter(np.zeros(3), dtype=np.float64).data.dtype == np.float64


def test_accumulate_adds_dense_gradients_without_mutating_the_first():
    p = Parameter(np.zeros((2, 2)))
    g1 = np.ones((2, 2), np.float32)
    p.accumulate(g1)
    p.accumulate(np.full((2, 2), 2, np.float32))
    np.testing.assert_array_equal(p.grad, np.full((2, 2), 3))
    np.testing.assert_array_equal(g1, np.ones((2, 2)))  # caller's array untouched


def test_accumulate_rejects_wrong_shape_naming_the_parameter():
    p = Parameter(np.zeros((2, 3)), name="emb")
    with pytest.raises(ValueError, match=r"emb.*\(3, 2\).*\(2, 3\)"):
        p.accumulate(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="emb: sparse gradient rows"):
        p.accumulate(SparseRows(np.array([0]), np.zeros((1, 4))))


def test_sparse_plus_sparse_concatenates_rows():
    p = Parameter(np.zeros((5, 2)))
    p.accumulate(SparseRows(np.array([1]), np.ones((1, 2))))
    p.accumulate(SparseRows(np.array([1, 3]), np.ones((2, 2))))
    assert isinstance(p.grad, SparseRows) and list(p.grad.indices) == [1, 1, 3]
    np.testing.assert_array_equal(p.grad.to_dense((5, 2))[1], [2, 2])


@pytest.mark.parametrize("sparse_first", [True, False])
def test_sparse_plus_dense_gives_dense_sum(sparse_first):
    dense = np.ones((4, 2))
    sparse = SparseRows(np.array([0, 0, 2]), np.array([[1.0, 1], [2, 2], [3, 3]]))
    out = add_grad(sparse, dense) if sparse_first else add_grad(dense, sparse)
    np.testing.assert_array_equal(out, [[4, 4], [1, 1], [4, 4], [1, 1]])
    np.testing.assert_array_equal(dense, np.ones((4, 2)))


def test_coalesce_sums_duplicates_and_sorts():
    g = SparseRows(np.array([3, 1, 3]), np.array([[1.0], [2.0], [4.0]])).coalesce()
    np.testing.assert_array_equal(g.indices, [1, 3])
    np.testing.assert_array_equal(g.values, [[2.0], [5.0]])


def test_coalesce_without_duplicates_only_sorts():
    g = SparseRows(np.array([2, 0]), np.array([[1.0], [2.0]])).coalesce()
    np.testing.assert_array_equal(g.indices, [0, 2])
    np.testing.assert_array_equal(g.values, [[2.0], [1.0]])


def test_to_dense_scatter_adds_duplicates():
    d = SparseRows(np.array([0, 2, 0]), np.ones((3, 2))).to_dense((3, 2))
    np.testing.assert_array_equal(d, [[2, 2], [0, 0], [1, 1]])


def test_sparse_rows_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 indices but 3 value rows"):
        SparseRows(np.array([0, 1]), np.zeros((3, 2)))
