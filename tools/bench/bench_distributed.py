"""`make bench-distributed`: data-parallel training on 1 and 2 MPI ranks, side by side.

For each model, in the same run and taking turns (so a busy machine slows them alike):

- 1 rank, 1 BLAS thread   (`python ...`, today's one-process run)
- 2 ranks, 1 BLAS thread each (`mpiexec -n 2 python ...`)
- 1 rank, 2 BLAS threads  (the other way to use the second core)

steps/s of `pmt.core.Trainer` on the same global batches (after a few warm-up steps), the
scaling efficiency = (2-rank steps/s) / (2 x 1-rank steps/s), and the gradient exchange per
step: its time inside training (which includes waiting for the slower rank) and its bytes.

Models:
- qqp:   the `pmt-qqp train` defaults (PairClassifier d_model 128, 4 heads, ff 512, 2 layers, vocab
         16,000, max_len 96, dropout 0.15, mean pooling; Adam, warm-up/linear schedule, clip 1.0,
         label smoothing 0.1, accuracy + F1), batches of 64 real QQP pairs, length-bucketed and
         randomly swapped as in the CLI (tokenizer trained on 40,000 pairs of $PMT_DATA_DIR/qqp).
- mnist: the `pmt.mlp.examples.mnist` defaults (784-512-256-10, dropout 0.2, Adam, batch 128,
         cosine schedule, accuracy) on MNIST images.
- wide:  the QQP model 4x wider (d_model 512, ff 2048, 8 heads), 1 rank only: the compute time
         and bytes per step that the multi-node cost model in packages/core/README.md needs.

Then, on 2 ranks, the QQP gradient exchange alone (after a barrier, so no waiting) by both
sparse routes for the embedding table: all-gather of the touched rows vs densified allreduce.

usage: python -m tools.bench distributed [--steps 40] [--warmup 5] [--repeats 3] [--models qqp mnist wide]
(internal: python -m tools.bench.bench_distributed --worker MODEL STEPS WARMUP DATA)
"""
from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from pmt.core import cli

from .common import REPO, RESULTS_DIR, Row, report

CONFIGS = [(1, 1), (2, 1), (1, 2)]        # (ranks, BLAS threads per rank)
QQP_PAIRS = 64 * 50                        # one bucket of the CLI's bucketing (50 batches of 64)


# ------------------------------------------------------------------------------ the workers
def _qqp_data(path):
    """Encode QQP_PAIRS real pairs with a 16,000-token tokenizer (cached in bench-results/)."""
    if Path(path).exists():
        return dict(np.load(path))
    from pmt.core import fetch
    from pmt.transformer.qqp.data import read_qqp
    from pmt.transformer.tokenizer import Tokenizer
    data = read_qqp(fetch("qqp", files=["train.tsv"], download=False)["train.tsv"], max_rows=40_000)
    tok = Tokenizer.train(data.question1 + data.question2, vocab_size=16_000)
    q1, q2 = data.question1[:QQP_PAIRS], data.question2[:QQP_PAIRS]
    a = tok.encode_batch(q1, q2, max_length=96, padding="max_length")
    b = tok.encode_batch(q2, q1, max_length=96, padding="max_length")
    arrays = dict(ids=a.input_ids, segs=a.segment_ids, lengths=a.lengths, labels=data.labels[:QQP_PAIRS],
                  ids_sw=b.input_ids, segs_sw=b.segment_ids, vocab=np.array(tok.vocab_size))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def _build(name, data_path):
    """(trainer, train batches) for a model, as its CLI builds them."""
    from pmt.core import Adam, Cosine, Trainer, accuracy, batches, f1_score, seed
    from pmt.core.schedules import WarmupLinear
    seed(0)
    if name == "mnist":
        from pmt.mlp.examples.mnist import build_model
        from pmt.mlp.losses import CategoricalCrossEntropy
        try:
            from pmt.mlp.mnist import load_mnist
            d = load_mnist("mnist")
            x, y = d.x_train[:128 * 60], d.y_train[:128 * 60]
        except Exception:  # noqa: BLE001 -- no MNIST: the same shapes (speed does not depend on pixels)
            x = np.random.default_rng(0).random((128 * 60, 784), dtype=np.float32)
            y = np.random.default_rng(1).integers(0, 10, 128 * 60)
        model = build_model((512, 256), 0.2)
        opt = Adam(model.parameters(), lr=1e-3)
        train = batches(x, y, batch_size=128, shuffle=True)
        trainer = Trainer(model, opt, CategoricalCrossEntropy(input="logits"), metrics={"acc": accuracy},
                          schedule=Cosine(1e-3, total_steps=len(train)), progress=False, log=lambda s: None)
        return trainer, train
    from functools import partial

    from pmt.graph import cross_entropy
    from pmt.transformer.qqp.batching import PairBatches
    from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig
    d = _qqp_data(data_path)
    wide = name == "wide"
    cfg = PairClassifierConfig(int(d["vocab"]), 512 if wide else 128, 8 if wide else 4, 2048 if wide else 512,
                               2, 96, 0.15, "mean")
    model = PairClassifier(cfg)
    train = PairBatches(d["ids"], d["segs"], d["lengths"], d["labels"], 64, shuffle=True, seed=0,
                        swapped=(d["ids_sw"], d["segs_sw"]), swap="random")
    opt = Adam(model.parameters(), lr=5e-4, betas=(0.9, 0.98), eps=1e-9)
    trainer = Trainer(model, opt, partial(cross_entropy, label_smoothing=0.1),
                      metrics={"acc": accuracy, "f1": f1_score}, schedule=WarmupLinear(5e-4, 2000, 68_000),
                      clip_norm=1.0, progress=False, log=lambda s: None)
    return trainer, train


