import numpy as np
import pytest

import pmt.graph as G
from pmt.graph import Parameter, Tensor, gradcheck

R = np.random.default_rng(1)


def t(*shape):
    return Tensor(R.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)),
                                   ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (4, 5)),
                                   ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4,)), ((0, 4), (4, 3)),
                                   ((1, 1), (1, 1))])
def test_matmul_gradients_match_finite_differences_batched_and_broadcast(sa, sb):
    assert gradcheck(G.matmul, [t(*sa), t(*sb)])


def test_matmul_with_constant_operand_and_operator_forms():
    a, w = t(3, 4), t(4, 2)
    assert gradcheck(lambda x: x @ np.ones((4, 2)), [a])
    assert gradcheck(lambda x: np.ones((5, 3)) @ x, [a])
    np.testing.assert_allclose((a @ w).data, a.data @ w.data)


def test_matmul_rejects_mismatched_inner_dimensions():
    with pytest.raises(ValueError, match="inner dimensions"):
        G.matmul(t(3, 4), t(5, 2))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        G.matmul(Tensor(np.array(2.0)), t(2))


@pytest.mark.parametrize("xshape", [(5, 3), (2, 4, 3), (0, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_match_finite_differences(xshape, bias):
    W = Parameter(R.standard_normal((3, 2)), dtype=np.float64)
    b = Parameter(R.standard_normal(2), dtype=np.float64) if bias else None
    assert gradcheck(lambda x, w, *bb: G.linear(x, w, *bb), [t(*xshape), W] + ([b] if bias else []))


def test_linear_accepts_plain_array_input_and_checks_shapes():
    W = Parameter(np.ones((3, 2)))
    y = G.linear(np.ones((4, 3), np.float32), W)
    y.sum().backward()
    np.testing.assert_array_equal(W.grad, np.full((3, 2), 4.0))
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 3\)"):
        G.linear(np.ones((4, 5)), W)
    with pytest.raises(ValueError, match="bias"):
        G.linear(np.ones((4, 3)), W, Parameter(np.ones(3)))


@pytest.mark.parametrize("xshape", [(5, 4), (2, 3, 4), (2, 1, 3, 4), (4,), (0, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_matmul_plus_bias(xshape, bias):
    rng = np.random.default_rng(8)
    x = Tensor(rng.standard_normal(xshape), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(3), requires_grad=True) if bias else None
    inputs = [x, w] + ([b] if bias else [])
    assert G.gradcheck_against(lambda x, w, *b: G.linear(x, w, *b),
                               lambda x, w, *b: x @ w + b[0] if b else x @ w, inputs, rtol=1e-12)


def test_linear_flattens_a_non_contiguous_input():
    x = Tensor(np.random.default_rng(9).standard_normal((4, 3, 2)).transpose(2, 1, 0), requires_grad=True)
    w = Tensor(np.ones((4, 5)), requires_grad=True)
    assert G.gradcheck_against(lambda x, w: G.linear(x, w), lambda x, w: x @ w, [x, w], rtol=1e-12)
