"""Benchmark: one training step of a Transformer encoder classifier, pmt.transformer vs PyTorch CPU.

    python -m tools.bench transformer [--steps 15] [--profile] [--no-reference]

The job (same in `ref_torch_transformer.py`, run in its own process): token ids (batch 32, seq 64)
from a 30,000-word vocabulary -> embedding (d_model 128) + learned positions -> 2 post-LN encoder
layers (4 heads, ff 512, ReLU, dropout 0.1) -> mean over positions -> Linear(128, 2) ->
cross-entropy -> Adam.  Our side uses the sparse embedding gradient and lazy Adam rows; PyTorch's
reference updates the whole table densely.

Reported: ms/step (median) and the ratio to PyTorch, achieved GFLOP/s on the matmul work
(same count as the reference), and the share of the step spent outside matmuls, estimated by
timing the step's gemms alone with the same shapes.
"""
from __future__ import annotations

import cProfile
import io
import pstats
from pathlib import Path

import numpy as np
from pmt.core import Adam, seed
from pmt.graph import Embedding, Module, cross_entropy

from pmt.transformer.encoder import TransformerEncoder
from pmt.transformer.layers import LearnedPositionalEncoding, xavier_linear

from .common import Row, median_time, report, run_reference

HERE = Path(__file__).resolve().parent


class EncoderClassifier(Module):
    """ids (batch, seq) -> embedding + positions -> encoder -> mean over seq -> Linear -> logits (batch, 2)."""

    def __init__(self, vocab, d_model, n_heads, d_ff, n_layers, seq, n_classes=2, dropout=0.1):
        super().__init__()
        self.embed = Embedding(vocab, d_model, std=1.0)
        self.pos = LearnedPositionalEncoding(d_model, seq)
        self.encoder = TransformerEncoder(n_layers, d_model, n_heads, d_ff, dropout, norm_first=False)
        self.head = xavier_linear(d_model, n_classes)

    def forward(self, ids):
        h = self.encoder(self.pos(self.embed(ids)))        # (B, T, d)
        return self.head(h.mean(axis=1))                   # (B, 2)


def matmul_flops(d, ff, layers, seq, batch):
    """FLOPs of the step's matmul work, counted as the reference script counts them."""
    tok = batch * seq
    weights = layers * (4 * d * d + 2 * d * ff)
    return 6 * weights * tok + layers * 3 * 2 * 2 * batch * seq * seq * d


def gemm_only_seconds(d, ff, heads, layers, seq, batch, repeats=5):
    """Median time of just the step's gemms (forward + backward), float32, same shapes."""
    rng = np.random.default_rng(0)
    n, dh, bh = batch * seq, d // heads, batch * heads
    r = lambda *s: rng.random(s, dtype=np.float32)
    lin = [(d, 3 * d), (d, d), (d, ff), (ff, d)]
    xs = {k: r(n, k) for k in {d, ff, 3 * d}}
    ws = [r(i, o) for i, o in lin]
    q, k, v, p = r(bh, seq, dh), r(bh, seq, dh), r(bh, seq, dh), r(bh, seq, seq)

    def work():
        for _ in range(layers):
            for (i, o), w in zip(lin, ws):
                xs[i] @ w                   # forward
                xs[o] @ w.T                 # dL/dx
                xs[i].T @ xs[o]             # dL/dW
            q @ k.swapaxes(1, 2); p @ v                                  # forward
            p.swapaxes(1, 2) @ q; q @ v.swapaxes(1, 2); p @ k; p.swapaxes(1, 2) @ q  # backward
    return median_time(work, repeats=repeats)


def main(argv=None):
    from pmt.core import cli
    ap = cli.ArgumentParser(prog="python -m tools.bench transformer")
    ap.add_argument("--steps", type=cli.positive_int, default=15, help="timed steps (median)")
    ap.add_argument("--profile", action="store_true", help="print the top functions by own time")
    cli.add_reference_flag(ap)
    a = ap.parse_args(argv)
    cfg = dict(vocab=30000, d_model=128, n_heads=4, d_ff=512, n_layers=2, seq=64, batch=32)

    seed(0)
    model = EncoderClassifier(cfg["vocab"], cfg["d_model"], cfg["n_heads"], cfg["d_ff"], cfg["n_layers"],
                              cfg["seq"])
    opt = Adam(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, cfg["vocab"], (cfg["batch"], cfg["seq"]))
    labels = rng.integers(0, 2, cfg["batch"])

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(ids), labels)
        loss.backward()
        opt.step()

    ms = median_time(step, repeats=a.steps, warmup=3) * 1e3
    flops = matmul_flops(cfg["d_model"], cfg["d_ff"], cfg["n_layers"], cfg["seq"], cfg["batch"])
    gemm_ms = gemm_only_seconds(cfg["d_model"], cfg["d_ff"], cfg["n_heads"], cfg["n_layers"], cfg["seq"],
                                cfg["batch"]) * 1e3
    if a.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(5):
            step()
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
        print(s.getvalue())

    ref = None
    if not a.no_reference:
        ref = run_reference(HERE / "ref_torch_transformer.py",
                            ["--d-model", cfg["d_model"], "--heads", cfg["n_heads"], "--ff", cfg["d_ff"],
                             "--layers", cfg["n_layers"], "--seq", cfg["seq"], "--batch-size", cfg["batch"],
                             "--vocab", cfg["vocab"]])
    ref_ms = ref and ref["ms_per_step"]
    tokens = cfg["batch"] * cfg["seq"]
    rows = [
        Row("train step d128 h4 ff512 L2, b32 x 64", ms, ref_ms, "ms",
            "PyTorch CPU, dense Adam" if ref else
            ("reference skipped" if a.no_reference else "reference not installed")),
        Row("tokens/s", tokens / ms * 1e3, ref_ms and tokens / ref_ms * 1e3, ""),
        Row("GFLOP/s on matmul work", flops / ms / 1e6, ref_ms and flops / ref_ms / 1e6, ""),
        Row("gemms alone (same shapes)", gemm_ms, None, "ms", f"{flops / gemm_ms / 1e6:.0f} GFLOP/s"),
        Row("share of step outside matmuls", max(0.0, 1 - gemm_ms / ms), None, "",
            "1 - gemm time / step time"),
    ]
    report("transformer", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
