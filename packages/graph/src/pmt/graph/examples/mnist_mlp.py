"""The MNIST / Fashion-MNIST MLP of milestone 1, written with autograd.

784-128-64-10, ReLU, Dropout 0.25, He-initialised, softmax cross-entropy, Adam 1e-3 with a
cosine decay to 0 over 40 epochs, batch 32, trained with pmt.core's Trainer (the full recipe):

    python -m pmt.graph.examples.mnist_mlp --dataset mnist
    python -m pmt.graph.examples.mnist_mlp --dataset fashion-mnist

It trains on 55,000 of the 60,000 training images and reports, after every epoch, the loss and
accuracy on the other 5,000 (`--valid-size`, drawn with `--split-seed`): the validation split,
the only numbers to tune on.  The 10,000 test images are scored once, on the final model.
"""
from __future__ import annotations

import argparse

import numpy as np
from pmt.core import Adam, cli, seed
from pmt.core.data import batches, train_valid_split
from pmt.core.datasets import fetch
from pmt.core.idx import read_idx
from pmt.core.metrics import accuracy
from pmt.core.schedules import Cosine
from pmt.core.trainer import Trainer

from ..layers import Dropout, Linear, ReLU
from ..losses import cross_entropy
from ..module import Sequential

FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def load_split(name: str = "mnist", split: str = "train", limit: int | None = None, paths: dict | None = None):
    """Images as float32 (n, 784) in [0, 1] and labels as int64 (n,).

    Args:
        name: "mnist" or "fashion-mnist" (read through pmt.core.datasets.fetch).
        split: "train" or "test".
        limit: keep only the first `limit` examples.
        paths: {filename: Path} if already fetched.
    """
    if split not in FILES:
        raise ValueError(f"load_split: split must be 'train' or 'test', got {split!r}")
    img_file, lab_file = FILES[split]
    paths = paths or fetch(name, files=list(FILES[split]))
    images, labels = read_idx(paths[img_file]), read_idx(paths[lab_file])
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    return x, labels.astype(np.int64)


def make_mlp(hidden=(128, 64), dropout: float = 0.25, in_features: int = 784, classes: int = 10,
             init: str = "he") -> Sequential:
    """784-128-64-10 with ReLU and Dropout after each hidden layer.

    `init="he"` draws the ReLU layers' weights He-normal and the output layer's Glorot-uniform,
    biases zero, as pmt.mlp does; "uniform" uses Linear's default.

    Example:
        >>> make_mlp()(np.zeros((2, 784), np.float32)).shape
        (2, 10)
    """
    layers, width = [], in_features
    for h in hidden:
        layers += [Linear(width, h, init=init), ReLU(), Dropout(dropout)]
        width = h
    return Sequential(*layers, Linear(width, classes, init="glorot" if init == "he" else init))


def train(dataset="mnist", epochs=40, batch_size=32, lr=1e-3, limit=None, cosine=True, seed_value=0, log=print,
          valid_size=5000, split_seed=0):
    """Train the MLP; return (model, history, test).

    `valid_size` training images (drawn by `train_valid_split` with `split_seed`) are set
    aside and evaluated after every epoch (`history["val_loss"]`, `history["val_acc"]`); the
    model trains on the rest (the first `limit` of them, if given).  `test` is
    `{"loss", "acc"}` of the final model on the 10,000 test images, scored once, after training.
    """
    seed(seed_value)
    x, y = load_split(dataset, "train")
    train_idx, valid_idx = train_valid_split(len(y), valid_size, split_seed)
    train_idx = train_idx[:limit]
    model = make_mlp()
    data = batches(x[train_idx], y[train_idx], batch_size=batch_size, shuffle=True)
    schedule = Cosine(lr, total_steps=epochs * len(data)) if cosine else None
    trainer = Trainer(model, Adam(model.parameters(), lr=lr), cross_entropy, metrics={"acc": accuracy},
                      schedule=schedule, log=log, progress=False)
    history = trainer.fit(data, epochs=epochs, eval_data=batches(x[valid_idx], y[valid_idx], batch_size=1000))
    test = trainer.evaluate(batches(*load_split(dataset, "test"), batch_size=1000))   # the one look at it
    return model, history, test


def main(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    p.add_argument("--epochs", type=cli.positive_int, default=40)
    p.add_argument("--batch-size", type=cli.positive_int, default=32)
    p.add_argument("--lr", type=cli.positive_float, default=1e-3)
    p.add_argument("--max-train", type=cli.positive_int, default=None, help="train on the first N examples only")
    p.add_argument("--constant-lr", action="store_true", help="no cosine decay")
    p.add_argument("--seed", type=cli.nonneg_int, default=0)
    cli.add_split_flags(p, valid_size=5000)
    cli.deprecate(p, "--limit", "--max-train")
    a = p.parse_args(argv)
    _, history, test = train(a.dataset, a.epochs, a.batch_size, a.lr, a.max_train, not a.constant_lr, a.seed,
                             valid_size=a.valid_size, split_seed=a.split_seed)
    print(f"{a.dataset}: validation accuracy {history['val_acc'][-1] * 100:.2f}% ({a.valid_size} images carved "
          f"from train, split seed {a.split_seed}); test accuracy {test['acc'] * 100:.2f}%, test loss "
          f"{test['loss']:.4f}: the final model after {a.epochs} epochs, scored once")


if __name__ == "__main__":
    main()
