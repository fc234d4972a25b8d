"""Ctrl-C at a clean point: stop after the current step, with everything consistent.

A KeyboardInterrupt can land anywhere, e.g. half-way through `optimizer.step()` with some
parameters updated and others not; a checkpoint taken then is no exact position at all.
Inside `GracefulInterrupt` the first Ctrl-C (SIGINT, or a SIGTERM from a job scheduler)
only sets `requested`; the training loop calls `check()` where its state is whole (after an
update, between evaluation batches) and that raises `KeyboardInterrupt` there.  A second
Ctrl-C interrupts at once, wherever it lands (`forced` is then True: save nothing).

Outside the main thread signals cannot be caught: the context does nothing there and a
Ctrl-C behaves as usual.

Example (the signal is sent by the example itself, as if Ctrl-C were pressed during step 3):
    >>> import os, signal
    >>> with GracefulInterrupt() as stop:
    ...     for step in range(1, 1001):
    ...         if step == 3:
    ...             os.kill(os.getpid(), signal.SIGINT)
    ...         try:
    ...             stop.check()          # raises KeyboardInterrupt after the first Ctrl-C
    ...         except KeyboardInterrupt:
    ...             print(f"stopped after step {step}")
    ...             break
    stopped after step 3
"""
from __future__ import annotations

import signal
import sys
import threading

__all__ = ["GracefulInterrupt", "STOP_SIGNALS"]

# What asks a training run to stop cleanly: Ctrl-C, and the SIGTERM of a job scheduler (or of
# mpiexec, which forwards it to every rank).  `pmt.core.distributed` turns the same ones into a flag.
STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s)


class GracefulInterrupt:
    """Defer the first Ctrl-C / SIGTERM to the next `check()`; the second one interrupts at once.

    Args:
        notice: printed to stderr on the first signal (None: a default line).

    Attributes:
        requested: a signal arrived and `check()` will raise.
        forced: a second signal arrived and interrupted wherever the program was.
    """

    def __init__(self, notice: str | None = None):
        self.notice = notice if notice is not None else (
            "\nCtrl-C: stopping after the current step to save a checkpoint "
            "(press Ctrl-C again to stop at once, without one)")
        self.requested = False
        self.forced = False
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested:
            self.forced = True
            self._restore()
            raise KeyboardInterrupt
        self.requested = True
        print(self.notice, file=sys.stderr, flush=True)

    def _restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)   # None: set from C
        self._previous = {}

    def __enter__(self):
        self.requested = self.forced = False
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        self._restore()
        return False

    def check(self):
        """Raise KeyboardInterrupt if a signal arrived since entering (call at clean points)."""
        if self.requested:
            raise KeyboardInterrupt
