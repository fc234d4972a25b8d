"""Train an MLP on MNIST or Fashion-MNIST with explicit-backprop layers.

    python -m pmt.mlp.examples.mnist [--dataset mnist|fashion-mnist] [--epochs 20] [--batch-size 128]
                                     [--lr 1e-3] [--hidden 512 256] [--dropout 0.2] [--seed 0]
                                     [--out runs/mnist] [--resume] [--demo]

Default recipe: 784-512-256-10, ReLU, Dropout 0.2 after each hidden layer, softmax
cross-entropy on logits, Adam(1e-3) with a per-step cosine decay to 0, batch 128, 20
epochs.  Prints per-epoch train/test loss and top-1 accuracy (the fraction of images whose
highest-scoring class is the true one), writes `history.png`, the checkpoint `last.npz`
(after every epoch; `--resume` continues from it) and `metrics.json` (final numbers,
seconds per epoch, peak memory) into `--out`.

`--demo` is the short version `make demo` runs: 2 epochs of the default model on MNIST, or
on Fashion-MNIST when MNIST is not installed.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

import numpy as np

from pmt.core import Adam, Cosine, PlotHistory, Trainer, accuracy, batches, distributed, seed
from pmt.core.datasets import DatasetError

from ..activations import ReLU
from ..dense import Dense
from ..dropout import Dropout
from ..losses import CategoricalCrossEntropy
from ..mnist import CLASS_NAMES, DATASETS, load_mnist
from ..sequential import Sequential

__all__ = ["build_model", "main"]


def build_model(hidden=(512, 256), dropout=0.2, num_classes=10, input_shape=(784,)) -> Sequential:
    """Dense -> ReLU -> Dropout for every hidden size, then Dense(num_classes) logits.

    Example:
        >>> build_model((128, 64), 0.25).num_parameters()   # the original project's model
        109386
    """
    layers = []
    for h in hidden:
        layers += [Dense(h), ReLU()] + ([Dropout(dropout)] if dropout > 0 else [])
    layers.append(Dense(num_classes))
    return Sequential(layers, input_shape=input_shape, name="mlp")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="pmt-mnist", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--dataset", choices=DATASETS, default=None,
                    help="which dataset (default: mnist; with --demo, whichever is installed)")
    ap.add_argument("--epochs", type=int, default=None, help="total epochs (default 20, --demo 2)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam's peak learning rate (cosine-decayed to 0)")
    ap.add_argument("--hidden", type=int, nargs="+", default=[512, 256], help="hidden layer sizes")
    ap.add_argument("--dropout", type=float, default=0.2, help="dropout rate after each hidden layer")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="output folder (default runs/<dataset>)")
    ap.add_argument("--resume", action="store_true", help="continue from <out>/last.npz")
    ap.add_argument("--demo", action="store_true", help="short run for `make demo`")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N training images only")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.epochs is None:
        args.epochs = 2 if args.demo else 20
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not args.lr > 0:
        ap.error(f"--lr must be > 0, got {args.lr}")
    if not 0 <= args.dropout < 1:
        ap.error(f"--dropout must lie in [0, 1), got {args.dropout}")
    if any(h < 1 for h in args.hidden):
        ap.error(f"--hidden sizes must be >= 1, got {args.hidden}")
    if args.limit is not None and args.limit < 1:
        ap.error(f"--limit must be >= 1, got {args.limit}")
    return args


def _load(args):
    """The dataset asked for; with --demo and no --dataset, the first one installed."""
    if args.dataset is not None or not args.demo:
        name = args.dataset or "mnist"
        try:
            return name, load_mnist(name)
        except (DatasetError, FileNotFoundError) as e:
            raise SystemExit(f"pmt-mnist: {e}") from None
    errors = []
    for name in DATASETS:
        try:
            return name, load_mnist(name)
        except (DatasetError, FileNotFoundError) as e:
            errors.append(f"{name}: {e}")
    raise SystemExit("demo: neither MNIST nor Fashion-MNIST is available:\n" + "\n".join(errors))


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.resume and args.out is not None and not (args.out / "last.npz").exists():
        raise SystemExit(f"--resume: no checkpoint at {args.out / 'last.npz'}; run once without --resume first")
    dataset, data = _load(args)
    out = args.out or Path("runs") / (dataset + ("-demo" if args.demo else ""))
    x_train, y_train = data.x_train, data.y_train
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]

    seed(args.seed)
    model = build_model(args.hidden, args.dropout)
    print(model.summary())
    train = batches(x_train, y_train, batch_size=args.batch_size, shuffle=True)
    test = batches(data.x_test, data.y_test, batch_size=1000)
    optimizer = Adam(model.parameters(), lr=args.lr)
    trainer = Trainer(model, optimizer, CategoricalCrossEntropy(input="logits"), metrics={"acc": accuracy},
                      schedule=Cosine(args.lr, total_steps=args.epochs * len(train)),
                      callbacks=[PlotHistory(out / "history.png", title=f"MLP on {dataset}")],
                      progress=False if args.no_progress else None, checkpoint_dir=out)
    resume = out / "last.npz" if args.resume else None
    if resume is not None and not resume.exists():
        raise SystemExit(f"--resume: no checkpoint at {resume}; run once without --resume first")
    print(f"{dataset}: {len(x_train)} training images, {len(data.x_test)} test images; writing to {out}/")
    history = trainer.fit(train, epochs=args.epochs, eval_data=test, resume=resume)

    metrics = {
        "dataset": dataset, "epochs": trainer.epoch, "test_loss": history["val_loss"][-1],
        "test_acc": history["val_acc"][-1], "train_loss": history["loss"][-1],
        "seconds_per_epoch": float(np.median(history["seconds"])), "peak_rss_mb": peak_rss_mb(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    if distributed.is_main():
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    wrong = np.flatnonzero(model.predict(data.x_test).argmax(axis=1) != data.y_test)
    names = CLASS_NAMES[dataset]
    print(f"test accuracy {100 * metrics['test_acc']:.2f}% ({len(wrong)} of {len(data.y_test)} wrong), "
          f"test loss {metrics['test_loss']:.4f}; {metrics['seconds_per_epoch']:.1f} s/epoch, "
          f"peak memory {metrics['peak_rss_mb']:.0f} MB")
    if len(wrong):
        i = wrong[0]
        print(f"e.g. test image {i}: a {names[data.y_test[i]]!r} taken for a "
              f"{names[int(model.predict(data.x_test[i:i + 1]).argmax())]!r}")
    print(f"plot: {out / 'history.png'}  checkpoint: {out / 'last.npz'}  metrics: {out / 'metrics.json'}")
    return metrics


def cli():
    """Console-script entry point (`pmt-mnist`); also `mpiexec -n N python -m pmt.mlp.examples.mnist`."""
    with distributed.job():
        main()


if __name__ == "__main__":
    cli()