class _Clock:
    """Callback: wall-clock and CPU time at the end of every step."""

    def __init__(self):
        self.times, self.cpu = [], []

    def on_batch_end(self, trainer, step, logs):
        self.times.append(time.perf_counter())
        self.cpu.append(time.process_time())


def worker(name, steps, warmup, data_path):
    """Train `warmup + steps` steps; rank 0 prints one JSON line of measurements."""
    from pmt.core import Rewindable, distributed
    distributed.init()
    trainer, train = _build(name, data_path)
    exchange = []
    inner = distributed.allreduce_gradients

    def timed(*args, **kw):                 # the Trainer calls it through the module: patchable
        t0 = time.perf_counter()
        out = inner(*args, **kw)
        exchange.append(time.perf_counter() - t0)
        return out
    distributed.allreduce_gradients = timed
    clock = _Clock()
    trainer.callbacks.append(clock)
    trainer.fit(Rewindable(lambda: itertools.islice(iter(train), warmup + steps), length=warmup + steps), epochs=1)
    t, cpu = clock.times, clock.cpu
    # What this rank's last step produced (its grads are still there): the bytes a node would
    # contribute, by gradient kind.
    grads = [(p, p.grad) for p in trainer._params if p.grad is not None]
    sparse = [(p, g) for p, g in grads if hasattr(g, "indices")]
    result = {"steps_per_s": steps / (t[warmup + steps - 1] - t[warmup - 1]),
              # CPU seconds of this process: on a shared machine, close to what the wall time
              # would be on a quiet one (for one rank; a waiting rank's MPI polling counts too).
              "cpu_ms_per_step": 1e3 * (cpu[warmup + steps - 1] - cpu[warmup - 1]) / steps,
              "exchange_ms": 1e3 * float(np.median(exchange[warmup:])) if exchange else 0.0,
              "model_dense_bytes": sum(4 * p.data.size for p, g in grads if not hasattr(g, "indices")),
              "model_rows_bytes": sum(len(g.indices) * 4 * (1 + p.data[0].size) for p, g in sparse),
              "model_table_bytes": sum(4 * (p.data.size + p.data.shape[0]) for p, g in sparse),
              **{k: v for k, v in distributed.last_exchange.items() if k.endswith("bytes")}}
    if distributed.world_size() > 1 and name == "qqp":
        distributed.allreduce_gradients = inner
        result.update(_routes(trainer, train))
    if name == "wide":
        result["cpu_ratio_vs_qqp"] = _cpu_ratio(trainer, data_path)
    if distributed.is_main():
        print(json.dumps(result), flush=True)


