"""The training loop every PMT milestone shares: `Trainer.fit`, `Trainer.evaluate`.

The protocol (docs/DESIGN.md):

A *batch* is a tuple `(*inputs, targets)` of arrays; `train_data` / `eval_data` are
re-iterable (each `iter()` is one epoch), e.g. `pmt.core.batches(X, y, batch_size=32)`.
If the data has `set_epoch(epoch)`, it is called before every epoch (1-based) so a
seeded shuffle can differ per epoch. The model implements

    model.parameters() -> list                        # objects with .data and .grad
    model.train(mode=True); model.eval()              # dropout etc. on/off
    model.state_dict() -> dict[str, ndarray]; model.load_state_dict(d)
    model.train_step(batch, loss) -> (float, outputs) # forward + loss + backward: fills p.grad
    model.eval_step(batch, loss)  -> (float, outputs) # forward + loss, no gradients
    model.loss_weight(batch) -> float               # optional: terms the loss is a mean of (default:
                                                    # examples); weights ranks' shares under MPI

The loss value is the mean over the batch; `outputs` (e.g. logits) feed the metrics,
`dict[name, fn(outputs, targets) -> float]`. One training step is

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

Checkpoints and resume: with `checkpoint_dir`, the trainer writes `last.npz` there after
every epoch and `interrupted.npz` on Ctrl-C. `fit(..., resume=path)` restores the model,
the optimizer, the shared random generator (`pmt.core.seeding`), the epoch and step
counters and the history, then continues. Resuming from an end-of-epoch checkpoint gives
bit-for-bit the run that was never stopped, provided all randomness (shuffles, dropout)
draws from `get_rng()`. A Ctrl-C checkpoint is taken mid-epoch: resuming from it re-runs
that epoch from its start with the partly trained weights (not bit-identical).

Data-parallel (`mpiexec -n N python ...`, see `pmt.core.distributed`): each rank trains on its
share of every global batch; gradients are averaged (weighted by each share's
`model.loss_weight(batch)` if the model defines it, else by its number of examples) before
clipping and the step; losses and metrics are reduced over ranks, validation is split
across ranks and its outputs gathered, so every rank sees the one-process numbers.  Only rank
0 prints, draws bars, writes checkpoints and runs `main_only` callbacks (plots).

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

import math
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .optimizers import clip_grad_norm
from .seeding import get_rng_state, set_rng_state

__all__ = ["Trainer", "History", "DivergenceError"]

_MODEL_METHODS = ("parameters", "train", "eval", "state_dict", "load_state_dict", "train_step", "eval_step")


class DivergenceError(FloatingPointError):
    """The training loss became NaN or infinite."""


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
        progress: show a tqdm bar; None = only when stderr is a terminal.
        checkpoint_dir: folder for `last.npz` (every epoch) and `interrupted.npz` (Ctrl-C).
        log: callable taking the one-line epoch summary; default `tqdm.write` (stdout).
            Pass `lambda s: None` to silence.

    Attributes:
        history (History), epoch (finished epochs), step (updates taken),
        interrupted (True if the last fit ended by Ctrl-C), stop_training (set by callbacks).
    """

    def __init__(self, model, optimizer, loss, metrics=None, callbacks=(), clip_norm=None,
                 schedule=None, progress=None, checkpoint_dir=None, log=None):
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
        self.model, self.optimizer, self.loss = model, optimizer, loss
        self.metrics = metrics
        self.callbacks = list(callbacks)
        self.clip_norm, self.schedule = clip_norm, schedule
        self.progress = progress
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.log = log if log is not None else tqdm.write
        if not distributed.is_main():                                       # [dist] rank 0 prints
            self.log = lambda s: None
        self.history = History()
        self.epoch = 0
        self.step = 0
        self.interrupted = False
        self.stop_training = False
        self._params = list(model.parameters())
        # [dist] under mpiexec -n N > 1: shares of batches, gradient exchange (pmt.core.distributed)
        self._dp = distributed.DataParallel(model, self._params) if distributed.world_size() > 1 else None

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path, **extra) -> Path:
        """Save model, optimizer, RNG state, epoch/step counters and history to `path` (.npz).

        Under MPI only rank 0 writes (every rank holds the same state); all return the path.
        """
        if not distributed.is_main():                                       # [dist]
            return Path(path)
        return save_checkpoint(path, self.model, self.optimizer, epoch=self.epoch, step=self.step,
                               rng=get_rng_state(), history=dict(self.history), **extra)

    def load_checkpoint(self, path) -> dict:
        """Restore everything `save_checkpoint` saved; returns the metadata."""
        meta = load_checkpoint(path)  # metadata first: refuse before touching the model
        for key in ("epoch", "step", "rng", "history"):
            if key not in meta:
                raise ValueError(f"{path}: not a Trainer checkpoint (no {key!r} in its metadata); "
                                 f"load a bare model checkpoint with pmt.core.load_checkpoint")
        load_checkpoint(path, self.model, self.optimizer)
        set_rng_state(meta["rng"])
        self.epoch, self.step = int(meta["epoch"]), int(meta["step"])
        self.history = History({k: [float(x) for x in v] for k, v in meta["history"].items()})
        return meta

    # ------------------------------------------------------------------ loop
    def _bar(self, data, desc, leave=True):
        if self.progress is None:
            show = bool(getattr(sys.stderr, "isatty", lambda: False)())
        else:
            show = bool(self.progress)
        try:
            total = len(data)
        except TypeError:
            total = None
        show = show and distributed.is_main()                               # [dist]
        return tqdm(data, desc=desc, total=total, disable=not show, leave=leave, dynamic_ncols=True)

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
            resume: path of a checkpoint written by this trainer (`last.npz`,
                `interrupted.npz`, `ModelCheckpoint`) to continue from.
        Returns:
            `self.history`.
        Raises:
            DivergenceError: the loss became NaN/inf.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be a non-negative integer, got {epochs!r}")
        if resume is not None:
            self.load_checkpoint(resume)
        self.interrupted = False
        self.stop_training = False
        if self._dp is not None:                     # [dist] rank 0's weights and RNG everywhere
            self._dp.begin()
        self._call("on_train_begin")
        try:
            while self.epoch < epochs and not self.stop_training:
                logs = self._train_epoch(train_data, epochs)
                if eval_data is not None:
                    logs.update({f"val_{k}": v for k, v in self.evaluate(eval_data).items()})
                self.epoch += 1
                self.history.append(logs)
                if self.checkpoint_dir is not None:
                    self.save_checkpoint(self.checkpoint_dir / "last.npz")
                self._call("on_epoch_end", self.epoch, logs)
                self.log(self._summary(logs, epochs))
        except KeyboardInterrupt:
            self.interrupted = True
            if self.checkpoint_dir is not None:
                where = self.save_checkpoint(self.checkpoint_dir / "interrupted.npz", interrupted=True)
                self.log(f"interrupted during epoch {self.epoch + 1}: checkpoint saved to {where} "
                         f"(resume with fit(..., resume={str(where)!r}))")
            else:
                self.log(f"interrupted during epoch {self.epoch + 1} (no checkpoint_dir: nothing saved)")
        except BaseException as e:
            # [dist] one rank failing alone would leave the others waiting in a collective:
            # end them all.  A DivergenceError comes from the reduced loss, so every rank has it.
            if self._dp is not None and not isinstance(e, DivergenceError):
                self._dp.abort(e)
            raise
        finally:
            if self._dp is not None:
                self._dp.end()
            self._call("on_train_end")
        return self.history

    def _train_epoch(self, train_data, epochs) -> dict:
        epoch = self.epoch + 1
        if hasattr(train_data, "set_epoch"):
            train_data.set_epoch(epoch)
        self.model.train()
        self._call("on_epoch_begin", epoch)
        t0 = time.perf_counter()
        total_loss, seen = 0.0, 0
        metric_sums = dict.fromkeys(self.metrics, 0.0)
        lr_used = float(self.optimizer.lr)
        if self._dp is not None:
            self._dp.begin_epoch(epoch)              # [dist] this epoch's dropout stream per rank
        bar = self._bar(train_data, f"epoch {epoch}/{epochs}")
        try:
            for i, batch in enumerate(bar):
                if not isinstance(batch, (tuple, list)):
                    raise TypeError(f"Trainer: a batch must be a tuple (*inputs, targets), got "
                                    f"{type(batch).__name__} (batch {i} of epoch {epoch}); wrap arrays with "
                                    f"pmt.core.batches(X, y, batch_size=...) rather than passing (X, y)")
                if self.schedule is not None:
                    self.optimizer.lr = float(self.schedule(self.step + 1))
                self.optimizer.zero_grad()
                if self._dp is None:
                    loss_value, n, batch_metrics = self._forward_backward(batch)
                else:                                # [dist] on this rank's share, then exchange
                    loss_value, n, batch_metrics = self._dp.train_step(batch, i, self._forward_backward,
                                                                       list(self.metrics))
                if not math.isfinite(loss_value):
                    raise DivergenceError(
                        f"training loss is {loss_value} at epoch {epoch}, batch {i}, global step "
                        f"{self.step + 1} (lr={self.optimizer.lr:g}). Lower the learning rate, set "
                        f"clip_norm, add warm-up, or check the inputs for NaN/inf.")
                if self.clip_norm is not None:
                    clip_grad_norm(self._params, self.clip_norm)
                lr_used = float(self.optimizer.lr)
                self.optimizer.step()
                self.step += 1
                total_loss += loss_value * n
                seen += n
                for name in self.metrics:
                    metric_sums[name] += batch_metrics[name]
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
                self._call("on_batch_end", self.step, {"loss": loss_value, "batch": i, "size": n})
                if self._dp is not None and self._dp.stop_requested:   # [dist] Ctrl-C, agreed
                    raise KeyboardInterrupt
        finally:
            bar.close()
        if seen == 0:
            raise ValueError(f"Trainer: train_data yielded no batches in epoch {epoch}")
        logs = {"loss": total_loss / seen}
        logs.update({k: v / seen for k, v in metric_sums.items()})
        logs["lr"] = lr_used
        logs["seconds"] = time.perf_counter() - t0
        return logs

    def _forward_backward(self, batch):
        """`model.train_step` on `batch`: (mean loss, examples, {metric: value * examples})."""
        loss_value, outputs = self.model.train_step(batch, self.loss)
        n = _batch_size(batch)
        return float(loss_value), n, {name: float(fn(outputs, _targets(batch))) * n
                                      for name, fn in self.metrics.items()}

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
        bar = self._bar(data, "eval", leave=False)
        try:
            for batch in bar:
                if not isinstance(batch, (tuple, list)):
                    raise TypeError(f"Trainer.evaluate: a batch must be a tuple (*inputs, targets), "
                                    f"got {type(batch).__name__}")
                if self._dp is not None:                 # [dist] this rank's share; gathered below
                    self._dp.eval_batch(batch, lambda part: self.model.eval_step(part, self.loss),
                                        keep_outputs=bool(self.metrics))
                    continue
                loss_value, outputs = self.model.eval_step(batch, self.loss)
                n = _batch_size(batch)
                total += float(loss_value) * n
                seen += n
                if self.metrics:
                    outs.append(np.asarray(outputs))
                    tgts.append(np.asarray(_targets(batch)))
                    per_batch.append(n)
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
