"""The milestone-1 MLP written with pmt.graph: same gradients as pmt.mlp, and it learns."""
import numpy as np
import pytest
from pmt.core import Adam, Trainer, seed
from pmt.core.testing import require_dataset

from pmt.graph import Parameter, cross_entropy
from pmt.graph.examples.mnist_mlp import load_split, make_mlp, train


def test_gradients_equal_pmt_mlp_from_same_weights_and_batch():
    import pmt.mlp as M  # the explicit-backprop milestone; a test-only comparison

    ref = M.Sequential([M.Dense(128), M.ReLU(), M.Dropout(0.25), M.Dense(64), M.ReLU(), M.Dropout(0.25),
                        M.Dense(10)], input_shape=(784,), dtype=np.float64)
    ours = make_mlp()
    linears = [m for m in ours.modules() if type(m).__name__ == "Linear"]
    dense = [layer for layer in ref.layers if isinstance(layer, M.Dense)]
    for lin, d in zip(linears, dense):  # same weights, in float64
        lin.weight = Parameter(d.W.data, dtype=np.float64)
        lin.bias = Parameter(d.b.data + np.random.default_rng(0).standard_normal(d.b.data.shape) * 0.1,
                             dtype=np.float64)
        d.b.data[...] = lin.bias.data
    rng = np.random.default_rng(1)
    x, y = rng.random((32, 784)), rng.integers(0, 10, 32)

    seed(7)  # both draw their dropout masks from pmt.core's generator, element for element
    ref_loss, ref_out = ref.train_step((x, y), M.CategoricalCrossEntropy())
    seed(7)
    loss, out = ours.train_step((x, y), cross_entropy)

    assert out.dtype == np.float64
    np.testing.assert_allclose(out, ref_out, atol=1e-10)
    assert abs(loss - ref_loss) < 1e-10
    for lin, d in zip(linears, dense):
        np.testing.assert_allclose(lin.weight.grad, d.W.grad, atol=1e-6, rtol=0)
        np.testing.assert_allclose(lin.bias.grad, d.b.grad, atol=1e-6, rtol=0)
        assert np.abs(lin.weight.grad).max() > 1e-4  # the comparison is not between zeros


def test_mlp_learns_fashion_mnist_slice(monkeypatch):
    require_dataset("fashion-mnist")
    evaluated = []                                     # the size of every evaluation, in order
    evaluate = Trainer.evaluate
    monkeypatch.setattr(Trainer, "evaluate", lambda self, data: evaluated.append(data.n) or evaluate(self, data))
    # 12,000 of the 55,000 images outside the validation split, 4 epochs, constant lr: measured
    # 83.5 % on the 5,000 validation images, 83.0 % on the 10,000 test images (seed 0)
    _, history, test = train("fashion-mnist", epochs=4, batch_size=64, limit=12000, cosine=False,
                             log=lambda s: None)
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_acc"][-1] >= 0.80 and test["acc"] >= 0.80, (history["val_acc"][-1], test)
    assert evaluated == [5000] * 4 + [10000]           # validation every epoch; the test set once, at the end


def test_load_split_scales_pixels_and_validates_split():
    paths = require_dataset("fashion-mnist")
    x, y = load_split("fashion-mnist", "test", limit=100, paths=paths)
    assert x.shape == (100, 784) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.dtype == np.int64 and set(np.unique(y)) <= set(range(10))
    with pytest.raises(ValueError, match="split"):
        load_split("fashion-mnist", "valid", paths=paths)


def test_adam_step_on_graph_parameters_reduces_the_loss():
    seed(0)
    model = make_mlp()
    opt = Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 784)).astype(np.float32), rng.integers(0, 10, 64)
    model.eval()
    first, _ = model.train_step((x, y), cross_entropy)
    for _ in range(50):  # memorising one batch
        opt.zero_grad()
        last, _ = model.train_step((x, y), cross_entropy)
        opt.step()
    assert last < first * 0.5
