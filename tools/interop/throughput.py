"""QQP inference throughput, pairs per second: PMT (numpy) vs the PyTorch twin vs onnxruntime.

The same weights (one exported safetensors file, and the ONNX graph exported beside it) and the
same validation pairs (the first N of the run's own split, sorted by length, each batch cut to
its longest pair) go to three workers, each in its own process with its thread count pinned:

    pmt     pmt.transformer PairClassifier under no_grad     OPENBLAS/OMP/MKL_NUM_THREADS = t
    torch   PairClassifierTwin under inference_mode          torch.set_num_threads(t)
    onnx    onnxruntime InferenceSession (CPU)               intra_op_num_threads = t

Every round starts one process per backend, in a rotating order, so a busy machine slows all
three alike; a worker times a full pass over the pairs per batch size (after one warm-up pass)
and the driver reports the median over rounds.  One forward of the one-order logits per batch
(no symmetric averaging, no tokenization: both are the same for all backends).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..checkout import sources

BACKENDS = ("pmt", "torch", "onnx")
REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------ worker side
def _batches(inputs, batch_size):
    ids, segs, lengths = inputs["ids"], inputs["segments"], inputs["lengths"]
    out = []
    for i in range(0, len(lengths), batch_size):
        w = int(lengths[i:i + batch_size].max())
        out.append((ids[i:i + batch_size, :w], segs[i:i + batch_size, :w]))
    return out


def _load(backend, weights, onnx_path, threads):
    """(run(prepared batch) -> logits, prepare(ids, segments) -> what run takes) for one backend."""
    if backend == "pmt":
        from pmt.core import load_weights, safetensors_metadata
        from pmt.graph import no_grad
        from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig
        model = PairClassifier(PairClassifierConfig(**json.loads(safetensors_metadata(weights)["pmt.config"])))
        load_weights(weights, model)
        model.eval()

        def run(b):
            with no_grad():
                return model(*b).data
        return run, lambda b: b
    if backend == "torch":
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file

        from .twin import build, pmt_to_torch
        torch.set_num_threads(threads)
        with safe_open(weights, "pt") as f:
            cfg = json.loads(f.metadata()["pmt.config"])
        twin = build("qqp", cfg)
        twin.load_state_dict(pmt_to_torch(load_file(weights)))

        def run(b):
            with torch.inference_mode():
                return twin(*b)
        return run, lambda b: tuple(torch.from_numpy(np.ascontiguousarray(x)) for x in b)
    from pmt.transformer.onnx_export import onnx_session
    session = onnx_session(onnx_path, threads=threads)
    return (lambda feeds: session.run(None, feeds)[0]), (lambda b: {"ids": b[0], "segments": b[1]})


def worker(argv) -> int:
    """`throughput.py --worker BACKEND WEIGHTS ONNX INPUTS THREADS B1,B2,...`: prints one JSON line."""
    backend, weights, onnx_path, inputs, threads, sizes = argv
    inputs = dict(np.load(inputs))
    run, prepare = _load(backend, weights, onnx_path, int(threads))
    result = {"backend": backend, "threads": int(threads), "pairs_per_s": {}}
    for b in map(int, sizes.split(",")):
        batches = [prepare(x) for x in _batches(inputs, b)]
        for x in batches:                                            # warm-up pass
            run(x)
        t0 = time.perf_counter()
        for x in batches:
            run(x)
        result["pairs_per_s"][str(b)] = len(inputs["lengths"]) / (time.perf_counter() - t0)
    print(json.dumps(result))
    return 0


# ------------------------------------------------------------------------------------ driver side
def _pmt_python(arg):
    if arg:
        return arg
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _spawn(python, backend, paths, threads, sizes):
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(sources() + [str(REPO)] + [env.get("PYTHONPATH", "")])
    cmd = [python, "-m", "tools.interop.throughput", "--worker", backend, *map(str, paths), str(threads),
           ",".join(map(str, sizes))]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{backend} worker failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_throughput(a) -> int:
    """Export, encode the pairs once, then rounds of one process per backend; print the table."""
    from .check import qqp_batches
    from pmt.transformer.export import export_run
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    weights, onnx_path, inputs = out / "qqp.safetensors", out / "qqp.onnx", out / "throughput-pairs.npz"
    export_run("qqp", a.qqp, onnx=onnx_path, safetensors=weights)
    _, batches = qqp_batches(a.qqp, a.pairs, batch_size=1)              # one pair per row, own length
    # Sorted by length, so a batch of 64 carries little padding (as PMT's bucketed batches do).
    batches.sort(key=lambda b: b[0].shape[1])
    width = max(b[0].shape[1] for b in batches)
    pad = lambda x: np.pad(x, ((0, 0), (0, width - x.shape[1])))        # noqa: E731
    np.savez(inputs, ids=np.concatenate([pad(b[0]) for b in batches]),
             segments=np.concatenate([pad(b[1]) for b in batches]),
             lengths=np.array([b[0].shape[1] for b in batches]))
    pmt_py, ref_py = _pmt_python(a.pmt_python), sys.executable
    print(f"{len(batches)} validation pairs of {a.qqp}; PMT side: {pmt_py}; reference side: {ref_py}")
    results = {}                                                         # (threads, backend) -> [dicts]
    for threads in a.threads:
        for r in range(a.rounds):
            order = BACKENDS[r % 3:] + BACKENDS[:r % 3]                  # rotate who goes first
            for backend in order:
                res = _spawn(pmt_py if backend == "pmt" else ref_py, backend, (weights, onnx_path, inputs),
                             threads, a.batch_sizes)
                results.setdefault((threads, backend), []).append(res["pairs_per_s"])
    table = []
    for threads in a.threads:
        for b in a.batch_sizes:
            per_round = {k: [x[str(b)] for x in results[(threads, k)]] for k in BACKENDS}
            # Ratios are taken within a round (the three ran back to back) and then the median:
            # steadier than a ratio of medians when the machine's load drifts between rounds.
            ratio = {k: statistics.median(p / o for p, o in zip(per_round["pmt"], per_round[k]))
                     for k in ("torch", "onnx")}
            table.append({"threads": threads, "batch": b, **{k: statistics.median(v) for k, v in per_round.items()},
                          "pmt_over_torch": ratio["torch"], "pmt_over_onnx": ratio["onnx"], "rounds": per_round})
    print(f"\nQQP inference, pairs/s (median of {a.rounds} rounds, {len(batches)} pairs each; ratios: median of "
          f"the per-round ratios)")
    print("| threads | batch | PMT numpy | PyTorch twin | onnxruntime | PMT / PyTorch | PMT / onnxruntime |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for t in table:
        print(f"| {t['threads']} | {t['batch']} | {t['pmt']:.0f} | {t['torch']:.0f} | {t['onnx']:.0f} | "
              f"{t['pmt_over_torch']:.2f} | {t['pmt_over_onnx']:.2f} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end: {load:.1f} (on {os.cpu_count()} cores)")
    (out / "throughput.json").write_text(json.dumps({"run": str(a.qqp), "pairs": len(batches), "rounds": a.rounds,
                                                     "load_average": load, "table": table}, indent=1))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(worker(sys.argv[2:]))
    sys.exit("run through `python -m tools.interop throughput` (this module is its worker)")
