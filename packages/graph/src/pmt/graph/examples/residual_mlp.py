"""A residual MLP: blocks x + f(LayerNorm(x)), which a plain list of layers cannot express
(the input of each block is used twice: by f and by the skip connection).

    h_0 = x W_in
    h_{l+1} = h_l + W_2 gelu(W_1 LayerNorm(h_l))
    logits = LayerNorm(h_L) W_out

Trained on two interleaved spirals:

    python -m pmt.graph.examples.residual_mlp
"""
from __future__ import annotations

import argparse

import numpy as np
from pmt.core import Adam, cli, seed
from pmt.core.data import batches
from pmt.core.metrics import accuracy
from pmt.core.trainer import Trainer

from ..elementwise import gelu
from ..layers import LayerNorm, Linear
from ..losses import cross_entropy
from ..module import Module, ModuleList


class ResidualBlock(Module):
    """h + W_2 gelu(W_1 LayerNorm(h)).  Shape: (batch, width) -> (batch, width)."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.norm = LayerNorm(width)
        self.fc1 = Linear(width, hidden)
        self.fc2 = Linear(hidden, width)

    def forward(self, h):
        return h + self.fc2(gelu(self.fc1(self.norm(h))))


class ResidualMLP(Module):
    """Input projection, `depth` residual blocks, final LayerNorm and classifier.

    Shape:
        x: (batch, in_features) -> logits: (batch, classes)

    Example:
        >>> ResidualMLP(2, 32, 3, 2)(np.zeros((5, 2), np.float32)).shape
        (5, 2)
    """

    def __init__(self, in_features: int, width: int, depth: int, classes: int):
        super().__init__()
        self.inp = Linear(in_features, width)
        self.blocks = ModuleList([ResidualBlock(width, 2 * width) for _ in range(depth)])
        self.norm = LayerNorm(width)
        self.out = Linear(width, classes)

    def forward(self, x):
        h = self.inp(x)                                    # (B, width)
        for block in self.blocks:
            h = block(h)
        return self.out(self.norm(h))                      # (B, classes)


def two_spirals(n=1000, noise=0.05, rng=None):
    """Points (n, 2) on two interleaved spirals, labels (n,) in {0, 1}."""
    rng = rng or np.random.default_rng(0)
    t = np.sqrt(rng.random(n)) * 3 * np.pi                  # angle, denser near the centre
    label = rng.integers(0, 2, n)
    r = t / (3 * np.pi)
    angle = t + np.pi * label
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1) + noise * rng.standard_normal((n, 2))
    return x.astype(np.float32), label.astype(np.int64)


def train(width=32, depth=3, epochs=40, batch_size=64, lr=3e-3, seed_value=0, log=print):
    """Train on two spirals; returns (model, history, held-out accuracy)."""
    seed(seed_value)
    xtr, ytr = two_spirals(1000, rng=np.random.default_rng(1))
    xte, yte = two_spirals(500, rng=np.random.default_rng(2))
    model = ResidualMLP(2, width, depth, 2)
    trainer = Trainer(model, Adam(model.parameters(), lr=lr), cross_entropy, metrics={"acc": accuracy},
                      log=log, progress=False)
    history = trainer.fit(batches(xtr, ytr, batch_size=batch_size, shuffle=True), epochs=epochs,
                          eval_data=batches(xte, yte, batch_size=500))
    return model, history, history["val_acc"][-1]


def main(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=cli.positive_int, default=40)
    p.add_argument("--depth", type=cli.positive_int, default=3)
    a = p.parse_args(argv)
    _, _, acc = train(depth=a.depth, epochs=a.epochs)
    print(f"two spirals: held-out accuracy {acc * 100:.1f}%")


if __name__ == "__main__":
    main()
