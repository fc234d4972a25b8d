"""Linear softmax classifier on Gaussian blobs, trained end to end by `pmt.core.Trainer`.

    python -m pmt.core.examples.linear_demo [--epochs 15] [--lr 0.05] [--seed 0] [--run-dir runs/linear_demo]

It shows the whole `pmt.core` toolchain on a model small enough to read in one sitting:
a model implementing the Trainer protocol with hand-written gradients (`LinearClassifier`),
Adam with a warm-up + cosine schedule, accuracy metrics, per-epoch checkpoints, the best
checkpoint kept by `ModelCheckpoint`, and the history plot.  It runs in a few seconds.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..callbacks import ModelCheckpoint
from ..data import batches
from ..metrics import accuracy
from ..numerics import log_softmax
from ..optimizers import Adam
from ..parameter import Parameter
from ..plots import plot_history
from ..schedules import WarmupCosine
from ..seeding import get_rng, seed
from ..trainer import Trainer

__all__ = ["LinearClassifier", "softmax_cross_entropy", "make_blobs", "main"]


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

        p = softmax(z) row-wise;  L = -(1/N) sum_i log p[i, y_i];  dL/dz = (p - onehot(y)) / N

    Fused (rather than softmax, then log, then NLL) because z - max(z) keeps exp() from
    overflowing and the gradient collapses to the short form above.

    Args:
        logits: (N, C) scores.
        targets: (N,) integer labels in [0, C).
    Returns:
        (loss: float, dL/dlogits: (N, C) array of logits' dtype).

    Example:
        >>> loss, g = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
        >>> round(loss, 4)   # log(4)
        1.3863
    """
    logits, targets = np.asarray(logits), np.asarray(targets)
    if logits.ndim != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(f"softmax_cross_entropy: expected logits (N, C) and targets (N,), got "
                         f"{logits.shape} and {targets.shape}")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"softmax_cross_entropy: targets must be integer labels, got dtype {targets.dtype}")
    n, c = logits.shape
    if n and (targets.min() < 0 or targets.max() >= c):
        raise ValueError(f"softmax_cross_entropy: labels must lie in [0, {c}), got range "
                         f"[{targets.min()}, {targets.max()}]")
    rows = np.arange(n)
    logp = log_softmax(logits, axis=1)                              # (N, C), stable
    loss = float(-np.mean(logp[rows, targets]))
    grad = np.exp(logp)                                             # p: (N, C)
    grad[rows, targets] -= 1.0
    grad /= n
    return loss, grad


class LinearClassifier:
    """Multinomial logistic regression, `logits = dropout(x) @ W + b`, with explicit gradients.

    It implements the `Trainer` protocol (see `pmt.core.trainer`), so it doubles as the
    reference model for the Trainer's tests.  Inverted input dropout (mask from
    `get_rng()`, kept units scaled by 1/(1 - dropout)) is active in train mode only.

    Args:
        in_features: D, features per example.
        num_classes: C.
        dropout: probability of zeroing an input feature during training.
        dtype: parameter dtype (float64 for gradient checks).
        rng: generator for the initial weights (default `get_rng()`).

    Shape:
        x: (N, D) -> logits: (N, C).

    Attributes:
        W: Parameter (D, C), initialised N(0, 1/D);  b: Parameter (C,), zeros.

    Example:
        >>> model = LinearClassifier(2, 3)
        >>> model.forward(np.zeros((5, 2), np.float32)).shape
        (5, 3)
    """

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0, dtype=np.float32,
                 rng: np.random.Generator | None = None):
        if in_features < 1 or num_classes < 2:
            raise ValueError(f"LinearClassifier: need in_features >= 1 and num_classes >= 2, got "
                             f"{in_features}, {num_classes}")
        if not 0 <= dropout < 1:
            raise ValueError(f"LinearClassifier: dropout must lie in [0, 1), got {dropout}")
        rng = rng if rng is not None else get_rng()
        self.W = Parameter(rng.normal(0.0, in_features ** -0.5, (in_features, num_classes)), "W", dtype)
        self.b = Parameter(np.zeros(num_classes), "b", dtype)
        self.dropout = dropout
        self.training = True

    def parameters(self):
        return [self.W, self.b]

    def train(self, mode: bool = True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self) -> dict:
        return {"W": self.W.data, "b": self.b.data}

    def load_state_dict(self, d: dict):
        for p, key in ((self.W, "W"), (self.b, "b")):
            if key not in d or np.shape(d[key]) != p.data.shape:
                raise ValueError(f"LinearClassifier.load_state_dict: need {key!r} of shape {p.data.shape}, "
                                 f"got {np.shape(d[key]) if key in d else 'nothing'}")
            p.data[...] = d[key]  # in place: the optimizer holds these arrays

    def forward(self, x: np.ndarray) -> np.ndarray:
        """logits = x @ W + b: (N, D) -> (N, C)."""
        x = np.asarray(x, dtype=self.W.data.dtype)
        if x.ndim != 2 or x.shape[1] != self.W.data.shape[0]:
            raise ValueError(f"LinearClassifier: expected x of shape (N, {self.W.data.shape[0]}), got {x.shape}")
        return x @ self.W.data + self.b.data

    def _drop(self, x):
        if not (self.training and self.dropout):
            return x
        keep = get_rng().random(x.shape) >= self.dropout
        return x * keep / np.asarray(1.0 - self.dropout, dtype=x.dtype)

    def train_step(self, batch, loss):
        """Forward, loss and backward on `batch = (x, y)`; sets W.grad and b.grad.

            dL/dW = x^T · dL/dlogits     (D, N) @ (N, C) -> (D, C)
            dL/db = sum over rows of dL/dlogits          -> (C,)

        `loss(logits, y) -> (value, dL/dlogits)`, e.g. `softmax_cross_entropy`.
        Returns (loss value, logits).
        """
        x, y = batch
        x = self._drop(np.asarray(x, dtype=self.W.data.dtype))  # (N, D)
        logits = self.forward(x)                                  # (N, C)
        value, dlogits = loss(logits, y)
        self.W.grad = x.T @ dlogits
        self.b.grad = dlogits.sum(axis=0)
        return value, logits

    def eval_step(self, batch, loss):
        """Forward and loss on `batch = (x, y)`, no gradients. Returns (loss value, logits)."""
        x, y = batch
        logits = self.forward(x)
        value, _ = loss(logits, y)
        return value, logits

    def __repr__(self):
        d, c = self.W.data.shape
        return f"LinearClassifier(in_features={d}, num_classes={c}, dropout={self.dropout})"


