"""Classification metrics, vectorized: accuracy, precision, recall, F1, confusion matrix.

Every metric except `confusion_matrix` has the signature the `Trainer` expects,
`fn(outputs, targets) -> float`, so it can go straight into `Trainer(metrics={...})`
(use `functools.partial` to fix keyword arguments).  `outputs` may be

* class scores or logits `(*batch, C)` with C >= 2: the prediction is the argmax;
* integer labels `(*batch,)`: used as they are;
* binary scores `(*batch,)` or `(*batch, 1)` of float dtype: the prediction is
  `score > threshold` (threshold 0.5 for probabilities; pass `threshold=0.0` for logits).

`targets` are integer labels `(*batch,)` (or one-hot `(*batch, C)`, turned into labels by
argmax).  `*batch` may be several axes (e.g. `(batch, seq)` for token tagging); positions
whose target equals `ignore_index` (e.g. padding) are left out.

Precision, recall and F1 with `average="binary"` score class `pos_label`; with
`average="macro"` they are the unweighted mean over classes of the per-class scores.  A
ratio with a zero denominator (no predicted / no true positives of a class) counts as 0.

Example:
    >>> logits = np.array([[2.0, 0.1], [0.3, 1.0], [0.9, 0.2]])
    >>> accuracy(logits, np.array([0, 1, 1]))
    0.6666666666666666
"""
from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "precision", "recall", "f1_score", "confusion_matrix", "predict_labels"]


def predict_labels(outputs, threshold: float = 0.5) -> np.ndarray:
    """Turn model outputs into integer class labels (see the module docstring for the cases).

    Args:
        outputs: scores `(*batch, C)`, binary scores `(*batch,)`/`(*batch, 1)` or int labels.
        threshold: decision threshold for binary float scores.
    Returns:
        (*batch,) int64 labels.
    """
    out = np.asarray(outputs)
    if out.dtype == bool:
        return out.astype(np.int64)
    if np.issubdtype(out.dtype, np.integer):
        return out.astype(np.int64, copy=False)
    if not np.issubdtype(out.dtype, np.floating):
        raise TypeError(f"metrics: outputs must be numeric scores or integer labels, got dtype {out.dtype}")
    if out.ndim >= 2 and out.shape[-1] > 1:
        return out.argmax(axis=-1)
    if out.ndim >= 2:
        out = out[..., 0]  # (*batch, 1): one binary score per example
    return (out > threshold).astype(np.int64)


def _labels_pair(outputs, targets, threshold, ignore_index):
    """(pred, true) as flat int64 arrays of equal length, with ignored positions dropped."""
    pred = predict_labels(outputs, threshold)
    true = np.asarray(targets)
    if true.ndim == pred.ndim + 1 and true.ndim >= 2:
        # (*batch, 1) binary targets, or (*batch, C) one-hot
        true = true[..., 0] if true.shape[-1] == 1 else true.argmax(axis=-1)
    if not (np.issubdtype(true.dtype, np.integer) or true.dtype == bool):
        if np.issubdtype(true.dtype, np.floating) and np.all(true == np.round(true)):
            true = true.astype(np.int64)  # labels stored as floats (e.g. 0.0/1.0 for a BCE loss)
        else:
            raise TypeError(f"metrics: targets must be integer class labels, got dtype {true.dtype}")
    if pred.shape != true.shape:
        raise ValueError(f"metrics: predictions have shape {pred.shape} (from outputs of shape "
                         f"{np.shape(outputs)}) but targets have shape {true.shape}")
    pred, true = pred.reshape(-1), true.reshape(-1).astype(np.int64, copy=False)
    if ignore_index is not None:
        keep = true != ignore_index
        pred, true = pred[keep], true[keep]
    return pred, true