def _cpu_ratio(wide, data_path, n=8):
    """CPU time of a wide step over a QQP step: the two models alternate on the same batches."""
    from pmt.core.optimizers import clip_grad_norm
    qqp, train = _build("qqp", data_path)
    ratios = []
    for batch in itertools.islice(iter(train), n):
        cpu = []
        for t in (qqp, wide):
            t.model.train()
            t.optimizer.zero_grad()
            t0 = time.process_time()
            t.model.train_step(batch, t.loss)
            clip_grad_norm(t._params, 1.0)
            t.optimizer.step()
            cpu.append(time.process_time() - t0)
        ratios.append(cpu[1] / cpu[0])
    return float(np.median(ratios[1:]))


def _routes(trainer, train):
    """Exchange time of one step's QQP gradients by each sparse route, after a barrier (no waiting)."""
    from pmt.core import distributed
    comm = distributed._world()
    batch = distributed.shard(next(iter(train)))
    trainer.optimizer.zero_grad()
    trainer.model.train_step(batch, trainer.loss)
    params = trainer._params
    local = [p.grad for p in params]
    out = {}
    for route in ("gather", "dense"):
        times = []
        for _ in range(15):
            for p, g in zip(params, local):
                p.grad = g
            comm.Barrier()
            t0 = time.perf_counter()
            distributed.allreduce_gradients(params, weight=len(batch[-1]), sparse=route)
            times.append(time.perf_counter() - t0)
        out[f"route_{route}_ms"] = 1e3 * float(np.median(times[3:]))
        out[f"route_{route}_bytes"] = distributed.last_exchange["dense_bytes"] + distributed.last_exchange["gathered_bytes"]
    out["rows_touched"] = int(sum(len(g.indices) for g in local if hasattr(g, "indices")))
    return out


# ------------------------------------------------------------------------------ the driver
def _run(name, ranks, threads, steps, warmup, data_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "tools.bench.bench_distributed", "--worker", name, str(steps), str(warmup),
           str(data_path)]
    if ranks > 1:
        cmd = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(ranks)] + cmd
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])


def ring_seconds(nodes, dense_bytes, rows_bytes_per_node, table_bytes, gbit, latency=50e-6):
    """Modelled exchange time per step on `nodes` nodes (see packages/core/README.md).

    Ring allreduce of the dense buffer: 2(N-1)/N * bytes / bandwidth + 2(N-1) latencies.
    Sparse rows: all-gather, (N-1) * rows_bytes / bandwidth + (N-1) latencies, or the
    densified table by ring allreduce, whichever is cheaper (rule (2) of pmt.core.distributed).
    """
    bw, n = gbit * 1e9 / 8, nodes
    dense = 2 * (n - 1) / n * dense_bytes / bw + 2 * (n - 1) * latency
    gather = (n - 1) * rows_bytes_per_node / bw + (n - 1) * latency
    densified = 2 * (n - 1) / n * table_bytes / bw + 2 * (n - 1) * latency
    header = (n - 1) * latency
    return dense + min(gather, densified) + header


