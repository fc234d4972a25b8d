"""Shared benchmark helpers: timing, reference scripts in their own process, one result table.

Every `tools/bench/bench_<pkg>.py` uses these names, so keep them stable:

    median_time(fn, repeats=3, warmup=1) -> seconds
    profile_text(fn, calls=5, top=15) -> the top functions of `calls` runs of fn, by own time
    run_reference(script_path, args, python=None, timeout=...) -> dict | None
    Row(metric, value, reference=None, unit='', note='')      # ratio = value / reference
    report(name, rows, json_path=None)                         # table + bench-results/<name>.json

References (PyTorch, gensim) run in a *separate* Python process that has those libraries,
so the numpy side never imports them.  That interpreter is, in order: the `python` argument,
env `PMT_REF_PYTHON`, `<repo>/.venv-ref/bin/python` (`python -m tools.bench setup-ref` creates it).

Example:
    >>> t = median_time(lambda: sum(range(10**6)))
    >>> ref = run_reference(HERE / "ref_torch_mlp.py", ["--batch-size", "32"])
    >>> report("mlp", [Row("s/epoch b32", t, ref and ref["s_per_epoch"], "s")])
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO / "bench-results"
REF_VENV = REPO / ".venv-ref"


def median_time(fn, repeats: int = 3, warmup: int = 1) -> float:
    """Median wall-clock seconds of `fn()` over `repeats` calls, after `warmup` untimed calls.

    The median, not the mean: on a shared 2-core machine one run in three is often disturbed.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"median_time: need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    mid = len(times) // 2
    return times[mid] if len(times) % 2 else 0.5 * (times[mid - 1] + times[mid])


def profile_text(fn, calls: int = 5, top: int = 15) -> str:
    """cProfile's table of the `top` functions by own time over `calls` runs of `fn()`, as text."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def reference_python(python: str | None = None) -> str | None:
    """The interpreter that has torch/gensim, or None when no reference env is installed."""
    candidates = [python, os.environ.get("PMT_REF_PYTHON"), str(REF_VENV / "bin" / "python")]
    for c in candidates:
        if c and Path(c).exists():
            return c
    return None


def run_reference(script_path, args=(), python: str | None = None, timeout: float = 1800) -> dict | None:
    """Run a reference script in its own process and return the JSON object it printed.

    Args:
        script_path: path of a script that prints one JSON line (the last line starting with
            `{` is taken, so progress output before it is fine).
        args: command-line arguments (converted with str()).
        python: interpreter to use; default: see `reference_python`.
        timeout: seconds before the reference is killed (then a RuntimeError is raised).

    Returns:
        the parsed dict, or None when no reference interpreter is installed (the caller then
        reports "reference not installed").
    """
    exe = reference_python(python)
    if exe is None:
        return None
    script_path = Path(script_path)
    if not script_path.exists():
        raise FileNotFoundError(f"run_reference: no script at {script_path}")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "2")
    try:
        proc = subprocess.run([exe, str(script_path), *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"reference {script_path.name} did not finish within {timeout} s") from e
    if proc.returncode != 0:
        missing = "ModuleNotFoundError" in proc.stderr
        if missing:
            print(f"[bench] reference interpreter {exe} lacks a module:\n{proc.stderr.strip().splitlines()[-1]}",
                  file=sys.stderr)
            return None
        raise RuntimeError(f"reference {script_path.name} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"reference {script_path.name} printed no JSON line; stdout was:\n{proc.stdout[-2000:]}")


@dataclass
class Row:
    """One measured number, optionally beside a reference number.

    Args:
        metric: what was measured, e.g. "s/epoch batch 32".
        value: our number.
        reference: the reference's number (None: no reference, or not installed).
        unit: unit of value and reference, e.g. "s".
        note: free text, e.g. "vs minimal numpy loop".
    """

    metric: str
    value: float
    reference: float | None = None
    unit: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """value / reference, or None without a reference."""
        if self.reference is None or self.reference == 0 or not math.isfinite(self.reference):
            return None
        return self.value / self.reference


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3e}"


def report(name: str, rows, json_path=None) -> dict:
    """Print one table (metric, value, reference, ratio, note) and write it as JSON.

    Args:
        name: benchmark name; the JSON goes to `bench-results/<name>.json` unless `json_path`.
        rows: list of Row.
        json_path: where to write the JSON instead.

    Returns:
        the dict written: {"name", "time", "python", "rows": [{metric, value, reference, ratio, unit, note}]}.
    """
    rows = list(rows)
    table = [("metric", "value", "reference", "ratio", "note")]
    for r in rows:
        table.append((r.metric, f"{_fmt(r.value)} {r.unit}".strip(),
                      f"{_fmt(r.reference)} {r.unit}".strip() if r.reference is not None else "-",
                      _fmt(r.ratio), r.note))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    print(f"== bench {name}")
    for k, row in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    out = {"name": name, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "python": sys.version.split()[0],
           "rows": [{**asdict(r), "ratio": r.ratio} for r in rows]}
    path = Path(json_path) if json_path else RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"(written to {path})")
    return out


def bare_epoch(model, opt, loss, x, y, batch_size):
    """A function running one shuffled epoch of `model.train_step` + `opt.step` with no Trainer.

    The framework-free loop the benchmarks time a model with (shuffles from pmt.core's generator).
    """
    from pmt.core import get_rng

    def epoch():
        order = get_rng().permutation(len(x))
        model.train()
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            model.train_step((x[idx], y[idx]), loss)
            opt.step()
    return epoch
