"""`python -m tools.difftest [-k TEXT] [--tol 1e-8] [--failures-only]`: pmt against PyTorch, float64.

Every case runs one pmt function and its PyTorch counterpart on the same inputs and compares
the values and gradients (or the parameters after some optimizer steps): one line per case
with its norm-wise relative error, then how many cases agree to `--tol`.  Exit status 0 when
all do, 1 otherwise, 2 when torch is missing.

Run it with an interpreter that has torch (the reference environment, `$PMT_REF_PYTHON`), from
the repository root; pmt is imported from this checkout's packages/*/src (put on sys.path
here), so nothing needs installing into the reference environment:

    $PMT_REF_PYTHON -m tools.difftest
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback

from ..checkout import use_this_checkout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.difftest", description=__doc__.split("\n")[0])
    ap.add_argument("-k", default="", help="run only cases whose 'group/name' contains this text")
    ap.add_argument("--tol", type=float, default=1e-8, help="relative error counted as agreement (default 1e-8)")
    ap.add_argument("--failures-only", action="store_true", help="print only the cases above --tol")
    args = ap.parse_args(argv)
    try:
        import torch
    except ModuleNotFoundError:
        print(f"tools.difftest needs PyTorch; run it with the reference interpreter, e.g. "
              f"$PMT_REF_PYTHON -m tools.difftest (this is {sys.executable})", file=sys.stderr)
        return 2
    use_this_checkout()
    torch.set_default_dtype(torch.float64)
    from . import cases_graph, cases_mlp, cases_optim, cases_transformer  # noqa: F401  (they register)
    from .common import CASES, compare

    t0 = time.perf_counter()
    rows, n_ok = [], 0
    selected = [(g, n, fn) for g, n, fn in CASES if args.k in f"{g}/{n}"]
    for group, name, fn in selected:
        try:
            err, where = compare(fn())
        except Exception as e:                       # a crash is a disagreement, reported, not fatal
            err, where = float("inf"), f"{type(e).__name__}: {e}"
            traceback.print_exc(limit=2, file=sys.stderr)
        ok = err <= args.tol
        n_ok += ok
        rows.append((ok, f"{group}/{name}", err, where))
    width = max((len(r[1]) for r in rows), default=10)
    for ok, label, err, where in rows:
        if ok and args.failures_only:
            continue
        print(f"{'ok  ' if ok else 'DIFF'}  {label:<{width}}  {err:9.2e}  {'' if ok else where}".rstrip())
    print(f"\n{n_ok} of {len(rows)} cases agree with PyTorch {torch.__version__} to {args.tol:g} relative "
          f"(float64; {time.perf_counter() - t0:.1f} s)")
    return 0 if n_ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
