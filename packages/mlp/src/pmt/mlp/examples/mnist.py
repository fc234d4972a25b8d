"""Train an MLP on MNIST or Fashion-MNIST with explicit-backprop layers.

    python -m pmt.mlp.examples.mnist [--dataset mnist|fashion-mnist] [--epochs 20] [--batch-size 128]
                                     [--lr 1e-3] [--hidden 512 256] [--dropout 0.2] [--seed 0]
                                     [--valid-size 5000] [--split-seed 0]
                                     [--run-dir runs/mnist] [--resume | --overwrite] [--demo]

Default recipe: 784-512-256-10, ReLU, Dropout 0.2 after each hidden layer, softmax
cross-entropy on logits, Adam(1e-3) with a per-step cosine decay to 0, batch 128, 20
epochs, on 55,000 of the 60,000 training images.  The other 5,000 (`--valid-size`, drawn
with `--split-seed`) are the validation split: the per-epoch lines report training and
validation loss and top-1 accuracy (the fraction of images whose highest-scoring class is
the true one), and that is all a user may tune on.  The 10,000 test images are scored once,
after the last epoch, on the final model.  The run folder (`--run-dir`) receives
`config.json`, `history.png`, the checkpoint `last.npz` (after every epoch; `--resume`
continues from it, or from `interrupted.npz` after a Ctrl-C, exactly where it stopped) and
`metrics.json` (final validation and test numbers, seconds per epoch, peak memory).  The CLI contract of
`pmt.core.cli` holds: a folder holding a run is refused unless `--resume` or `--overwrite`;
exit status 0, 1 (diverged), 2 (bad input, one line naming it) or 130 (Ctrl-C).

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

from pmt.core import Adam, Cosine, PlotHistory, Trainer, accuracy, batches, cli, seed, train_valid_split
from pmt.core.datasets import DatasetError, fetch
from pmt.core.run_folder import RunFolder

from ..activations import ReLU
from ..dense import Dense
from ..dropout import Dropout
from ..losses import CategoricalCrossEntropy
from ..mnist import CLASS_NAMES, DATASETS, load_mnist, scale_pixels
from ..sequential import Sequential

__all__ = ["build_model", "load_splits", "main", "run"]


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


PROG = "pmt-mnist"
# What a --resume may change; everything else must stay as the run was started.
RESUMABLE = {"epochs", "checkpoint_every"}


def build_parser():
    ap = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0],
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--dataset", choices=DATASETS, default=None,
                    help="which dataset (default: mnist; with --demo, whichever is installed)")
    ap.add_argument("--data-dir", default=None, metavar="DIR",
                    help="a folder holding the four IDX files or mnist.npz, used as they are (default: "
                         "the checksummed copy found through PMT_DATA_DIR / the cache / a download)")
    cli.add_training_flags(ap, run_dir=None, epochs=None, batch_size=128, lr=1e-3, seed=0,
                           lr_help="Adam's peak learning rate (cosine-decayed to 0)")
    cli.add_split_flags(ap, valid_size=5000)
    cli.add_run_folder_flags(ap, None, help="run folder (default runs/<dataset>, runs/<dataset>-demo with --demo)")
    ap.add_argument("--epochs", type=cli.positive_int, default=None, metavar="N",
                    help="total epochs (default 20, --demo 2)")
    ap.add_argument("--hidden", type=cli.positive_int, nargs="+", default=[512, 256], help="hidden layer sizes")
    ap.add_argument("--dropout", type=cli.dropout_rate, default=0.2, help="dropout rate after each hidden layer")
    ap.add_argument("--demo", action="store_true", help="short run for `make demo`")
    cli.deprecate(ap, "--out", "--run-dir")
    cli.deprecate(ap, "--limit", "--max-train")
    return ap


def parse_args(argv=None, parser=None):
    """The parsed arguments, with --epochs' default filled in (20, or 2 with --demo)."""
    args = cli.parse_args(parser or build_parser(), argv)
    if args.epochs is None:
        args.epochs = 2 if args.demo else 20
    return args


def _choose_dataset(args) -> str:
    """The dataset asked for; with --demo and no --dataset, the first one on disk (else mnist)."""
    if args.dataset is not None or not args.demo or args.data_dir is not None:
        return args.dataset or "mnist"
    for name in DATASETS:
        try:
            fetch(name, download=False)
            return name
        except DatasetError:
            pass
    return "mnist"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def load_splits(dataset, data_dir, valid_size: int, split_seed: int, max_train: int | None = None):
    """((x_train, y_train), (x_valid, y_valid), (x_test, y_test)): the validation split carved
    from the training images by `train_valid_split(n, valid_size, split_seed)`, the training
    part cut to its first `max_train` images if given, the test images as they are.

    Images are float32 `(n, 784)` in [0, 1], labels int64 `(n,)`.  The files are read as uint8
    and scaled after the split: indexing copies 47 MB of bytes instead of 188 MB of floats, and
    the uint8 arrays are gone when this returns.
    """
    data = load_mnist(dataset, data_dir=data_dir, scale=False)
    n = len(data.y_train)
    if valid_size >= n:
        raise ValueError(f"--valid-size {valid_size}: the {dataset} training set holds only {n} images; "
                         f"pass a smaller --valid-size")
    train_idx, valid_idx = train_valid_split(n, valid_size, split_seed)
    train_idx = train_idx[:max_train]
    return ((scale_pixels(data.x_train[train_idx]), data.y_train[train_idx]),
            (scale_pixels(data.x_train[valid_idx]), data.y_train[valid_idx]),
            (scale_pixels(data.x_test), data.y_test))


