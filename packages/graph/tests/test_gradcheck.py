import numpy as np
import pytest

from pmt.graph import GradcheckError, Tensor, gradcheck


def test_gradcheck_catches_a_wrong_backward():
    def wrong_square(x):
        return Tensor.from_op(x.data ** 2, (x,), lambda g: (g * x.data,), "wrong_square")  # missing 2
    x = Tensor(np.random.default_rng(0).standard_normal(4), requires_grad=True)
    with pytest.raises(GradcheckError, match="analytic"):
        gradcheck(wrong_square, [x])


def test_gradcheck_requires_float64_and_a_differentiable_input():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x * 2.0, [Tensor(np.ones(2, np.float32), requires_grad=True)])
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2.0, [Tensor(np.ones(2))])


def test_gradcheck_passes_non_tensor_arguments_through():
    x = Tensor(np.random.default_rng(1).standard_normal(3), requires_grad=True)
    assert gradcheck(lambda a, k: a * k, [x, 3.0])
