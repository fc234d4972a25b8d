import numpy as np
import pytest

from pmt.core.gradcheck import numerical_gradient


def test_central_differences_match_a_known_gradient_and_restore_x():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    g = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(g, np.cos(before) * before + np.sin(before), atol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_non_contiguous_input_is_refused():
    x = np.zeros((3, 4)).T          # reshape(-1) of a transpose must copy
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda: 0.0, x)
