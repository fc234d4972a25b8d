"""Learning-rate schedules: callables `schedule(step) -> lr`.

A schedule is a plain function of the update number, so it holds no state to save in a
checkpoint: a resumed run recomputes the same rate from the restored step counter.

**Steps are counted from 1**: `schedule(1)` is the rate of the first update, `schedule(k)`
the rate of the k-th (the `Trainer` sets `optimizer.lr = schedule(step + 1)` before each
update, where `step` updates have already been taken).  Counting from 1 keeps the
warm-up schedules from wasting the first update on lr = 0 and makes the Transformer's
inverse-square-root rule (which has step^-0.5 in it) defined everywhere.  Used per epoch
(`LRSchedulerCallback(schedule, per="epoch")`), `k` is the epoch number, again from 1.

| schedule | lr at step k |
|---|---|
| `Constant(lr)` | lr |
| `StepDecay(lr, step_size, gamma)` | lr * gamma^floor((k - 1) / step_size) |
| `Exponential(lr, gamma)` | lr * gamma^(k - 1) |
| `Cosine(lr, total, min_lr)` | min_lr + (lr - min_lr) * (1 + cos(pi * min(k, total) / total)) / 2 |
| `WarmupLinear(lr, warmup, total)` | lr * k / warmup, then linearly down to 0 at k = total |
| `WarmupCosine(lr, warmup, total, min_lr)` | lr * k / warmup, then a cosine down to min_lr at k = total |
| `InverseSqrt(d_model, warmup, scale)` | scale * d_model^-0.5 * min(k^-0.5, k * warmup^-1.5) |

Example:
    >>> sched = WarmupCosine(1e-3, warmup=100, total=1000)
    >>> sched(1), sched(100), sched(1000)
    (1e-05, 0.001, 0.0)
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["Schedule", "Constant", "StepDecay", "Exponential", "Cosine", "WarmupLinear",
           "WarmupCosine", "InverseSqrt"]


def _check_positive_int(name, value, cls, allow_zero=False):
    ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{cls}: {name} must be {kind} integer, got {value!r}")
    return value


def _check_rate(name, value, cls):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{cls}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


class Schedule:
    """Base class: validates the step, then calls `_lr(k)` (k >= 1, an int)."""

    def __call__(self, step: int) -> float:
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
            raise ValueError(f"{type(self).__name__}: step must be an integer >= 1 "
                             f"(steps count from 1), got {step!r}")
        return float(self._lr(int(step)))

    def _lr(self, k: int) -> float:
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """The same rate at every step.

    Example:
        >>> Constant(0.1)(500)
        0.1
    """

    def __init__(self, lr: float):
        self.lr = _check_rate("lr", lr, "Constant")

    def _lr(self, k):
        return self.lr


class StepDecay(Schedule):
    """Multiply the rate by `gamma` every `step_size` steps: lr * gamma^floor((k - 1) / step_size).

    Steps 1..step_size use `lr`, the next `step_size` steps use `lr * gamma`, and so on.

    Example:
        >>> s = StepDecay(0.1, step_size=10, gamma=0.5)
        >>> s(10), s(11)
        (0.1, 0.05)
    """

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1):
        self.lr = _check_rate("lr", lr, "StepDecay")
        self.step_size = _check_positive_int("step_size", step_size, "StepDecay")
        if not 0 < gamma <= 1:
            raise ValueError(f"StepDecay: gamma must lie in (0, 1], got {gamma!r}")
        self.gamma = float(gamma)

    def _lr(self, k):
        return self.lr * self.gamma ** ((k - 1) // self.step_size)


class Exponential(Schedule):
    """Multiply the rate by `gamma` after every step: lr * gamma^(k - 1).

    Example:
        >>> Exponential(1.0, gamma=0.5)(3)
        0.25
    """

    def __init__(self, lr: float, gamma: float):
        self.lr = _check_rate("lr", lr, "Exponential")
        if not 0 < gamma <= 1:
            raise ValueError(f"Exponential: gamma must lie in (0, 1], got {gamma!r}")
        self.gamma = float(gamma)

    def _lr(self, k):
        return self.lr * self.gamma ** (k - 1)


def _cosine(lr, min_lr, progress):
    """Half a cosine from lr (progress 0) to min_lr (progress 1)."""
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Cosine(Schedule):
    """Cosine annealing from `lr` to `min_lr` over `total_steps`, then constant at `min_lr`.

        lr_k = min_lr + (lr - min_lr) * (1 + cos(pi * min(k, total_steps) / total_steps)) / 2

    Example:
        >>> s = Cosine(1.0, total_steps=4)
        >>> s(2), s(4), s(9)
        (0.5, 0.0, 0.0)
    """

    def __init__(self, lr: float, total_steps: int, min_lr: float = 0.0):
        self.lr = _check_rate("lr", lr, "Cosine")
        self.total_steps = _check_positive_int("total_steps", total_steps, "Cosine")
        self.min_lr = _check_rate("min_lr", min_lr, "Cosine")
        if self.min_lr > self.lr:
            raise ValueError(f"Cosine: min_lr={min_lr!r} must not exceed lr={lr!r}")

    def _lr(self, k):
        return _cosine(self.lr, self.min_lr, min(k, self.total_steps) / self.total_steps)


def _check_warmup(cls, warmup, total):
    _check_positive_int("warmup", warmup, cls, allow_zero=True)
    _check_positive_int("total", total, cls)
    if warmup > total:
        raise ValueError(f"{cls}: warmup={warmup} must not exceed total={total}")


class WarmupLinear(Schedule):
    """Linear warm-up to `lr` over `warmup` steps, then linear decay to 0 at step `total`.

        lr_k = lr * k / warmup                              for k <= warmup
        lr_k = lr * max(0, total - k) / (total - warmup)    for k > warmup

    Example:
        >>> s = WarmupLinear(1.0, warmup=2, total=6)
        >>> [s(k) for k in range(1, 8)]
        [0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    def __init__(self, lr: float, warmup: int, total: int):
        self.lr = _check_rate("lr", lr, "WarmupLinear")
        _check_warmup("WarmupLinear", warmup, total)
        self.warmup, self.total = warmup, total

    def _lr(self, k):
        if k <= self.warmup:
            return self.lr * k / self.warmup
        if self.total == self.warmup:
            return 0.0
        return self.lr * max(0, self.total - k) / (self.total - self.warmup)


class WarmupCosine(Schedule):
    """Linear warm-up to `lr` over `warmup` steps, then a cosine down to `min_lr` at `total`.

        lr_k = lr * k / warmup                                          for k <= warmup
        lr_k = min_lr + (lr - min_lr) * (1 + cos(pi * p)) / 2,
               p = min(1, (k - warmup) / (total - warmup))              for k > warmup

    Example:
        >>> s = WarmupCosine(1.0, warmup=2, total=6, min_lr=0.0)
        >>> s(1), s(2), s(4), s(6)
        (0.5, 1.0, 0.5, 0.0)
    """

    def __init__(self, lr: float, warmup: int, total: int, min_lr: float = 0.0):
        self.lr = _check_rate("lr", lr, "WarmupCosine")
        _check_warmup("WarmupCosine", warmup, total)
        self.warmup, self.total = warmup, total
        self.min_lr = _check_rate("min_lr", min_lr, "WarmupCosine")
        if self.min_lr > self.lr:
            raise ValueError(f"WarmupCosine: min_lr={min_lr!r} must not exceed lr={lr!r}")

    def _lr(self, k):
        if k <= self.warmup:
            return self.lr * k / self.warmup
        if self.total == self.warmup:
            return self.min_lr
        return _cosine(self.lr, self.min_lr, min(1.0, (k - self.warmup) / (self.total - self.warmup)))


class InverseSqrt(Schedule):
    """The Transformer paper's rule (Vaswani et al., 2017, eq. 3), times an optional `scale`:

        lr_k = scale * d_model^-0.5 * min(k^-0.5, k * warmup^-1.5)

    It rises linearly for `warmup` steps, peaks at k = warmup with
    scale * (d_model * warmup)^-0.5, then decays as 1/sqrt(k).

    Example:
        >>> s = InverseSqrt(d_model=512, warmup=4000)
        >>> round(s(4000), 6)
        0.000699
    """

    def __init__(self, d_model: int, warmup: int = 4000, scale: float = 1.0):
        self.d_model = _check_positive_int("d_model", d_model, "InverseSqrt")
        self.warmup = _check_positive_int("warmup", warmup, "InverseSqrt")
        self.scale = _check_rate("scale", scale, "InverseSqrt")

    def _lr(self, k):
        return self.scale * self.d_model ** -0.5 * min(k ** -0.5, k * self.warmup ** -1.5)
