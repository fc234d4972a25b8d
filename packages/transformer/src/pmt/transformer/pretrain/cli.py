"""`python -m pmt.transformer.pretrain prepare|train|fill|export|compare` (console script `pmt-pretrain`).

    pmt-pretrain prepare --corpus runs/pretrain-corpus      # tokenizer + tokenised corpus, once
    pmt-pretrain train --run-dir runs/pretrain [--steps N ...]   # prepares the corpus first if missing
    pmt-pretrain train --run-dir runs/pretrain --resume     # continue exactly where it stopped
    pmt-pretrain fill "The [MASK] sat on the mat." --run-dir runs/pretrain
    pmt-pretrain export --run-dir runs/pretrain --out models/NAME   # the folder a repository ships
    pmt-pretrain compare runs/pretrain runs/other --out curves.png  # accuracy at equal hours, one plot

A corpus folder (`--corpus`, shared by every run that pretrains on it) holds vocab.txt and the
tokenised text (`corpus.py`).  A run folder (`--run-dir`) holds config.json (model, training
settings, the corpus path), vocab.txt (the cased WordPiece tokenizer every fine-tuned model must
use), last.npz (every round, and every `--checkpoint-every` steps), interrupted.npz (Ctrl-C),
encoder.npz (the weights for fine-tuning, every round), metrics.csv and mlm_accuracy.png.
`export` writes what fine-tuning needs and nothing else into a folder of its own (`export.py`):
vocab.txt, encoder.safetensors (the weights, float32, with config, step and held-out scores as
metadata), a model card README.md (shape, training, corpus, the `train` command the run records,
sha256 of each file) and the curve; `pmt-qqp/pmt-ner train --init DIR` and `fill --run-dir DIR`
read it as they read the run folder.
The CLI contract of `pmt.core.cli` holds: `train` refuses a folder holding a run unless `--resume`
or `--overwrite`, writes nothing into it before every check has passed; `export` refuses a
non-empty --out unless `--overwrite` (of an exported folder) and never leaves a half-written one;
exit status 0, 1 (diverged), 2 (bad input, one line) or 130 (Ctrl-C, checkpoint written).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from itertools import chain
from pathlib import Path

import numpy as np

from pmt.core import AdamW, Trainer, cli, distributed
from pmt.core.cli import dropout_rate, nonneg_float, nonneg_int, open_fraction, positive_float, positive_int
from pmt.core.numerics import softmax
from pmt.core.run_folder import RunFolder
from pmt.core.schedules import WarmupLinear
from pmt.core.seeding import seed as set_seed
from pmt.graph import cross_entropy, no_grad

from ..tokenizer import CLS_ID, MASK_ID, SEP_ID, Tokenizer
from .batches import PretrainBatches, heldout_batches
from .corpus import Corpus, build_corpus, default_sources
from .log import RoundLog, accuracy_at_hours, plot_curves, read_metrics
from .electra import build_pretraining_model, rtd_accuracy, rtd_baseline, rtd_f1, rtd_loss
from .model import OBJECTIVES, MaskedLM, MaskedLMConfig, masked_accuracy, masked_perplexity
from .transfer import VOCAB_FILE, open_pretrained

PROG = "pmt-pretrain"
# What a --resume may change; everything else must stay as the run was started.
RESUMABLE = {"steps", "checkpoint_every"}


def prepare_corpus(folder, vocab_size: int = 16000, heldout_fraction: float = 0.01,
                   max_lines: int | None = None, progress: bool = True, log=print) -> tuple[Tokenizer, Corpus]:
    """Train the cased tokenizer on the training lines, then tokenise every source into `folder`.

    Writes folder/vocab.txt and the corpus files (see `corpus.py`); returns (tokenizer, corpus).
    """
    folder = Path(folder)
    t0 = time.perf_counter()
    sources = default_sources(max_lines)
    log("sources: " + ", ".join(f"{s.name} {s.n_lines:,} lines" for s in sources)
        + f" ({time.perf_counter() - t0:.0f} s to index)")
    t0 = time.perf_counter()
    tok = Tokenizer.train(chain.from_iterable(s.split(heldout_fraction)[0] for s in sources),
                          vocab_size=vocab_size, lowercase=False, progress=progress)
    folder.mkdir(parents=True, exist_ok=True)
    # corpus.json marks a complete corpus: gone before the new vocabulary lands, so a crash in
    # between never pairs the old token ids with the new tokenizer (build_corpus writes it last).
    (folder / "corpus.json").unlink(missing_ok=True)
    tok.save(folder / VOCAB_FILE)
    log(f"tokenizer: {tok.vocab_size:,} cased WordPiece tokens in {time.perf_counter() - t0:.0f} s")
    corpus = build_corpus(tok, sources, folder, heldout_fraction, progress)
    log(f"corpus: {corpus.info['train_tokens']:,} training and {corpus.info['heldout_tokens']:,} held-out "
        f"tokens in {corpus.info['seconds']:.0f} s -> {folder}")
    return tok, corpus


def load_corpus(folder) -> tuple[Tokenizer, Corpus]:
    """(tokenizer, corpus) of a folder written by `prepare_corpus`, checked against each other."""
    folder = Path(folder)
    corpus = Corpus.load(folder)
    tok = Tokenizer.load(folder / VOCAB_FILE)
    if corpus.info.get("vocab_size") != tok.vocab_size:
        raise ValueError(f"{folder}: the corpus was tokenised with {corpus.info.get('vocab_size')} tokens, "
                         f"{folder / VOCAB_FILE} has {tok.vocab_size}: prepare it again")
    return tok, corpus


def _corpus_ready(a) -> tuple[Tokenizer, Corpus]:
    """The corpus of `--corpus`, prepared first (by rank 0 under MPI) if the folder has none."""
    folder = Path(a.corpus)
    if not (folder / "corpus.json").is_file():
        if distributed.is_main():
            prepare_corpus(folder, a.vocab_size, a.heldout_fraction, a.max_lines, not a.no_progress)
        distributed.barrier()                         # the other ranks wait for it
    tok, corpus = load_corpus(folder)
    if "vocab_size" in getattr(a, "_given", ()) and tok.vocab_size != a.vocab_size:
        raise ValueError(f"--corpus {folder} holds a {tok.vocab_size:,}-token vocabulary, not --vocab-size "
                         f"{a.vocab_size}: prepare another corpus folder for another vocabulary")
    return tok, corpus


def cmd_prepare(a, parser):
    folder = Path(a.corpus)
    if (folder / "corpus.json").exists() and not a.overwrite:
        raise FileExistsError(f"{folder} already holds a corpus; pass --overwrite to build it again")
    return prepare_corpus(folder, a.vocab_size, a.heldout_fraction, a.max_lines, not a.no_progress)


def cmd_train(a, parser):
    """Pretrain a MaskedLM in --run-dir; returns the Trainer's history."""
    folder = RunFolder(a.run_dir, "pretrain", PROG)
    folder.prepare(a.resume, a.overwrite)
    a.corpus = folder.record_path(a.corpus)     # recorded absolute: `--resume` works from anywhere
    saved = None
    if a.resume:
        saved = folder.config(required=("model", "train", "corpus"))
        a = cli.settings_for_resume(a, saved["train"], parser, RESUMABLE, folder.path)
        a.corpus = saved["corpus"]
    set_seed(a.seed)
    tok, corpus = _corpus_ready(a)
    if saved is not None:
        mcfg = folder.build(MaskedLMConfig, saved["model"], "model")
    else:
        mcfg = MaskedLMConfig(tok.vocab_size, a.d_model, a.heads, a.ff, a.layers, a.seq_len, a.dropout,
                              objective=a.objective, gen_layers=a.gen_layers, rtd_weight=a.rtd_weight)
    model = build_pretraining_model(mcfg)
    electra = mcfg.objective == "electra"
    model.init_output_bias(np.bincount(corpus.train, minlength=mcfg.vocab_size))   # a resume overwrites it
    rounds = math.ceil(a.steps / a.round_steps)
    total = rounds * a.round_steps
    train_data = PretrainBatches(corpus.train, corpus.train_lines, mcfg.max_len, a.batch_size, a.round_steps,
                                 mcfg.vocab_size, a.seed, a.mask_prob, noise=electra)
    heldout = heldout_batches(corpus.heldout, corpus.heldout_lines, mcfg.max_len, 64, mcfg.vocab_size,
                              a.eval_segments, a.seed, a.mask_prob, noise=electra)
    metrics = {"mlm_acc": masked_accuracy, "ppl": masked_perplexity}
    if electra:                                    # the discriminator's scores beside the generator's
        metrics.update(rtd_acc=rtd_accuracy, rtd_f1=rtd_f1, rtd_loss=rtd_loss, rtd_base=rtd_baseline)
    opt = AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=a.weight_decay)
    trainer = Trainer(model, opt, cross_entropy, metrics=metrics,
                      clip_norm=a.clip, schedule=WarmupLinear(a.lr, min(a.warmup, total), total),
                      progress=False if a.no_progress else None, checkpoint_dir=folder.path,
                      checkpoint_every=a.checkpoint_every, log=lambda s: None,
                      callbacks=[RoundLog(folder.path, a.round_steps, a.batch_size * mcfg.max_len)])
    gen = f", ELECTRA with a {mcfg.gen_layers}-layer generator" if electra else ""
    print(f"model: {model.num_parameters():,} parameters ({mcfg.d_model}d, {mcfg.n_layers} layers, "
          f"{mcfg.n_heads} heads, ff {mcfg.d_ff}{gen}); {len(train_data.starts):,} training windows of "
          f"{mcfg.max_len - 3} tokens, {heldout.n:,} held-out segments")
    print(f"{total:,} steps of {a.batch_size} x {mcfg.max_len} tokens in {rounds} rounds of {a.round_steps}"
          + (" (resumed)" if saved is not None else ""))
    cfg = {"model": mcfg.to_dict(), "train": cli.run_settings(a), "corpus": folder.record_path(a.corpus)}
    # Every check has passed: only now does anything of the run reach the folder.
    folder.start({VOCAB_FILE: tok.to_text(), "config.json": json.dumps(cfg, indent=1)}
                 if saved is None else {"config.json": json.dumps(cfg, indent=1)})
    history = trainer.fit(train_data, rounds, eval_data=heldout, resume=folder.path if a.resume else None)
    cli.raise_if_interrupted(trainer)
    return history


