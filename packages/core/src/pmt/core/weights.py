"""A model's weights in one file, as a PMT checkpoint (`.npz`) or as safetensors (`.safetensors`).

Both hold `model.state_dict()` under the same keys; they differ in who reads them:

    .npz           a PMT checkpoint (`pmt.core.checkpoint`): weights plus a JSON record; what the
                   Trainer writes, so `best.npz` of a run folder loads here too
    .safetensors   the format PyTorch, Hugging Face and others read (`pmt.core.safetensors`);
                   metadata is a flat str -> str map

The format comes from the file extension unless `format=` names it.  Loading checks that the
file's keys and shapes are exactly the model's before anything is copied, so a mismatch never
leaves a model half-loaded.

Example:
    >>> from pmt.core.examples.linear_demo import LinearClassifier
    >>> model = LinearClassifier(4, 3)
    >>> save_weights("runs/x/model.safetensors", model, metadata={"task": "qqp"})
    PosixPath('runs/x/model.safetensors')
    >>> load_weights("runs/x/model.safetensors", model)
    {'task': 'qqp'}
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError, _check_model_keys, load_checkpoint, save_checkpoint
from .errors import nonfinite_report
from .safetensors import load_safetensors, safetensors_metadata, save_safetensors

__all__ = ["WEIGHT_FORMATS", "weights_format", "save_weights", "load_weights"]

WEIGHT_FORMATS = {".npz": "npz", ".safetensors": "safetensors"}


def weights_format(path, format: str | None = None) -> str:
    """"npz" or "safetensors": `format` if given, else from the extension of `path`.

    Example:
        >>> weights_format("best.npz"), weights_format("w.bin", "safetensors")
        ('npz', 'safetensors')
    """
    if format is not None:
        if format not in WEIGHT_FORMATS.values():
            raise ValueError(f"weights format must be one of {sorted(WEIGHT_FORMATS.values())}, got {format!r}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in WEIGHT_FORMATS:
        raise ValueError(f"{path}: cannot tell the weights format from the extension {suffix!r}; use "
                         f"{' or '.join(WEIGHT_FORMATS)}, or pass format='npz' / 'safetensors'")
    return WEIGHT_FORMATS[suffix]


def save_weights(path, model, format: str | None = None, metadata: dict | None = None) -> Path:
    """Write `model.state_dict()` (and string `metadata`) to `path`, atomically.

    Args:
        path: target file; its extension chooses the format unless `format` is given.
        model: anything with `state_dict() -> dict[str, ndarray]`.
        format: "npz" (a PMT checkpoint without optimizer state) or "safetensors".
        metadata: optional {str: str} (e.g. the model's config as JSON text).
    Returns:
        the path written.

    Example:
        >>> import json
        >>> from pmt.core.examples.linear_demo import LinearClassifier
        >>> cfg = {"in_features": 4, "num_classes": 3}
        >>> save_weights("model.safetensors", LinearClassifier(**cfg), metadata={"config": json.dumps(cfg)})
        PosixPath('model.safetensors')
    """
    fmt = weights_format(path, format)
    metadata = dict(metadata or {})
    bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise TypeError(f"save_weights: metadata must map str -> str, got {bad[0]!r}: {metadata[bad[0]]!r}")
    if fmt == "safetensors":
        return save_safetensors(path, model.state_dict(), metadata)
    return save_checkpoint(path, model, **metadata)


def load_weights(path, model, format: str | None = None, allow_nonfinite: bool = False) -> dict:
    """Copy the weights stored in `path` into `model` (in place) and return the file's metadata.

    Args:
        path: a `.npz` checkpoint or a `.safetensors` file (from PMT, `safetensors.torch.save_file`
            of a PyTorch model with PMT's keys and layouts, ...).
        model: anything with `state_dict()` / `load_state_dict(d)`; the file must hold exactly
            its keys with the same shapes (and floating-point values for floating parameters).
        format: "npz" or "safetensors" (default: from the extension).
        allow_nonfinite: load weights holding NaN/inf (to inspect a diverged run); by default
            such a file is refused, in either format.
    Returns:
        the metadata: the safetensors `__metadata__`, or the checkpoint's JSON record.
    Raises:
        CheckpointError: unreadable or malformed file, missing, unexpected or mis-shaped keys,
            a non-float tensor for a float parameter, NaN/inf weights (unless `allow_nonfinite`).
    """
    path = Path(path)
    if weights_format(path, format) == "npz":
        return load_checkpoint(path, model, allow_nonfinite=allow_nonfinite)
    tensors = load_safetensors(path)
    current = model.state_dict()
    _check_model_keys(path, current, tensors)
    wrong = [f"{k}: {tensors[k].dtype}" for k, v in current.items()
             if np.asarray(v).dtype.kind == "f" and tensors[k].dtype.kind != "f"]
    if wrong:
        raise CheckpointError(f"{path}: floating-point parameters stored as non-float tensors: {', '.join(wrong)}")
    report = None if allow_nonfinite else nonfinite_report(tensors)
    if report is not None:
        raise CheckpointError(f"{path}: {report}: the weights are not usable (a diverged run?); "
                              f"pass allow_nonfinite=True to load them for inspection")
    try:
        model.load_state_dict(tensors)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: model.load_state_dict failed: {e}") from e
    return safetensors_metadata(path)
