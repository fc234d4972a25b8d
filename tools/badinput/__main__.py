"""Run every bad-input case, classify its outcome, print the counts (see `tools/badinput/__init__.py`).

    python -m tools.badinput            # all cases; exit status 0 only if every one is clear
    python -m tools.badinput -k qqp     # the cases whose name contains "qqp"
    python -m tools.badinput -v         # also list the clear cases with their lines
"""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

OUTCOMES = ("clear", "unclear", "traceback", "accepted", "hang", "damaged")


class Hang(BaseException):
    """Raised by the alarm when an in-process case runs past its time limit."""


@contextmanager
def time_limit(seconds):
    def fire(signum, frame):
        raise Hang
    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def snapshot(folder: Path | None) -> dict | None:
    if folder is None or not folder.is_dir():
        return None
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _clis():
    from pmt.mlp.examples import mnist
    from pmt.transformer.examples import toy
    from pmt.transformer.ner import cli as ner
    from pmt.transformer.pretrain import cli as pretrain
    from pmt.transformer.qqp import cli as qqp
    from pmt.word2vec import train as word2vec
    return {"mnist": mnist.main, "word2vec": word2vec.main, "ner": ner.main, "qqp": qqp.main, "toy": toy.main,
            "pretrain": pretrain.main}


def run_cli(case, ws, clis, counter):
    """An in-process CLI case -> (outcome, the line it printed)."""
    from .cases import NEW, RUN
    counter[0] += 1
    run_dir, new = None, ws.tmp / f"new-{counter[0]}"
    if case.run:
        run_dir = ws.tmp / f"run-{counter[0]}"
        shutil.copytree(ws.runs[case.run], run_dir)
        if case.prepare is not None:
            case.prepare(run_dir)
    argv = [a.replace(RUN, str(run_dir)).replace(NEW, str(new)) for a in case.argv]
    before = snapshot(run_dir)
    out, err = io.StringIO(), io.StringIO()
    try:
        with mock.patch.dict(os.environ, case.env or {}), redirect_stdout(out), redirect_stderr(err), time_limit(case.timeout):
            status = clis[case.cli](argv)
    except Hang:
        return "hang", f"no answer within {case.timeout:.0f} s"
    except BaseException as e:  # noqa: BLE001 -- anything escaping main is what this tool looks for
        return "traceback", "".join(traceback.format_exception_only(type(e), e)).strip()
    line = last_line(err.getvalue())
    if "Traceback (most recent call last)" in err.getvalue():
        return "traceback", line
    if run_dir is not None and status != 0 and snapshot(run_dir) != before:
        return "damaged", f"exit {status}; {line}"
    if status == 2 and new.exists():
        return "damaged", f"bad input, yet {new} was created: {line}"
    if status == 0 and case.status != 0:
        return "accepted", "exit 0: " + (last_line(out.getvalue()) or "(no output)")
    if status == case.status and re.search(case.pattern, line):
        return "clear", line
    return "unclear", f"exit {status} (expected {case.status}): {line!r} does not match {case.pattern!r}"


def run_api(case):
    """An in-process API call -> (outcome, message)."""
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), time_limit(case.timeout):
            result = case.call()
    except Hang:
        return "hang", f"no answer within {case.timeout:.0f} s"
    except BaseException as e:  # noqa: BLE001
        msg = " ".join(str(e).split())
        if case.expect is None or not isinstance(e, case.expect):
            return "traceback", f"{type(e).__name__}: {msg}"
        if "\n" in str(e).strip() or not re.search(case.pattern, msg):
            return "unclear", f"{type(e).__name__}: {msg!r} does not match {case.pattern!r}"
        return "clear", f"{type(e).__name__}: {msg}"
    if case.expect is not None:
        return "accepted", f"returned {type(result).__name__} instead of raising {case.expect.__name__}"
    return ("clear", "read correctly") if case.check(result) else ("accepted", "read wrongly")


