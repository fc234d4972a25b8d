"""The training loop every PMT milestone shares: `Trainer.fit`, `Trainer.evaluate`.

The protocol (docs/DESIGN.md):

A *batch* is a tuple `(*inputs, targets)` of arrays; `train_data` / `eval_data` are
re-iterable (each `iter()` is one epoch), e.g. `pmt.core.batches(X, y, batch_size=32)`.
If the data has `set_epoch(epoch)`, it is called before every epoch (1-based) so a
seeded shuffle can differ per epoch; if it has `skip(k)`, a resumed epoch uses it to start
at batch k without building the k batches before it. The model implements

    model.parameters() -> list                        # objects with .data and .grad
    model.train(mode=True); model.eval()              # dropout etc. on/off
    model.state_dict() -> dict[str, ndarray]; model.load_state_dict(d)
    model.train_step(batch, loss) -> (float, outputs) # forward + loss + backward: fills p.grad
    model.eval_step(batch, loss)  -> (float, outputs) # forward + loss, no gradients
    model.loss_weight(batch) -> float               # optional: terms the loss is a mean of (default:
                                                    # examples); weights ranks' shares under MPI

The loss value is the mean over the batch; `outputs` (e.g. logits) feed the metrics,
`dict[name, fn(outputs, targets) -> float]`. One training step (`Trainer._train_batch`) is

    optimizer.lr = schedule(step + 1)          # if a per-step schedule was given
    optimizer.zero_grad()
    loss_value, outputs = model.train_step(batch, loss)
    clip_grad_norm(parameters, clip_norm)      # if clip_norm was given
    optimizer.step()

Epochs are numbered from 1 everywhere (callbacks, history, messages); `trainer.epoch`
is the number of finished epochs and `trainer.step` the number of updates taken.
`fit(..., epochs=E)` trains until E epochs are finished in total, so a run resumed from an
epoch-3 checkpoint with `epochs=10` trains epochs 4..10.

History (`trainer.history`, also returned by `fit`): Keras-style `dict[str, list[float]]`
with one entry per epoch under `loss`, `<metric>`, `val_loss`, `val_<metric>`, `lr` (the
rate of the epoch's last update) and `seconds`. Train metrics are batch-size-weighted
running means; eval metrics are computed once on the concatenated eval outputs.

Callbacks (see `pmt.core.callbacks`) get `on_train_begin(trainer)`,
`on_epoch_begin(trainer, epoch)`, `on_batch_end(trainer, step, logs)`,
`on_epoch_end(trainer, epoch, logs)`, `on_train_end(trainer)`; setting
`trainer.stop_training = True` ends training after the current epoch.

Checkpoints, Ctrl-C and resume. With `checkpoint_dir`, the trainer writes `last.npz` there
after every epoch and, with `checkpoint_every=N`, also every N updates in the middle of an
epoch. Ctrl-C (or SIGTERM) during `fit` finishes the current update, writes
`interrupted.npz` and returns with `trainer.interrupted = True` (a second Ctrl-C stops at
once and writes nothing). `fit(..., resume=path)` restores the model, the optimizer, the
shared random generator (`pmt.core.seeding`), the counters and the history and continues;
`path` may be the checkpoint folder, which means the newer of its `interrupted.npz` and
`last.npz`. A checkpoint taken mid-epoch records the exact position: the generator's
state at the epoch's start, the batches done, the running sums of the epoch's loss and
metrics, and the generator's state after the last update. Resuming re-creates the epoch's
batch order from the first state, skips the batches done, restores the second state and
goes on, so the resumed run is bit-for-bit the run that never stopped. That holds when all
randomness (shuffles, dropout) draws from `get_rng()`, and the data draws its epoch's
randomness when its iteration starts (as `batches` and `bucket_batches` do) or from a
seeded stream of its own.

Data-parallel (`mpiexec -n N python ...`, see `pmt.core.distributed`): each rank trains on its
share of every global batch; gradients are averaged (weighted by each share's
`model.loss_weight(batch)` if the model defines it, else by its number of examples) before
clipping and the step; losses and metrics are reduced over ranks, validation is split
across ranks and its outputs gathered, so every rank sees the one-process numbers.  Only rank
0 prints, draws bars, writes checkpoints and runs `main_only` callbacks (plots).  Ctrl-C is a
flag agreed by all ranks at the same step (`DataParallel.stop_requested`), so they stop
together and rank 0 writes `interrupted.npz`; each rank's dropout draws come from a stream
derived from the epoch's starting state and the batch index, so resuming repeats them too.

Example (a linear classifier on three Gaussian blobs; the log lines go to stdout):
    >>> from pmt.core import Adam, accuracy, batches
    >>> from pmt.core.examples.linear_demo import LinearClassifier, make_blobs, softmax_cross_entropy
    >>> X, y = make_blobs(100); Xv, yv = make_blobs(50)
    >>> model = LinearClassifier(2, 3)
    >>> trainer = Trainer(model, Adam(model.parameters(), lr=0.05), softmax_cross_entropy,
    ...                   metrics={"acc": accuracy}, checkpoint_dir="runs/exp1")
    >>> history = trainer.fit(batches(X, y, batch_size=32, shuffle=True, seed=0), epochs=3,
    ...                       eval_data=batches(Xv, yv, batch_size=256))
    epoch 1/3  loss 0.5037  acc 0.8267  val_loss 0.2012  val_acc 0.9733  lr 0.05  ...
    epoch 2/3  loss 0.1251  acc 0.9933  val_loss 0.0933  val_acc 0.9800  lr 0.05  ...
    epoch 3/3  loss 0.0697  acc 0.9933  val_loss 0.0693  val_acc 0.9800  lr 0.05  ...
    >>> history["val_acc"][-1], trainer.epoch, sorted(history)
    (0.98, 3, ['acc', 'loss', 'lr', 'seconds', 'val_acc', 'val_loss'])
"""
from __future__ import annotations

