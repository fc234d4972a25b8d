import numpy as np
import pytest

from pmt.core import SparseRows
from pmt.mlp.gradcheck import numerical_gradient, relative_error
from pmt.word2vec import AxisDot, AxisMean, Embedding


def _dense(grad, shape):
    return grad.to_dense(shape) if isinstance(grad, SparseRows) else grad


@pytest.mark.parametrize("ids_shape", [(4,), (3, 5), (2, 2, 3)])
def test_embedding_backward_matches_finite_differences(ids_shape):
    rng = np.random.default_rng(0)
    emb = Embedding(7, 3, init="normal", rng=rng, dtype=np.float64)
    ids = rng.integers(0, 7, size=ids_shape)  # repeats on purpose: their gradients must add up
    y = emb.forward(ids)
    dy = rng.standard_normal(y.shape)
    emb.weight.grad = None
    assert emb.backward(dy) is None
    numeric = numerical_gradient(lambda: float(np.vdot(emb.forward(ids), dy)), emb.weight.data)
    assert relative_error(_dense(emb.weight.grad, emb.weight.shape), numeric) < 1e-7


def test_embedding_gradient_is_sparse_rows_of_the_looked_up_ids():
    emb = Embedding(100, 4)
    ids = np.array([[3, 3, 50]])
    emb.forward(ids)
    emb.backward(np.ones((1, 3, 4), np.float32))
    g = emb.weight.grad
    assert isinstance(g, SparseRows)
    assert sorted(g.indices.tolist()) == [3, 3, 50]
    dense = g.to_dense(emb.weight.shape)
    assert np.count_nonzero(dense.any(axis=1)) == 2 and dense[3, 0] == 2


def test_embedding_sgd_updates_only_touched_rows():
    from pmt.core import SGD
    emb = Embedding(10, 2, init="normal", rng=np.random.default_rng(1))
    before = emb.weight.data.copy()
    emb.forward(np.array([[2, 7]]))
    emb.backward(np.ones((1, 2, 2), np.float32))
    SGD(emb.parameters(), lr=0.1).step()
    changed = np.flatnonzero((emb.weight.data != before).any(axis=1))
    assert changed.tolist() == [2, 7]


def test_embedding_accepts_whole_float_ids_and_rejects_bad_ones():
    emb = Embedding(5, 2)
    assert emb.forward(np.array([[1.0, 4.0]])).shape == (1, 2, 2)
    with pytest.raises(ValueError, match="id 5 is out of range"):
        emb.forward(np.array([[5]]))
    with pytest.raises(ValueError, match="out of range"):
        emb.forward(np.array([[-1]]))
    with pytest.raises(TypeError, match="whole numbers"):
        emb.forward(np.array([[1.5]]))
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        Embedding(5, 0)


@pytest.mark.parametrize("shape,axis", [((2, 3, 4), 0), ((2, 3, 4), 1), ((3, 5, 2, 2), 1)])
def test_axis_mean_backward_matches_finite_differences(shape, axis):
    rng = np.random.default_rng(2)
    layer = AxisMean(axis, dtype=np.float64)
    x = rng.standard_normal(shape)
    layer.build(shape[1:])
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    numeric = numerical_gradient(lambda: float(np.vdot(layer.forward(x), dy)), x)
    assert relative_error(dx, numeric) < 1e-7
    assert np.allclose(y, x.mean(axis=axis + 1))


def test_axis_mean_rejects_missing_axis():
    with pytest.raises(ValueError, match="axis 2 does not exist"):
        AxisMean(2).build((3, 4))


@pytest.mark.parametrize("sa,sb", [((4, 3), (4, 3)), ((2, 1, 5), (2, 6, 5)), ((2, 6, 5), (2, 1, 5)),
                                   ((5,), (3, 4, 5))])
def test_axis_dot_backward_matches_finite_differences_for_both_inputs(sa, sb):
    rng = np.random.default_rng(3)
    layer = AxisDot(dtype=np.float64)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    s = layer.forward(a, b)
    ds = rng.standard_normal(s.shape)
    da, db = layer.backward(ds)
    assert da.shape == a.shape and db.shape == b.shape
    num_a = numerical_gradient(lambda: float(np.vdot(layer.forward(a, b), ds)), a)
    num_b = numerical_gradient(lambda: float(np.vdot(layer.forward(a, b), ds)), b)
    assert relative_error(da, num_a) < 1e-7
    assert relative_error(db, num_b) < 1e-7


def test_axis_dot_rejects_mismatched_last_axes():
    with pytest.raises(ValueError, match="last axes differ"):
        AxisDot().forward(np.ones((2, 3)), np.ones((2, 4)))
