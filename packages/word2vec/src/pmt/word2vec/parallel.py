"""Hogwild training on several processes: how word2vec.c and gensim use more than one core.

word2vec.c starts T threads, gives each a contiguous 1/T of the corpus, and lets them all
update the same two tables with no locks at all ("Hogwild", Recht et al. 2011).  Two
threads rarely touch the same row at the same moment, and when they do, one of the two
small updates is lost, which SGD shrugs off.  The learning rate decays with the words
processed by *all* threads together.

Python threads cannot run numpy's many small operations in parallel (the interpreter lock
is held between them), so the workers here are processes, and the shared state lives in
`multiprocessing.shared_memory`:

    tables   (2V, D) float32   W_in stacked on W_out, updated in place by every worker
    ids      (n,) int32        the corpus; worker w trains on ids[bounds[w]:bounds[w+1]]
    state    int64/float64     per worker: words done (sets the global learning rate),
                               epochs finished, CPU seconds; and the epoch the main
                               process lets the workers start

Each worker runs `epoch.train_epoch` (the function the single process runs) over its part,
epoch after epoch, with a generator of its own per epoch, `default_rng((seed, 2, w, epoch))`,
so a run resumed at an epoch end draws what it would have drawn.  At the end of an epoch
it waits until the main process has copied the shared tables into the caller's array,
recorded the epoch and run its callback (e.g. an analogy evaluation, which reads the tables
while nothing writes to them).  Workers ignore Ctrl-C: the main process decides, stops them
and keeps the tables of the last finished epoch.

On Linux the workers are *forked*: no new interpreter to start, the corpus and the
sampler already in memory, and a script needs no `if __name__ == "__main__":` guard.
Elsewhere (macOS, Windows) they are *spawned*, fresh interpreters that re-import the
calling script, so there the script must have that guard, as for any multiprocessing code.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from multiprocessing import shared_memory

import numpy as np

from .config import Word2VecConfig
from .epoch import train_epoch
from .sampling import NegativeSampler, keep_probabilities, sentence_ids

_POLL = 0.02     # seconds between the main process's looks at the workers' progress
_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _shared(array: np.ndarray):
    """A SharedMemory block holding a copy of `array`."""
    shm = shared_memory.SharedMemory(create=True, size=max(array.nbytes, 1))
    np.ndarray(array.shape, array.dtype, buffer=shm.buf)[...] = array
    return shm


def _attach(name, shape, dtype):
    shm = shared_memory.SharedMemory(name=name)
    return shm, np.ndarray(shape, dtype, buffer=shm.buf)


class _State:
    """Views on the small shared block (zeroed by the main process), per worker w: words done
    (progress), epochs finished, CPU seconds, centre words trained and last rate of the epoch;
    and go[0], the number of epochs the main process has recorded."""

    def __init__(self, buf, workers):
        self.progress = np.ndarray((workers,), np.int64, buffer=buf, offset=0)
        self.epochs_done = np.ndarray((workers,), np.int64, buffer=buf, offset=8 * workers)
        self.cpu = np.ndarray((workers,), np.float64, buffer=buf, offset=16 * workers)
        self.trained = np.ndarray((workers,), np.int64, buffer=buf, offset=24 * workers)
        self.alpha = np.ndarray((workers,), np.float64, buffer=buf, offset=32 * workers)
        self.go = np.ndarray((1,), np.int64, buffer=buf, offset=40 * workers)

    @staticmethod
    def nbytes(workers):
        return 40 * workers + 8


def _worker(w, spec, errors):
    """Body of worker process `w`: train on its part of the corpus until all epochs are done."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the main process's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)    # and terminate() must end us at once
    shms = []
    try:
        _train_part(w, spec, shms)
    except BaseException as e:
        errors.put((w, f"{type(e).__name__}: {e}", traceback.format_exc()))
        sys.exit(1)     # the main process reports it; no second traceback on stderr
    finally:
        for shm in shms:
            try:
                shm.close()
            except BufferError:     # views still alive in a traceback: the process exit frees them
                pass


