import numpy as np
import pytest

from pmt.core import SGD, Adam, Trainer, accuracy, batches, seed
from pmt.core.checkpoint import CheckpointError
from pmt.mlp import (BatchNorm1d, CategoricalCrossEntropy, Dense, Dropout, Flatten, LayerNorm, MeanSquaredError,
                     ReLU, Sequential, ShapeError, Tanh)
from pmt.mlp.gradcheck import numerical_gradient, relative_error


def small_model(dtype=np.float32):
    return Sequential([Flatten(), Dense(6), BatchNorm1d(), ReLU(), Dropout(0.3), Dense(5), LayerNorm(), Tanh(),
                       Dense(3)], input_shape=(2, 4), dtype=dtype)


@pytest.mark.parametrize("batch", [3, 6])   # BatchNorm in training mode: batch 2 saturates x̂ = ±1
def test_whole_model_gradients_match_finite_differences(batch):
    model = small_model(np.float64)
    x, y = np.random.randn(batch, 2, 4), np.random.randint(0, 3, batch)
    loss = CategoricalCrossEntropy()
    from pmt.core import get_rng_state, set_rng_state
    state = get_rng_state()

    def value():
        set_rng_state(state)   # same dropout masks every call
        return loss.forward(model.forward(x), y)

    value()
    dx = model.backward(loss.backward())
    for p in model.parameters():
        # atol: the bias before BatchNorm has an exactly-zero gradient (BN subtracts the mean)
        np.testing.assert_allclose(p.grad, numerical_gradient(value, p.data), rtol=1e-5, atol=1e-9, err_msg=p.name)
    assert relative_error(dx, numerical_gradient(value, x)) < 1e-6


def test_shape_mismatch_names_both_layers_and_shapes():
    with pytest.raises(ShapeError) as e:
        Sequential([Dense(128), ReLU(), Dense(10, in_features=100)], input_shape=(784,))
    msg = str(e.value)
    assert "layer 2 Dense(100 -> 10)" in msg and "layer 1 ReLU()" in msg
    assert "(128,)" in msg and "(100,)" in msg


def test_first_layer_mismatch_names_the_model_input():
    with pytest.raises(ShapeError, match=r"cannot follow the model input: .*\(28, 28\).*Flatten"):
        Sequential([BatchNorm1d()], input_shape=(28, 28))


def test_forward_rejects_input_of_the_wrong_shape():
    model = Sequential([Dense(3)], input_shape=(4,))
    with pytest.raises(ShapeError, match=r"expected input of shape \(batch, 4\), got \(2, 5\)"):
        model.forward(np.zeros((2, 5)))


def test_non_layers_are_rejected_with_their_position():
    with pytest.raises(TypeError, match="layer 1 must be a pmt.mlp.Layer"):
        Sequential([Dense(3), "relu"])


def test_dense_init_follows_the_next_activation():
    model = Sequential([Dense(8), ReLU(), Dense(8), Tanh(), Dense(2)], input_shape=(4,))
    assert [l.init_scheme for l in model.layers if isinstance(l, Dense)] == ["he", "glorot", "glorot"]


def test_shapes_are_inferred_and_summary_lists_layers_and_counts():
    model = small_model()
    assert model.output_shape == (3,)
    text = model.summary()
    assert "Dense(8 -> 6)" in text and "(None, 2, 4)" in text and "(None, 3)" in text
    assert f"total parameters: {model.num_parameters():,}" in text
    assert model.num_parameters() == (8 * 6 + 6) + 12 + (6 * 5 + 5) + 10 + (5 * 3 + 3)


def test_model_builds_lazily_on_first_forward():
    model = Sequential([Dense(4), ReLU(), Dense(2)])
    assert model.forward(np.ones((3, 7), np.float32)).shape == (3, 2)
    assert model.layers[0].W.data.shape == (7, 4)


def test_predict_is_in_eval_mode_and_restores_training_mode():
    model = Sequential([Dense(50), Dropout(0.5), Dense(2)], input_shape=(3,))
    x = np.random.randn(10, 3).astype(np.float32)
    a, b = model.predict(x, batch_size=3), model.predict(x)
    np.testing.assert_allclose(a, b, atol=1e-6)    # dropout off: deterministic
    assert model.training and model.layers[1].training


def test_train_and_eval_switch_every_layer():
    model = small_model()
    model.eval()
    assert not any(l.training for l in model.layers)
    model.train()
    assert all(l.training for l in model.layers)


def test_training_skips_the_input_gradient_but_fills_every_parameter_gradient():
    model = small_model()
    loss = CategoricalCrossEntropy()
    value, out = model.train_step((np.random.randn(4, 2, 4), np.array([0, 1, 2, 0])), loss)
    assert isinstance(value, float) and out.shape == (4, 3)
    assert all(p.grad is not None and p.grad.shape == p.data.shape for p in model.parameters())
    assert model.layers[1].input_grad is False


def test_train_step_rejects_a_batch_that_is_not_a_pair():
    with pytest.raises(ValueError, match=r"a batch must be a tuple \(inputs, targets\)"):
        small_model().train_step((np.zeros((2, 2, 4)),), CategoricalCrossEntropy())


def test_state_dict_round_trip_and_checkpoint_save_load(tmp_path):
    model = small_model()
    model.forward(np.random.randn(8, 2, 4))                     # moves BatchNorm running stats
    opt = Adam(model.parameters())
    model.save(tmp_path / "m.npz", opt, note="hi")
    seed(99)
    other = small_model()
    meta = other.load(tmp_path / "m.npz", Adam(other.parameters()))
    assert meta["note"] == "hi"
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[k], v)
    assert "2.running_var" in model.state_dict()


def test_loading_into_a_different_architecture_fails_clearly(tmp_path):
    small_model().save(tmp_path / "m.npz")
    with pytest.raises(CheckpointError, match="does not fit the model"):
        Sequential([Flatten(), Dense(7)], input_shape=(2, 4)).load(tmp_path / "m.npz")


def test_trainer_fits_a_separable_problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = Sequential([Dense(16), ReLU(), Dense(2)], input_shape=(5,))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5), CategoricalCrossEntropy(),
                      metrics={"acc": accuracy}, progress=False, log=lambda s: None)
    history = trainer.fit(batches(x, y, batch_size=32, shuffle=True), epochs=10,
                          eval_data=batches(x, y, batch_size=256))
    assert history["val_acc"][-1] > 0.95
    assert history["loss"][-1] < history["loss"][0]


def test_regression_with_mse_reduces_loss():
    x = np.random.randn(256, 3).astype(np.float32)
    t = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32))
    model = Sequential([Dense(1)], input_shape=(3,))
    opt, loss = SGD(model.parameters(), lr=0.1), MeanSquaredError()
    first = None
    for _ in range(100):
        opt.zero_grad()
        value, _ = model.train_step((x, t), loss)
        first = first if first is not None else value
        opt.step()
    assert value < 1e-3 * first


def test_calling_a_model_runs_forward():
    model = Sequential([Dense(2)], input_shape=(3,))
    x = np.ones((4, 3), np.float32)
    np.testing.assert_array_equal(model(x), model.forward(x))