def run(argv=None) -> dict:
    """Train as the command line says; returns the final metrics (also written to metrics.json)."""
    parser = build_parser()
    args = parse_args(argv, parser)
    dataset = _choose_dataset(args)
    folder = RunFolder(args.run_dir or Path("runs") / (dataset + ("-demo" if args.demo else "")), dataset, PROG)
    folder.prepare(args.resume, args.overwrite)
    if args.data_dir is not None:
        args.data_dir = folder.record_path(args.data_dir)
    if args.resume:
        saved = folder.config(required=("train",))["train"]
        args = cli.settings_for_resume(args, saved, parser, RESUMABLE, folder.path)
        dataset = args.dataset or dataset
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = load_splits(
        dataset, args.data_dir, args.valid_size, args.split_seed, args.max_train)

    seed(args.seed)
    model = build_model(args.hidden, args.dropout)
    print(model.summary())
    train = batches(x_train, y_train, batch_size=args.batch_size, shuffle=True)
    valid = batches(x_valid, y_valid, batch_size=1000)
    optimizer = Adam(model.parameters(), lr=args.lr)
    loss = CategoricalCrossEntropy(input="logits")
    out = folder.path
    trainer = Trainer(model, optimizer, loss, metrics={"acc": accuracy},
                      schedule=Cosine(args.lr, total_steps=args.epochs * len(train)),
                      callbacks=[PlotHistory(out / "history.png", title=f"MLP on {dataset}")],
                      progress=False if args.no_progress else None, checkpoint_dir=out,
                      checkpoint_every=args.checkpoint_every)
    settings = cli.run_settings(args)
    settings["dataset"] = dataset
    folder.start(None if args.resume else {"config.json": json.dumps({"train": settings}, indent=1)})
    print(f"{dataset}: {len(x_train)} training images, {len(x_valid)} validation images (drawn from the training "
          f"set, split seed {args.split_seed}), {len(x_test)} test images (scored once, at the end); writing to {out}/")
    history = trainer.fit(train, epochs=args.epochs, eval_data=valid, resume=out if args.resume else None)
    cli.raise_if_interrupted(trainer)

    logits = model.predict(x_test)                     # (n_test, 10): the one look at the test set
    predicted = logits.argmax(axis=1)
    metrics = {
        "dataset": dataset, "epochs": trainer.epoch, "train_loss": history["loss"][-1],
        "val_loss": history["val_loss"][-1], "val_acc": history["val_acc"][-1],
        "test_loss": float(loss.forward(logits, y_test)), "test_acc": float(accuracy(logits, y_test)),
        "test_scored": f"once, on the final model (epoch {trainer.epoch})",
        "images": {"train": len(x_train), "valid": len(x_valid), "test": len(x_test)},
        "seconds_per_epoch": float(np.median(history["seconds"])), "peak_rss_mb": peak_rss_mb(),
        "config": settings,
    }
    folder.write("metrics.json", json.dumps(metrics, indent=2) + "\n")
    wrong = np.flatnonzero(predicted != y_test)
    names = CLASS_NAMES[dataset]
    print(f"validation accuracy {100 * metrics['val_acc']:.2f}%, validation loss {metrics['val_loss']:.4f} "
          f"({len(x_valid)} images carved from the training set)")
    print(f"test accuracy {100 * metrics['test_acc']:.2f}% ({len(wrong)} of {len(y_test)} wrong), "
          f"test loss {metrics['test_loss']:.4f}: the final model, scored once; "
          f"{metrics['seconds_per_epoch']:.1f} s/epoch, peak memory {metrics['peak_rss_mb']:.0f} MB")
    if len(wrong):
        i = wrong[0]
        print(f"e.g. test image {i}: a {names[y_test[i]]!r} taken for a {names[predicted[i]]!r}")
    print(f"plot: {out / 'history.png'}  checkpoint: {out / 'last.npz'}  metrics: {out / 'metrics.json'}")
    return metrics


def main(argv=None) -> int:
    """The command line: exit status 0, 1 (diverged), 2 (bad input), 130 (Ctrl-C)."""
    return cli.main(run, argv, PROG)


def console():
    """Console-script entry point (`pmt-mnist`)."""
    sys.exit(main())


if __name__ == "__main__":
    console()