def main(argv=None) -> int:
    ap = cli.ArgumentParser(prog="python -m tools.bench distributed", description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=cli.positive_int, default=40, help="measured steps per run")
    ap.add_argument("--warmup", type=cli.nonneg_int, default=5, help="untimed steps first")
    ap.add_argument("--repeats", type=cli.positive_int, default=3, help="runs per configuration (the median is reported)")
    ap.add_argument("--models", nargs="+", default=["qqp", "mnist", "wide"], choices=["qqp", "mnist", "wide"])
    args = ap.parse_args(argv)
    data_path = RESULTS_DIR / "distributed-qqp-pairs.npz"
    if {"qqp", "wide"} & set(args.models):
        _qqp_data(data_path)
    runs = {}
    for _ in range(args.repeats):
        for name in args.models:
            for ranks, threads in ([(1, 1)] if name == "wide" else CONFIGS):
                steps = 5 if name == "wide" else args.steps
                res = _run(name, ranks, threads, steps, 2 if name == "wide" else args.warmup, data_path)
                runs.setdefault((name, ranks, threads), []).append(res)
                print(f"[bench] {name} {ranks} rank(s) x {threads} thread(s): {res['steps_per_s']:.2f} steps/s",
                      file=sys.stderr, flush=True)

    def med(name, ranks, threads, key):
        return statistics.median(r[key] for r in runs[(name, ranks, threads)])

    rows = []
    for name in [m for m in args.models if m != "wide"]:
        one, two, threads2 = (med(name, r, t, "steps_per_s") for r, t in CONFIGS)
        # Efficiency within each round (its 1- and 2-rank runs ran back to back, under the same load).
        effs = [b["steps_per_s"] / (2 * a["steps_per_s"]) for a, b in zip(runs[(name, 1, 1)], runs[(name, 2, 1)])]
        rows += [Row(f"{name} steps/s, 1 rank x 1 thread", one, unit="steps/s"),
                 Row(f"{name} CPU time per step, 1 rank", med(name, 1, 1, "cpu_ms_per_step"), unit="ms",
                     note="process time: what a quiet machine's wall time would be"),
                 Row(f"{name} steps/s, 2 ranks x 1 thread", two, one, "steps/s", "ratio = speed-up"),
                 Row(f"{name} steps/s, 1 rank x 2 threads", threads2, one, "steps/s", "ratio = speed-up"),
                 Row(f"{name} scaling efficiency", statistics.median(effs), note=f"2-rank / (2 x 1-rank) per round, "
                     f"median of {', '.join(f'{e:.2f}' for e in effs)}; target >= 0.85"),
                 Row(f"{name} exchange per step (2 ranks)", med(name, 2, 1, "exchange_ms"), unit="ms",
                     note="inside training, includes waiting for the slower rank"),
                 Row(f"{name} allreduce buffer", med(name, 2, 1, "dense_bytes") / 1e6, unit="MB",
                     note="fused dense gradients, per step"),
                 Row(f"{name} gathered rows, both ranks", med(name, 2, 1, "gathered_bytes") / 1e6, unit="MB",
                     note="embedding rows + int32 indices, per step")]
    if "qqp" in args.models:
        g, d = med("qqp", 2, 1, "route_gather_ms"), med("qqp", 2, 1, "route_dense_ms")
        rows += [Row("qqp exchange alone, embedding gathered", g, d, "ms",
                     f"{med('qqp', 2, 1, 'route_gather_bytes') / 1e6:.2f} MB; ratio vs densified"),
                 Row("qqp exchange alone, embedding densified", d, unit="ms",
                     note=f"{med('qqp', 2, 1, 'route_dense_bytes') / 1e6:.2f} MB")]
    if "wide" in args.models:
        rows += [Row("wide (x4) steps/s, 1 rank x 1 thread", med("wide", 1, 1, "steps_per_s"), unit="steps/s",
                     note="d_model 512, ff 2048"),
                 Row("wide (x4) CPU time per step, 1 rank", med("wide", 1, 1, "cpu_ms_per_step"), unit="ms"),
                 Row("wide (x4) / qqp CPU time per step", med("wide", 1, 1, "cpu_ratio_vs_qqp"),
                     note="the two alternating on the same batches: the cost model's compute ratio")]
    report("distributed", rows)
    if "qqp" in args.models:
        _cost_model_table(runs, args)
    return 0


def _cost_model_table(runs, args):
    """Weak scaling (64 pairs per node per step) over Ethernet, from the measured 1-rank CPU time per step."""
    models = ["qqp"] + (["wide"] if "wide" in args.models else [])
    print("\nmodelled scaling efficiency, 64 pairs per node per step (compute / (compute + exchange)):")
    print("model  nodes  10 Gbit/s  25 Gbit/s   (exchange ms at 10 / 25)")
    qqp_compute = statistics.median(r["cpu_ms_per_step"] for r in runs[("qqp", 1, 1)]) / 1e3
    for name in models:
        one = runs[(name, 1, 1)]
        compute = qqp_compute * (1 if name == "qqp" else statistics.median(r["cpu_ratio_vs_qqp"] for r in one))
        dense, rows, table = (statistics.median(r[k] for r in one)
                              for k in ("model_dense_bytes", "model_rows_bytes", "model_table_bytes"))
        for nodes in (4, 16, 64):
            t = [ring_seconds(nodes, dense, rows, table, gbit) for gbit in (10, 25)]
            print(f"{name:5s}  {nodes:5d}  {compute / (compute + t[0]):9.2f}  {compute / (compute + t[1]):9.2f}"
                  f"   ({1e3 * t[0]:.1f} / {1e3 * t[1]:.1f}; compute {1e3 * compute:.0f} ms)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit(main())