def fill_masks(model: MaskedLM, tok: Tokenizer, text: str, top: int = 5) -> list[list[tuple[str, float]]]:
    """The `top` most likely tokens, with probabilities, for each "[MASK]" in `text`.

    Example:
        >>> from pmt.transformer import Tokenizer
        >>> from pmt.transformer.pretrain import MaskedLM, MaskedLMConfig
        >>> tok = Tokenizer.train(["The capital of France is Paris."] * 5, vocab_size=60, lowercase=False)
        >>> model = MaskedLM(MaskedLMConfig(tok.vocab_size, d_model=16, n_heads=2, d_ff=32, n_layers=1))
        >>> guesses = fill_masks(model, tok, "The [MASK] of France is Paris.")  # untrained: guesses are noise
        >>> len(guesses), len(guesses[0]), sum(p for _, p in guesses[0]) <= 1.0   # one [MASK], 5 (token, p)
        (1, 5, True)
    """
    parts = text.split("[MASK]")
    if len(parts) < 2:
        raise ValueError(f"no [MASK] in {text!r}: write [MASK] where a token should be guessed")
    ids = [CLS_ID]
    for i, part in enumerate(parts):
        if i:
            ids.append(MASK_ID)
        if part.strip():
            ids += tok.encode(part, add_special_tokens=False).ids
    ids.append(SEP_ID)
    if len(ids) > model.config.max_len:
        raise ValueError(f"{text!r} is {len(ids)} tokens long; the model reads at most {model.config.max_len}")
    ids = np.array([ids])
    model.eval()
    with no_grad():
        logits = model(ids, np.zeros_like(ids), ids == MASK_ID).data          # (masks, V)
    p = softmax(logits, axis=1)                                                # (masks, V)
    best = np.argsort(-p, axis=1)[:, :top]
    return [[(tok.id_to_token(int(j)), float(row[j])) for j in idx] for row, idx in zip(p, best)]


