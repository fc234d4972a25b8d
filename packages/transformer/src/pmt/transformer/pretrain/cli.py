"""`python -m pmt.transformer.pretrain prepare|train|fill` (console script `pmt-pretrain`).

    pmt-pretrain prepare --out runs/corpus16k              # tokenizer + tokenised corpus only
    pmt-pretrain train --out runs/pretrain [--corpus runs/corpus16k] [--steps N ...]
    pmt-pretrain train --out runs/pretrain --resume        # continue, exactly, from last.npz
    pmt-pretrain fill "The [MASK] sat on the mat." --model runs/pretrain

A run folder holds vocab.txt (the cased WordPiece tokenizer every fine-tuned model must use),
config.json, corpus/ (unless --corpus names another folder's), last.npz (every round: resume),
interrupted.npz (Ctrl-C), encoder.npz (weights for fine-tuning, every round), metrics.csv and
mlm_accuracy.png.  Parsing lives in `build_parser`; the work in `prepare_corpus`, `train` and
`fill_masks`, which take plain values.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from itertools import chain
from pathlib import Path

import numpy as np

from pmt.core import AdamW, Trainer
from pmt.core.seeding import seed as set_seed
from pmt.core.schedules import WarmupLinear
from pmt.graph import cross_entropy, no_grad

from ..run_folder import run_cli
from ..tokenizer import CLS_ID, MASK_ID, SEP_ID, Tokenizer
from .batches import PretrainBatches, heldout_batches
from .corpus import Corpus, build_corpus, default_sources
from .log import RoundLog
from .model import MaskedLM, MaskedLMConfig, masked_accuracy, masked_perplexity
from .transfer import load_masked_lm

VOCAB_FILE, CONFIG_FILE, CORPUS_DIR = "vocab.txt", "config.json", "corpus"
_TRAINING_OUTPUTS = ("config.json", "last.npz", "interrupted.npz", "encoder.npz", "metrics.csv",
                     "mlm_accuracy.png")


def prepare_corpus(folder, vocab_size: int = 16000, heldout_fraction: float = 0.01,
                   max_lines: int | None = None, progress: bool = True, log=print) -> tuple[Tokenizer, Corpus]:
    """Train the cased tokenizer on the training lines, then tokenise everything into folder/corpus.

    Writes folder/vocab.txt and folder/corpus/ (see `corpus.py`); returns (tokenizer, corpus).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sources = default_sources(max_lines)
    log("sources: " + ", ".join(f"{s.name} {s.n_lines:,} lines" for s in sources)
        + f" ({time.perf_counter() - t0:.0f} s to index)")
    t0 = time.perf_counter()
    tok = Tokenizer.train(chain.from_iterable(s.split(heldout_fraction)[0] for s in sources),
                          vocab_size=vocab_size, lowercase=False, progress=progress)
    tok.save(folder / VOCAB_FILE)
    log(f"tokenizer: {tok.vocab_size:,} cased WordPiece tokens in {time.perf_counter() - t0:.0f} s")
    corpus = build_corpus(tok, sources, folder / CORPUS_DIR, heldout_fraction, progress)
    log(f"corpus: {corpus.info['train_tokens']:,} training and {corpus.info['heldout_tokens']:,} held-out "
        f"tokens in {corpus.info['seconds']:.0f} s -> {folder / CORPUS_DIR}")
    return tok, corpus


def _check_run_folder(out: Path, resume: bool, overwrite: bool):
    """Refuse to start over a run unless asked; with --overwrite remove its training outputs
    (a prepared vocab.txt and corpus/ stay: they do not depend on the training settings)."""
    found = [f for f in _TRAINING_OUTPUTS if (out / f).exists()]
    if resume:
        if not (out / CONFIG_FILE).is_file() or not _resume_file(out):
            raise FileNotFoundError(f"{out}: nothing to resume (needs config.json and last.npz or "
                                    f"interrupted.npz)")
    elif found and not overwrite:
        raise ValueError(f"{out} already holds a pretraining run ({', '.join(found)}); pass --resume to "
                         f"continue it or --overwrite to start again")
    else:
        for f in found:
            (out / f).unlink()


def _resume_file(out: Path) -> Path | None:
    """last.npz, written at the end of every round, from which a resumed run is bit-identical.

    Until the Trainer resumes exactly from mid-epoch, interrupted.npz (Ctrl-C inside a round)
    is used only when no round has finished yet: resuming from it re-runs its round with the
    partly trained weights.
    """
    for name in ("last.npz", "interrupted.npz"):
        if (out / name).is_file():
            return out / name
    return None


def _has_corpus(folder: Path) -> bool:
    return (folder / VOCAB_FILE).is_file() and (folder / CORPUS_DIR / "corpus.json").is_file()


