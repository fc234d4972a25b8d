"""`python -m pmt.transformer.qqp train|eval|predict|attention` (console script `pmt-qqp`).

A run folder (`--run-dir`, default runs/qqp) holds everything a later command needs:
`config.json` (model and training settings, the data file's absolute path, the split),
`vocab.txt` (the tokenizer), `best.npz` (the checkpoint with the best validation accuracy),
`last.npz` (every epoch, or every `--checkpoint-every` updates), `interrupted.npz` (Ctrl-C)
and `history.png`.  `train --init RUN` starts from a pretraining run (its tokenizer, encoder
shape and weights; see `pmt.transformer.finetune`), and config.json then records the start.
The CLI contract of `pmt.core.cli` holds: `train` refuses a folder holding a run unless
`--resume` (continue exactly where it stopped) or `--overwrite`, and writes nothing (not
even the tokenizer) before every check has passed and training starts; exit status 0, 1
(diverged), 2 (bad input: one line naming the file and line) or 130 (Ctrl-C: checkpoint written).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial

import numpy as np

from pmt.core import Adam, Trainer, cli, distributed, fetch, plot_history, seed
from pmt.core.callbacks import ModelCheckpoint
from pmt.core.checkpoint import load_checkpoint
from pmt.core.cli import dropout_rate, nonneg_int, open_fraction, positive_float, positive_int
from pmt.core.metrics import accuracy, f1_score, precision, recall
from pmt.core.run_folder import RunFolder
from pmt.core.schedules import WarmupLinear
from pmt.graph import cross_entropy, no_grad, softmax

from ..export import add_export_command, checked_session, onnx_pair_proba
from ..finetune import add_init_flags, describe_init, freeze, lr_groups, open_init
from ..pretrain.transfer import pair_classifier_config
from ..tokenizer import Tokenizer
from .batching import PairBatches
from pmt.core.data import train_valid_split

from .data import read_qqp
from .model import PairClassifier, PairClassifierConfig

PROG = "pmt-qqp"
# What a --resume may change; everything else must stay as the run was started.
RESUMABLE = {"epochs", "checkpoint_every"}


def _default_train_file():
    return fetch("qqp", files=["train.tsv"])["train.tsv"]


def _encode(tok, data, max_len):
    enc = tok.encode_batch(data.question1, data.question2, max_length=max_len, padding="max_length")
    return enc.input_ids, enc.segment_ids, enc.lengths


def _batches(tok, data, max_len, batch_size, shuffle, seed_=None, swap=None):
    """PairBatches of `data`; with `swap` ("random" or "both") the q2-first encoding too.

    Unshuffled (validation, predict), the pairs are read shortest first: every such caller scores
    all of them at once, so their order is free, and sorted batches pad least (`by_length`).
    """
    ids, segs, lengths = _encode(tok, data, max_len)
    swapped = None
    if swap is not None:
        from .data import QQPData
        flipped = QQPData(data.question2, data.question1, data.labels, data.ids)
        ids_sw, segs_sw, _ = _encode(tok, flipped, max_len)
        swapped = (ids_sw, segs_sw)
    labels = data.labels if data.labels is not None else np.zeros(len(data), np.int64)
    return PairBatches(ids, segs, lengths, labels, batch_size, shuffle, seed_, swapped=swapped, swap=swap,
                       by_length=not shuffle)


def load_run(run_dir):
    """(model in eval mode, tokenizer, config dict) from a run folder written by `train`."""
    folder = RunFolder(run_dir, "qqp", PROG)
    cfg = folder.config(required=("model", "train", "data", "split"))
    tok = Tokenizer.load(folder.path / "vocab.txt")
    model = folder.build(lambda **kw: PairClassifier(PairClassifierConfig(**kw)), cfg["model"], "model")
    if cfg["model"].get("vocab_size") != tok.vocab_size:
        raise ValueError(f"{folder.path / 'vocab.txt'}: {tok.vocab_size} tokens, but config.json's model has "
                         f"vocab_size {cfg['model'].get('vocab_size')}: the run folder is inconsistent")
    split = cfg["split"]
    if not (isinstance(split, dict) and isinstance(split.get("seed"), int)
            and isinstance(split.get("valid_fraction"), float) and isinstance(cfg["train"], dict)):
        raise ValueError(f"{folder.path / 'config.json'}: 'split' should be {{\"valid_fraction\": float, \"seed\": int}} "
                         f"and 'train' an object, got {split!r}")
    load_checkpoint(folder.best_checkpoint(), model)
    model.eval()
    return model, tok, cfg


def predict_proba(model, tok, q1, q2, max_len, batch_size=256, symmetric=True):
    """P(duplicate) for each pair: (N,) float array.

    symmetric: average the predictions for (q1, q2) and (q2, q1) (see qqp/batching.py).
    """
    from .data import QQPData
    data = QQPData(list(q1), list(q2), None, [str(i) for i in range(len(q1))])
    out = []
    batches = _batches(tok, data, max_len, batch_size, shuffle=False, swap="both" if symmetric else None)
    with no_grad():
        for batch in batches:
            if symmetric:
                out.append(np.exp(model.symmetric_log_proba(*batch[:4])[:, 1]))
            else:
                out.append(softmax(model(*batch[:2]), axis=-1).data[:, 1])
    proba = np.zeros(len(data), np.float32)
    if out:
        proba[batches.row_order] = np.concatenate(out)     # back to the rows' order
    return proba


# What a pretraining run decides for the cross-encoder it initialises (--init).
DECIDED_BY_INIT = {"vocab_size": "--vocab-size", "d_model": "--d-model", "heads": "--heads", "ff": "--ff",
                   "layers": "--layers"}


def cmd_train(a, parser):
    folder = RunFolder(a.run_dir, "qqp", PROG)
    folder.prepare(a.resume, a.overwrite)
    for key in ("data", "init"):                # recorded absolute: `eval --split` works from anywhere
        if getattr(a, key):
            setattr(a, key, folder.record_path(getattr(a, key)))
    saved, init = None, None
    if a.resume:
        saved = folder.config(required=("model", "train", "data", "split"))
        a = cli.settings_for_resume(a, saved["train"], parser, RESUMABLE, folder.path)
    else:
        init = open_init(a, DECIDED_BY_INIT)
        if init is not None and a.max_len > init.config["max_len"]:
            raise ValueError(f"--max-len {a.max_len}: the pretrained encoder of {init.path} reads at most "
                             f"{init.config['max_len']} tokens")
    seed(a.seed)
    path = a.data or _default_train_file()
    data = read_qqp(path, max_rows=a.max_rows)
    if data.labels is None:
        raise ValueError(f"{path}: no is_duplicate column: training needs labelled pairs")
    print(data.summary())
    tr_idx, va_idx = train_valid_split(len(data), a.valid_fraction, a.split_seed)
    if len(tr_idx) == 0 or len(va_idx) == 0:
        raise ValueError(f"{path}: {len(data)} pairs split {len(tr_idx)} train / {len(va_idx)} validation with "
                         f"--valid-fraction {a.valid_fraction}: both need at least one pair")
    train, valid = data.subset(tr_idx), data.subset(va_idx)
    if a.max_train:
        train = train.subset(np.arange(min(a.max_train, len(train))))
    if a.max_valid:
        valid = valid.subset(np.arange(min(a.max_valid, len(valid))))
    print(f"split (seed {a.split_seed}): {len(train):,} train / {len(valid):,} validation pairs")
    t0 = time.perf_counter()
    if saved is not None:
        tok = Tokenizer.load(folder.path / "vocab.txt")
    elif init is not None:                      # the pretrained run's vocabulary: no new one
        tok = init.tokenizer
    else:  # under MPI rank 0 trains it and sends it: one vocabulary, whatever each process's hash seed
        tok = distributed.broadcast(Tokenizer.train(train.question1 + train.question2, vocab_size=a.vocab_size)
                                    if distributed.is_main() else None)
    print(f"tokenizer: {tok.vocab_size:,} tokens ({time.perf_counter() - t0:.1f} s)")
    train_b = _batches(tok, train, a.max_len, a.batch_size, shuffle=True, seed_=a.seed,
                       swap="random" if a.swap else None)
    valid_b = _batches(tok, valid, a.max_len, 256, shuffle=False, swap="both" if a.symmetric_eval else None)
    if saved is not None:
        mcfg = folder.build(PairClassifierConfig, saved["model"], "model")
    elif init is not None:
        mcfg = pair_classifier_config(init.weights, max_len=a.max_len, dropout=a.dropout, pooling=a.pooling)
        # config.json's "train" then records the shape that was used, not the unused defaults
        a.vocab_size, a.d_model, a.heads, a.ff, a.layers = (mcfg.vocab_size, mcfg.d_model, mcfg.n_heads, mcfg.d_ff,
                                                            mcfg.n_layers)
    else:
        mcfg = PairClassifierConfig(tok.vocab_size, a.d_model, a.heads, a.ff, a.layers, a.max_len, a.dropout,
                                    a.pooling)
    model = PairClassifier(mcfg)
    settings = cli.run_settings(a)
    cfg = {"model": mcfg.to_dict(), "train": settings, "data": folder.record_path(path),
           "split": {"valid_fraction": a.valid_fraction, "seed": a.split_seed}}
    if init is not None:
        cfg["init"] = init.record(a.init_weights or "pretrained")
        if cfg["init"]["weights"] == "pretrained":
            print(f"init: {init.load_into(model).summary()}")
        print(describe_init(cfg["init"]))
    elif saved is not None and describe_init(saved.get("init")):
        print(describe_init(saved["init"]))
    total = a.epochs * len(train_b)
    body = [p for name, p in model.named_parameters() if not name.startswith("head.")]
    if a.init_freeze:
        freeze(body)
    opt = Adam(lr_groups(model.parameters(), body, a.init_lr), lr=a.lr, betas=(0.9, 0.98), eps=1e-9)
    loss = partial(cross_entropy, label_smoothing=a.label_smoothing) if a.label_smoothing else cross_entropy
    trainer = Trainer(model, opt, loss, metrics={"acc": accuracy, "f1": f1_score},
                      schedule=WarmupLinear(a.lr, min(a.warmup, total), total), clip_norm=a.clip,
                      checkpoint_dir=folder.path, checkpoint_every=a.checkpoint_every,
                      progress=False if a.no_progress else None,
                      callbacks=[ModelCheckpoint(folder.path, save_best_only=True, monitor="val_acc")])
    n_params = sum(p.data.size for p in model.parameters())
    print(f"model: {n_params:,} parameters; {len(train_b):,} steps per epoch, {a.epochs} epochs")
    # Every check has passed: only now does anything of the run reach the folder.
    folder.start(None if saved is not None else {"vocab.txt": tok.to_text(), "config.json": json.dumps(cfg, indent=1)})
    history = trainer.fit(train_b, a.epochs, eval_data=valid_b, resume=folder.path if a.resume else None)
    cli.raise_if_interrupted(trainer)
    plot = plot_history(history, folder.path / "history.png", title="QQP cross-encoder") if distributed.is_main() else None
    best = int(np.argmax(history["val_acc"]))
    print(f"best epoch {best + 1}: validation accuracy {history['val_acc'][best] * 100:.2f}%, "
          f"F1 {history['val_f1'][best] * 100:.2f}%  ({time.perf_counter() - t0:.0f} s in all)")
    print(f"run folder: {folder.path} (best.npz, last.npz, vocab.txt, config.json); history plot: {plot}")
    return history


def cmd_eval(a, parser):
    model, tok, cfg = load_run(a.run_dir)
    if describe_init(cfg.get("init")):
        print(describe_init(cfg["init"]))
    if a.split:
        # The run's own split: the same rows of the same file, carved with the saved fraction and seed.
        t = cfg["train"]
        path = a.data or RunFolder(a.run_dir, "qqp", PROG).resolve_path(cfg["data"])
        data = read_qqp(path, max_rows=t.get("max_rows"))
        tr_idx, va_idx = train_valid_split(len(data), cfg["split"]["valid_fraction"], cfg["split"]["seed"])
        if a.split == "valid":
            data = data.subset(va_idx[:t["max_valid"]] if t.get("max_valid") else va_idx)
        else:
            data = data.subset(tr_idx[:t["max_train"]] if t.get("max_train") else tr_idx)
        print(f"{a.split} split of the run (fraction {cfg['split']['valid_fraction']}, seed {cfg['split']['seed']})")
    elif a.data is None:
        raise ValueError("eval: give --data FILE, or --split valid to score the run's own validation split")
    else:
        data = read_qqp(a.data, max_rows=a.max_rows)
    print(data.summary())
    if data.labels is None:
        raise ValueError(f"{data.path}: no is_duplicate column: nothing to score (use predict)")
    if a.onnx:
        p = onnx_pair_proba(checked_session(a.onnx, "qqp", model), tok, data.question1, data.question2,
                            model.config.max_len, symmetric=not a.one_order)
    else:
        p = predict_proba(model, tok, data.question1, data.question2, model.config.max_len,
                          symmetric=not a.one_order)
    y = data.labels
    print(f"pairs {len(y):,}  accuracy {accuracy(p, y) * 100:.2f}%  F1 {f1_score(p, y) * 100:.2f}%  "
          f"precision {precision(p, y) * 100:.2f}%  recall {recall(p, y) * 100:.2f}%")
    return p


def _check_questions(a):
    for name in ("question1", "question2"):
        if not getattr(a, name).strip():
            raise ValueError(f"{name} is empty: give two questions, e.g. `{PROG} predict \"How do I learn Python?\" "
                             f"\"How can I learn Python?\"`")


def cmd_predict(a, parser):
    _check_questions(a)
    model, tok, cfg = load_run(a.run_dir)
    p = predict_proba(model, tok, [a.question1], [a.question2], model.config.max_len,
                      symmetric=not a.one_order)[0]
    print(f"P(duplicate) = {p:.4f}")
    return p


def cmd_attention(a, parser):
    from .plots import plot_pair_attention
    _check_questions(a)
    model, tok, cfg = load_run(a.run_dir)
    n = len(model.encoder.layers)
    if not -n <= a.layer < n:
        raise ValueError(f"--layer {a.layer}: the model has {n} encoder layer(s) (0..{n - 1}, or -1 for the last)")
    target = cli.check_plot_file(a.plot or RunFolder(a.run_dir, "qqp", PROG).path / "attention.png", "--plot")
    path = plot_pair_attention(model, tok, a.question1, a.question2, target, layer=a.layer)
    print(f"attention heat-map: {path}")
    return path


def build_parser():
    p = cli.ArgumentParser(prog=PROG, description="A Transformer cross-encoder for Quora Question "
                           "Pairs: train, evaluate on any GLUE-format file, predict one pair.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on a seeded split of the QQP train file",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--data", help="GLUE-format train TSV (default: the qqp dataset's train.tsv via "
                   "PMT_DATA_DIR / cache)")
    cli.add_training_flags(t, run_dir="runs/qqp", epochs=12, batch_size=64, lr=5e-4, max_valid=True,
                           lr_help="peak learning rate")
    t.add_argument("--valid-fraction", type=open_fraction, default=0.1)
    t.add_argument("--split-seed", type=nonneg_int, default=0)
    t.add_argument("--max-rows", type=positive_int, help="read only this many rows of the file")
    t.add_argument("--vocab-size", type=positive_int, default=16000)
    t.add_argument("--max-len", type=positive_int, default=96, help="tokens per pair, [CLS]/[SEP] included")
    t.add_argument("--d-model", type=positive_int, default=128)
    t.add_argument("--heads", type=positive_int, default=4)
    t.add_argument("--ff", type=positive_int, default=512)
    t.add_argument("--layers", type=positive_int, default=2)
    t.add_argument("--dropout", type=dropout_rate, default=0.15)
    t.add_argument("--pooling", choices=["cls", "mean"], default="mean")
    t.add_argument("--warmup", type=nonneg_int, default=2000, help="warm-up steps")
    t.add_argument("--clip", type=positive_float, default=1.0, help="global gradient-norm clip")
    t.add_argument("--label-smoothing", type=dropout_rate, default=0.1,
                   help="ε of label-smoothed cross-entropy, in [0, 1)")
    t.add_argument("--swap", action=argparse.BooleanOptionalAction, default=True,
                   help="show each training pair in a random question order, redrawn every epoch")
    t.add_argument("--symmetric-eval", action=argparse.BooleanOptionalAction, default=True,
                   help="validate on the mean prediction of both question orders")
    add_init_flags(t, "the cross-encoder (tokenizer, embeddings and encoder)")
    cli.deprecate(t, "--out", "--run-dir")
    t.set_defaults(func=cmd_train, parser=t)
    e = sub.add_parser("eval", help="accuracy and F1 on any GLUE-format QQP file")
    e.add_argument("--data", help="TSV with question1, question2, is_duplicate columns")
    e.add_argument("--split", choices=["valid", "train"],
                   help="score the run's own seeded split of its training file (--data overrides the path)")
    e.add_argument("--one-order", action="store_true",
                   help="score (q1, q2) only, instead of the mean over both question orders")
    cli.add_run_dir(e, "runs/qqp", old=("--model",))
    e.add_argument("--max-rows", type=positive_int)
    e.add_argument("--onnx", metavar="FILE", help="run the network through this file written by export "
                   "(onnxruntime)")
    e.set_defaults(func=cmd_eval, parser=e)
    q = sub.add_parser("predict", help="duplicate probability of one pair")
    q.add_argument("question1")
    q.add_argument("question2")
    q.add_argument("--one-order", action="store_true",
                   help="score (q1, q2) only, instead of the mean over both question orders")
    cli.add_run_dir(q, "runs/qqp", old=("--model",))
    q.set_defaults(func=cmd_predict, parser=q)
    h = sub.add_parser("attention", help="attention heat-map PNG for one pair")
    h.add_argument("question1")
    h.add_argument("question2")
    cli.add_run_dir(h, "runs/qqp", old=("--model",))
    h.add_argument("--layer", type=int, default=-1, help="encoder layer (default: the last)")
    h.add_argument("--plot", default=None, metavar="FILE", help="the plot to write: .png, .svg or .pdf "
                   "(default RUN_DIR/attention.png)")
    cli.deprecate(h, "--out", "--plot")
    h.set_defaults(func=cmd_attention, parser=h)
    add_export_command(sub, "qqp", "runs/qqp")
    return p


def run(argv=None):
    """Run one sub-command; returns its result (train: the history, eval: the probabilities, ...)."""
    a = cli.parse_args(build_parser(), argv)
    return a.func(a, a.parser)


def main(argv=None) -> int:
    """The console script `pmt-qqp`: exit status 0, 1 (diverged), 2 (bad input), 130 (Ctrl-C)."""
    return cli.main(run, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
