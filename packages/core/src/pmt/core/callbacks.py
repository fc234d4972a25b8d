"""Callbacks: code the `Trainer` runs at fixed points of training.

Hooks (all optional; epochs count from 1, `step` is the number of updates taken so far):

    on_train_begin(trainer)
    on_epoch_begin(trainer, epoch)
    on_batch_end(trainer, step, logs)      # logs: {"loss", "batch", "size"}
    on_epoch_end(trainer, epoch, logs)     # logs: this epoch's history entries
    on_train_end(trainer)                  # also after Ctrl-C or an exception

A callback stops training by setting `trainer.stop_training = True`.  Under MPI every rank
runs the callbacks (they see the same reduced logs, so they decide alike), except those with
`main_only = True` (the ones that only write files, e.g. `PlotHistory`), which run on rank 0.

Example:
    >>> from pathlib import Path
    >>> from pmt.core import Adam, StepDecay, Trainer, batches
    >>> from pmt.core.examples.linear_demo import LinearClassifier, make_blobs, softmax_cross_entropy
    >>> X, y = make_blobs(50); Xv, yv = make_blobs(20)     # 3 classes of 2-D points
    >>> model = LinearClassifier(2, 3)
    >>> trainer = Trainer(model, Adam(model.parameters(), lr=0.05), softmax_cross_entropy,
    ...                   log=lambda line: None, callbacks=[
    ...     EarlyStopping(patience=3, restore_best=True),
    ...     ModelCheckpoint("runs/exp1", save_best_only=True),
    ...     LRSchedulerCallback(StepDecay(0.05, step_size=4, gamma=0.5), per="epoch")])
    >>> history = trainer.fit(batches(X, y, batch_size=32), epochs=6, eval_data=batches(Xv, yv, batch_size=64))
    >>> history["lr"]
    [0.05, 0.05, 0.05, 0.05, 0.025, 0.025]
    >>> sorted(p.name for p in Path("runs/exp1").iterdir())
    ['best.npz']
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LRSchedulerCallback", "PlotHistory"]


class Callback:
    """Base class with do-nothing hooks; override the ones you need."""

    main_only = False  # True: under MPI, run on rank 0 only (a callback that just writes files)

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch: int):
        pass

    def on_batch_end(self, trainer, step: int, logs: dict):
        pass

    def on_epoch_end(self, trainer, epoch: int, logs: dict):
        pass

    def on_train_end(self, trainer):
        pass


_HIGHER_IS_BETTER = ("acc", "f1", "precision", "recall", "auc", "score", "bleu")


def _resolve_mode(monitor: str, mode: str, who: str) -> str:
    """'min' or 'max'; 'auto' is max for accuracy-like names, min otherwise (losses)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.lower()
    return "max" if any(h in name for h in _HIGHER_IS_BETTER) and "loss" not in name else "min"


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs:
        raise ValueError(f"{who}: monitored value {monitor!r} is not in the epoch logs "
                         f"{sorted(logs)}; pass eval_data to fit() to get val_* entries")
    return float(logs[monitor])


class _Best:
    """Tracks the best value of a monitored quantity.

    `from_history` replays the epochs a resumed trainer already has, so that after a resume
    "improves" still means "better than every epoch so far", not "better than nothing".
    """

    def __init__(self, mode, min_delta=0.0):
        self.mode, self.min_delta = mode, min_delta
        self.value = math.inf if mode == "min" else -math.inf
        self.epoch, self.wait = None, 0

    @classmethod
    def from_history(cls, mode, history, monitor, min_delta=0.0):
        best = cls(mode, min_delta)
        for epoch, v in enumerate(history.get(monitor, ()), start=1):
            best.record(epoch, v)
        return best

    def record(self, epoch, v) -> bool:
        """Account epoch `epoch`'s value; True if it improves on the best so far."""
        if self.improves(v):
            self.value, self.epoch, self.wait = float(v), epoch, 0
            return True
        self.wait += 1
        return False

    def improves(self, v: float) -> bool:
        if math.isnan(v):
            return False
        if self.mode == "min":
            return v < self.value - self.min_delta
        return v > self.value + self.min_delta


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved for `patience` epochs.

    Args:
        monitor: history key to watch, e.g. "val_loss", "val_acc".
        patience: epochs without improvement tolerated before stopping (>= 1).
        mode: "min", "max", or "auto" (max for acc/f1/precision/recall, else min).
        min_delta: an improvement must exceed this amount.
        restore_best: at the end of training, load the weights of the best epoch.

    Attributes:
        best (float), best_epoch (int), stopped_epoch (int or None).

    Example:
        >>> stop = EarlyStopping(monitor="val_acc", patience=2, restore_best=True)
        >>> stop.mode   # "auto" chose "max" for an accuracy
        'max'
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, mode: str = "auto",
                 min_delta: float = 0.0, restore_best: bool = False):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 1, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, patience, float(min_delta)
        self.mode = _resolve_mode(monitor, mode, "EarlyStopping")
        self.restore_best = restore_best

    def on_train_begin(self, trainer):
        # A resumed trainer brings its history: the best epoch and the wait continue from it.
        self._best = _Best.from_history(self.mode, trainer.history, self.monitor, self.min_delta)
        self.best, self.best_epoch, self.wait = self._best.value, self._best.epoch, self._best.wait
        self.stopped_epoch = None
        self._best_state = None

    def on_epoch_end(self, trainer, epoch, logs):
        improved = self._best.record(epoch, _monitored(logs, self.monitor, "EarlyStopping"))
        self.best, self.best_epoch, self.wait = self._best.value, self._best.epoch, self._best.wait
        if improved:
            if self.restore_best:
                # state_dict may hand out the live arrays: copy, or later updates overwrite them
                self._best_state = {k: np.array(a, copy=True) for k, a in trainer.model.state_dict().items()}
            return
        if self.wait >= self.patience:
            trainer.stop_training = True
            self.stopped_epoch = epoch
            trainer.log(f"early stopping at epoch {epoch}: {self.monitor} has not improved for "
                        f"{self.patience} epochs (best {self.best:.4f} at epoch {self.best_epoch})")

    def on_train_end(self, trainer):
        if self.restore_best and self._best_state is not None:
            trainer.model.load_state_dict(self._best_state)


