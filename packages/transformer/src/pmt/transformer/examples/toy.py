"""Toy sequence-to-sequence tasks that prove the encoder-decoder Transformer learns.

    python -m pmt.transformer.examples.toy --task reverse      # also: sort, copy

Each example is a random sequence of 5-20 symbols from a 30-symbol alphabet; the target is the
sequence reversed (or sorted, or copied).  Training draws fresh sequences every step; the
held-out set is drawn from a separate generator and sequences seen in training are removed
from it.  The score is *exact match* under greedy decoding: the whole output, up to EOS, must
equal the target.  Training runs on `pmt.core.Trainer`: an "epoch" is `--eval-every` steps,
each followed by the held-out exact match.  Written to the run folder (`--run-dir`, default
runs/toy-<task>/): `config.json`, the checkpoints (`last.npz`, `interrupted.npz` on Ctrl-C),
`results.json`, the history plot, and a heat-map of the cross-attention of one held-out
example (for `reverse` it is an anti-diagonal: output position i attends to source position
n-1-i).  The CLI contract of `pmt.core.cli` holds: a folder holding a run is refused unless
`--resume` (continue exactly where it stopped) or `--overwrite`; exit status 0, 1 (diverged:
one line with the step, loss and learning rate), 2 (bad input) or 130 (Ctrl-C).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from pmt.core import cli
from pmt.core.optimizers import Adam
from pmt.core.run_folder import RunFolder
from pmt.core.seeding import seed as seed_everything
from pmt.core.trainer import Trainer
from pmt.graph import no_grad

from pmt.transformer.model import Transformer

PAD, BOS, EOS = 0, 1, 2
N_SPECIAL = 3
TASKS = ("reverse", "sort", "copy")


def make_batch(task: str, n: int, rng: np.random.Generator, min_len: int = 5, max_len: int = 20,
               n_symbols: int = 30):
    """n random examples of `task`, padded with PAD.

    Returns:
        src: (n, max_len) ids; tgt_in: (n, max_len + 1) = [BOS, y...]; tgt_out: (n, max_len + 1)
        = [y..., EOS]; symbols are ids 3 .. 3 + n_symbols - 1.

    Example:
        >>> src, tgt_in, tgt_out = make_batch("reverse", 2, np.random.default_rng(0), 3, 4)
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got {min_len}, {max_len}")
    lengths = rng.integers(min_len, max_len + 1, n)                     # (n,)
    j = np.arange(max_len)[None, :]                                    # (1, L)
    real = j < lengths[:, None]                                        # (n, L)
    src = np.where(real, rng.integers(N_SPECIAL, N_SPECIAL + n_symbols, (n, max_len)), PAD)
    if task == "reverse":
        idx = np.where(real, lengths[:, None] - 1 - j, j)               # position n-1-i inside the row
        y = np.take_along_axis(src, idx, axis=1)
    elif task == "sort":
        y = np.sort(np.where(real, src, np.iinfo(np.int64).max), axis=1)
        y = np.where(real, y, PAD)
    else:
        y = src.copy()
    tgt_out = np.full((n, max_len + 1), PAD, dtype=np.int64)
    tgt_out[:, :max_len] = y
    tgt_out[np.arange(n), lengths] = EOS
    tgt_in = np.concatenate([np.full((n, 1), BOS), tgt_out[:, :-1]], axis=1)
    tgt_in[tgt_in == EOS] = PAD                                        # EOS is never an input
    return src.astype(np.int64), tgt_in.astype(np.int64), tgt_out


def exact_match(pred, tgt_out) -> float:
    """Fraction of rows whose prediction equals the target up to and including EOS.

    pred: (n, L1) decoded ids (PAD after EOS), or (n, L, V) scores of teacher-forced decoding
    (the argmax is taken); tgt_out: (n, L2) targets (PAD after EOS).  Positions where the
    target is PAD are not compared: a decoded row has PAD there anyway once it emitted EOS
    in the right place, and teacher-forced scores there mean nothing.
    """
    pred = np.asarray(pred)
    if pred.ndim == 3:
        pred = pred.argmax(-1)
    width = max(pred.shape[1], tgt_out.shape[1])
    a = np.full((len(pred), width), PAD); a[:, :pred.shape[1]] = pred
    b = np.full((len(tgt_out), width), PAD); b[:, :tgt_out.shape[1]] = tgt_out
    return float(np.mean(np.all((a == b) | (b == PAD), axis=1)))


class ToyTransformer(Transformer):
    """The toy model: evaluation scores greedy decoding, as the task is judged, not teacher forcing."""

    def eval_step(self, batch, loss=None):
        """(teacher-forced loss, greedily decoded ids (n, L) padded with PAD)."""
        value, _ = super().eval_step(batch, loss)
        src, _, tgt_out = batch
        with no_grad():
            return value, self.greedy_decode(src, BOS, EOS, max_len=tgt_out.shape[1])


