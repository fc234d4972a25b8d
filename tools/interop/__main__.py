"""`python -m tools.interop check|throughput ...` — run with the reference interpreter.

    $PMT_REF_PYTHON -m tools.interop check --qqp RUN --ner RUN        # every cross-check, exit 1 on a failure
    $PMT_REF_PYTHON -m tools.interop throughput --qqp RUN --threads 1  # pairs/s: PMT vs PyTorch vs onnxruntime

The reference interpreter needs torch, safetensors, onnx and onnxruntime
(`python -m tools.bench setup-ref` installs them); PMT is imported from the repository's sources
(`tools.checkout`), nothing to install or to put on PYTHONPATH.
"""
from __future__ import annotations

import argparse
import sys

from ..checkout import use_this_checkout


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.interop", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="safetensors / PyTorch twin / onnxruntime against PMT, both ways")
    c.add_argument("--qqp", metavar="RUN", help="QQP run folder (pmt-qqp train)")
    c.add_argument("--ner", metavar="RUN", help="NER run folder (pmt-ner train)")
    c.add_argument("--n", type=int, default=200, help="validation examples per task")
    c.add_argument("--tol", type=float, default=1e-4, help="largest allowed |output difference|")
    c.add_argument("--out", default="runs/interop", help="folder for the exported and re-saved files")
    t = sub.add_parser("throughput", help="QQP inference pairs/s: PMT numpy vs PyTorch twin vs onnxruntime")
    t.add_argument("--qqp", metavar="RUN", required=True, help="QQP run folder")
    t.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts to measure (each backend)")
    t.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64])
    t.add_argument("--pairs", type=int, default=512, help="validation pairs scored per measurement")
    t.add_argument("--rounds", type=int, default=5, help="measurements per backend (the median is reported)")
    t.add_argument("--pmt-python", help="interpreter for the PMT side (default: the repo's .venv, else this one)")
    t.add_argument("--out", default="runs/interop")
    a = p.parse_args(argv)
    use_this_checkout()
    if a.command == "check":
        if not (a.qqp or a.ner):
            p.error("check: give --qqp RUN and/or --ner RUN")
        from .check import run_checks
        return run_checks(a.qqp, a.ner, a.n, a.tol, a.out)
    from .throughput import run_throughput
    return run_throughput(a)


if __name__ == "__main__":
    sys.exit(main())