def train(out, corpus=None, vocab_size: int | None = None, d_model: int = 256, heads: int = 4, ff: int = 1024,
          layers: int = 4, seq_len: int = 128, dropout: float = 0.0, batch_size: int = 32, steps: int | None = None,
          round_steps: int = 500, lr: float = 5e-4, warmup: int = 1000, weight_decay: float = 0.01,
          clip: float = 1.0, mask_prob: float = 0.15, eval_segments: int = 1024, heldout_fraction: float = 0.01,
          max_lines: int | None = None, seed: int = 0, resume: bool = False, overwrite: bool = False,
          progress: bool = True, log=print):
    """Pretrain a MaskedLM in run folder `out`; returns the Trainer's history.

    Args (the CLI's flags): `corpus` names a folder prepared before (its vocab.txt is copied
    into `out`); without it the tokenizer and corpus are built in `out` unless already there.
    `vocab_size` defaults to 16000 for a new tokenizer.  `steps` (default 20000) is rounded up to
    whole rounds of `round_steps` (one evaluation, checkpoint and encoder export per round).

    With `resume`, every setting comes from out/config.json and the run continues from the
    end of the last finished round, bit-exactly (see `batches.py` and `_resume_file`); only
    `steps` may be given anew, to extend or shorten the run (the learning-rate decay is then
    stretched to the new end, so the continuation is no longer the run that was planned).
    """
    out = Path(out)
    _check_run_folder(out, resume, overwrite)
    if resume:
        cfg = json.loads((out / CONFIG_FILE).read_text())
        if steps is not None and steps != cfg["train"]["steps"]:
            log(f"--steps {steps}: the run now ends at step {steps:,} instead of {cfg['train']['steps']:,}")
            cfg["train"]["steps"] = steps
            (out / CONFIG_FILE).write_text(json.dumps(cfg, indent=1))
        return _fit(out, cfg, _resume_file(out), progress, log)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(corpus) if corpus else out
    if corpus:
        if not _has_corpus(source):
            raise FileNotFoundError(f"{source}: not a prepared corpus folder (needs {VOCAB_FILE} and "
                                    f"{CORPUS_DIR}/corpus.json; make one with `pmt-pretrain prepare --out {source}`)")
        if source.resolve() != out.resolve():
            shutil.copyfile(source / VOCAB_FILE, out / VOCAB_FILE)
    elif not _has_corpus(out):
        prepare_corpus(out, vocab_size or 16000, heldout_fraction, max_lines, progress, log)
    tok = Tokenizer.load(out / VOCAB_FILE)
    if vocab_size is not None and vocab_size != tok.vocab_size:
        raise ValueError(f"{source / VOCAB_FILE} holds {tok.vocab_size} tokens, not --vocab-size {vocab_size}: "
                         f"prepare another corpus folder for another vocabulary")
    model = MaskedLMConfig(tok.vocab_size, d_model, heads, ff, layers, seq_len, dropout)
    settings = dict(batch_size=batch_size, steps=steps or 20000, round_steps=round_steps, lr=lr, warmup=warmup,
                    weight_decay=weight_decay, clip=clip, mask_prob=mask_prob, eval_segments=eval_segments,
                    seed=seed)
    cfg = {"model": model.to_dict(), "train": settings, "corpus": str(source.resolve())}
    (out / CONFIG_FILE).write_text(json.dumps(cfg, indent=1))
    return _fit(out, cfg, None, progress, log)


def _fit(out: Path, cfg: dict, resume_from, progress: bool, log):
    """Build data, model, optimizer and Trainer from a run's config dict and train."""
    t = cfg["train"]
    set_seed(t["seed"])
    tok = Tokenizer.load(out / VOCAB_FILE)
    corpus = Corpus.load(Path(cfg["corpus"]) / CORPUS_DIR)
    if corpus.info["vocab_size"] != tok.vocab_size:
        raise ValueError(f"{cfg['corpus']}: the corpus was tokenised with {corpus.info['vocab_size']} tokens, "
                         f"{out / VOCAB_FILE} has {tok.vocab_size}")
    mcfg = MaskedLMConfig(**cfg["model"])
    model = MaskedLM(mcfg)
    model.init_output_bias(np.bincount(corpus.train, minlength=mcfg.vocab_size))   # resume overwrites it
    rounds = math.ceil(t["steps"] / t["round_steps"])
    total = rounds * t["round_steps"]
    train_data = PretrainBatches(corpus.train, corpus.train_lines, mcfg.max_len, t["batch_size"],
                                 t["round_steps"], mcfg.vocab_size, t["seed"], t["mask_prob"])
    heldout = heldout_batches(corpus.heldout, corpus.heldout_lines, mcfg.max_len, 64, mcfg.vocab_size,
                              t["eval_segments"], t["seed"], t["mask_prob"])
    opt = AdamW(model.parameters(), lr=t["lr"], betas=(0.9, 0.98), eps=1e-6, weight_decay=t["weight_decay"])
    trainer = Trainer(model, opt, cross_entropy, metrics={"mlm_acc": masked_accuracy, "ppl": masked_perplexity},
                      clip_norm=t["clip"], schedule=WarmupLinear(t["lr"], min(t["warmup"], total), total),
                      progress=progress, checkpoint_dir=out,
                      callbacks=[RoundLog(out, t["round_steps"], t["batch_size"] * mcfg.max_len, log)],
                      log=lambda s: None)
    log(f"model: {model.num_parameters():,} parameters ({mcfg.d_model}d, {mcfg.n_layers} layers, "
        f"{mcfg.n_heads} heads, ff {mcfg.d_ff}); {len(train_data.starts):,} training windows of "
        f"{mcfg.max_len - 3} tokens, {heldout.n:,} held-out segments")
    log(f"{total:,} steps of {t['batch_size']} x {mcfg.max_len} tokens in {rounds} rounds of {t['round_steps']}"
        + (f"; resuming from {resume_from}" if resume_from else ""))
    history = trainer.fit(train_data, rounds, eval_data=heldout, resume=resume_from)
    if trainer.interrupted:
        log(f"interrupted in round {trainer.epoch + 1}: `pmt-pretrain train --out {out} --resume` continues "
            f"from the end of round {trainer.epoch}")
    return history


