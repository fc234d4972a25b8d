"""Progress that shows wherever the output goes: a bar on a terminal, periodic lines in a log.

A tqdm bar redraws one line with carriage returns: perfect on a terminal, useless in a log
file (`pmt-qqp train > log` printed nothing for ten minutes per epoch).  `Progress` picks:

* `enabled=True`: a tqdm bar on stderr, whatever stderr is;
* `enabled=None` (the default): the bar when stderr is a terminal, otherwise one plain line
  every `interval` seconds through `log` (`desc  done/total unit (pct)  rate  eta  extras`);
* `enabled=False`: nothing.

Example (lines, as in a log file; `interval=0` writes one per update):
    >>> bar = Progress(total=3, desc="epoch 1/5", enabled=None, unit="step", interval=0, log=print)
    >>> for loss in (0.9, 0.7, 0.6):
    ...     bar.update(1, loss=f"{loss:.4f}")
    epoch 1/5  1/3 step (33%) ...
    epoch 1/5  2/3 step (67%) ...
    epoch 1/5  3/3 step (100%) ...
    >>> bar.close()
"""
from __future__ import annotations

import sys
import time

__all__ = ["Progress", "stderr_is_terminal"]


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal (where a redrawn bar makes sense)."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """A tqdm bar, periodic log lines or nothing (see the module docstring).

    Args:
        total: expected number of units (None if unknown).
        desc: prefix of the bar / the lines, e.g. "epoch 3/12".
        enabled: True (bar), None (bar on a terminal, else lines), False (silent).
        unit: what is counted ("step", "w" for words).
        interval: seconds between lines when not drawing a bar.
        log: where lines go (default: print to stdout, flushed).
        initial: units already done (a resumed epoch).
        leave: keep the finished bar on screen.
    """

    def __init__(self, total=None, desc="", enabled=None, unit="step", interval=60.0, log=None,
                 initial=0, leave=True):
        self.total, self.desc, self.unit, self.interval = total, desc, unit, float(interval)
        self.done = self._start_done = int(initial)
        self.log = log if log is not None else (lambda s: print(s, flush=True))
        self.bar = None
        self.lines = enabled is None and not stderr_is_terminal()
        if enabled or (enabled is None and not self.lines):
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave,
                            dynamic_ncols=True, smoothing=0.1)
        self._t0 = self._last = time.monotonic()
        self._postfix = {}

    def update(self, n: int = 1, **postfix):
        """Count `n` more units; `postfix` values (strings) are shown beside the count."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
        elif self.lines:
            self._postfix.update(postfix)
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                self.log(self.line(now))

    def line(self, now=None) -> str:
        """The periodic line: `desc  done/total unit (pct)  rate/s  eta  key value ...`."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._t0, 1e-9)
        rate = (self.done - self._start_done) / elapsed
        parts = [self.desc] if self.desc else []
        if self.total:
            parts.append(f"{self.done:,}/{self.total:,} {self.unit} ({100 * self.done / self.total:.0f}%)")
        else:
            parts.append(f"{self.done:,} {self.unit}")
        parts.append(f"{rate:,.1f} {self.unit}/s")
        if self.total and rate > 0:
            parts.append(f"eta {_duration((self.total - self.done) / rate)}")
        parts += [f"{k} {v}" for k, v in self._postfix.items()]
        return "  ".join(parts)

    def close(self):
        if self.bar is not None:
            self.bar.close()