import itertools
import math
import numbers
import time
from pathlib import Path

import numpy as np

from . import distributed
from .checkpoint import checkpoint_meta, load_checkpoint, save_checkpoint
from .errors import DivergenceError
from .interrupts import GracefulInterrupt
from .optimizers import clip_grad_norm
from .progress import Progress
from .seeding import get_rng_state, set_rng_state

__all__ = ["Trainer", "History", "DivergenceError", "newest_checkpoint", "resume_path"]

_MODEL_METHODS = ("parameters", "train", "eval", "state_dict", "load_state_dict", "train_step", "eval_step")
RESUME_FILES = ("interrupted.npz", "last.npz")


class History(dict):
    """Per-epoch records, `dict[str, list[float]]` (Keras-style): `history["val_loss"][-1]`.

    Example:
        >>> h = History(); h.append({"loss": 0.5, "lr": 0.1}); h["loss"]
        [0.5]
    """

    def append(self, logs: dict):
        """Add one epoch's values; a key missing from earlier epochs is back-filled with nan."""
        n = self.epochs
        for k, v in logs.items():
            self.setdefault(k, [math.nan] * n).append(float(v))
        for k, vals in self.items():
            if len(vals) == n:  # key absent this epoch
                vals.append(math.nan)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return max((len(v) for v in self.values()), default=0)


def _batch_size(batch) -> int:
    """Examples in a batch = length of its targets (the last element)."""
    targets = batch[-1] if isinstance(batch, (tuple, list)) else batch
    try:
        return len(targets)
    except TypeError:
        return 1


def _targets(batch):
    return batch[-1] if isinstance(batch, (tuple, list)) else None


def newest_checkpoint(folder) -> Path | None:
    """The checkpoint of `folder` to resume from: the later of interrupted.npz and last.npz.

    "Later" compares the (epoch, step) recorded inside the files, not their modification
    times (which a copy may change); None when the folder holds neither.
    """
    found = []
    for name in RESUME_FILES:
        path = Path(folder) / name
        if path.is_file():
            meta = checkpoint_meta(path)
            found.append((int(meta.get("step", -1)), int(meta.get("epoch", -1)), name == "interrupted.npz", path))
    return max(found)[-1] if found else None


