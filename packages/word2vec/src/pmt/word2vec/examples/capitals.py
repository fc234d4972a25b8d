"""Toy 2-D word vectors of countries and their capitals, learnt by skip-gram, plotted.

    python -m pmt.word2vec.examples.capitals [--out capitals.png] [--epochs 10]

The original project's picture: Paris, France, Berlin and Germany as points in the plane,
with the country -> capital arrows roughly parallel.  Here a tiny generated corpus ("paris
is the capital of france", "in berlin people speak german", ...) is turned into skip-gram
pairs with negatives and fed to the layer-built `NegativeSamplingModel` (Embedding ->
AxisMean -> AxisDot -> BinaryCrossEntropy) with sparse SGD, dim = 2 so that no projection
is needed.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from pmt.core import SGD, SparseRows
from pmt.mlp import BinaryCrossEntropy

from ..keyed_vectors import KeyedVectors
from ..models import NegativeSamplingModel
from ..sampling import NegativeSampler, context_pairs
from ..vocab import Vocab

PAIRS = [("paris", "france", "french"), ("berlin", "germany", "german")]
TEMPLATES = ["{cap} is the capital of {country}", "the capital of {country} is {cap}",
             "in {cap} people speak {lang}", "in {country} people speak {lang}",
             "{cap} is a city", "{country} is a country", "the {lang} city of {cap}",
             "the {lang} country {country}"]


def make_corpus(repeats: int, rng) -> str:
    """Lines from the templates, one random (capital, country) pair per line."""
    lines = []
    for _ in range(repeats):
        cap, country, lang = PAIRS[rng.integers(len(PAIRS))]
        lines.append(TEMPLATES[rng.integers(len(TEMPLATES))].format(cap=cap, country=country, lang=lang))
    return "\n".join(lines)


def train(epochs: int = 10, dim: int = 2, negative: int = 3, lr: float = 0.05, seed: int = 0):
    """Train the toy model; returns KeyedVectors of dimension `dim`."""
    rng = np.random.default_rng(seed)
    text = make_corpus(2000, rng)
    vocab = Vocab.build(text, min_count=1)
    ids, starts = vocab.encode(text)
    sampler = NegativeSampler(vocab.counts)
    model = NegativeSamplingModel(len(vocab), dim, rng=rng)
    opt = SGD(model.parameters(), lr=lr)
    loss = BinaryCrossEntropy()
    for epoch in range(epochs):
        centres, contexts = context_pairs(ids, 2, rng, line_starts=starts)
        order = rng.permutation(len(centres))
        for s in range(0, len(order), 64):
            idx = order[s:s + 64]
            outputs = np.concatenate([centres[idx, None], sampler.sample((len(idx), negative), rng)], axis=1)
            labels = np.zeros(outputs.shape, np.float32)
            labels[:, 0] = 1.0
            opt.zero_grad()
            model.train_step((contexts[idx, None], outputs, labels), loss)
            # BinaryCrossEntropy averages over the batch and the 1 + K scores; word2vec sums.
            for p in model.parameters():
                p.grad = SparseRows(p.grad.indices, p.grad.values * labels.size)
            opt.step()
    return KeyedVectors(vocab.words, model.vectors, counts=vocab.counts)


def plot(kv: KeyedVectors, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for cap, country, _ in PAIRS:
        (x0, y0), (x1, y1) = kv[country], kv[cap]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="0.6"))
        for w, (x, y), colour in ((country, (x0, y0), "tab:blue"), (cap, (x1, y1), "tab:red")):
            ax.scatter([x], [y], color=colour, s=25)
            ax.annotate(w, (x, y), textcoords="offset points", xytext=(4, 4))
    ax.set_title("2-D skip-gram vectors: country -> capital")
    ax.set_xlabel("dimension 1")
    ax.set_ylabel("dimension 2")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="capitals.png")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    kv = train(epochs=a.epochs, seed=a.seed)
    plot(kv, a.out)
    query = kv["paris"] - kv["france"] + kv["germany"]
    scores = {w: kv.similarity(w, query) for w in ("berlin", "rome", "madrid") if w in kv}
    print(f"paris - france + germany: cosine with berlin {scores['berlin']:.3f}")
    print(f"plot written to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
