"""What a pretraining run leaves after every round: metrics.csv, encoder.npz and a curve.

`RoundLog` is a Trainer callback.  It rebuilds metrics.csv from the Trainer's history each time,
so after a resume the file holds exactly one row per finished round (the history is part of the
checkpoint), never duplicates from a round that was re-run.  Hours are *training* hours, the
sum of the rounds' training seconds (held-out evaluation excluded), so they add up across
resumed sessions.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
from pmt.core.files import atomic_write

from .transfer import ENCODER_FILE, export_encoder

__all__ = ["RoundLog", "METRICS_FILE", "CURVE_FILE", "metrics_rows", "read_metrics", "accuracy_at_hours",
           "plot_curve", "plot_curves"]

METRICS_FILE = "metrics.csv"
CURVE_FILE = "mlm_accuracy.png"
_COUNTS = ("round", "step", "tokens")
_COLUMNS = (*_COUNTS, "train_hours", "lr", "loss", "mlm_acc",
            "val_loss", "val_mlm_acc", "val_ppl")
# The discriminator's scores, when there is one; rtd_base: the entropy of the replaced share, the
# detection loss (rtd_loss) of a discriminator blind to context.
_ELECTRA_COLUMNS = ("rtd_acc", "rtd_f1", "rtd_loss", "rtd_base", "val_rtd_acc", "val_rtd_f1", "val_rtd_loss",
                    "val_rtd_base")


def _columns(history: dict) -> tuple:
    return _COLUMNS + (_ELECTRA_COLUMNS if "val_rtd_acc" in history else ())


def metrics_rows(history: dict, steps_per_round: int, tokens_per_step: int) -> list[dict]:
    """One dict per finished round: the columns of metrics.csv (an ELECTRA run's eight more)."""
    rows, hours, scores = [], 0.0, _columns(history)[4:]
    for r in range(len(history.get("loss", []))):
        hours += history["seconds"][r] / 3600
        step = (r + 1) * steps_per_round
        row = {"round": r + 1, "step": step, "tokens": step * tokens_per_step, "train_hours": round(hours, 4)}
        for k in scores:
            v = history.get(k, [math.nan] * (r + 1))[r]
            row[k] = f"{v:.6g}"
        rows.append(row)
    return rows


class RoundLog:
    """Trainer callback: after every round, write metrics.csv, encoder.npz and mlm_accuracy.png.

    Args:
        out: the run folder.  steps_per_round, tokens_per_step: to label rows with step and tokens.
        log: a callable for one line per round (default print).
    """

    main_only = True            # under MPI only rank 0 writes the files (every rank has the same model)

    def __init__(self, out, steps_per_round: int, tokens_per_step: int, log=print):
        self.out = Path(out)
        self.steps_per_round, self.tokens_per_step, self.log = steps_per_round, tokens_per_step, log

    def on_epoch_end(self, trainer, epoch, logs):
        rows = metrics_rows(trainer.history, self.steps_per_round, self.tokens_per_step)
        text = io.StringIO()
        w = csv.DictWriter(text, fieldnames=_columns(trainer.history), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        atomic_write(self.out / METRICS_FILE, text.getvalue())
        last = rows[-1]
        export_encoder(trainer.model, self.out / ENCODER_FILE, step=trainer.step, round=epoch,
                       val_mlm_acc=float(last["val_mlm_acc"]), val_ppl=float(last["val_ppl"]),
                       train_hours=last["train_hours"])
        plot_curve(rows, self.out / CURVE_FILE)
        rtd = (f"; replaced-token detection accuracy {float(last['val_rtd_acc']) * 100:.2f}%, F1 "
               f"{float(last['val_rtd_f1']) * 100:.2f}%, loss {float(last['val_rtd_loss']):.4f} (context-blind "
               f"{float(last['val_rtd_base']):.4f})" if "val_rtd_acc" in last else "")
        self.log(f"round {epoch}: step {trainer.step:,}, {last['train_hours']:.2f} h, held-out masked-token "
                 f"accuracy {float(last['val_mlm_acc']) * 100:.2f}%, perplexity {float(last['val_ppl']):.1f}{rtd}")


def read_metrics(run_dir) -> list[dict]:
    """The rows of a run's metrics.csv, numbers as floats (the counts `round`, `step`, `tokens` as ints).

    Raises FileNotFoundError or ValueError with one line naming the file (and the line) at fault.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (a pretraining run writes it after its first round)")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}:1: not a pretraining metrics file (no column {missing[0]!r})")
        rows = []
        for row in reader:
            try:
                rows.append({k: (int(v) if k in _COUNTS else float(v)) for k, v in row.items()})
            except (TypeError, ValueError):
                raise ValueError(f"{path}:{reader.line_num}: not a row of numbers") from None
    if not rows:
        raise ValueError(f"{path}: no rounds yet")
    return rows


def accuracy_at_hours(rows: list[dict], hours: float) -> float:
    """Held-out masked-token accuracy at `hours` of training, read off the curve between rounds.

    Linear between the two rounds around `hours` (the run is scored only once a round); NaN
    before the first round and after the last.
    """
    h = np.array([r["train_hours"] for r in rows], dtype=float)
    acc = np.array([r["val_mlm_acc"] for r in rows], dtype=float)
    return float(np.interp(hours, h, acc, left=np.nan, right=np.nan))


def plot_curve(rows: list[dict], path) -> Path:
    """Held-out masked-token accuracy against training hours (one point per round)."""
    return plot_curves({"": rows}, path)


def plot_curves(curves: dict[str, list[dict]], path) -> Path:
    """Several runs' curves on one set of axes, labelled by the keys of `curves` (e.g. run folders)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, rows in curves.items():
        hours = np.array([r["train_hours"] for r in rows], dtype=float)
        acc = np.array([r["val_mlm_acc"] for r in rows], dtype=float) * 100
        ax.plot(hours, acc, marker="o", markersize=3, label=label or None)
    if any(curves):                  # a legend only when the curves have names
        ax.legend()
    ax.set_xlabel("training hours")
    ax.set_ylabel("held-out masked-token accuracy (%)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)
