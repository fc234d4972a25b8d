import sys

import numpy as np
import pytest
from pmt.core import SparseRows

import pmt.graph as G
from pmt.graph import Parameter, Tensor, gradcheck, no_grad


def test_float_arrays_keep_dtype_and_other_data_becomes_float32():
    assert Tensor(np.zeros(3)).dtype == np.float64
    assert Tensor([1, 2, 3]).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Parameter(np.zeros(3)).dtype == np.float32


def test_tensor_attributes_and_conversions():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.numpy() is x.data
    assert Tensor(np.array([4.0])).item() == 4.0
    with pytest.raises(ValueError, match="single element"):
        x.item()
    with pytest.raises(TypeError, match="floating"):
        Tensor(np.arange(3), requires_grad=True, dtype=np.int64)


def test_backward_of_scalar_fills_leaf_gradients():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])


def test_non_scalar_backward_needs_seed_of_output_shape():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 3.0
    with pytest.raises(ValueError, match="explicit gradient seed"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(3,\)"):
        y.backward(np.ones(3))
    y.backward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.grad, 3 * np.arange(6.0).reshape(2, 3))


def test_gradients_accumulate_across_backward_calls_until_reset():
    w = Parameter(np.ones(2))
    for _ in range(3):
        (w * 2.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [6.0, 6.0])
    w.grad = None
    (w * 2.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 2.0])


def test_tensor_used_by_several_consumers_receives_the_sum():
    x = Tensor(np.array([2.0]), requires_grad=True)
    h = x * x                       # interior node with three consumers
    y = h + h * 3.0 + G.exp(h)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, (1 + 3 + np.exp(4.0)) * 2 * 2.0)


def test_shared_gradient_arrays_are_not_modified_in_place():
    # add() hands the same upstream array to both parents; accumulating into one must not
    # change the other's gradient.
    a, b = Parameter(np.ones(3), dtype=np.float64), Parameter(np.ones(3), dtype=np.float64)
    h = a + b
    y = (h + h).sum()
    y.backward()
    np.testing.assert_array_equal(a.grad, [2, 2, 2])
    np.testing.assert_array_equal(b.grad, [2, 2, 2])
    (a * 5.0).sum().backward()
    np.testing.assert_array_equal(b.grad, [2, 2, 2])


def test_ten_thousand_op_chain_backward_is_iterative():
    x = Tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below the chain length
    try:
        y.sum().backward()
    finally:
        sys.setrecursionlimit(old)
    np.testing.assert_allclose(x.grad, [1.0001 ** 10_000])


def test_no_grad_records_nothing_and_restores_state():
    x = Parameter(np.ones(3))
    with no_grad():
        y = x * 2.0
        assert not G.is_grad_enabled()
    assert G.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_as_decorator_and_enable_grad_inside():
    x = Parameter(np.ones(3))

    @no_grad()
    def f():
        with G.enable_grad():
            inner = x * 2.0
        return x * 2.0, inner
    outer, inner = f()
    assert not outer.requires_grad and inner.requires_grad


def test_detach_cuts_the_graph_but_shares_data():
    x = Parameter(np.ones(3), dtype=np.float64)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_only_inputs_that_require_grad_get_gradients():
    x = Tensor(np.ones(3))
    w = Parameter(np.ones(3))
    (x * w).sum().backward()
    assert x.grad is None and w.grad is not None


def test_from_op_adds_a_custom_operation():
    def cube(x):
        return Tensor.from_op(x.data ** 3, (x,), lambda g: (g * 3 * x.data ** 2,), "cube")
    x = Tensor(np.random.default_rng(0).standard_normal((3, 2)), requires_grad=True)
    assert gradcheck(cube, [x])
    assert cube(x)._op == "cube"
    assert not cube(Tensor(np.ones(2))).requires_grad  # no parent requires grad: no node


def test_from_op_with_wrong_gradient_shape_names_the_op():
    x = Tensor(np.ones(3), requires_grad=True)
    bad = Tensor.from_op(x.data * 2, (x,), lambda g: (np.ones(4),), "broken")
    with pytest.raises(RuntimeError, match="broken"):
        bad.sum().backward()


def test_sparse_gradients_accumulate_as_sparse_rows():
    E = Parameter(np.zeros((5, 2)))
    G.embedding(E, np.array([1, 2])).sum().backward()
    G.embedding(E, np.array([2])).sum().backward()
    assert isinstance(E.grad, SparseRows)
    np.testing.assert_array_equal(E.grad.to_dense(E.shape)[:, 0], [0, 1, 2, 0, 0])


def test_gradient_dtype_follows_the_leaf():
    w = Parameter(np.ones(3))  # float32
    (w * Tensor(np.ones(3))).sum().backward()  # float64 constant tensor promotes the product
    assert w.grad.dtype == np.float32


def test_backward_on_a_leaf_sets_its_gradient_to_the_seed():
    x = Parameter(np.ones(2))
    x.backward(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


def test_comparisons_give_boolean_arrays():
    x = Tensor(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(x > 1.5, [False, True])
    np.testing.assert_array_equal(x <= 1.0, [True, False])


def test_repr_shows_shape_dtype_and_op():
    assert "op=mul" in repr(Parameter(np.ones(2)) * 2.0)
    assert repr(Parameter(np.ones(2), name="w")) == "Parameter(name='w', shape=(2,), dtype=float32)"


def test_leaf_gradient_from_a_broadcast_is_a_writeable_array():
    w = Parameter(np.ones((2, 3)))
    w.sum().backward()
    w.grad *= 2  # would fail on a read-only broadcast view
    np.testing.assert_array_equal(w.grad, 2.0)


def test_failed_backward_leaves_no_stale_buffers():
    x = Tensor(np.ones(3), requires_grad=True)
    h = x * 2.0
    bad = Tensor.from_op(h.data, (h,), lambda g: (np.ones(5),), "broken")
    with pytest.raises(RuntimeError):
        (bad + h).sum().backward()
    x.grad = None
    h.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