def resume_path(path) -> Path:
    """`path` itself for a checkpoint file; for a folder, its `newest_checkpoint` (an error if none)."""
    path = Path(path)
    if not path.is_dir():
        return path
    found = newest_checkpoint(path)
    if found is None:
        raise FileNotFoundError(f"{path}: nothing to resume from (no {' or '.join(RESUME_FILES)})")
    return found


class _AgreedStop:
    """Under MPI: Ctrl-C is the flag every rank agrees on at the same step (`pmt.core.distributed`),
    not a per-process signal, so that all ranks stop after the same update."""

    forced = False

    def __init__(self, dp):
        self.dp = dp

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def check(self):
        if self.dp.stop_requested:
            raise KeyboardInterrupt


class _EpochState:
    """Where the current epoch stands: what a mid-epoch checkpoint must record to resume exactly."""

    def __init__(self, epoch_rng, metrics, saved=None):
        self.epoch_rng = epoch_rng                  # generator state when the epoch's iteration began
        self.batch = 0                              # batches done
        self.loss_sum, self.seen = 0.0, 0           # sum of loss * batch size, examples seen
        self.metric_sums = dict.fromkeys(metrics, 0.0)
        self.lr = None                              # rate of the last update
        self.seconds = 0.0                          # training time before this process took over
        self.rng = epoch_rng                        # generator state after the last update
        if saved is not None:
            self.batch, self.loss_sum, self.seen = int(saved["batch"]), float(saved["loss_sum"]), int(saved["seen"])
            self.metric_sums.update({k: float(v) for k, v in saved["metric_sums"].items()})
            self.lr, self.seconds, self.rng = saved["lr"], float(saved["seconds"]), saved["rng"]

    def to_meta(self, seconds) -> dict:
        return {"epoch_rng": self.epoch_rng, "batch": self.batch, "loss_sum": self.loss_sum, "seen": self.seen,
                "metric_sums": self.metric_sums, "lr": self.lr, "seconds": seconds, "rng": self.rng}


