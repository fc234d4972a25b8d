"""Checkpoints: a model, its optimizer and a JSON metadata record in one `.npz` file.

Layout of the archive (no pickle anywhere, so loading never runs code from the file):

    model/<key>   one array per entry of model.state_dict()
    optim/<key>   one array per entry of optimizer.state_dict()   (if an optimizer was saved)
    meta          uint8 array holding UTF-8 JSON: {"format": "pmt-checkpoint", "version": 1,
                  "optimizer": {"type", "num_params"} | null, ...whatever the caller passed}

The `Trainer` passes epoch, step, RNG state and history as metadata, which is what makes a
run resumable.  The file is written to a temporary name in the same folder, flushed to
disk and renamed over the target, so a crash mid-write never leaves a half-written
checkpoint under the real name; the file gets the mode of any other file the process writes.
Model arrays holding NaN/inf are never written (`DivergenceError`) and, unless asked, never
loaded (`CheckpointError`).

Example:
    >>> from pmt.core import Adam
    >>> from pmt.core.examples.linear_demo import LinearClassifier
    >>> model = LinearClassifier(4, 3); opt = Adam(model.parameters(), lr=1e-3)
    >>> save_checkpoint("runs/x/epoch3.npz", model, opt, epoch=3)
    PosixPath('runs/x/epoch3.npz')
    >>> meta = load_checkpoint("runs/x/epoch3.npz", model, opt)
    >>> meta["epoch"], meta["optimizer"]
    (3, {'type': 'Adam', 'num_params': 2})
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import check_finite, nonfinite_report
from .files import NpzError, atomic_open, read_npz

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "checkpoint_meta", "FORMAT", "VERSION"]

FORMAT = "pmt-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, not a PMT checkpoint, or does not fit the model/optimizer."""


def _json_default(x):
    """Let numpy scalars and arrays (e.g. in a history) pass through json.dumps."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"checkpoint metadata must be JSON-serialisable; got {type(x).__name__}: {x!r}")


def _plain_array(what, v) -> np.ndarray:
    """A numeric array; object arrays would need pickle, which load refuses to run."""
    a = np.asarray(v)
    if a.dtype == object:
        raise TypeError(f"save_checkpoint: {what} is an object array (type {type(v).__name__}); "
                        f"checkpoints hold numeric arrays only")
    return a


def save_checkpoint(path, model, optimizer=None, allow_nonfinite: bool = False, **meta) -> Path:
    """Write model (and optimizer) state plus `meta` to `path` atomically.

    Args:
        path: target file (parent folders are created); conventionally ending in `.npz`.
        model: anything with `state_dict() -> dict[str, ndarray]`.
        optimizer: optional, anything with `state_dict()` (a `pmt.core` optimizer).
        allow_nonfinite: write even if a model array holds NaN/inf (for post-mortems only).
        **meta: JSON-serialisable values stored alongside (epoch, step, history, config...).
    Returns:
        the path written, as a `Path`.
    Raises:
        DivergenceError: a model array holds NaN/inf (nothing is written).

    Example:
        >>> from pmt.core import SGD
        >>> from pmt.core.examples.linear_demo import LinearClassifier
        >>> model = LinearClassifier(4, 3); opt = SGD(model.parameters(), lr=0.1)
        >>> save_checkpoint("ckpt.npz", model, opt, epoch=1, note="baseline")
        PosixPath('ckpt.npz')
    """
    path = Path(path)
    if not allow_nonfinite:
        check_finite(model.state_dict(), f"refusing to save {path}: the model",
                     "training diverged (lower the learning rate, clip gradients, check the inputs)")
    for reserved in ("format", "version", "optimizer"):
        if reserved in meta:
            raise ValueError(f"save_checkpoint: metadata key {reserved!r} is reserved")
    arrays = {}
    for k, v in model.state_dict().items():
        arrays[f"model/{k}"] = _plain_array(f"model state {k!r}", v)
    opt_info = None
    if optimizer is not None:
        for k, v in optimizer.state_dict().items():
            arrays[f"optim/{k}"] = _plain_array(f"optimizer state {k!r}", v)
        opt_info = {"type": type(optimizer).__name__, "num_params": len(getattr(optimizer, "params", ()))}
    record = {"format": FORMAT, "version": VERSION, "optimizer": opt_info, **meta}
    text = json.dumps(record, default=_json_default)
    arrays["meta"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    with atomic_open(path) as f:
        np.savez(f, **arrays)  # a file object: numpy does not append ".npz" to the name
    return path


def _read_archive(path: Path) -> dict:
    """Every array of the .npz, read eagerly so truncation or corruption surfaces here."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return read_npz(path)
    except (NpzError, OSError) as e:
        raise CheckpointError(str(e)) from None


