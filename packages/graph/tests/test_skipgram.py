"""Skip-gram with one embedding table shared by centre and context words."""
import numpy as np
from pmt.core import SparseRows

from pmt.graph import Tensor, binary_cross_entropy_with_logits, gradcheck
from pmt.graph.examples.skipgram import SkipGram, skipgram_examples, topic_corpus, train


def test_scores_are_dot_products_from_the_shared_table():
    m = SkipGram(20, 4)
    centre, ctx = np.array([1, 2]), np.array([[3, 4], [1, 2]])
    E = m.embed.weight.data
    np.testing.assert_allclose(m(centre, ctx).data, np.einsum("bd,bkd->bk", E[centre], E[ctx]), rtol=1e-6)
    assert len(m.parameters()) == 1


def test_both_lookups_send_sparse_gradients_into_the_one_table():
    m = SkipGram(20, 4)
    loss = binary_cross_entropy_with_logits(m(np.array([1]), np.array([[7, 9]])), np.array([[1.0, 0.0]]))
    loss.backward()
    g = m.embed.weight.grad
    assert isinstance(g, SparseRows)
    assert sorted(g.indices.tolist()) == [1, 7, 9]


def test_skipgram_gradient_matches_finite_differences_with_a_word_in_both_roles():
    m = SkipGram(6, 3)
    table = Tensor(m.embed.weight.data.astype(np.float64), requires_grad=True)
    m.embed.weight = table  # a float64 leaf for the check (replaces the registered parameter)
    centre, ctx = np.array([0, 2]), np.array([[0, 1, 2], [2, 2, 5]])  # word 0 and 2 are centre and context
    assert gradcheck(lambda _: m(centre, ctx), [table])


def test_training_pulls_words_of_a_topic_together():
    _, history, gap = train(epochs=5, log=lambda s: None)
    assert history["loss"][-1] < history["loss"][0]
    assert gap > 0.5, f"same-topic minus cross-topic cosine similarity {gap:.3f}"


def test_examples_pair_each_word_with_its_window():
    corpus = np.array([[0, 1, 2]])
    centre, ctx, labels = skipgram_examples(corpus, 3, window=1, negatives=2)
    pairs = sorted(zip(centre.tolist(), ctx[:, 0].tolist()))
    assert pairs == [(0, 1), (1, 0), (1, 2), (2, 1)]
    assert ctx.shape == (4, 3) and labels[:, 0].all() and not labels[:, 1:].any()
    assert topic_corpus(sentences=5).shape == (5, 12)