class Trainer:
    """Runs epochs of `model.train_step` + `optimizer.step`, evaluation, callbacks, checkpoints.

    Args:
        model: implements the protocol in this module's docstring.
        optimizer: a `pmt.core` optimizer over `model.parameters()` (needs `lr`, `step`,
            `zero_grad`, `state_dict`, `load_state_dict`).
        loss: passed unchanged to `model.train_step` / `model.eval_step`.
        metrics: `dict[name, fn(outputs, targets) -> float]`, e.g. `{"acc": accuracy}`.
        callbacks: `Callback` objects (`pmt.core.callbacks`).
        clip_norm: if set, gradients are rescaled to global L2 norm <= clip_norm per step.
        schedule: per-step learning-rate schedule, `schedule(step) -> lr`, step from 1;
            sets `optimizer.lr` before every update.
        progress: True: a tqdm bar; False: none; None: a bar when stderr is a terminal,
            otherwise a progress line through `log` every `log_interval` seconds.
        checkpoint_dir: folder for `last.npz` (every epoch, and every `checkpoint_every`
            updates) and `interrupted.npz` (Ctrl-C).
        log: callable taking the one-line epoch summary; default `tqdm.write` (stdout).
            Pass `lambda s: None` to silence.
        checkpoint_every: also write `last.npz` every this many updates (global steps),
            recording the exact position in the epoch; None: only at epoch ends. For runs
            whose epochs last hours, so that a killed process loses at most N steps.
        log_interval: seconds between progress lines when no bar is drawn.

    Attributes:
        history (History), epoch (finished epochs), step (updates taken),
        interrupted (True if the last fit ended by Ctrl-C), interrupt_checkpoint (the file it
        wrote, or None), stop_training (set by callbacks).
    """

    def __init__(self, model, optimizer, loss, metrics=None, callbacks=(), clip_norm=None,
                 schedule=None, progress=None, checkpoint_dir=None, log=None, checkpoint_every=None,
                 log_interval=60.0):
        missing = [m for m in _MODEL_METHODS if not callable(getattr(model, m, None))]
        if missing:
            raise TypeError(f"Trainer: model {type(model).__name__} lacks the protocol method(s) "
                            f"{missing}; see pmt.core.trainer's docstring")
        for m in ("step", "zero_grad", "state_dict", "load_state_dict"):
            if not callable(getattr(optimizer, m, None)) or not hasattr(optimizer, "lr"):
                raise TypeError(f"Trainer: optimizer {type(optimizer).__name__} needs .lr and .{m}()")
        metrics = dict(metrics or {})
        for name, fn in metrics.items():
            if not callable(fn):
                raise TypeError(f"Trainer: metric {name!r} must be callable fn(outputs, targets), got {fn!r}")
            if name in ("loss", "lr", "seconds") or name.startswith("val_"):
                raise ValueError(f"Trainer: metric name {name!r} clashes with a history key")
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"Trainer: clip_norm must be > 0 or None, got {clip_norm!r}")
        if schedule is not None and not callable(schedule):
            raise TypeError(f"Trainer: schedule must be callable schedule(step) -> lr, got {schedule!r}")
        if checkpoint_every is not None and (isinstance(checkpoint_every, bool) or not isinstance(
                checkpoint_every, numbers.Integral) or checkpoint_every < 1):
            raise ValueError(f"Trainer: checkpoint_every must be an integer >= 1 (updates) or None, "
                             f"got {checkpoint_every!r}")
        if checkpoint_every is not None and checkpoint_dir is None:
            raise ValueError("Trainer: checkpoint_every needs a checkpoint_dir to write last.npz into")
        if not log_interval > 0:
            raise ValueError(f"Trainer: log_interval must be > 0 seconds, got {log_interval!r}")
        self.model, self.optimizer, self.loss = model, optimizer, loss
        self.metrics = metrics
        self.callbacks = list(callbacks)
        self.clip_norm, self.schedule = clip_norm, schedule
        self.progress, self.log_interval = progress, float(log_interval)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every
        if log is None:
            from tqdm.auto import tqdm
            log = tqdm.write
        self.log = log if distributed.is_main() else (lambda s: None)      # [dist] rank 0 prints
        self.history = History()
        self.epoch = 0
        self.step = 0
        self.interrupted = False
        self.interrupt_checkpoint = None
        self.stop_training = False
        self._params = list(model.parameters())
        self._state = None        # _EpochState of the epoch in progress, None between epochs
        self._t_epoch = 0.0       # when this process started on that epoch (perf_counter)
        self._stop = None         # the GracefulInterrupt of a running fit
        # [dist] under mpiexec -n N > 1: shares of batches, gradient exchange (pmt.core.distributed)
        self._dp = distributed.DataParallel(model, self._params) if distributed.world_size() > 1 else None

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path, **extra) -> Path:
        """Save model, optimizer, RNG state, counters, history (and the epoch position) to `path`.

        Under MPI only rank 0 writes (every rank holds the same state); all return the path.
        """
        if not distributed.is_main():                                       # [dist]
            return Path(path)
        meta = dict(epoch=self.epoch, step=self.step, rng=get_rng_state(), history=dict(self.history))
        if self._state is not None:   # mid-epoch: the exact position, and the state after the last update
            meta["position"] = self._state.to_meta(self._state.seconds + time.perf_counter() - self._t_epoch)
            meta["rng"] = self._state.rng
        return save_checkpoint(path, self.model, self.optimizer, **meta, **extra)

    def load_checkpoint(self, path) -> dict:
        """Restore everything `save_checkpoint` saved; returns the metadata.

        `path` may be a folder: its newer of interrupted.npz and last.npz (`newest_checkpoint`).
        """
        path = resume_path(path)
        meta = checkpoint_meta(path)  # metadata first: refuse before touching the model
        for key in ("epoch", "step", "rng", "history"):
            if key not in meta:
                raise ValueError(f"{path}: not a Trainer checkpoint (no {key!r} in its metadata); "
                                 f"load a bare model checkpoint with pmt.core.load_checkpoint")
        load_checkpoint(path, self.model, self.optimizer)
        set_rng_state(meta["rng"])
        self.epoch, self.step = int(meta["epoch"]), int(meta["step"])
        self.history = History({k: [float(x) for x in v] for k, v in meta["history"].items()})
        meta["path"] = str(path)
        return meta

    # ------------------------------------------------------------------ loop
    def _call(self, hook, *args):
        for cb in self.callbacks:
            if getattr(cb, "main_only", False) and not distributed.is_main():  # [dist] e.g. plots
                continue
            fn = getattr(cb, hook, None)  # duck-typed callbacks may implement only some hooks
            if fn is not None:
                fn(self, *args)

    def fit(self, train_data, epochs: int, eval_data=None, resume=None) -> History:
        """Train until `epochs` epochs are finished in total; return the history.

        Args:
            train_data: re-iterable of batches `(*inputs, targets)`.
            epochs: total number of epochs (counting those restored by `resume`).
            eval_data: optional re-iterable of batches, evaluated after every epoch.
            resume: a checkpoint written by this trainer (`last.npz`, `interrupted.npz`,
                `ModelCheckpoint`), or a folder holding them (the newer is taken).
        Returns:
            `self.history`; `self.interrupted` tells whether Ctrl-C ended it early.
        Raises:
            DivergenceError: the loss became NaN/inf.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be a non-negative integer, got {epochs!r}")
        position = None
        if resume is not None:
            meta = self.load_checkpoint(resume)
            position = meta.get("position")
            if position is not None and epochs <= self.epoch:
                raise ValueError(f"{meta['path']}: the run stopped during epoch {self.epoch + 1}; to finish it, "
                                 f"epochs must be at least {self.epoch + 1}, got {epochs}")
        self.interrupted, self.interrupt_checkpoint = False, None
        self.stop_training = False
        if self._dp is not None:                     # [dist] rank 0's weights and RNG everywhere
            self._dp.begin()
        self._call("on_train_begin")
        try:
            # A NaN/inf that reaches the loss is reported once, with its step and rate, by _train_batch;
            # numpy's overflow warnings on the way there would only be noise before that line.
            stop = GracefulInterrupt() if self._dp is None else _AgreedStop(self._dp)
            with stop as self._stop, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while self.epoch < epochs and not self.stop_training:
                    self._stop.check()
                    logs = self._train_epoch(train_data, epochs, position)
                    position = None
                    if eval_data is not None:
                        logs.update({f"val_{k}": v for k, v in self.evaluate(eval_data).items()})
                    self._end_epoch(logs, epochs)
                self._stop.check()      # Ctrl-C during the last epoch's callbacks still stops the program
            if self.checkpoint_dir is not None and self.epoch >= epochs and distributed.is_main():
                (self.checkpoint_dir / "interrupted.npz").unlink(missing_ok=True)   # the run went past it
        except KeyboardInterrupt:
            self._interrupted(forced=self._stop.forced)
        except BaseException as e:
            # [dist] one rank failing alone would leave the others waiting in a collective:
            # end them all.  A DivergenceError comes from the reduced loss, so every rank has it.
            if self._dp is not None and not isinstance(e, DivergenceError):
                self._dp.abort(e)
            raise
        finally:
            self._stop = self._state = None
            if self._dp is not None:
                self._dp.end()
            self._call("on_train_end")
        return self.history

    def _end_epoch(self, logs, epochs):
        self.epoch += 1
        self._state = None
        self.history.append(logs)
        if self.checkpoint_dir is not None:
            self.save_checkpoint(self.checkpoint_dir / "last.npz")
        self._call("on_epoch_end", self.epoch, logs)
        self.log(self._summary(logs, epochs))

    def _interrupted(self, forced):
        self.interrupted = True
        where = (f"epoch {self.epoch + 1}, after {self._state.batch} batches (step {self.step})"
                 if self._state is not None else f"after epoch {self.epoch} (step {self.step})")
        if forced:
            self.log(f"interrupted at once during {where}: no checkpoint written"
                     + (f"; {self.checkpoint_dir / 'last.npz'} holds the last saved state" if self.checkpoint_dir else ""))
        elif self.checkpoint_dir is not None:
            self.interrupt_checkpoint = self.save_checkpoint(self.checkpoint_dir / "interrupted.npz", interrupted=True)
            # How to resume is the caller's to say: `fit(..., resume=dir)` here, `--resume` in a CLI.
            self.log(f"interrupted {where}: checkpoint saved to {self.interrupt_checkpoint}")
        else:
            self.log(f"interrupted {where} (no checkpoint_dir: nothing saved)")

    def _start_epoch(self, train_data, state: _EpochState):
        """The epoch's batch iterator, positioned after the `state.batch` batches already done.

        The iteration starts under the generator state of the epoch's start, so data that
        draws its order when iteration begins draws the same order as the first time; the
        first batch to train on is fetched under that state too, then the state after the
        last update is restored.
        """
        set_rng_state(state.epoch_rng)
        if self._dp is not None:
            self._dp.begin_epoch(self.epoch + 1)    # [dist] this epoch's dropout stream per rank
        if state.batch and callable(getattr(train_data, "skip", None)):
            train_data.skip(state.batch)
            it = iter(train_data)
        else:
            it = iter(train_data)
            for _ in range(state.batch):        # no cheap skip: build the batches done and drop them
                if next(it, None) is None:
                    break
        first = next(it, None)
        set_rng_state(state.rng)
        return it if first is None else itertools.chain([first], it)

    def _train_batch(self, batch):
        """One update on `batch`: the scheduled rate, gradients, clipping, the optimizer step.

        Returns `(mean loss, examples, {metric: value * examples})` of the (global) batch.  This
        is the whole per-step body: under MPI, `DataParallel.train_step` runs the forward and
        backward pass on this rank's share and exchanges gradients before clipping.
        """
        if self.schedule is not None:
            self.optimizer.lr = float(self.schedule(self.step + 1))
        self.optimizer.zero_grad()
        if self._dp is None:
            loss_value, n, outputs = self._forward_backward(batch)
        else:                                        # [dist] on this rank's share, then exchange
            loss_value, n, outputs = self._dp.train_step(batch, self._state.batch, self._forward_backward,
                                                         gather_outputs=bool(self.metrics))
        # on the whole batch's outputs (under MPI gathered from the shares): F1 of two halves
        # averaged is not the F1 of the batch
        batch_metrics = {name: float(fn(outputs, _targets(batch))) * n for name, fn in self.metrics.items()}
        if not math.isfinite(loss_value):
            raise DivergenceError(
                f"training loss is {loss_value} at epoch {self.epoch + 1}, batch {self._state.batch}, global step "
                f"{self.step + 1} (lr={self.optimizer.lr:g}). Lower the learning rate, set "
                f"clip_norm, add warm-up, or check the inputs for NaN/inf.")
        if self.clip_norm is not None:
            clip_grad_norm(self._params, self.clip_norm)
        self.optimizer.step()
        self.step += 1
        return loss_value, n, batch_metrics

    def _forward_backward(self, batch):
        """`model.train_step` on `batch`: (mean loss, examples, outputs)."""
        loss_value, outputs = self.model.train_step(batch, self.loss)
        return float(loss_value), _batch_size(batch), outputs

    def _train_epoch(self, train_data, epochs, position=None) -> dict:
        epoch = self.epoch + 1
        if hasattr(train_data, "set_epoch"):
            train_data.set_epoch(epoch)
        self.model.train()
        self._call("on_epoch_begin", epoch)
        state = _EpochState(position["epoch_rng"] if position else get_rng_state(), self.metrics, position)
        self._t_epoch = time.perf_counter()
        self._state = state     # from here a Ctrl-C saves this position
        try:
            total = len(train_data)
        except TypeError:
            total = None
        batches = self._start_epoch(train_data, state)
        bar = Progress(total, f"epoch {epoch}/{epochs}", enabled=self.progress if distributed.is_main() else False,
                       interval=self.log_interval, log=self.log, initial=state.batch)
        try:
            for batch in batches:
                if not isinstance(batch, (tuple, list)):
                    raise TypeError(f"Trainer: a batch must be a tuple (*inputs, targets), got "
                                    f"{type(batch).__name__} (batch {state.batch} of epoch {epoch}); wrap arrays "
                                    f"with pmt.core.batches(X, y, batch_size=...) rather than passing (X, y)")
                loss_value, n, batch_metrics = self._train_batch(batch)
                lr = float(self.optimizer.lr)       # the rate of this update (callbacks may change it next)
                state.loss_sum += loss_value * n
                state.seen += n
                for name in self.metrics:
                    state.metric_sums[name] += batch_metrics[name]
                state.batch += 1
                state.lr, state.rng = lr, get_rng_state()
                bar.update(1, loss=f"{state.loss_sum / state.seen:.4f}")
                self._call("on_batch_end", self.step, {"loss": loss_value, "batch": state.batch - 1, "size": n})
                if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                    self.save_checkpoint(self.checkpoint_dir / "last.npz")
                self._stop.check()
        finally:
            bar.close()
        if state.seen == 0:
            raise ValueError(f"Trainer: train_data yielded no batches in epoch {epoch}")
        logs = {"loss": state.loss_sum / state.seen}
        logs.update({k: v / state.seen for k, v in state.metric_sums.items()})
        logs["lr"] = float(self.optimizer.lr) if state.lr is None else state.lr
        logs["seconds"] = state.seconds + time.perf_counter() - self._t_epoch
        return logs

    def evaluate(self, data) -> dict:
        """Mean loss and metrics over `data` with the model in eval mode, no gradients.

        Metrics are computed once on the outputs and targets of all batches concatenated
        along axis 0 (so e.g. F1 is exact, not an average of per-batch F1s).  If batches
        cannot be concatenated (different padded lengths), each metric is the
        batch-size-weighted mean of per-batch values instead.

        Args:
            data: re-iterable of batches `(*inputs, targets)`.
        Returns:
            `{"loss": float, <metric>: float, ...}`.
        """
        self.model.eval()
        total, seen = 0.0, 0
        outs, tgts, per_batch = [], [], []
        try:
            n_batches = len(data)
        except TypeError:
            n_batches = None
        bar = Progress(n_batches, "eval", enabled=self.progress if distributed.is_main() else False,
                       interval=self.log_interval, log=self.log, leave=False)
        try:
            for batch in data:
                if not isinstance(batch, (tuple, list)):
                    raise TypeError(f"Trainer.evaluate: a batch must be a tuple (*inputs, targets), "
                                    f"got {type(batch).__name__}")
                if self._dp is not None:                 # [dist] this rank's share; gathered below
                    self._dp.eval_batch(batch, lambda part: self.model.eval_step(part, self.loss),
                                        keep_outputs=bool(self.metrics))
                    bar.update(1)
                    continue
                loss_value, outputs = self.model.eval_step(batch, self.loss)
                n = _batch_size(batch)
                total += float(loss_value) * n
                seen += n
                if self.metrics:
                    outs.append(np.asarray(outputs))
                    tgts.append(np.asarray(_targets(batch)))
                    per_batch.append(n)
                bar.update(1)
                if self._stop is not None:
                    self._stop.check()
        finally:
            bar.close()
        if self._dp is not None:                         # [dist] all shares, in one-process order
            total, seen, outs, tgts, per_batch = self._dp.eval_gather()
        if seen == 0:
            raise ValueError("Trainer.evaluate: the data yielded no batches")
        result = {"loss": total / seen}
        if self.metrics:
            try:
                all_out, all_tgt = np.concatenate(outs), np.concatenate(tgts)
            except ValueError:
                w = np.asarray(per_batch, dtype=np.float64)
                for name, fn in self.metrics.items():
                    vals = [float(fn(o, t)) for o, t in zip(outs, tgts)]
                    result[name] = float(np.dot(vals, w) / w.sum())
            else:
                for name, fn in self.metrics.items():
                    result[name] = float(fn(all_out, all_tgt))
        return result

    def _summary(self, logs, epochs) -> str:
        parts = [f"epoch {self.epoch}/{epochs}"]
        for k, v in logs.items():
            if k in ("lr", "seconds"):
                continue
            parts.append(f"{k} {v:.4f}")
        parts.append(f"lr {logs['lr']:.3g}")
        parts.append(f"{logs['seconds']:.1f}s")
        return "  ".join(parts)

    def __repr__(self):
        return (f"Trainer(model={type(self.model).__name__}, optimizer={self.optimizer!r}, "
                f"metrics={list(self.metrics)}, epoch={self.epoch}, step={self.step})")
