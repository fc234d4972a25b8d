"""`python -m tools.bench graph`: the MNIST MLP trained with autograd (pmt.graph) vs the
explicit-backprop pmt.mlp, and vs PyTorch CPU, in seconds per 60,000-image epoch.

Both numpy models are 784-128-64-10, ReLU, Dropout 0.25, cross-entropy on logits,
Adam(lr 1e-3), float32, same shuffled batches, a bare loop (zero_grad, train_step, step).
The two are timed in alternation, epoch by epoch, so machine noise hits both alike; each
number is the median over `--repeats` epochs.  Ratio graph / mlp: target <= 1.2.
PyTorch runs tools/bench/ref_torch_mlp.py (same network) in its own process, with as many
threads as $OMP_NUM_THREADS gives numpy's BLAS (default 2).

Also: the tape's cost per recorded operation (a 100-op chain of multiplications on 8-element
arrays, forward + backward, vs the same arithmetic in raw numpy).

usage: python -m tools.bench graph [--batch-size 32 128] [--repeats 3] [--dataset fashion-mnist]
                                   [--no-reference] [--tape-only]
"""
from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

from .common import REPO, Row, bare_epoch, median_time, report, run_reference

HERE = Path(__file__).resolve().parent
LR, RATE = 1e-3, 0.25


def graph_epoch_fn(x, y, batch_size, seed=0):
    from pmt.core import Adam
    from pmt.core import seed as set_seed
    from pmt.graph import cross_entropy
    from pmt.graph.examples.mnist_mlp import make_mlp
    set_seed(seed)
    model = make_mlp(dropout=RATE)
    opt = Adam(model.parameters(), lr=LR)
    return bare_epoch(model, opt, cross_entropy, x, y, batch_size)


def mlp_epoch_fn(x, y, batch_size, seed=0):
    from pmt.core import Adam
    from pmt.core import seed as set_seed
    from pmt.mlp import CategoricalCrossEntropy, Dense, Dropout, ReLU, Sequential
    set_seed(seed)
    model = Sequential([Dense(128), ReLU(), Dropout(RATE), Dense(64), ReLU(), Dropout(RATE), Dense(10)],
                       input_shape=(784,))
    opt, loss = Adam(model.parameters(), lr=LR), CategoricalCrossEntropy(input="logits")
    return bare_epoch(model, opt, loss, x, y, batch_size)


def tape_cost_rows(chain: int = 100, calls: int = 50) -> list:
    """Microseconds per multiplication through the tape vs in raw numpy (forward + backward)."""
    import numpy as np
    from pmt.graph import Tensor
    a = Tensor(np.ones(8, np.float32), requires_grad=True)
    b = Tensor(np.ones(8, np.float32), requires_grad=True)
    seed = np.ones(8, np.float32)

    def graph():
        for _ in range(calls):
            y = a
            for _ in range(chain):
                y = y * b
            y.backward(seed)

    def raw():  # the same products by hand: forward keeps inputs, backward walks them back
        for _ in range(calls):
            y, kept = a.data, []
            for _ in range(chain):
                kept.append(y)
                y = y * b.data
            g, gb = seed, np.zeros(8, np.float32)
            for x in reversed(kept):
                gb += g * x
                g = g * b.data

    per_op = 1e6 / (calls * chain)
    t_graph, t_raw = median_time(graph, repeats=5) * per_op, median_time(raw, repeats=5) * per_op
    return [Row("tape: one mul on 8 floats, forward + backward", t_graph, t_raw, "us/op",
                "reference: the same arithmetic in raw numpy")]


def main(argv=None):
    from pmt.core import cli
    ap = cli.ArgumentParser(prog="python -m tools.bench graph", description=__doc__.split("\n")[0])
    ap.add_argument("--batch-size", type=cli.positive_int, nargs="+", default=[32, 128], metavar="N",
                    help="batch sizes to time")
    ap.add_argument("--repeats", type=cli.positive_int, default=3)
    ap.add_argument("--dataset", default="fashion-mnist", choices=["mnist", "fashion-mnist"])
    cli.add_reference_flag(ap)
    ap.add_argument("--tape-only", action="store_true", help="only the per-operation tape cost")
    cli.deprecate(ap, "--batch-sizes", "--batch-size")
    args = ap.parse_args(argv)
    if args.tape_only:
        report("graph-tape", tape_cost_rows())
        return 0
    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))  # torch gets as many threads as numpy's BLAS

    from pmt.core.datasets import fetch, get_data_dir
    from pmt.graph.examples.mnist_mlp import load_split
    x, y = load_split(args.dataset, "train", paths=fetch(args.dataset))
    rows = []
    for bs in args.batch_size:
        graph_epoch, mlp_epoch = graph_epoch_fn(x, y, bs), mlp_epoch_fn(x, y, bs)
        graph_epoch(), mlp_epoch()  # warm-up
        t_graph, t_mlp = [], []
        for _ in range(args.repeats):  # alternate, so that noise hits both alike
            t_graph.append(median_time(graph_epoch, repeats=1, warmup=0))
            t_mlp.append(median_time(mlp_epoch, repeats=1, warmup=0))
        tg, tm = statistics.median(t_graph), statistics.median(t_mlp)
        steps = -(-len(x) // bs)
        ref = None
        if not args.no_reference:
            ddir = (get_data_dir() or REPO.parent / "shared" / "data") / args.dataset
            ref = run_reference(HERE / "ref_torch_mlp.py", [ddir, "--batch-size", bs, "--epochs", args.repeats,
                                                            "--threads", threads])
        rows += [
            Row(f"pmt.mlp explicit backprop, batch {bs}", tm, unit="s/epoch"),
            Row(f"pmt.graph autograd vs pmt.mlp, batch {bs}", tg, tm, "s/epoch",
                f"target ratio <= 1.2; tape cost {(tg - tm) / steps * 1e3:+.3f} ms/step"),
            Row(f"pmt.graph autograd vs PyTorch, batch {bs}", tg, ref["median"] if ref else None, "s/epoch",
                f"torch {ref['torch']}, {ref['threads']} threads" if ref else "reference not installed"),
        ]
    report("graph", rows + tape_cost_rows())
    return 0


if __name__ == "__main__":
    sys.exit(main())
