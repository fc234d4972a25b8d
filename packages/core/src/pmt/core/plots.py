"""Training curves: `plot_history(history, path)` writes a PNG with one panel per quantity.

The figure is drawn with `matplotlib.figure.Figure` and the Agg canvas directly, never
through `pyplot`, so it works on a headless machine and leaves a user's interactive
backend (and pyplot's global figure list) untouched.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_history", "PLOT_FORMATS"]

# What a plot file may be called: matplotlib picks the format by the suffix, adds ".png" to a name
# without one and refuses others, both only when the figure is saved, after the work.
PLOT_FORMATS = (".png", ".svg", ".pdf")

_NOT_CURVES = ("lr", "seconds")


def plot_history(history, path, title: str | None = None) -> Path:
    """Plot loss and every metric per epoch, train and validation in the same panel.

    Keys `X` and `val_X` share a panel (solid = train, dashed = validation); a `lr` panel
    (log scale) is added when the rate changed during training; `seconds` is not plotted.

    Args:
        history: `dict[str, list[float]]`, e.g. `Trainer.fit(...)`'s return value.
        path: output file (parent folders are created); the format follows the suffix
            (`.png` recommended).
        title: optional figure title.
    Returns:
        the path written, as a `Path`.

    Example:
        >>> plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, "runs/x/history.png")
        PosixPath('runs/x/history.png')
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(history, dict) or not history:
        raise ValueError(f"plot_history: history must be a non-empty dict of per-epoch lists, got {history!r}")
    lengths = {k: len(v) for k, v in history.items()}
    if len(set(lengths.values())) != 1 or 0 in lengths.values():
        raise ValueError(f"plot_history: every history entry needs the same number (>= 1) of epochs, "
                         f"got lengths {lengths}")
    names = [k for k in history if not k.startswith("val_") and k not in _NOT_CURVES]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]  # val-only keys
    lr = np.asarray(history.get("lr", []), dtype=float)
    show_lr = lr.size > 1 and np.ptp(lr) > 0
    panels = len(names) + int(show_lr)
    if panels == 0:
        raise ValueError(f"plot_history: nothing to plot in keys {sorted(history)}")

    cols = min(panels, 3)
    rows = -(-panels // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    epochs = np.arange(1, next(iter(lengths.values())) + 1)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        if name in history:
            ax.plot(epochs, history[name], "o-", ms=3, label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], "s--", ms=3, label="val")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if show_lr:
        ax = axes[len(names)]
        ax.plot(epochs, lr, "o-", ms=3, color="tab:green")
        ax.set_yscale("log" if (lr > 0).all() else "linear")
        ax.set_title("learning rate")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in axes[panels:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