def cmd_fill(a, parser):
    run = open_pretrained(a.run_dir, flag="--run-dir")        # a run folder or an exported one
    model, _ = run.load_masked_lm()
    options = fill_masks(model, run.tokenizer, a.text, a.top)
    for i, row in enumerate(options):
        print(f"[MASK] {i + 1}: " + "  ".join(f"{t} {p:.3f}" for t, p in row))
    return options


def cmd_compare(a, parser):
    """Print each run's last round and its accuracy at the hours the shortest run reached; plot them."""
    if a.out:
        cli.check_plot_file(a.out, "--out")
    curves = {str(d): read_metrics(d) for d in a.run_dirs}
    common = min(rows[-1]["train_hours"] for rows in curves.values())
    width = max(len(name) for name in curves)
    print(f"{'run':<{width}}  {'steps':>7}  {'hours':>6}  {'held-out acc.':>13}  {'perplexity':>10}  "
          f"{f'acc. at {common:.2f} h':>15}")
    for name, rows in curves.items():
        last = rows[-1]
        print(f"{name:<{width}}  {last['step']:>7,}  {last['train_hours']:>6.2f}  {last['val_mlm_acc'] * 100:>12.2f}%  "
              f"{last['val_ppl']:>10.1f}  {accuracy_at_hours(rows, common) * 100:>14.2f}%")
    if a.out:
        print(f"curves: {plot_curves(curves, a.out)}")
    return curves