class ModelCheckpoint(Callback):
    """Save resumable trainer checkpoints every `every` epochs, or only when `monitor` improves.

    Args:
        path: a folder (files `epoch-003.npz`, or `best.npz` with `save_best_only`) or a
            file pattern formatted with `epoch` and the epoch logs, e.g.
            "runs/x/ckpt-{epoch:03d}-{val_loss:.3f}.npz".
        every: save after every `every`-th epoch (ignored with `save_best_only`).
        save_best_only: save only when `monitor` improves (overwriting the same file when
            the pattern does not contain `{epoch}`).
        monitor, mode: what "improves" means (see `EarlyStopping`).

    Attributes:
        last_path: the most recent file written (None before the first save).
        best_path: with save_best_only, the file of the best epoch.

    Example:
        >>> ckpt = ModelCheckpoint("runs/exp1", save_best_only=True, monitor="val_acc")
        >>> ckpt.best_path is None   # until the first epoch ends
        True
    """

    def __init__(self, path, every: int = 1, save_best_only: bool = False, monitor: str = "val_loss",
                 mode: str = "auto"):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"ModelCheckpoint: every must be an integer >= 1, got {every!r}")
        path = str(path)
        if "{" not in path and not path.endswith(".npz"):
            path = str(Path(path) / ("best.npz" if save_best_only else "epoch-{epoch:03d}.npz"))
        self.pattern, self.every, self.save_best_only = path, every, save_best_only
        self.monitor = monitor
        self.mode = _resolve_mode(monitor, mode, "ModelCheckpoint")
        self.last_path = self.best_path = None

    def on_train_begin(self, trainer):
        # After a resume, best.npz must only be replaced by an epoch better than all earlier ones.
        self._best = _Best.from_history(self.mode, trainer.history, self.monitor)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_best_only:
            if not self._best.record(epoch, _monitored(logs, self.monitor, "ModelCheckpoint")):
                return
        elif epoch % self.every:
            return
        try:
            target = self.pattern.format(epoch=epoch, **logs)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"ModelCheckpoint: cannot fill the path pattern {self.pattern!r} from "
                             f"epoch and logs {sorted(logs)}: {e}") from e
        self.last_path = trainer.save_checkpoint(target)
        if self.save_best_only:
            self.best_path = self.last_path


class LRSchedulerCallback(Callback):
    """Set `optimizer.lr = schedule(k)` per epoch (k = epoch number) or per step (k = update number).

    Both count from 1, like `pmt.core.schedules`.  (`Trainer(schedule=...)` is the same as
    `per="step"`.)

    Args:
        schedule: callable `schedule(k) -> lr`.
        per: "epoch" or "step".

    Example:
        >>> from pmt.core import StepDecay
        >>> halve = LRSchedulerCallback(StepDecay(0.1, step_size=10, gamma=0.5), per="epoch")
        >>> [halve.schedule(epoch) for epoch in (1, 10, 11, 21)]
        [0.1, 0.1, 0.05, 0.025]
    """

    def __init__(self, schedule, per: str = "epoch"):
        if not callable(schedule):
            raise TypeError(f"LRSchedulerCallback: schedule must be callable, got {schedule!r}")
        if per not in ("epoch", "step"):
            raise ValueError(f"LRSchedulerCallback: per must be 'epoch' or 'step', got {per!r}")
        self.schedule, self.per = schedule, per

    def on_train_begin(self, trainer):
        if self.per == "step":
            trainer.optimizer.lr = float(self.schedule(trainer.step + 1))

    def on_epoch_begin(self, trainer, epoch):
        if self.per == "epoch":
            trainer.optimizer.lr = float(self.schedule(epoch))

    def on_batch_end(self, trainer, step, logs):
        if self.per == "step":  # rate for the next update
            trainer.optimizer.lr = float(self.schedule(step + 1))


class PlotHistory(Callback):
    """Redraw the history plot (`pmt.core.plots.plot_history`) to `path` after every epoch.

    Example:
        >>> plot = PlotHistory("runs/exp1/history.png", title="MLP on MNIST")
        >>> plot.main_only   # under MPI only rank 0 draws
        True
    """

    main_only = True

    def __init__(self, path, title: str | None = None):
        self.path, self.title = Path(path), title

    def on_epoch_end(self, trainer, epoch, logs):
        from .plots import plot_history  # matplotlib only when this callback is used

        plot_history(trainer.history, self.path, title=self.title)