def fill_masks(model: MaskedLM, tok: Tokenizer, text: str, top: int = 5) -> list[list[tuple[str, float]]]:
    """The `top` most likely tokens, with probabilities, for each "[MASK]" in `text`.

    Example:
        >>> fill_masks(model, tok, "The [MASK] of France is Paris.")[0][:2]
        [('capital', 0.41), ('King', 0.08)]
    """
    parts = text.split("[MASK]")
    if len(parts) < 2:
        raise ValueError(f"no [MASK] in {text!r}")
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
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    best = np.argsort(-p, axis=1)[:, :top]
    return [[(tok.id_to_token(int(j)), float(row[j])) for j in idx] for row, idx in zip(p, best)]


# ---------------------------------------------------------------------- command line
def cmd_prepare(a):
    prepare_corpus(a.out, a.vocab_size, a.heldout_fraction, a.max_lines, not a.no_progress)


def cmd_train(a):
    kw = {k: v for k, v in vars(a).items() if k not in ("func", "command", "no_progress")}
    return train(progress=not a.no_progress, **kw)


def cmd_fill(a):
    model, _ = load_masked_lm(a.model)
    tok = Tokenizer.load(Path(a.model) / VOCAB_FILE)
    for i, options in enumerate(fill_masks(model, tok, a.text, a.top)):
        print(f"[MASK] {i + 1}: " + "  ".join(f"{t} {p:.3f}" for t, p in options))


def build_parser():
    p = argparse.ArgumentParser(prog="pmt-pretrain", description="Masked-language-model pretraining of a "
                                "Transformer encoder on gutenberg-cased + the QQP/CoNLL training text.")
    sub = p.add_subparsers(dest="command", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    q = sub.add_parser("prepare", help="train the cased WordPiece tokenizer and tokenise the corpus",
                       formatter_class=fmt)
    q.add_argument("--out", default="runs/pretrain", help="folder for vocab.txt and corpus/")
    q.add_argument("--vocab-size", type=int, default=16000)
    q.add_argument("--heldout-fraction", type=float, default=0.01, help="last share of each source's lines held out")
    q.add_argument("--max-lines", type=int, help="read only this many lines of each source (quick tests)")
    q.add_argument("--no-progress", action="store_true", help="no progress bars")
    q.set_defaults(func=cmd_prepare)

    t = sub.add_parser("train", help="pretrain (prepares the corpus first if needed)", formatter_class=fmt)
    t.add_argument("--out", default="runs/pretrain", help="run folder")
    t.add_argument("--corpus", help="reuse the vocab.txt and corpus/ of a folder made by `prepare`")
    t.add_argument("--vocab-size", type=int, help="tokens of a new tokenizer (default 16000)")
    t.add_argument("--heldout-fraction", type=float, default=0.01)
    t.add_argument("--max-lines", type=int, help="read only this many lines of each source (quick tests)")
    t.add_argument("--d-model", type=int, default=256)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--ff", type=int, default=1024)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--seq-len", type=int, default=128, help="tokens per segment, [CLS]/[SEP] included")
    t.add_argument("--dropout", type=float, default=0.0)
    t.add_argument("--batch-size", type=int, default=32, help="segments per step")
    t.add_argument("--steps", type=int, help="optimizer steps in all, rounded up to whole rounds (default "
                   "20000); with --resume, a new end for the run")
    t.add_argument("--round-steps", type=int, default=500,
                   help="steps between held-out evaluations, checkpoints and encoder exports")
    t.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (AdamW)")
    t.add_argument("--warmup", type=int, default=1000, help="linear warm-up steps, then linear decay to 0")
    t.add_argument("--weight-decay", type=float, default=0.01)
    t.add_argument("--clip", type=float, default=1.0, help="global gradient-norm clip")
    t.add_argument("--mask-prob", type=float, default=0.15)
    t.add_argument("--eval-segments", type=int, default=1024, help="held-out segments scored each round")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out with its saved settings (only --steps may change)")
    t.add_argument("--overwrite", action="store_true", help="start again over a run in --out")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train)

    f = sub.add_parser("fill", help="the most likely tokens for each [MASK] of a text")
    f.add_argument("text")
    f.add_argument("--model", default="runs/pretrain", help="run folder")
    f.add_argument("--top", type=int, default=5)
    f.set_defaults(func=cmd_fill)
    return p


def main(argv=None):
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