def _parse_meta(path: Path, arrays: dict) -> dict:
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: not a PMT checkpoint (no 'meta' entry; found {sorted(arrays)[:5]})")
    try:
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt metadata: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path}: not a PMT checkpoint (format tag {got!r}, expected {FORMAT!r})")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')!r}; this pmt.core "
                              f"reads versions up to {VERSION}")
    return meta


def checkpoint_meta(path) -> dict:
    """The metadata of a checkpoint without reading its arrays (cheap, for big checkpoints).

    Raises:
        CheckpointError: as `load_checkpoint`, for an unreadable file or foreign metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return _parse_meta(path, read_npz(path, members=["meta"]))
    except (NpzError, OSError) as e:
        raise CheckpointError(str(e)) from None


def _check_model_keys(path, current: dict, saved: dict):
    missing = sorted(set(current) - set(saved))
    unexpected = sorted(set(saved) - set(current))
    misshaped = [f"{k}: file {saved[k].shape} vs model {np.shape(current[k])}"
                 for k in sorted(set(current) & set(saved)) if saved[k].shape != np.shape(current[k])]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if misshaped:
        problems.append("shape mismatch " + "; ".join(misshaped))
    if problems:
        raise CheckpointError(f"{path}: checkpoint does not fit the model: " + ", ".join(problems))


def load_checkpoint(path, model=None, optimizer=None, allow_nonfinite: bool = False) -> dict:
    """Read a checkpoint; restore `model` and `optimizer` in place if given; return the metadata.

    Args:
        path: a file written by `save_checkpoint`.
        model: anything with `state_dict()`/`load_state_dict(d)`; its keys and shapes must
            match the file's exactly.
        optimizer: restored from the file's `optim/*` arrays; its type and parameter count
            must match the saved one.
        allow_nonfinite: load model arrays holding NaN/inf (to inspect a diverged run);
            by default such a file is refused.
    Returns:
        the metadata dict (including "format", "version" and "optimizer").
    Raises:
        CheckpointError: unreadable/truncated file, not a PMT checkpoint, newer format
            version, missing/unexpected/mis-shaped model keys, optimizer mismatch, NaN/inf
            weights (unless `allow_nonfinite`).

    Example:
        >>> from pmt.core import SGD
        >>> from pmt.core.examples.linear_demo import LinearClassifier
        >>> model = LinearClassifier(4, 3); opt = SGD(model.parameters(), lr=0.1)
        >>> _ = save_checkpoint("ckpt.npz", model, opt, epoch=1)
        >>> fresh = LinearClassifier(4, 3); fresh_opt = SGD(fresh.parameters(), lr=0.1)
        >>> meta = load_checkpoint("ckpt.npz", fresh, fresh_opt)
        >>> meta["epoch"], np.array_equal(fresh.W.data, model.W.data)
        (1, True)
    """
    path = Path(path)
    arrays = _read_archive(path)
    meta = _parse_meta(path, arrays)

    if model is not None:
        saved = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
        _check_model_keys(path, model.state_dict(), saved)
        report = None if allow_nonfinite else nonfinite_report(saved)
        if report is not None:
            raise CheckpointError(f"{path}: {report}: the weights are not usable (a diverged run?); "
                                  f"pass allow_nonfinite=True to load them for inspection")
        try:
            model.load_state_dict(saved)
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: model.load_state_dict failed: {e}") from e

    if optimizer is not None:
        info = meta.get("optimizer")
        if info is None:
            raise CheckpointError(f"{path}: no optimizer state in this checkpoint (saved without one)")
        if not isinstance(info, dict) or not {"type", "num_params"} <= set(info):
            raise CheckpointError(f"{path}: corrupt metadata: optimizer record {info!r}")
        if info["type"] != type(optimizer).__name__:
            raise CheckpointError(f"{path}: optimizer mismatch: file holds {info['type']} state, "
                                  f"got a {type(optimizer).__name__}")
        n = len(getattr(optimizer, "params", ()))
        if info["num_params"] != n:
            raise CheckpointError(f"{path}: optimizer mismatch: file has state for {info['num_params']} "
                                  f"parameters, the optimizer has {n}")
        state = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
        try:
            optimizer.load_state_dict(state)
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: optimizer.load_state_dict failed: {type(e).__name__}: {e}") from e
    return meta
