import numpy as np
import pytest

import pmt.graph as G
from pmt.graph import Tensor, gradcheck


def test_linear_shapes_init_range_and_gradients():
    lin = G.Linear(5, 3, dtype=np.float64, rng=np.random.default_rng(0))
    assert lin.weight.shape == (5, 3) and lin.bias.shape == (3,)
    assert np.abs(lin.weight.data).max() <= 1 / np.sqrt(5)
    x = Tensor(np.random.default_rng(1).standard_normal((4, 2, 5)), requires_grad=True)
    assert gradcheck(lambda t, w, b: lin(t), [x, lin.weight, lin.bias])


def test_layer_arguments_are_validated():
    with pytest.raises(ValueError, match="in_features"):
        G.Linear(0, 3)
    with pytest.raises(ValueError, match="dim"):
        G.Embedding(10, -1)
    with pytest.raises(ValueError, match="p must"):
        G.Dropout(2.0)


def test_embedding_layer_looks_up_rows():
    emb = G.Embedding(7, 4)
    ids = np.array([[0, 6], [3, 3]])
    np.testing.assert_array_equal(emb(ids).data, emb.weight.data[ids])
    assert repr(emb) == "Embedding(7, 4)"


def test_layer_norm_layer_gradients():
    ln = G.LayerNorm(6, dtype=np.float64)
    ln.gamma.data[...] = np.random.default_rng(0).standard_normal(6)
    x = Tensor(np.random.default_rng(1).standard_normal((2, 3, 6)), requires_grad=True)
    assert gradcheck(lambda t, g, b: ln(t), [x, ln.gamma, ln.beta])


@pytest.mark.parametrize("layer,fn", [(G.ReLU(), G.relu), (G.GELU(), G.gelu), (G.Tanh(), G.tanh),
                                      (G.Sigmoid(), G.sigmoid), (G.Softmax(), G.softmax),
                                      (G.LogSoftmax(), G.log_softmax)])
def test_activation_layers_apply_their_function(layer, fn):
    x = Tensor(np.random.default_rng(2).standard_normal((3, 4)))
    np.testing.assert_array_equal(layer(x).data, fn(x).data)


def test_dropout_layer_is_off_in_eval_mode():
    d = G.Dropout(0.5)
    x = Tensor(np.ones((10, 10)))
    assert (d(x).data == 0).any()
    d.eval()
    assert d(x) is x


def test_flatten_keeps_batch_axis():
    x = Tensor(np.random.default_rng(3).standard_normal((2, 3, 4)), requires_grad=True)
    assert G.Flatten()(x).shape == (2, 12)
    assert gradcheck(G.Flatten(), [x])


@pytest.mark.parametrize("init,std", [("he", np.sqrt(2 / 400)), ("glorot", np.sqrt(2 / 600)),
                                      ("uniform", np.sqrt(1 / 1200))])
def test_linear_init_schemes_have_their_variance(init, std):
    lin = G.Linear(400, 200, init=init, rng=np.random.default_rng(0))
    assert abs(lin.weight.data.std() / std - 1) < 0.02
    assert (lin.bias.data == 0).all() == (init != "uniform")
    with pytest.raises(ValueError, match="init"):
        G.Linear(2, 2, init="xavier")