def build_model(d_model=64, n_heads=4, d_ff=256, layers=2, dropout=0.0, max_len=24, n_symbols=30):
    """The toy model: a small pre-LN encoder-decoder with shared source/target vocabulary."""
    vocab = N_SPECIAL + n_symbols
    return ToyTransformer(vocab, vocab, d_model=d_model, n_heads=n_heads, d_ff=d_ff, n_encoder_layers=layers,
                          n_decoder_layers=layers, dropout=dropout, max_len=max_len, pad_id=PAD,
                          share_embeddings=True)


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up to `peak` over `warmup` steps, then cosine decay to 0 at `steps`."""
    if step < warmup:
        return peak * step / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * 0.5 * (1.0 + np.cos(np.pi * min(1.0, progress)))


class ToyBatches:
    """`steps` fresh random batches in "epochs" of `steps_per_epoch`, each epoch from its own
    generator `default_rng((seed, epoch))`: an interrupted epoch is re-drawn exactly on resume.

    Shape: each batch is `make_batch`'s (src, tgt_in, tgt_out).
    """

    def __init__(self, task, batch_size, steps, steps_per_epoch, seed, min_len, max_len):
        self.task, self.batch_size, self.steps, self.steps_per_epoch = task, batch_size, steps, steps_per_epoch
        self.seed, self.min_len, self.max_len = seed, min_len, max_len
        self.epoch = 1

    @property
    def epochs(self) -> int:
        return math.ceil(self.steps / self.steps_per_epoch)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return min(self.steps_per_epoch, self.steps - (self.epoch - 1) * self.steps_per_epoch)

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        for _ in range(len(self)):
            yield make_batch(self.task, self.batch_size, rng, self.min_len, self.max_len)

    def sources_seen(self, limit=200_000) -> set:
        """The training sources (as bytes) of every epoch, drawn again: what the held-out set must avoid."""
        seen = set()
        for epoch in range(1, self.epochs + 1):
            self.set_epoch(epoch)
            for src, _, _ in self:
                seen.update(map(bytes, src.astype(np.uint8)))
                if len(seen) >= limit:
                    return seen
        return seen


def train_toy(task="reverse", steps=4000, batch_size=64, lr=1e-3, warmup=200, eval_every=500,
              n_eval=500, min_len=5, max_len=20, seed=0, out_dir=None, progress=True, model_kw=None,
              resume=False, checkpoint_every=None, on_start=None):
    """Train on fresh random batches, evaluate greedy exact match on a held-out set.

    Args:
        task: "reverse", "sort" or "copy".  steps: optimizer steps.  batch_size: examples/step.
        lr: peak Adam learning rate: linear warm-up over `warmup` steps, then cosine decay to
            zero at `steps` (a decaying rate is what takes exact match from ~96% to 99+%).
        eval_every: steps between held-out evaluations (one history "epoch" each).
        n_eval: held-out examples.  min_len, max_len: sequence lengths.
        seed: seeds initialisation, training data and (via seed + 1) the held-out set.
        out_dir: where to write checkpoints and plots (None: write nothing).
        progress: show progress (True, False, or None: a bar on a terminal, else lines).
        model_kw: overrides for `build_model`.
        resume: continue the run in `out_dir` from its newest checkpoint.
        checkpoint_every: also write `last.npz` every this many steps.
        on_start: called just before training starts (the CLI writes its run files there).

    Returns:
        dict with "model", "history", "exact_match" (final held-out), "seconds", "steps",
        "trainer", and the paths written.

    Raises:
        DivergenceError: the loss became NaN/inf (one line: step, loss, learning rate).
    """
    seed_everything(seed)
    model = build_model(max_len=max_len + 4, **(model_kw or {}))
    opt = Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9)
    data = ToyBatches(task, batch_size, steps, eval_every, seed, min_len, max_len)
    ev_src, ev_in, ev_out = make_batch(task, n_eval, np.random.default_rng(seed + 1), min_len, max_len)
    trainer = Trainer(model, opt, None, metrics={"exact_match": exact_match}, clip_norm=1.0,
                      schedule=lambda step: lr_at(step, steps, lr, warmup), progress=progress,
                      checkpoint_dir=out_dir, checkpoint_every=checkpoint_every)
    if on_start is not None:
        on_start()
    t0 = time.perf_counter()
    history = trainer.fit(data, data.epochs, eval_data=[(ev_src, ev_in, ev_out)],
                          resume=out_dir if resume else None)
    seconds = time.perf_counter() - t0
    result = {"model": model, "history": history, "trainer": trainer, "seconds": seconds, "steps": trainer.step}
    if trainer.interrupted:
        return result
    # Score the final model on held-out sequences never drawn in training.
    seen = data.sources_seen()
    fresh = np.array([bytes(r) not in seen for r in ev_src.astype(np.uint8)])
    result["exact_match"] = exact_match(model.greedy_decode(ev_src[fresh], BOS, EOS, max_len=max_len + 1),
                                        ev_out[fresh])
    result["n_heldout"] = int(fresh.sum())
    if out_dir is not None:
        result.update(write_outputs(model, history, task, ev_src[0], Path(out_dir)))
    return result


def cross_attention_map(model, src_row):
    """Head-averaged cross-attention (output step x source position) of the last decoder layer,
    teacher-forced on the model's own greedy output for one source row (length n)."""
    n = int((src_row != PAD).sum())
    src = src_row[None, :n]
    pred = model.greedy_decode(src, BOS, EOS)
    tgt_in = np.concatenate([[[BOS]], pred[:, :-1]], axis=1)
    attn = model.decoder.layers[-1].cross_attn
    attn.keep_weights = True
    model.eval()
    try:
        model(src, tgt_in)
    finally:
        attn.keep_weights = False
    return attn.weights[0].mean(axis=0), src[0], pred[0]                 # (T, n)