def _finish(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err


def run_proc(case):
    """A subprocess case -> (outcome, line).  With a run folder: wait until training has written a
    checkpoint, press Ctrl-C, expect exit 130 and the line, then --resume must finish with exit 0."""
    from pmt.core.checkpoint import checkpoint_meta
    from pmt.core.trainer import newest_checkpoint
    p = case.proc
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if not Path(p["cmd"][0]).exists():
        return "unclear", f"{p['cmd'][0]} is not installed"
    proc = subprocess.Popen(p["cmd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p["run_dir"] is not None:
        deadline = time.monotonic() + case.timeout / 2
        while not (p["run_dir"] / "last.npz").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
    status, out, err = _finish(proc, case.timeout)
    line = last_line(err)
    if status is None:
        return "hang", f"no exit within {case.timeout:.0f} s after Ctrl-C"
    if "Traceback (most recent call last)" in err:
        return "traceback", line
    if status != case.status or not re.search(case.pattern, line):
        return ("accepted" if status == 0 else "unclear"), f"exit {status} (expected {case.status}): {line!r}"
    if p["run_dir"] is not None:
        if re.search(r"^best epoch|test accuracy|held-out exact match|analogy evaluation", out, re.M):
            return "accepted", "final results printed after Ctrl-C"
        resume = list(p["resume"])
        if p.get("finish_epoch"):      # just finish the interrupted epoch: --epochs (epochs done + 1)
            resume += ["--epochs", str(int(checkpoint_meta(newest_checkpoint(p["run_dir"]))["epoch"]) + 1)]
        status, out, err = _finish(subprocess.Popen(resume, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                    text=True, env=env), case.timeout)
        if status != 0:
            return ("traceback" if "Traceback" in err else "unclear"), f"--resume: exit {status}: {last_line(err)!r}"
        line += "  / --resume: exit 0"
    return "clear", line


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.badinput", description=__doc__.split("\n")[0])
    ap.add_argument("-k", default="", help="only the cases whose name contains this")
    ap.add_argument("-v", action="store_true", help="list every case, clear ones too")
    a = ap.parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pmt-badinput-") as root:
        os.environ["PMT_CACHE"] = str(Path(root) / "cache")     # dataset checks must not touch the user's cache
        from .cases import api_cases, cli_cases, proc_cases
        from .fixtures import Workspace
        ws = Workspace(Path(root))
        clis = _clis()
        ws.train_fixtures(clis)
        t_fixtures = time.perf_counter() - t0
        took = {}
        cases = [c for c in cli_cases(ws) + api_cases(ws) + proc_cases(ws) if a.k in c.name]
        results = {}
        procs = [c for c in cases if c.proc is not None]
        with ThreadPoolExecutor(max_workers=4) as pool:       # subprocesses in the background, four at a time
            futures = {c.name: pool.submit(run_proc, c) for c in procs}
            counter = [0]
            for c in cases:
                if c.proc is None:
                    t_case = time.perf_counter()
                    results[c.name] = run_cli(c, ws, clis, counter) if c.cli else run_api(c)
                    took[c.name] = time.perf_counter() - t_case
            for name, fut in futures.items():
                results[name] = fut.result()
    counts = Counter(outcome for outcome, _ in results.values())
    if a.v:
        slow = sorted(took.items(), key=lambda kv: -kv[1])[:8]
        print(f"fixtures {t_fixtures:.1f} s; in-process cases {sum(took.values()):.1f} s; slowest: "
              + ", ".join(f"{n} {s:.1f} s" for n, s in slow))
    for c in cases:
        outcome, line = results[c.name]
        if outcome != "clear" or a.v:
            print(f"{outcome:9s} {c.name}: {line}")
    print(f"{len(cases)} bad-input cases ({sum(c.cli is not None for c in cases)} CLI in-process, "
          f"{sum(c.call is not None for c in cases)} API, {len(procs)} subprocess) in "
          f"{time.perf_counter() - t0:.0f} s: " + ", ".join(f"{counts.get(o, 0)} {o}" for o in OUTCOMES))
    return 0 if counts.get("clear", 0) == len(cases) else 1


if __name__ == "__main__":
    assert threading.current_thread() is threading.main_thread()
    sys.exit(main())
