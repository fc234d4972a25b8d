"""Benchmark: one masked-LM pretraining step, pmt.transformer.pretrain vs PyTorch CPU.

    python -m tools.bench pretrain [--steps 8] [--rounds 3] [--sizes d128 d256] [--profile] [--no-reference]
    make bench-pretrain

The job, for each size (d128/L2: 4 heads, ff 512; d256/L4: 4 heads, ff 1024), on batches of 32
segments x 128 tokens from a 16,000-token vocabulary, masked by `pretrain.mask_tokens` (15 %;
80/10/10): forward of `MaskedLM` (the MLM head on the masked rows only, output tied to the token
embedding), mean cross-entropy, backward, gradient clipping at 1.0, AdamW.  The same masked
batches go to `ref_torch_pretrain.py` (through an .npz file), which runs the same model in
PyTorch in its own process with the same number of threads.  The two take turns (`--rounds`),
so a change of load on a shared machine slows both alike.

Reported per size: ms/step (median) and the ratio to PyTorch (ours / theirs), tokens/s, the
GFLOP/s achieved on the step's matmul work and its share of the matmul peak (a large float32
gemm timed in the same process), the time of drawing a batch (packing + masking, outside the
step), and with --profile the step's time by function.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pmt.core import AdamW, clip_grad_norm, seed
from pmt.graph import cross_entropy

from pmt.transformer.pretrain.masking import NOT_MASKED, mask_tokens
from pmt.transformer.pretrain.model import MaskedLM, MaskedLMConfig
from pmt.transformer.pretrain.packing import pack_windows, split_points, window_starts

from .common import RESULTS_DIR, Row, median_time, profile_text, report, run_reference

HERE = Path(__file__).resolve().parent
SIZES = {"d128": dict(d_model=128, n_heads=4, d_ff=512, n_layers=2),
         "d256": dict(d_model=256, n_heads=4, d_ff=1024, n_layers=4)}
VOCAB, SEQ, BATCH = 16000, 128, 32


def masked_batches(n, rng):
    """n batches (inputs, segments, labels) packed from a random token stream and masked as in training."""
    tokens = rng.integers(7, VOCAB, 200 * SEQ)
    lines = np.arange(0, len(tokens) + 1, 40)
    starts = window_starts(len(tokens), SEQ)
    out = []
    for _ in range(n):
        s = rng.choice(starts, BATCH, replace=False)
        ids, segments = pack_windows(tokens, s, split_points(s, lines, SEQ, rng.random(BATCH)), SEQ)
        inputs, labels = mask_tokens(ids, VOCAB, rng)
        out.append((inputs, segments, labels))
    return out, (tokens, lines, starts)


def matmul_flops(cfg, n_masked):
    """FLOPs of one step's matrix products (forward 2, backward 4 per multiply-add)."""
    d, ff, L = cfg["d_model"], cfg["d_ff"], cfg["n_layers"]
    tokens = BATCH * SEQ
    encoder = 6 * L * (4 * d * d + 2 * d * ff) * tokens + L * 12 * BATCH * SEQ * SEQ * d
    head = 6 * n_masked * (d * d + d * VOCAB)
    return encoder + head


