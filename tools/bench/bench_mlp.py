"""`python -m tools.bench mlp`: seconds per 60,000-image epoch of the original project's MLP.

Model: 784-128-64-10, ReLU, Dropout 0.25 after each hidden layer, softmax cross-entropy,
Adam(lr 1e-3), float32, on Fashion-MNIST (or MNIST).  For each batch size, in the same run:

- ours:     `pmt.mlp.Sequential` trained by `pmt.core.Trainer` (no metrics, no progress bar);
- model:    the same Sequential + Adam in a bare loop (so Trainer overhead shows separately);
- floor:    the same network as one hand-written numpy loop, no framework (`minimal_epoch`);
- PyTorch:  tools/bench/ref_torch_mlp.py in the reference interpreter (separate process).

Each number is the median of `--repeats` epochs, the contenders taking turns epoch by epoch.  Ratios: ours /
floor (target <= 1.2) and ours / PyTorch.  Then the example (`python -m pmt.mlp.examples.mnist`) runs one epoch in a
subprocess to report its peak resident memory.

usage: python -m tools.bench mlp [--batch-size 32 128] [--repeats 3] [--dataset fashion-mnist]
                                 [--no-reference] [--no-example]
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import REPO, Row, bare_epoch, report, run_reference

HERE = Path(__file__).resolve().parent
RATE, LR, B1, B2, EPS = 0.25, 1e-3, 0.9, 0.999, 1e-8


# ---------------------------------------------------------------- the floor: no framework
class MinimalMLP:
    """The benchmark network as straight-line numpy: forward, backward, Adam, nothing else.

    Same maths as the framework (He init, inverted dropout, fused softmax cross-entropy,
    Adam with bias correction), written with the fewest temporaries we know how to.
    """

    def __init__(self, sizes=(784, 128, 64, 10), seed=0):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            self.params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(np.float32))
            self.params.append(np.zeros(fan_out, np.float32))
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self, x, y):
        W1, b1, W2, b2, W3, b3 = self.params
        n, scale = len(x), np.float32(1 / (1 - RATE))
        h1 = x @ W1
        h1 += b1
        m1 = self.rng.random(h1.shape, dtype=np.float32)
        np.greater_equal(m1, RATE, out=m1)
        m1 *= h1 > 0                                  # m1 = relu'(.) * dropout mask ...
        m1 *= scale                                   # ... / (1 - rate)
        h1 *= m1                                      # h1 = dropout(relu(x W1 + b1))
        h2 = h1 @ W2
        h2 += b2
        m2 = self.rng.random(h2.shape, dtype=np.float32)
        np.greater_equal(m2, RATE, out=m2)
        m2 *= h2 > 0
        m2 *= scale
        h2 *= m2
        z = h2 @ W3
        z += b3
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)             # softmax
        z[np.arange(n), y] -= 1
        z /= n                                        # dL/dlogits
        grads = [None] * 6
        grads[4], grads[5] = h2.T @ z, z.sum(axis=0)
        d2 = z @ W3.T
        d2 *= m2                                      # chain rule through dropout and relu at once
        grads[2], grads[3] = h1.T @ d2, d2.sum(axis=0)
        d1 = d2 @ W2.T
        d1 *= m1
        grads[0], grads[1] = x.T @ d1, d1.sum(axis=0)
        self.adam(grads)

    def adam(self, grads):
        """One Adam update, in place; the gradient arrays serve as scratch space."""
        self.t += 1
        step = LR * np.sqrt(1 - B2 ** self.t) / (1 - B1 ** self.t)
        eps = EPS * np.sqrt(1 - B2 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= B1
            m += (1 - B1) * g
            v *= B2
            g *= g
            g *= 1 - B2
            v += g
            np.sqrt(v, out=g)
            g += eps
            np.divide(m, g, out=g)
            g *= step
            p -= g

    def accuracy(self, x, y):
        """Top-1 accuracy in eval mode (no dropout): a check that the floor really trains."""
        W1, b1, W2, b2, W3, b3 = self.params
        h = np.maximum(x @ W1 + b1, 0)
        h = np.maximum(h @ W2 + b2, 0)
        return float(((h @ W3 + b3).argmax(axis=1) == y).mean())

    def epoch(self, x, y, batch_size):
        order = self.rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            self.step(x[idx], y[idx])


# ---------------------------------------------------------------- ours
def build_ours(batch_size, seed=0):
    from pmt.core import Adam, seed as set_seed
    from pmt.mlp import CategoricalCrossEntropy, Dense, Dropout, ReLU, Sequential
    set_seed(seed)
    model = Sequential([Dense(128), ReLU(), Dropout(RATE), Dense(64), ReLU(), Dropout(RATE), Dense(10)],
                       input_shape=(784,))
    return model, Adam(model.parameters(), lr=LR), CategoricalCrossEntropy(input="logits")


def trainer_epoch_fn(x, y, batch_size):
    from pmt.core.data import batches
    from pmt.core.trainer import Trainer
    model, opt, loss = build_ours(batch_size)
    trainer = Trainer(model, opt, loss, progress=False, log=lambda s: None)
    data = batches(x, y, batch_size=batch_size, shuffle=True)
    return lambda: trainer.fit(data, epochs=trainer.epoch + 1)


def bare_epoch_fn(x, y, batch_size):
    model, opt, loss = build_ours(batch_size)
    return bare_epoch(model, opt, loss, x, y, batch_size)


def example_peak_memory(dataset) -> dict | None:
    """Run one epoch of the example in a subprocess; return its metrics.json (peak RSS etc.)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "pmt.mlp.examples.mnist", "--dataset", dataset, "--epochs", "1",
               "--run-dir", out, "--no-progress"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
        if proc.returncode != 0:
            print(f"[bench mlp] example failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            return None
        path = Path(out) / "metrics.json"
        return json.loads(path.read_text()) if path.exists() else None


def optimizer_step_us(repeats: int = 200) -> tuple[float, float]:
    """Median CPU microseconds of one Adam update of the model's 109,386 parameters:
    `pmt.core.Adam.step()` vs the floor's in-place Adam (both given fresh gradient copies)."""
    model, opt, _ = build_ours(32)
    floor = MinimalMLP()
    grads = [np.random.default_rng(0).standard_normal(p.data.shape).astype(np.float32) for p in model.parameters()]

    def core():
        for p, g in zip(model.parameters(), grads):
            p.grad = g.copy()
        opt.step()

    def minimal():
        floor.adam([g.copy() for g in grads])

    out = []
    for fn in (core, minimal):
        fn()
        times = []
        for _ in range(repeats):
            c0 = time.process_time()
            fn()
            times.append(time.process_time() - c0)
        out.append(statistics.median(times) * 1e6)
    return out[0], out[1]


def interleaved(fns: dict, repeats: int) -> dict:
    """Median wall and CPU seconds of each fn, run in turns (a, b, c, a, b, c, ...).

    Taking turns spreads the load of a shared machine evenly over the contenders, so their
    ratio stays meaningful even when the absolute times are not.
    """
    wall = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


def main(argv=None):
    from pmt.core import cli
    ap = cli.ArgumentParser(prog="python -m tools.bench mlp", description=__doc__.split("\n")[0])
    ap.add_argument("--batch-size", type=cli.positive_int, nargs="+", default=[32, 128], metavar="N",
                    help="batch sizes to time")
    ap.add_argument("--repeats", type=cli.positive_int, default=3, help="epochs timed per contender (median taken)")
    ap.add_argument("--max-train", type=cli.positive_int, default=60000, metavar="N",
                    help="train on the first N images and scale times to a 60,000-image epoch (quick runs)")
    ap.add_argument("--dataset", default="fashion-mnist", choices=["mnist", "fashion-mnist"])
    cli.add_reference_flag(ap)
    ap.add_argument("--no-example", action="store_true", help="skip the example's peak-memory run")
    cli.deprecate(ap, "--batch-sizes", "--batch-size")
    cli.deprecate(ap, "--examples", "--max-train")
    args = ap.parse_args(argv)

    from pmt.core.datasets import get_data_dir
    from pmt.mlp.mnist import load_mnist
    data = load_mnist(args.dataset)
    n = min(args.max_train, len(data.x_train))
    x, y = data.x_train[:n], data.y_train[:n]
    scale = 60000 / n
    threads = os.environ.get("PMT_BENCH_THREADS") or os.environ.get("OPENBLAS_NUM_THREADS") or "default"
    print(f"[bench mlp] {args.dataset}, {n} images (times scaled to 60,000), {args.repeats} epochs each, "
          f"BLAS threads: {threads}", flush=True)
    rows = []
    for bs in args.batch_size:
        floor = MinimalMLP()
        t = interleaved({"floor": lambda: floor.epoch(x, y, bs), "ours": trainer_epoch_fn(x, y, bs),
                         "bare": bare_epoch_fn(x, y, bs)}, args.repeats)
        (w_floor, c_floor), (w_ours, c_ours), (w_bare, c_bare) = (
            (w * scale, c * scale) for w, c in (t["floor"], t["ours"], t["bare"]))
        ref = None
        if not args.no_reference:
            ddir = (get_data_dir() or REPO.parent / "shared" / "data") / args.dataset
            ref_threads = 2 if threads == "default" else int(threads)
            ref = run_reference(HERE / "ref_torch_mlp.py",
                                [ddir, "--batch-size", bs, "--epochs", args.repeats, "--threads", ref_threads])
        rows += [
            Row(f"b{bs} floor: minimal numpy loop", w_floor, unit="s/epoch", note=f"cpu {c_floor:.3g} s"),
            Row(f"b{bs} ours (Sequential+Trainer) / floor", w_ours, w_floor, "s/epoch", "target ratio <= 1.2"),
            Row(f"b{bs} ours / floor, CPU time", c_ours, c_floor, "s/epoch", "robust to a busy machine"),
            Row(f"b{bs} Sequential in a bare loop / floor", w_bare, w_floor, "s/epoch", "no Trainer"),
            Row(f"b{bs} ours / PyTorch", w_ours, ref["median"] if ref else None, "s/epoch",
                f"torch {ref['torch']}, {ref['threads']} threads, test acc {ref['test_acc']:.3f}" if ref
                else "reference not installed" if not args.no_reference else "reference skipped"),
        ]
    adam_core, adam_floor = optimizer_step_us()
    rows.append(Row("Adam step: pmt.core.Adam / in-place Adam", adam_core, adam_floor, "us", "109,386 params, CPU time"))
    if not args.no_example:
        m = example_peak_memory(args.dataset)
        if m:
            rows.append(Row("example: peak resident memory, 1 epoch", m["peak_rss_mb"], unit="MB",
                            note=f"python -m pmt.mlp.examples.mnist --dataset {args.dataset} --epochs 1"))
    report("mlp", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
