import numpy as np

from pmt.mlp import Flatten
from pmt.mlp.gradcheck import check_layer


def test_flatten_builds_product_shape_and_round_trips_gradient():
    f = Flatten()
    assert f.build((28, 28)) == (784,)
    x = np.random.randn(5, 28, 28).astype(np.float32)
    y = f.forward(x)
    assert y.shape == (5, 784) and np.shares_memory(x, y)     # a view, no copy
    assert f.backward(y).shape == (5, 28, 28)


def test_flatten_backward_matches_finite_differences_batch_of_one():
    assert check_layer(Flatten(dtype=np.float64), np.random.randn(1, 2, 3))["x"] < 1e-9