def gemm_peak_gflops():
    """float32 GFLOP/s of a large gemm here and now (the 'peak' the step's matmuls could reach)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((4096, 256), dtype=np.float32), rng.random((256, 1024), dtype=np.float32)
    return 2 * 4096 * 256 * 1024 / median_time(lambda: a @ b, repeats=7) / 1e9


def time_size(name, cfg, steps, rounds, profile, reference, threads):
    """(our ms/step, PyTorch's ms/step or None, matmul FLOPs per step, ms to draw a batch).

    The two sides take turns `rounds` times (ours, PyTorch, ours, ...), each turn the median of
    `steps` steps, and each side's figure is the median of its turns: a change of load on the
    shared machine then slows both alike instead of whichever ran second.
    """
    seed(0)
    model = MaskedLM(MaskedLMConfig(VOCAB, max_len=SEQ, dropout=0.0, **cfg))
    params = model.parameters()
    opt = AdamW(params, lr=1e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    rng = np.random.default_rng(0)
    data, (tokens, lines, starts) = masked_batches(steps + 3, rng)
    it = iter(range(10 ** 9))

    def step():
        batch = data[next(it) % len(data)]
        opt.zero_grad()
        model.train_step(batch, cross_entropy)
        clip_grad_norm(params, 1.0)
        opt.step()

    def draw():
        s = rng.choice(starts, BATCH, replace=False)
        ids, _ = pack_windows(tokens, s, split_points(s, lines, SEQ, rng.random(BATCH)), SEQ)
        mask_tokens(ids, VOCAB, rng)

    path = RESULTS_DIR / f"pretrain-batches-{name}.npz"
    if reference:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, inputs=np.stack([b[0] for b in data]), segments=np.stack([b[1] for b in data]),
                 labels=np.stack([b[2] for b in data]))
    ours, theirs = [], []
    try:
        for r in range(rounds):
            ours.append(median_time(step, repeats=steps, warmup=3 if r == 0 else 1) * 1e3)
            if reference:
                ref = run_reference(HERE / "ref_torch_pretrain.py",
                                    ["--batches", path, "--vocab", VOCAB, "--d-model", cfg["d_model"], "--heads",
                                     cfg["n_heads"], "--ff", cfg["d_ff"], "--layers", cfg["n_layers"], "--steps",
                                     steps, "--threads", threads])
                if ref is None:
                    break
                theirs.append(ref["ms_per_step"])
    finally:
        path.unlink(missing_ok=True)
    if profile:
        print(f"--- {name}: 5 steps by function (own time)\n{profile_text(step, top=18)}")
    n_masked = int(np.mean([(b[2] != NOT_MASKED).sum() for b in data]))
    return (float(np.median(ours)), float(np.median(theirs)) if theirs else None, matmul_flops(cfg, n_masked),
            median_time(draw, repeats=20) * 1e3)


def main(argv=None):
    from pmt.core import cli
    ap = cli.ArgumentParser(prog="python -m tools.bench pretrain")
    ap.add_argument("--steps", type=cli.positive_int, default=8, help="timed steps per turn (median)")
    ap.add_argument("--rounds", type=cli.positive_int, default=3, help="turns each side takes, alternating (median)")
    ap.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=sorted(SIZES))
    ap.add_argument("--profile", action="store_true", help="print each size's top functions by own time")
    cli.add_reference_flag(ap)
    a = ap.parse_args(argv)
    threads = int(os.environ.get("PMT_BENCH_THREADS") or os.environ.get("OPENBLAS_NUM_THREADS") or 1)
    peak = gemm_peak_gflops()
    rows = [Row("float32 gemm 4096x256 @ 256x1024", peak, None, "GFLOP/s", f"the peak below; {threads} thread(s)")]
    for name in a.sizes:
        cfg = SIZES[name]
        ms, ref_ms, flops, draw_ms = time_size(name, cfg, a.steps, a.rounds, a.profile, not a.no_reference, threads)
        label = f"{name} L{cfg['n_layers']} ff{cfg['d_ff']}"
        note = "PyTorch CPU, same batches" if ref_ms else ("reference skipped" if a.no_reference
                                                          else "reference not installed")
        gflops = flops / ms / 1e6
        rows += [Row(f"{label}: ms/step, b{BATCH} x {SEQ}", ms, ref_ms, "ms", note),
                 Row(f"{label}: tokens/s", BATCH * SEQ / ms * 1e3, None, "",
                     f"PyTorch {BATCH * SEQ / ref_ms * 1e3:.0f}" if ref_ms else ""),
                 Row(f"{label}: GFLOP/s on matmul work", gflops, None, "",
                     f"{gflops / peak:.0%} of the gemm peak"
                     + (f"; PyTorch {flops / ref_ms / 1e6:.1f} ({flops / ref_ms / 1e6 / peak:.0%})" if ref_ms else "")),
                 Row(f"{label}: draw a batch (pack + mask)", draw_ms, None, "ms", "outside the step")]
    report("pretrain", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