def write_outputs(model, history, task, src_row, out: Path):
    """History plot and cross-attention heat-map; returns their paths and the checkpoint's."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from pmt.core.plots import plot_history

    hist_png = plot_history(history, out / "history.png", title=f"toy {task}")
    w, src, pred = cross_attention_map(model, src_row)
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
    ax.set_xlabel("source position")
    ax.set_ylabel("output step")
    ax.set_xticks(range(len(src)), [str(int(s)) for s in src], fontsize=6)
    ax.set_yticks(range(len(pred)), [("EOS" if p == EOS else str(int(p))) for p in pred], fontsize=6)
    ax.set_title(f"cross-attention, last decoder layer ({task})")
    heat_png = out / "cross_attention.png"
    FigureCanvasAgg(fig).print_png(str(heat_png))
    return {"checkpoint": out / "last.npz", "history_png": hist_png, "attention_png": heat_png}


PROG = "pmt-toy"
# What a --resume may change; everything else must stay as the run was started.
RESUMABLE = {"checkpoint_every"}


def build_parser():
    ap = cli.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0],
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--task", choices=TASKS, default="reverse")
    ap.add_argument("--steps", type=cli.positive_int, default=4000, help="optimizer steps in all")
    ap.add_argument("--eval-every", type=cli.positive_int, default=500,
                    help="steps between held-out evaluations (one history entry each)")
    ap.add_argument("--warmup", type=cli.nonneg_int, default=200, help="warm-up steps")
    ap.add_argument("--n-eval", type=cli.positive_int, default=500, help="held-out sequences")
    ap.add_argument("--max-len", type=cli.positive_int, default=20, help="longest sequence (the shortest is 5, "
                    "or --max-len if smaller)")
    ap.add_argument("--d-model", type=cli.positive_int, default=64)
    ap.add_argument("--heads", type=cli.positive_int, default=4)
    ap.add_argument("--ff", type=cli.positive_int, default=256)
    ap.add_argument("--layers", type=cli.positive_int, default=2)
    cli.add_training_flags(ap, run_dir=None, epochs=None, batch_size=64, lr=1e-3, max_train=False,
                           lr_help="peak learning rate")
    cli.add_run_folder_flags(ap, None, help="run folder (default runs/toy-<task>)")
    cli.deprecate(ap, "--out", "--run-dir")
    return ap


def run(argv=None) -> dict:
    """Train as the command line says; returns `train_toy`'s result."""
    parser = build_parser()
    a = cli.parse_args(parser, argv)
    folder = RunFolder(a.run_dir or f"runs/toy-{a.task}", f"toy {a.task}", PROG)
    folder.prepare(a.resume, a.overwrite)
    if a.resume:
        a = cli.settings_for_resume(a, folder.config(required=("train",))["train"], parser, RESUMABLE, folder.path)
    settings = cli.run_settings(a)
    r = train_toy(a.task, steps=a.steps, batch_size=a.batch_size, lr=a.lr, warmup=a.warmup, eval_every=a.eval_every,
                  n_eval=a.n_eval, min_len=min(5, a.max_len), max_len=a.max_len, seed=a.seed, out_dir=folder.path,
                  progress=False if a.no_progress else None, resume=a.resume, checkpoint_every=a.checkpoint_every,
                  model_kw=dict(d_model=a.d_model, n_heads=a.heads, d_ff=a.ff, layers=a.layers),
                  on_start=lambda: folder.start(None if a.resume else {"config.json": json.dumps({"train": settings})}))
    cli.raise_if_interrupted(r["trainer"])
    folder.write("results.json", json.dumps({"exact_match": r["exact_match"], "n_heldout": r["n_heldout"],
                                             "steps": r["steps"], "seconds": r["seconds"]}, indent=1))
    print(f"{a.task}: held-out exact match {r['exact_match']:.4f} on {r['n_heldout']} sequences after "
          f"{r['steps']} steps ({r['seconds']:.0f} s)")
    for k in ("checkpoint", "history_png", "attention_png"):
        print(f"  {k}: {r[k]}")
    return r


def main(argv=None) -> int:
    """The console script `pmt-toy`: exit status 0, 1 (diverged), 2 (bad input), 130 (Ctrl-C)."""
    return cli.main(run, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
