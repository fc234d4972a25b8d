import numpy as np
import pytest

from pmt.mlp import Activation, Dense, Layer, ShapeError


class Double(Activation):
    def forward(self, x):
        return 2 * x

    def backward(self, dy):
        return 2 * dy


def test_a_custom_layer_gets_shapes_modes_and_an_empty_state_from_the_base_class():
    layer = Double()
    assert layer.build((3,)) == (3,) and layer.output_shape == (3,)
    assert layer.parameters() == [] and layer.state_dict() == {}
    assert layer.training and not layer.eval().training and layer.train().training


def test_base_layer_forward_is_abstract():
    with pytest.raises(NotImplementedError):
        Layer().forward(np.ones((1, 2)))


@pytest.mark.parametrize("shape,err", [((0, 3), ValueError), (("a",), ValueError), (None, TypeError)])
def test_build_rejects_bad_shapes(shape, err):
    with pytest.raises(err):
        Double().build(shape)


def test_integer_dtype_is_refused():
    with pytest.raises(TypeError, match="floating"):
        Double(dtype=np.int32)


def test_load_state_dict_checks_keys_and_shapes():
    layer = Dense(2, in_features=3)
    with pytest.raises(ValueError, match="missing"):
        layer.load_state_dict({"Dense.W": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"has shape \(2, 2\)"):
        layer.load_state_dict({"Dense.W": np.zeros((2, 2)), "Dense.b": np.zeros(2)})
    layer.load_state_dict({"Dense.W": np.ones((3, 2)), "Dense.b": np.zeros(2)})
    np.testing.assert_array_equal(layer.W.data, 1)


def test_shape_error_is_a_value_error_carrying_both_shapes():
    e = ShapeError("bad", got=(3,), expected=(4,))
    assert isinstance(e, ValueError) and e.got == (3,) and e.expected == (4,)


def test_calling_a_layer_runs_its_own_forward():
    np.testing.assert_array_equal(Double()(np.ones((1, 2))), [[2, 2]])