def accuracy(outputs, targets, threshold: float = 0.5, ignore_index: int | None = None) -> float:
    """Fraction of positions whose predicted label equals the target.

    Args:
        outputs: `(*batch, C)` scores, `(*batch,)` binary scores or labels (module docstring).
        targets: `(*batch,)` integer labels or `(*batch, C)` one-hot.
        threshold: decision threshold for binary float scores (0.0 for logits).
        ignore_index: target value to skip (e.g. a padding label).
    Returns:
        accuracy in [0, 1] (nan if no position is counted).

    Example:
        >>> accuracy(np.array([0.2, 0.7, 0.9]), np.array([0, 1, 0]))
        0.6666666666666666
    """
    pred, true = _labels_pair(outputs, targets, threshold, ignore_index)
    if len(true) == 0:
        return float("nan")
    return float(np.count_nonzero(pred == true) / len(true))


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts `M[i, j]` = number of examples of true class i predicted as class j.

    Computed with one `bincount` over the flattened pair index `i * C + j`.

    Args:
        y_true: `(N,)` integer labels in [0, num_classes).
        y_pred: `(N,)` integer labels in [0, num_classes).
        num_classes: C; default: 1 + the largest label seen.
    Returns:
        (C, C) int64 matrix; rows are true classes, columns predictions.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 0, 1], num_classes=2)
        array([[1, 0],
               [1, 1]])
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    for name, a in (("y_true", t), ("y_pred", p)):
        if not (np.issubdtype(a.dtype, np.integer) or a.dtype == bool) and a.size:
            raise TypeError(f"confusion_matrix: {name} must hold integer labels, got dtype {a.dtype}")
        if a.ndim != 1:
            raise ValueError(f"confusion_matrix: {name} must be 1-D (N,), got shape {a.shape}")
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: y_true has {t.shape[0]} labels but y_pred has {p.shape[0]}")
    t, p = t.astype(np.int64), p.astype(np.int64)
    seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = seen
    elif seen > num_classes:
        raise ValueError(f"confusion_matrix: label {seen - 1} found, but num_classes={num_classes}")
    if t.size and min(t.min(), p.min()) < 0:
        raise ValueError(f"confusion_matrix: labels must be >= 0, got {int(min(t.min(), p.min()))}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _per_class(outputs, targets, threshold, ignore_index, num_classes):
    """True positives, predicted counts and true counts per class, each (C,)."""
    pred, true = _labels_pair(outputs, targets, threshold, ignore_index)
    if num_classes is None:
        out = np.asarray(outputs)
        scores_c = out.shape[-1] if out.ndim >= 2 and np.issubdtype(out.dtype, np.floating) and out.shape[-1] > 1 else 0
        num_classes = max(scores_c, 2, int(max(pred.max(initial=0), true.max(initial=0))) + 1)
    cm = confusion_matrix(true, pred, num_classes)
    return np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)


def _ratio(num, den):
    return np.divide(num, den, out=np.zeros(len(num), dtype=np.float64), where=den > 0)


def _average(per_class, average, pos_label, name):
    if average == "binary":
        if not 0 <= pos_label < len(per_class):
            raise ValueError(f"{name}: pos_label={pos_label} is not a class (there are {len(per_class)})")
        return float(per_class[pos_label])
    if average == "macro":
        return float(per_class.mean())
    raise ValueError(f"{name}: average must be 'binary' or 'macro', got {average!r}")


def precision(outputs, targets, average: str = "binary", pos_label: int = 1, threshold: float = 0.5,
              num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Of the examples predicted as a class, the fraction that belong to it: TP / (TP + FP).

    Args:
        outputs, targets, threshold, ignore_index: as for `accuracy`.
        average: "binary" (class `pos_label` only) or "macro" (mean over classes).
        pos_label: the positive class for "binary".
        num_classes: number of classes for "macro" (default: from the scores' last axis, or
            the largest label seen).

    Example:
        >>> precision(np.array([1, 1, 0, 1]), np.array([1, 0, 0, 1]))
        0.6666666666666666
    """
    tp, n_pred, _ = _per_class(outputs, targets, threshold, ignore_index, num_classes)
    return _average(_ratio(tp, n_pred), average, pos_label, "precision")


def recall(outputs, targets, average: str = "binary", pos_label: int = 1, threshold: float = 0.5,
           num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Of the examples of a class, the fraction predicted as it: TP / (TP + FN).

    Arguments as for `precision`.

    Example:
        >>> recall(np.array([1, 0, 0, 1]), np.array([1, 1, 0, 1]))
        0.6666666666666666
    """
    tp, _, n_true = _per_class(outputs, targets, threshold, ignore_index, num_classes)
    return _average(_ratio(tp, n_true), average, pos_label, "recall")


def f1_score(outputs, targets, average: str = "binary", pos_label: int = 1, threshold: float = 0.5,
             num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Harmonic mean of precision and recall per class, 2 TP / (2 TP + FP + FN).

    Macro F1 averages the per-class F1 scores (not the F1 of averaged precision and recall).
    Arguments as for `precision`.

    Example:
        >>> f1_score(np.array([1, 1, 0, 1]), np.array([1, 0, 0, 1]))
        0.8
    """
    tp, n_pred, n_true = _per_class(outputs, targets, threshold, ignore_index, num_classes)
    # 2TP / (2TP + FP + FN) = 2TP / (n_pred + n_true): no separate precision/recall needed.
    return _average(_ratio(2 * tp, n_pred + n_true), average, pos_label, "f1_score")