def cmd_export(a, parser):
    from .export import export_pretrained
    return export_pretrained(a.run_dir, a.out, a.overwrite)


def train_command(settings: dict, run_dir) -> list[str]:
    """The `pmt-pretrain train` command (argv, program first) that starts a run with `settings`.

    Args:
        settings: config.json's "train" (`cli.run_settings` of the run); every one is spelled
            out, defaults included (`pmt.core.cli.settings_argv`).
        run_dir: the --run-dir to name.
    """
    train = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    return [PROG, "train", "--run-dir", str(run_dir), *cli.settings_argv(train, settings)]


def _corpus_flags(p):
    p.add_argument("--corpus", default="runs/pretrain-corpus", metavar="DIR",
                   help="corpus folder (vocab.txt + tokenised text), shared by runs")
    p.add_argument("--vocab-size", type=positive_int, default=16000, help="tokens of the cased WordPiece vocabulary")
    p.add_argument("--heldout-fraction", type=open_fraction, default=0.01,
                   help="last share of each source's lines held out")
    p.add_argument("--max-lines", type=positive_int, help="read only this many lines of each source (quick tests)")


def build_parser():
    p = cli.ArgumentParser(prog=PROG, description="Masked-language-model pretraining of a Transformer "
                           "encoder on gutenberg-cased + the QQP/CoNLL training text.")
    sub = p.add_subparsers(dest="command", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    q = sub.add_parser("prepare", help="train the cased WordPiece tokenizer and tokenise the corpus",
                       formatter_class=fmt)
    _corpus_flags(q)
    q.add_argument("--overwrite", action="store_true", help="build the corpus folder again")
    cli.add_progress_flag(q)
    q.set_defaults(func=cmd_prepare, parser=q)

    t = sub.add_parser("train", help="pretrain (prepares the corpus first if --corpus has none)", formatter_class=fmt)
    cli.add_training_flags(t, run_dir="runs/pretrain", epochs=None, batch_size=32, lr=5e-4, max_train=False,
                           lr_help="peak learning rate (AdamW)")
    _corpus_flags(t)
    t.add_argument("--d-model", type=positive_int, default=256)
    t.add_argument("--heads", type=positive_int, default=4)
    t.add_argument("--ff", type=positive_int, default=1024)
    t.add_argument("--layers", type=positive_int, default=4)
    t.add_argument("--seq-len", type=positive_int, default=128, help="tokens per segment, [CLS]/[SEP] included")
    t.add_argument("--dropout", type=dropout_rate, default=0.0)
    t.add_argument("--objective", choices=OBJECTIVES, default="mlm",
                   help="masked-LM (BERT) or replaced-token detection (ELECTRA: a small generator fills the "
                        "masks, the encoder learns which tokens were replaced)")
    t.add_argument("--gen-layers", type=positive_int, default=1,
                   help="electra: encoder layers of the generator (the discriminator's width)")
    t.add_argument("--rtd-weight", type=positive_float, default=50.0,
                   help="electra: weight of the detection loss beside the generator's")
    t.add_argument("--steps", type=positive_int, default=20000,
                   help="optimizer steps in all, rounded up to whole rounds (a --resume may change it)")
    t.add_argument("--round-steps", type=positive_int, default=500,
                   help="steps between held-out evaluations, last.npz, encoder.npz and metrics.csv")
    t.add_argument("--warmup", type=nonneg_int, default=1000, help="linear warm-up steps, then linear decay to 0")
    t.add_argument("--weight-decay", type=nonneg_float, default=0.01, help="AdamW's decoupled weight decay")
    t.add_argument("--clip", type=positive_float, default=1.0, help="global gradient-norm clip")
    t.add_argument("--mask-prob", type=open_fraction, default=0.15)
    t.add_argument("--eval-segments", type=positive_int, default=1024, help="held-out segments scored each round")
    t.set_defaults(func=cmd_train, parser=t)

    f = sub.add_parser("fill", help="the most likely tokens for each [MASK] of a text")
    f.add_argument("text")
    cli.add_run_dir(f, "runs/pretrain", help="pretraining run folder, or a folder written by `export`")
    f.add_argument("--top", type=positive_int, default=5)
    f.set_defaults(func=cmd_fill, parser=f)

    c = sub.add_parser("compare", help="runs side by side: last round, accuracy at equal hours, one plot")
    c.add_argument("run_dirs", nargs="+", metavar="RUN", help="pretraining run folders (each with metrics.csv)")
    c.add_argument("--out", metavar="FILE", help="write the runs' curves into one plot (.png, .svg or .pdf)")
    c.set_defaults(func=cmd_compare, parser=c)

    x = sub.add_parser("export", help="write the run's weights, tokenizer and model card into a folder of their "
                       "own (what a repository ships; fine-tuning reads it with --init DIR)")
    cli.add_run_dir(x, "runs/pretrain", help="pretraining run folder (with encoder.npz)")
    x.add_argument("--out", required=True, metavar="DIR",
                   help="folder to write: vocab.txt, encoder.safetensors, README.md, mlm_accuracy.png")
    x.add_argument("--overwrite", action="store_true", help="replace the exported model already in --out")
    x.set_defaults(func=cmd_export, parser=x)
    return p


def run(argv=None):
    """Run one sub-command; returns its result (train: the history, fill: the options, ...)."""
    a = cli.parse_args(build_parser(), argv)
    return a.func(a, a.parser)


def main(argv=None) -> int:
    """The console script `pmt-pretrain`: exit status 0, 1 (diverged), 2 (bad input), 130 (Ctrl-C)."""
    return cli.main(run, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