def _train_part(w, spec, shms):
    shm, tables = _attach(spec["tables"], spec["tables_shape"], np.float32)
    shms.append(shm)
    shm, ids = _attach(spec["ids"], (spec["n"],), np.int32)
    shms.append(shm)
    shm = shared_memory.SharedMemory(name=spec["state"])
    shms.append(shm)
    state = _State(shm.buf, spec["workers"])
    lo, hi = spec["bounds"][w], spec["bounds"][w + 1]
    part = ids[lo:hi]
    starts = spec["line_starts"]   # sentence numbers of this part only (numbering relative to it)
    sent = None if starts is None else sentence_ids(hi - lo, starts - lo)
    c = Word2VecConfig(**spec["config"])
    keep_p = keep_probabilities(spec["counts"], c.sample)
    sampler = NegativeSampler(spec["counts"])
    total = max(c.epochs * spec["n"], 1)
    for epoch in range(spec["first_epoch"], c.epochs):
        rng = np.random.default_rng((c.seed, 2, w, epoch))
        base = epoch * len(part)
        c0 = time.process_time()

        def rate(done):   # progress of all workers together sets the rate, as in word2vec.c
            state.progress[w] = base + done
            return c.alpha * max(1.0 - int(state.progress.sum()) / total, c.min_alpha_ratio)

        res = train_epoch(tables, c, part, sent, keep_p, sampler, rng, rate)
        state.progress[w] = base + len(part)
        state.cpu[w], state.trained[w], state.alpha[w] = time.process_time() - c0, res.trained, res.alpha
        state.epochs_done[w] = epoch + 1
        while state.go[0] < epoch + 1:      # the main process records the epoch, then lets us go on
            time.sleep(0.002)


@contextmanager
def _one_blas_thread():
    """Spawned workers read the environment at start-up: one BLAS thread each.  (Forked ones
    keep the parent's BLAS; their matrix products are too small to be split across threads.)"""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def train_hogwild(tables, counts, config, ids, line_starts, workers: int, bar, end_epoch, first_epoch=0, stop=None):
    """Train `tables` in place with `workers` processes sharing a copy of them (module docstring).

    Args:
        tables: (2V, D) float32 W_in stacked on W_out; holds the shared tables' content after
            every epoch (before `end_epoch` runs) and at the end.
        counts: (V,) word counts.  config: a `Word2VecConfig`.
        ids: (n,) int32 corpus.  line_starts: (L,) sentence starts or None.
        bar: a `pmt.core.progress.Progress` counting corpus words.
        end_epoch: called as `end_epoch(epoch, trained, seconds, cpu_seconds, alpha, None)`
            after each epoch, `cpu_seconds` adding up the workers' CPU time.
        first_epoch: epochs already done (a resumed run).
        stop: checked while waiting; a requested stop ends the workers and raises
            KeyboardInterrupt, `tables` keeping the last finished epoch.
    """
    c = config
    n = len(ids)
    workers = max(1, min(workers, n // 1000 or 1))      # a part should hold more than a few batches
    bounds = np.linspace(0, n, workers + 1).astype(np.int64).tolist()
    spec_tables = _shared(tables)
    spec_ids = _shared(np.ascontiguousarray(ids, dtype=np.int32))
    state_shm = shared_memory.SharedMemory(create=True, size=_State.nbytes(workers))
    state_shm.buf[:] = bytes(state_shm.size)
    state = _State(state_shm.buf, workers)
    shared = np.ndarray(tables.shape, np.float32, buffer=spec_tables.buf)
    spec = {"tables": spec_tables.name, "tables_shape": tables.shape, "ids": spec_ids.name, "n": n,
            "state": state_shm.name, "workers": workers, "bounds": bounds, "config": c.to_dict(),
            "counts": np.asarray(counts), "first_epoch": first_epoch,
            "line_starts": None if line_starts is None else np.asarray(line_starts)}
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(w, spec, errors), daemon=True, name=f"word2vec-worker-{w}")
             for w in range(workers)]
    try:
        t0 = time.perf_counter()
        with _one_blas_thread():
            for p in procs:
                p.start()
        shown = first_epoch * n
        for epoch in range(first_epoch, c.epochs):
            while state.epochs_done.min() <= epoch:
                time.sleep(_POLL)
                if stop is not None and stop.requested:
                    raise KeyboardInterrupt
                failed = [p for p in procs if p.exitcode not in (None, 0)]
                if failed:
                    w, msg, tb = errors.get(timeout=5) if not errors.empty() else (
                        failed[0].name, f"exit code {failed[0].exitcode}", "(no traceback)")
                    raise RuntimeError(f"word2vec worker {w} failed: {msg}\nworker traceback:\n{tb}")
                done = int(state.progress.sum())
                if done > shown:
                    bar.update(done - shown)
                    shown = done
            tables[...] = shared      # the epoch's result, in the caller's array
            end_epoch(epoch, int(state.trained.sum()), time.perf_counter() - t0, float(state.cpu.sum()),
                      float(state.alpha.min()), None)
            t0 = time.perf_counter()
            state.go[0] = epoch + 1
        for p in procs:
            p.join()
        bar.update(c.epochs * n - shown)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
        del shared, state
        for shm in (spec_tables, spec_ids, state_shm):
            try:
                shm.close()
            except BufferError:   # a view is still alive somewhere: the block is freed when it goes;
                pass              # unlink removes its name now
            shm.unlink()
