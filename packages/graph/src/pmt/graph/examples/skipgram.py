"""Skip-gram with negative sampling, with ONE embedding table shared by both inputs.

A model a list of layers cannot express: the centre word and its (true or sampled) context
words are looked up in the same table, and the score of a pair is the dot product of the two
vectors.  Both lookups send sparse row gradients into the same parameter, which the tape adds.

    score(c, o) = E[c] . E[o]          E: (vocab, dim), shared
    loss = BCE-with-logits(scores, [1, 0, ..., 0])   one true context, k negatives

    python -m pmt.graph.examples.skipgram        # a toy corpus of 4 topics
"""
from __future__ import annotations

import argparse

import numpy as np
from pmt.core import Adam, cli, seed
from pmt.core.data import batches
from pmt.core.trainer import Trainer

from ..layers import Embedding
from ..linalg import matmul
from ..losses import binary_cross_entropy_with_logits
from ..module import Module
from ..shape import reshape


class SkipGram(Module):
    """Scores of (centre, context) pairs from one shared embedding table.

    Args:
        vocab_size: number of words.
        dim: embedding size.

    Shape:
        centre: (batch,) ids;  contexts: (batch, 1 + k) ids  ->  scores: (batch, 1 + k)

    Example:
        >>> SkipGram(100, 16)(np.array([3, 4]), np.array([[5, 9, 1], [2, 0, 7]])).shape
        (2, 3)
    """

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.embed = Embedding(vocab_size, dim, std=0.1)

    def forward(self, centre, contexts):
        c = self.embed(centre)                                  # (B, d)
        o = self.embed(contexts)                                # (B, 1+k, d), the same table
        scores = matmul(o, reshape(c, (c.shape[0], c.shape[1], 1)))  # (B, 1+k, 1)
        return reshape(scores, contexts.shape)                  # (B, 1+k)

    def similarity(self) -> np.ndarray:
        """Cosine similarity between all pairs of words, (vocab, vocab)."""
        E = self.embed.weight.data
        E = E / np.linalg.norm(E, axis=1, keepdims=True)
        return E @ E.T


def topic_corpus(n_topics=4, words_per_topic=10, sentences=400, length=12, rng=None) -> np.ndarray:
    """Sentences (sentences, length) of word ids, each drawn from a single topic's words."""
    rng = rng or np.random.default_rng(0)
    topic = rng.integers(0, n_topics, sentences)[:, None]                  # (S, 1)
    return topic * words_per_topic + rng.integers(0, words_per_topic, (sentences, length))


def skipgram_examples(corpus, vocab_size, window=2, negatives=5, rng=None):
    """(centre, contexts, labels): every pair within `window`, plus uniform negative samples."""
    rng = rng or np.random.default_rng(0)
    centres, targets = [], []
    for shift in range(1, window + 1):  # loop over offsets only; pairs are vectorised
        for a, b in ((corpus[:, :-shift], corpus[:, shift:]), (corpus[:, shift:], corpus[:, :-shift])):
            centres.append(a.reshape(-1))
            targets.append(b.reshape(-1))
    centre, true = np.concatenate(centres), np.concatenate(targets)
    neg = rng.integers(0, vocab_size, (len(centre), negatives))
    contexts = np.concatenate([true[:, None], neg], axis=1)
    labels = np.zeros(contexts.shape, np.float32)
    labels[:, 0] = 1
    return centre, contexts, labels


def train(dim=16, epochs=5, batch_size=256, lr=0.01, seed_value=0, log=print):
    """Train on the toy corpus; returns (model, history, within-topic minus across-topic similarity)."""
    seed(seed_value)
    n_topics, per = 4, 10
    corpus = topic_corpus(n_topics, per)
    centre, contexts, labels = skipgram_examples(corpus, n_topics * per)
    model = SkipGram(n_topics * per, dim)
    trainer = Trainer(model, Adam(model.parameters(), lr=lr), binary_cross_entropy_with_logits,
                      log=log, progress=False)
    history = trainer.fit(batches(centre, contexts, labels, batch_size=batch_size, shuffle=True), epochs=epochs)
    sim = model.similarity()
    topic = np.arange(n_topics * per) // per
    same = topic[:, None] == topic[None, :]
    off_diag = ~np.eye(len(topic), dtype=bool)
    gap = sim[same & off_diag].mean() - sim[~same].mean()
    return model, history, float(gap)


def main(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=cli.positive_int, default=5)
    p.add_argument("--dim", type=cli.positive_int, default=16)
    a = p.parse_args(argv)
    _, _, gap = train(a.dim, a.epochs)
    print(f"mean cosine similarity, same topic minus different topics: {gap:.3f}")


if __name__ == "__main__":
    main()
