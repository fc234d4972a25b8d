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

Each worker runs `Word2Vec.train_pass` over its part, epoch after epoch.  At the end of an
epoch it waits until the main process has recorded the epoch and run `epoch_callback`
(e.g. an analogy evaluation, which reads the tables while nothing writes to them).

On Linux the workers are *forked*: no new interpreter to start, the corpus and the
sampler already in memory, and a script needs no `if __name__ == "__main__":` guard.
Elsewhere (macOS, Windows) they are *spawned*, fresh interpreters that re-import the
calling script, so there the script must have that guard, as for any multiprocessing code.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import traceback
from contextlib import contextmanager
from multiprocessing import shared_memory

import numpy as np

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
    from .training import Word2Vec, Word2VecConfig
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
    model = Word2Vec(Word2VecConfig(**spec["config"]))
    model._tables = tables
    c = model.config
    rng = np.random.default_rng((c.seed, 2, w))
    keep_p = keep_probabilities(spec["counts"], c.sample)
    sampler = NegativeSampler(spec["counts"])
    total = max(c.epochs * spec["n"], 1)
    for epoch in range(c.epochs):
        base = epoch * len(part)
        c0 = time.process_time()

        def rate(done):   # progress of all workers together sets the rate, as in word2vec.c
            state.progress[w] = base + done
            return c.alpha * max(1.0 - int(state.progress.sum()) / total, c.min_alpha_ratio)

        trained, alpha = model.train_pass(part, sent, keep_p, sampler, rng, rate)
        state.progress[w] = base + len(part)
        state.cpu[w], state.trained[w], state.alpha[w] = time.process_time() - c0, trained, alpha
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


def train_hogwild(model, ids, line_starts, workers: int, progress: bool, epoch_callback):
    """`Word2Vec.train` with `workers` processes sharing the tables (see the module docstring).

    Each epoch is one entry of `model.history`; its `cpu_seconds` add up the workers' CPU time.
    """
    c = model.config
    n = len(ids)
    workers = max(1, min(workers, n // 1000 or 1))      # a part should hold more than a few batches
    bounds = np.linspace(0, n, workers + 1).astype(np.int64).tolist()
    spec_tables = _shared(model._tables)
    spec_ids = _shared(np.ascontiguousarray(ids, dtype=np.int32))
    state_shm = shared_memory.SharedMemory(create=True, size=_State.nbytes(workers))
    state_shm.buf[:] = bytes(state_shm.size)
    state = _State(state_shm.buf, workers)
    tables = np.ndarray(model._tables.shape, np.float32, buffer=spec_tables.buf)
    own_tables, model._tables = model._tables, tables     # callbacks read the live shared tables
    spec = {"tables": spec_tables.name, "tables_shape": tables.shape, "ids": spec_ids.name, "n": n,
            "state": state_shm.name, "workers": workers, "bounds": bounds, "config": model.config_dict(),
            "counts": np.asarray(model.vocab.counts),
            "line_starts": None if line_starts is None else np.asarray(line_starts)}
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(w, spec, errors), daemon=True, name=f"word2vec-worker-{w}")
             for w in range(workers)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=max(c.epochs * n, 1), unit="w", unit_scale=True, desc=f"{c.model} x{workers}",
                   smoothing=0.1)
    try:
        t0 = time.perf_counter()
        with _one_blas_thread():
            for p in procs:
                p.start()
        shown = 0
        for epoch in range(c.epochs):
            while state.epochs_done.min() <= epoch:
                time.sleep(_POLL)
                failed = [p for p in procs if p.exitcode not in (None, 0)]
                if failed:
                    w, msg, tb = errors.get(timeout=5) if not errors.empty() else (
                        failed[0].name, f"exit code {failed[0].exitcode}", "(no traceback)")
                    raise RuntimeError(f"word2vec worker {w} failed: {msg}\nworker traceback:\n{tb}")
                if bar is not None:
                    done = int(state.progress.sum())
                    bar.update(done - shown)
                    shown = done
            dt = time.perf_counter() - t0
            model._record_epoch(epoch, n, int(state.trained.sum()), dt, float(state.cpu.sum()),
                                float(state.alpha.min()))
            if epoch_callback is not None:
                epoch_callback(epoch, model)
            t0 = time.perf_counter()
            state.go[0] = epoch + 1
        for p in procs:
            p.join()
        if bar is not None:
            bar.update(c.epochs * n - shown)
        own_tables[...] = tables
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
        if bar is not None:
            bar.close()
        model._tables = own_tables
        del tables, state
        for shm in (spec_tables, spec_ids, state_shm):
            try:
                shm.close()
            except BufferError:   # a caller still holds a view (e.g. KeyedVectors from a callback)
                pass              # the block is freed when that view goes; unlink removes its name now
            shm.unlink()
    return model.history
