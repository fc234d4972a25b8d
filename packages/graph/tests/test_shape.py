import numpy as np
import pytest
from pmt.core import SparseRows

import pmt.graph as G
from pmt.graph import Parameter, Tensor, gradcheck

R = np.random.default_rng(4)


def t(*shape):
    return Tensor(R.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("shape,new", [((3, 4), (4, 3)), ((2, 3, 4), (6, -1)), ((5,), (1, 5, 1)), ((0, 3), (3, 0))])
def test_reshape_gradients(shape, new):
    assert gradcheck(lambda x: G.reshape(x, new), [t(*shape)])


@pytest.mark.parametrize("shape,axes", [((3, 4), None), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, -1, 1)),
                                        ((1, 5), (1, 0))])
def test_transpose_and_permute_gradients(shape, axes):
    assert gradcheck(lambda x: G.transpose(x, axes), [t(*shape)])
    if axes is not None:
        assert gradcheck(lambda x: x.permute(*axes), [t(*shape)])


def test_reshape_and_transpose_reject_bad_arguments():
    with pytest.raises(ValueError, match="into"):
        G.reshape(t(3, 4), (5, 2))
    with pytest.raises(ValueError, match="permutation"):
        G.transpose(t(3, 4), (0, 0))


INDICES = [(1,), (slice(1, 3),), (Ellipsis, 0), (slice(None), None, 1), (np.array([0, 2, 2, 0]),),
           (np.array([[1, 1], [0, 2]]), slice(None, 2)), (np.array([True, False, True]),),
           (np.array([0, 0, 1]), np.array([1, 1, 3])), (slice(3, 3),)]


@pytest.mark.parametrize("index", INDICES, ids=range(len(INDICES)))
def test_indexing_gradients_scatter_back_and_add_duplicates(index):
    assert gradcheck(lambda x: x[index], [t(3, 4)])


def test_fancy_index_with_duplicates_adds_gradients():
    x = t(3)
    x[np.array([0, 0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 0, 1])


def test_index_out_of_range_raises_index_error_naming_shape():
    with pytest.raises(IndexError, match=r"\(3, 4\)"):
        t(3, 4)[5]


def test_embedding_gives_sparse_row_gradient_with_duplicates():
    E = Parameter(R.standard_normal((10, 3)))
    ids = np.array([[1, 4], [4, 9]])
    out = G.embedding(E, ids)
    assert out.shape == (2, 2, 3)
    out.backward(np.ones((2, 2, 3), np.float32))
    assert isinstance(E.grad, SparseRows)
    dense = E.grad.to_dense(E.shape)
    np.testing.assert_array_equal(dense[:, 0], [0, 1, 0, 0, 2, 0, 0, 0, 0, 1])


def test_embedding_gradients_match_finite_differences():
    E = Tensor(R.standard_normal((6, 3)), requires_grad=True)
    assert gradcheck(lambda e: G.embedding(e, np.array([[0, 5, 5], [2, 0, 1]])), [E])
    assert gradcheck(lambda e: G.embedding(e, np.zeros((0,), np.int64)), [E])  # empty batch: zero gradient


def test_embedding_of_empty_batch_and_bad_ids():
    E = Parameter(np.ones((4, 2)))
    assert G.embedding(E, np.zeros((0, 5), np.int64)).shape == (0, 5, 2)
    with pytest.raises(IndexError, match="index 4"):
        G.embedding(E, np.array([1, 4]))
    with pytest.raises(TypeError, match="integers"):
        G.embedding(E, np.array([1.0]))


def test_embedding_of_interior_tensor_densifies_the_sparse_gradient():
    E = t(5, 2)
    assert gradcheck(lambda e: G.embedding(e * 2.0, np.array([1, 1, 3])), [E])


@pytest.mark.parametrize("shape,axis,index_shape", [((3, 4), 1, (3, 2)), ((3, 4), 0, (5, 4)),
                                                     ((2, 3, 4), -1, (2, 3, 1))])
def test_gather_gradients_with_repeated_picks(shape, axis, index_shape):
    n = shape[axis]
    idx = R.integers(0, n, index_shape)
    assert gradcheck(lambda x: G.gather(x, idx, axis), [t(*shape)])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate_and_stack_gradients(axis):
    a, b, c = t(2, 3), t(2, 3), t(2, 3)
    assert gradcheck(lambda x, y, z: G.concatenate([x, y, z], axis), [a, b, c])
    assert gradcheck(lambda x, y, z: G.stack([x, y, z], axis), [a, b, c])


def test_concatenate_mixed_sizes_and_constants():
    a, b = t(2, 3), t(4, 3)
    assert gradcheck(lambda x, y: G.concatenate([x, np.zeros((1, 3)), y], 0), [a, b])
    with pytest.raises(ValueError, match="shapes"):
        G.concatenate([t(2, 3), t(2, 4)], 0)
    with pytest.raises(ValueError, match="same shape"):
        G.stack([t(2, 3), t(2, 4)])


@pytest.mark.parametrize("sections,axis", [(3, 0), ([1, 4], 0), (2, 1), ([0, 2], 1)])
def test_split_pieces_gradients_sum_back(sections, axis):
    x = t(6, 4)
    assert gradcheck(lambda z: G.stack([p.sum() for p in G.split(z, sections, axis)]), [x])
    assert gradcheck(lambda z: G.split(z, sections, axis)[-1], [x])


def test_split_rejects_unequal_sections():
    with pytest.raises(ValueError, match="equal pieces"):
        G.split(t(5, 2), 2)


def test_embedding_equals_indexing_the_table():
    E = Tensor(R.standard_normal((7, 3)), requires_grad=True)
    ids = np.array([[0, 5, 5], [2, 5, 1]])
    assert G.gradcheck_against(lambda e: G.embedding(e, ids), lambda e: e[ids], [E], rtol=1e-13)


def test_embedding_gradient_rows_are_unique_sorted_and_summed():
    E = Tensor(np.zeros((6, 2)), requires_grad=True)
    ids = np.array([[4, 1, 4], [1, 1, 0]])
    g = np.arange(12.0).reshape(2, 3, 2)
    G.embedding(E, ids).backward(g)
    assert E.grad.indices.tolist() == [0, 1, 4]
    np.testing.assert_array_equal(E.grad.values, [g[1, 2], g[0, 1] + g[1, 0] + g[1, 1], g[0, 0] + g[0, 2]])
