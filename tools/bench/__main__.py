"""`python -m tools.bench [--threads N] <pkg>|all|list|setup-ref [args...]`.

    --threads N  set OPENBLAS/OMP/MKL_NUM_THREADS (and PMT_BENCH_THREADS, which benchmarks
               pass on to their references) before numpy is imported; on a busy machine
               --threads 1 gives the steadiest ratios

    <pkg>      run tools/bench/bench_<pkg>.py's main(argv) with the remaining arguments
    all        run every bench_<pkg>.py in turn (no extra arguments)
    list       name the benchmarks found
    setup-ref  create <repo>/.venv-ref with numpy, tqdm, torch==2.13.0, gensim==4.4.0, safetensors,
               onnx and onnxruntime for the reference scripts and tools/interop (torch's CPU wheel
               is found through PIP_FIND_LINKS if set)
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import venv
from pathlib import Path

from .common import REF_VENV

HERE = Path(__file__).resolve().parent
REF_PACKAGES = ["numpy", "tqdm", "torch==2.13.0", "gensim==4.4.0", "safetensors", "onnx", "onnxruntime"]


def available() -> list[str]:
    """Names <pkg> of every tools/bench/bench_<pkg>.py."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def setup_ref(argv) -> int:
    """Create the reference virtual environment (idempotent: an existing one is updated)."""
    py = REF_VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {REF_VENV}")
        venv.EnvBuilder(with_pip=True).create(REF_VENV)
    cmd = [str(py), "-m", "pip", "install", "-q", *REF_PACKAGES, *argv]
    print(" ".join(cmd))
    return subprocess.call(cmd)


def run(name: str, argv) -> int:
    if name not in available():
        print(f"unknown benchmark {name!r}; expected one of: all, setup-ref, list, {', '.join(available())}",
              file=sys.stderr)
        return 2
    module = importlib.import_module(f"tools.bench.bench_{name}")
    rc = module.main(list(argv))
    return int(rc or 0)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--threads"]:
        if len(argv) < 2 or not argv[1].isdigit() or int(argv[1]) < 1:
            print(f"--threads needs a positive integer, got {argv[1:2]}", file=sys.stderr)
            return 2
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PMT_BENCH_THREADS"):
            os.environ[var] = argv[1]
        argv = argv[2:]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("benchmarks:", ", ".join(available()) or "(none)")
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "setup-ref":
        return setup_ref(rest)
    if cmd == "list":
        print("\n".join(available()))
        return 0
    if cmd == "all":
        if rest:
            print("`all` takes no extra arguments", file=sys.stderr)
            return 2
        rc = 0
        for name in available():
            rc = run(name, []) or rc
        return rc
    return run(cmd, rest)


if __name__ == "__main__":
    sys.exit(main())
