import numpy as np

from pmt.core import SGD, SparseRows
from pmt.mlp import BinaryCrossEntropy, CategoricalCrossEntropy
from pmt.mlp.gradcheck import numerical_gradient, relative_error
from pmt.word2vec import NegativeSamplingModel, cbow_softmax


def _dense(g, shape):
    return g.to_dense(shape) if isinstance(g, SparseRows) else g


def test_negative_sampling_model_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    m = NegativeSamplingModel(9, 4, rng=rng, dtype=np.float64)
    m.embed_out.weight.data[...] = rng.standard_normal((9, 4))  # W_out starts at 0: perturb it
    inputs = rng.integers(0, 9, (5, 3))           # CBOW-style: 3 context words, repeats included
    outputs = rng.integers(0, 9, (5, 4))          # true word + 3 negatives
    labels = np.zeros((5, 4))
    labels[:, 0] = 1
    loss = BinaryCrossEntropy()
    for p in m.parameters():
        p.grad = None
    m.train_step((inputs, outputs, labels), loss)

    def f():
        return loss.forward(m.forward(inputs, outputs), labels)

    for p in m.parameters():
        numeric = numerical_gradient(f, p.data)
        assert relative_error(_dense(p.grad, p.shape), numeric) < 1e-6, p.name


def test_cbow_softmax_learns_to_predict_the_centre_word():
    rng = np.random.default_rng(1)
    # Context (i, i+2) always surrounds centre i+1 in this toy language.
    ctx = np.stack([np.arange(10), np.arange(10) + 2], axis=1) % 12
    centre = (np.arange(10) + 1) % 12
    model = cbow_softmax(12, 8, context=2, rng=rng)
    opt = SGD(model.parameters(), lr=0.5)
    loss = CategoricalCrossEntropy()
    first = None
    for _ in range(300):
        opt.zero_grad()
        value, _ = model.train_step((ctx, centre), loss)
        first = value if first is None else first
        opt.step()
    assert value < 0.1 * first
    assert (model.forward(ctx).argmax(axis=1) == centre).all()
    assert isinstance(model.layers[0].weight.grad, SparseRows)