def make_blobs(n_per_class: int, num_classes: int = 3, dim: int = 2, spread: float = 1.0,
               rng: np.random.Generator | None = None):
    """Gaussian blobs: class k ~ N(mu_k, spread^2 I), centres evenly spaced on a circle of radius 3.

    The centres lie in the first two coordinates, mu_k = 3 (cos 2 pi k / C, sin 2 pi k / C);
    further coordinates are pure noise.

    Returns:
        x: (num_classes * n_per_class, dim) float32, y: (num_classes * n_per_class,) int64,
        in random order.

    Example:
        >>> x, y = make_blobs(10, num_classes=2, rng=np.random.default_rng(0))
        >>> x.shape, y.shape
        ((20, 2), (20,))
    """
    rng = rng if rng is not None else get_rng()
    if dim < 2:
        raise ValueError(f"make_blobs: dim must be >= 2, got {dim}")
    angle = 2 * np.pi * np.arange(num_classes) / num_classes
    centres = np.zeros((num_classes, dim))
    centres[:, 0], centres[:, 1] = 3 * np.cos(angle), 3 * np.sin(angle)
    y = np.repeat(np.arange(num_classes), n_per_class)
    x = centres[y] + spread * rng.normal(size=(len(y), dim))
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def main(argv=None) -> dict:
    """Run the demo; returns the final numbers (also printed)."""
    from .. import cli
    ap = cli.ArgumentParser(prog="python -m pmt.core.examples.linear_demo",
                            description="Train a linear softmax classifier on 3 Gaussian blobs "
                                        "with pmt.core's Trainer and plot its history.",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--epochs", type=cli.positive_int, default=15, help="training epochs")
    ap.add_argument("--lr", type=cli.positive_float, default=0.05, help="peak Adam learning rate")
    ap.add_argument("--seed", type=cli.nonneg_int, default=0, help="random seed")
    ap.add_argument("--classes", type=cli.positive_int, default=3, help="number of blobs/classes (>= 2)")
    ap.add_argument("--batch-size", type=cli.positive_int, default=32, help="batch size")
    cli.add_run_dir(ap, "runs/linear_demo", help="output folder (rewritten by every run of the demo)",
                    old=("--out",))
    args = ap.parse_args(argv)
    if args.classes < 2:
        ap.error(f"argument --classes: must be >= 2, got {args.classes}")

    t0 = time.perf_counter()
    seed(args.seed)
    x, y = make_blobs(400, num_classes=args.classes, dim=2, spread=1.2)
    n_train = int(0.75 * len(y))
    train = batches(x[:n_train], y[:n_train], batch_size=args.batch_size, shuffle=True)
    test = batches(x[n_train:], y[n_train:], batch_size=256)

    out = Path(args.run_dir)
    model = LinearClassifier(2, args.classes)
    opt = Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * len(train)
    best = ModelCheckpoint(out, save_best_only=True, monitor="val_acc")
    trainer = Trainer(model, opt, softmax_cross_entropy, metrics={"acc": accuracy}, callbacks=[best],
                      schedule=WarmupCosine(args.lr, warmup=len(train), total=steps, min_lr=args.lr / 50),
                      checkpoint_dir=out)
    print(f"{model}, {n_train} train / {len(y) - n_train} test examples, {args.epochs} epochs of "
          f"{len(train)} steps, Adam + WarmupCosine(peak {args.lr:g})")
    history = trainer.fit(train, epochs=args.epochs, eval_data=test)
    model.eval()
    train_acc = accuracy(model.forward(x[:n_train]), y[:n_train])
    test_acc = accuracy(model.forward(x[n_train:]), y[n_train:])
    plot = plot_history(history, out / "history.png", title="LinearClassifier on Gaussian blobs")
    seconds = time.perf_counter() - t0
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f}  "
          f"(best val_acc {max(history['val_acc']):.4f}, {seconds:.1f}s)")
    print(f"checkpoints: {out / 'last.npz'} (resume with Trainer.fit(..., resume=...)), best: {best.best_path}")
    print(f"history plot: {plot}")
    return {"train_acc": train_acc, "test_acc": test_acc, "history": history, "plot": plot,
            "seconds": seconds}


if __name__ == "__main__":
    main()
