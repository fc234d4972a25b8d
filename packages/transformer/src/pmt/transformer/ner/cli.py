"""`python -m pmt.transformer.ner train|eval|tag` (console script `pmt-ner`).

A run folder (`--run-dir`, default runs/ner) holds `config.json` (tagger settings, the word,
character and tag vocabularies, the training settings with absolute data paths), `best.npz`
(best validation F1), `last.npz` (every epoch, or every `--checkpoint-every` updates),
`interrupted.npz` (Ctrl-C) and `history.png`; a tagger fine-tuned from a pretraining run (`train
--init RUN`, see `pmt.transformer.finetune`) also keeps the run's `vocab.txt` and records its
start in config.json ("init").  The CLI contract of `pmt.core.cli` holds:
`train` refuses a folder holding a run unless `--resume` (continue exactly where it stopped)
or `--overwrite`, and writes nothing before training starts; exit status 0, 1 (diverged),
2 (bad input: one line naming the file and line) or 130 (Ctrl-C: checkpoint written).
Input files may be IOB1, IOB2 or BIOES, with LF or CRLF line ends and a UTF-8 byte order mark.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from pmt.core import Adam, Trainer, cli, distributed, plot_history, seed
from pmt.core.callbacks import ModelCheckpoint
from pmt.core.checkpoint import load_checkpoint
from pmt.core.cli import dropout_rate, nonneg_int, positive_float, positive_int
from pmt.core.errors import nonfinite_report
from pmt.core.datasets import checkout_root
from pmt.core.run_folder import RunFolder
from pmt.core.schedules import WarmupCosine
from pmt.graph import no_grad

from ..conll import TagVocab, convert_tags, load_conll2003, read_conll
from ..conlleval import evaluate, extract_entities, print_report
from ..export import add_export_command, checked_session, onnx_tag
from ..finetune import add_init_flags, describe_init, freeze, lr_groups, open_init
from ..tokenizer import Tokenizer
from .features import SentenceBatches, Vocab, encode_sentences, normalise_word
from .model import PRETRAINED_VIEWS, NERTagger, TaggerConfig

PROG = "pmt-ner"
MAX_TOKENS = 512          # the tagger's positional encoding covers this many words
# What a --resume may change; everything else must stay as the run was started.
RESUMABLE = {"epochs", "checkpoint_every"}
# The word vectors `train` starts from unless told otherwise (issue 16, rung 1: +1.1 F1 on eng.testa
# over random ones): pmt-word2vec skip-gram, 100-d, 5 epochs on gutenberg8, kept for the 6,332 words of
# the default vocabulary that have one (tools/ner_vectors.py; the NER README has the commands).
# Shipped weights live in the repository's models/, so a checkout (or an editable install) has them.
SHIPPED_VECTORS = "models/gutenberg8-sg100-ner.txt.gz"


def shipped_vectors() -> Path | None:
    """The shipped vectors file of the checkout this module runs from (None outside a checkout)."""
    root = checkout_root()
    return root / SHIPPED_VECTORS if root is not None and (root / SHIPPED_VECTORS).is_file() else None


def entity_f1_metric(tag_vocab: TagVocab):
    """A Trainer metric: conlleval entity F1 (as a fraction) of decoded ids against gold ids."""
    def entity_f1(pred, gold):
        mask = gold != -100
        to_tags = np.array(tag_vocab.id_to_tag, dtype=object)
        g = [list(to_tags[row[m]]) for row, m in zip(gold, mask)]
        p = [list(to_tags[np.clip(row[m], 0, None)]) for row, m in zip(pred, mask)]
        return evaluate(g, p).f1 / 100
    return entity_f1


def _load_vectors(path, vocab: Vocab, table: np.ndarray) -> int:
    """Copy vectors of a word2vec text file (gzipped if it ends in .gz) into rows of `table` for
    words in `vocab`; returns hits.

    Errors name the file and line: a bad header, another dimension than the tagger's, a row
    that is not `word` plus `dim` numbers, NaN/inf values.
    """
    path = Path(path)
    hits = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        head = f.readline().split()
        if len(head) != 2 or not all(h.isdigit() for h in head):
            raise ValueError(f"{path}:1: first line must be '<count> <dim>' (word2vec text format), got "
                             f"{' '.join(head)[:60]!r}")
        dim = int(head[1])
        if dim != table.shape[1]:
            raise ValueError(f"{path}: vectors have dimension {dim}, the tagger's --word-dim is {table.shape[1]}")
        for line_no, line in enumerate(f, start=2):
            word, *vals = line.rstrip().split(" ")
            if len(vals) != dim:
                if line.strip():
                    raise ValueError(f"{path}:{line_no}: {len(vals)} numbers, expected {dim}")
                continue
            i = vocab.stoi.get(normalise_word(word))
            if i is not None and i > 1:
                try:
                    row = np.asarray(vals, dtype=np.float32)
                except ValueError:
                    raise ValueError(f"{path}:{line_no}: not a vector of numbers: {line.strip()[:60]!r}") from None
                if nonfinite_report({"row": row}):
                    raise ValueError(f"{path}:{line_no}: the vector of {word!r} holds NaN/inf")
                table[i] = row
                hits += 1
    return hits


def _default_vectors(a) -> None:
    """Resolve --vectors: the shipped ones unless --no-vectors, a file of the user's, or a resume
    (the run's own embeddings win); they fit only the default --word-dim, and say so otherwise."""
    if a.no_vectors or a.resume:
        a.vectors = None
    elif a.vectors is None:
        shipped = shipped_vectors()
        if a.word_dim != 100:
            print(f"word vectors: none (the shipped ones are 100-d, --word-dim is {a.word_dim})")
        elif shipped is None:
            print(f"word vectors: none ({SHIPPED_VECTORS} of the repository is not beside this installation; "
                  f"--vectors FILE gives some)")
        else:
            a.vectors = str(shipped)


def _strings(cfg, key, where) -> list:
    v = cfg.get(key)
    if not isinstance(v, list) or len(v) < 2 or not all(isinstance(x, str) for x in v):
        raise ValueError(f"{where}: {key!r} should be a list of strings (a vocabulary)")
    return v


def load_run(run_dir):
    """(tagger in eval mode, word vocab, char vocab, tag vocab) from a folder written by `train`."""
    folder = RunFolder(run_dir, "ner", PROG)
    cfg = folder.config(required=("model", "words", "chars"))
    where = folder.path / "config.json"
    model = folder.build(lambda **kw: NERTagger(TaggerConfig(**kw)), cfg["model"], "model")
    load_checkpoint(folder.best_checkpoint(), model)
    model.eval()
    words, chars = _strings(cfg, "words", where), _strings(cfg, "chars", where)
    return model, Vocab(words[2:]), Vocab(chars[2:]), TagVocab(cfg["model"]["tags"])


def load_tokenizer(run_dir, model):
    """The pretraining run's tokenizer kept in the run folder (vocab.txt), or None for a tagger
    without a pretrained encoder."""
    if model.config.pretrained is None:
        return None
    path = RunFolder(run_dir, "ner", PROG).path / "vocab.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; the tagger reads sub-words of the pretraining run's tokenizer, "
                                f"which `train --init` copies there")
    tok = Tokenizer.load(path)
    if tok.vocab_size != model.config.pretrained["vocab_size"]:
        raise ValueError(f"{path}: {tok.vocab_size} tokens, but config.json's pretrained encoder has vocab_size "
                         f"{model.config.pretrained['vocab_size']}: the run folder is inconsistent")
    return tok


def _encode(sentences, words, chars, tokenizer, model_config, tags=None):
    """`encode_sentences` with the sub-words of the pretrained encoder when the tagger has one."""
    pre = model_config.pretrained
    return encode_sentences(sentences, words, chars, tags, tokenizer=tokenizer if pre else None,
                            max_len=pre["max_len"] if pre else 128)


def _check_lengths(sentences, path):
    """The tagger reads at most MAX_TOKENS words at once: a longer sentence is named, not cut."""
    for s in sentences:
        if len(s) > MAX_TOKENS:
            raise ValueError(f"{path}:{s.line}: a sentence of {len(s):,} tokens; the tagger reads at most "
                             f"{MAX_TOKENS} (are blank lines between sentences missing?)")


def predict(model, words_vocab, chars_vocab, sentences, batch_size=64, tokenizer=None):
    """Predicted tag lists (IOB2) for a list of token lists (`tokenizer`: a pretrained tagger's,
    from `load_tokenizer`)."""
    data = _encode(sentences, words_vocab, chars_vocab, tokenizer, model.config)
    tags = model.config.tags
    out = []
    with no_grad():
        for *inputs, _ in SentenceBatches(data, batch_size, shuffle=False):
            ids = model.decode(model(*inputs).data, inputs[0] != 0)
            out += [[tags[i] for i in row[row != -100]] for row in ids]
    return out


def _read(path, split):
    """Sentences of a CoNLL file (or the conll2003 split) and the file's name for messages."""
    if path:
        return read_conll(path), path
    return load_conll2003(split), f"conll2003 {split}"


def cmd_train(a, parser):
    folder = RunFolder(a.run_dir, "ner", PROG)
    folder.prepare(a.resume, a.overwrite)
    _default_vectors(a)
    for key in ("train", "valid", "vectors", "init"):    # recorded absolute: the run works from anywhere
        if getattr(a, key):
            setattr(a, key, folder.record_path(getattr(a, key)))
    saved, init, tok = None, None, None
    if a.resume:
        saved = folder.config(required=("model", "words", "chars", "train"))
        a = cli.settings_for_resume(a, saved["train"], parser, RESUMABLE, folder.path)
        if isinstance(saved["model"], dict) and saved["model"].get("pretrained"):
            tok = Tokenizer.load(folder.path / "vocab.txt")
    else:
        init = open_init(a, {})
        tok = init.tokenizer if init is not None else None
        if a.layers == 0 and init is None:
            raise ValueError("--layers 0 (no encoder of the tagger's own) needs --init RUN: without a pretrained "
                             "encoder no word would see its context")
    if a.vectors and not Path(a.vectors).is_file():
        raise FileNotFoundError(f"--vectors {a.vectors}: no such file")
    seed(a.seed)
    train, train_name = _read(a.train, "train")
    valid, valid_name = _read(a.valid, "validation")
    train, valid = train[: a.max_train], valid[: a.max_valid]
    _check_lengths(train, train_name)
    _check_lengths(valid, valid_name)
    print(f"{len(train):,} training sentences, {len(valid):,} validation sentences")
    train_tags = [convert_tags(s.ner, "iob2") for s in train]
    if saved is not None:       # the run's own vocabularies, whatever the files hold now
        where = folder.path / "config.json"
        tag_vocab = TagVocab(saved["model"]["tags"])
        words, chars = Vocab(_strings(saved, "words", where)[2:]), Vocab(_strings(saved, "chars", where)[2:])
    else:
        tag_vocab = TagVocab.build(train_tags, scheme="iob2")
        words = Vocab.build((normalise_word(w) for s in train for w in s.tokens), min_count=a.min_count)
        chars = Vocab.build(c for s in train for w in s.tokens for c in w)
    unknown = sorted({t for s in valid for t in convert_tags(s.ner, "iob2")} - set(tag_vocab.id_to_tag))
    if unknown:
        raise ValueError(f"{valid_name}: tags {unknown} never occur in the training data {train_name}")
    if saved is not None:
        cfg = folder.build(TaggerConfig, saved["model"], "model")
    else:
        cfg = TaggerConfig(len(words), len(chars), tag_vocab.id_to_tag, a.word_dim, 8, 30, a.char_filters, 3,
                           a.d_model, a.heads, a.ff, a.layers, a.dropout, not a.no_crf,
                           pretrained=init.encoder_shape() if init is not None else None,
                           pretrained_dropout=a.init_dropout, pretrained_scale=a.init_scale,
                           pretrained_view=a.init_view)
    t_enc = time.perf_counter()
    enc = lambda sents, tags: _encode([s.tokens for s in sents], words, chars, tok, cfg,  # noqa: E731
                                      [tag_vocab.encode(t) for t in tags])
    tr = enc(train, train_tags)
    va = enc(valid, [convert_tags(s.ner, "iob2") for s in valid])
    if tok is not None:
        long = [int((np.diff(d.sub.win_offsets) > 1).sum()) for d in (tr, va)]
        print(f"sub-words of the pretrained tokenizer: {len(tr.sub.ids):,} training, {len(va.sub.ids):,} validation "
              f"({long[0]:,} + {long[1]:,} sentences longer than {cfg.pretrained['max_len']} read in several "
              f"windows; {time.perf_counter() - t_enc:.1f} s)")
    model = NERTagger(cfg)
    init_record = None
    if init is not None:
        init_record = init.record(a.init_weights or "pretrained")
        if init_record["weights"] == "pretrained":
            print(f"init: {init.load_into(model.pretrained).summary()}")
        print(describe_init(init_record))
    elif saved is not None and describe_init(saved.get("init")):
        print(describe_init(saved["init"]))
    if a.vectors and saved is None:
        print(f"word vectors: {_load_vectors(a.vectors, words, model.word_emb.weight.data):,} of "
              f"{len(words):,} words initialised from {a.vectors}")
    train_b = SentenceBatches(tr, a.batch_size, shuffle=True, seed=a.seed)
    valid_b = SentenceBatches(va, 64, shuffle=False)
    total = a.epochs * len(train_b)
    body = model.pretrained.parameters() if cfg.pretrained is not None else []
    if a.init_freeze:
        freeze(body)
    opt = Adam(lr_groups(model.parameters(), body, a.init_lr), lr=a.lr)
    trainer = Trainer(model, opt, model.loss, metrics={"f1": entity_f1_metric(tag_vocab)},
                      schedule=WarmupCosine(a.lr, min(a.warmup, total), total, min_lr=a.lr * 0.05),
                      clip_norm=a.clip, checkpoint_dir=folder.path, checkpoint_every=a.checkpoint_every,
                      progress=False if a.no_progress else None,
                      callbacks=[ModelCheckpoint(folder.path, save_best_only=True, monitor="val_f1")])
    print(f"model: {sum(p.data.size for p in model.parameters()):,} parameters, {len(words):,} words, "
          f"{len(chars)} characters, {len(tag_vocab)} tags; {len(train_b)} steps per epoch")
    settings = cli.run_settings(a)
    config = {"model": cfg.to_dict(), "words": words.itos, "chars": chars.itos, "train": settings}
    if init_record is not None:
        config["init"] = init_record
    files = {"config.json": json.dumps(config)}
    if tok is not None:
        files["vocab.txt"] = tok.to_text()
    folder.start(None if a.resume else files)
    t0 = time.perf_counter()
    history = trainer.fit(train_b, a.epochs, eval_data=valid_b, resume=folder.path if a.resume else None)
    cli.raise_if_interrupted(trainer)
    plot = plot_history(history, folder.path / "history.png", title="CoNLL-2003 NER") if distributed.is_main() else None
    best = int(np.argmax(history["val_f1"]))
    print(f"best epoch {best + 1}: validation entity F1 {history['val_f1'][best] * 100:.2f} "
          f"({time.perf_counter() - t0:.0f} s of training)")
    print(f"run folder: {folder.path} (best.npz, last.npz, config.json{', vocab.txt' if tok else ''}); "
          f"history plot: {plot}")
    return history


def cmd_eval(a, parser):
    model, words, chars, _ = load_run(a.run_dir)
    tok = load_tokenizer(a.run_dir, model)
    sents = read_conll(a.data)
    _check_lengths(sents, a.data)
    if a.onnx:
        pred = onnx_tag(checked_session(a.onnx, "ner", model), model, words, chars, [s.tokens for s in sents])
    else:
        pred = predict(model, words, chars, [s.tokens for s in sents], tokenizer=tok)
    # Gold is converted to IOB2 like the predictions: entities (and so P/R/F1) are unchanged,
    # and the token accuracy then compares like with like (IOB1's I-X vs IOB2's B-X at every
    # entity start would otherwise count as errors).
    print(f"{a.data}: {len(sents):,} sentences (tags compared in IOB2)")
    report = evaluate([convert_tags(s.ner, "iob2") for s in sents], pred)
    print_report(report)
    return report


_TOKEN = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")


def cmd_tag(a, parser):
    tokens = _TOKEN.findall(" ".join(a.text))
    if not tokens:
        raise ValueError("tag: the text is empty; give the words to tag, e.g. `pmt-ner tag EU rejects German call`")
    if len(tokens) > MAX_TOKENS:
        raise ValueError(f"tag: {len(tokens):,} tokens; the tagger reads at most {MAX_TOKENS} at once")
    model, words, chars, _ = load_run(a.run_dir)
    tags = predict(model, words, chars, [tokens], tokenizer=load_tokenizer(a.run_dir, model))[0]
    print(" ".join(f"{w}/{t}" if t != "O" else w for w, t in zip(tokens, tags)))
    for kind, start, end in extract_entities(tags):
        print(f"{kind:5s} {' '.join(tokens[start:end])}")
    return tags


def build_parser():
    p = cli.ArgumentParser(prog=PROG, description="Named-entity recognition on CoNLL-2003 with a "
                           "Transformer tagger: train, evaluate any CoNLL-format file, tag text.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on eng.train, validate on eng.testa",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--train", help="CoNLL file (default: conll2003 eng.train via PMT_DATA_DIR / cache)")
    t.add_argument("--valid", help="CoNLL file (default: conll2003 eng.testa)")
    cli.add_training_flags(t, run_dir="runs/ner", epochs=20, batch_size=32, lr=1e-3, max_valid=True,
                           lr_help="peak learning rate")
    t.add_argument("--min-count", type=positive_int, default=2, help="rarer training words become [UNK]")
    v = t.add_mutually_exclusive_group()
    v.add_argument("--vectors", help="word2vec text-format vectors (.gz too) to initialise word embeddings, "
                   "e.g. vectors.txt of a pmt-word2vec run; dimension must equal --word-dim (default: the "
                   "shipped gutenberg8 skip-gram vectors, 100-d)")
    v.add_argument("--no-vectors", action="store_true", help="random word embeddings, no vectors")
    t.add_argument("--word-dim", type=positive_int, default=100)
    t.add_argument("--char-filters", type=positive_int, default=64)
    t.add_argument("--d-model", type=positive_int, default=128)
    t.add_argument("--heads", type=positive_int, default=4)
    t.add_argument("--ff", type=positive_int, default=256)
    t.add_argument("--layers", type=nonneg_int, default=2,
                   help="layers of the tagger's own encoder (0, with --init: the pretrained encoder alone)")
    t.add_argument("--dropout", type=dropout_rate, default=0.2)
    t.add_argument("--no-crf", action="store_true", help="softmax per token instead of a CRF")
    t.add_argument("--warmup", type=nonneg_int, default=500)
    t.add_argument("--clip", type=positive_float, default=5.0)
    add_init_flags(t, "a pretrained view of each word (the encoder's output at its first sub-word)")
    t.add_argument("--init-dropout", type=dropout_rate, default=0.1, help="with --init: dropout inside the "
                   "pretrained encoder")
    t.add_argument("--init-scale", action="store_true", help="with --init: scale the pretrained view to the "
                   "word embeddings' size (h / sqrt(d)) times a learned gain")
    t.add_argument("--init-view", choices=PRETRAINED_VIEWS, default="last", help="with --init: which of the "
                   "pretrained encoder's layers make the view: its last output, a learned softmax-weighted mix "
                   "of every layer's output, or all of them concatenated")
    cli.deprecate(t, "--out", "--run-dir")
    t.set_defaults(func=cmd_train, parser=t)
    e = sub.add_parser("eval", help="conlleval table on any CoNLL-format file")
    e.add_argument("--data", required=True)
    cli.add_run_dir(e, "runs/ner", old=("--model",))
    e.add_argument("--onnx", metavar="FILE", help="compute emissions with this file written by export "
                   "(onnxruntime); the CRF decode stays in numpy")
    e.set_defaults(func=cmd_eval, parser=e)
    g = sub.add_parser("tag", help="print the entities of a sentence")
    g.add_argument("text", nargs="+")
    cli.add_run_dir(g, "runs/ner", old=("--model",))
    g.set_defaults(func=cmd_tag, parser=g)
    add_export_command(sub, "ner", "runs/ner")
    return p


def run(argv=None):
    """Run one sub-command; returns its result (train: the history, eval: the report, tag: the tags)."""
    a = cli.parse_args(build_parser(), argv)
    return a.func(a, a.parser)


def main(argv=None) -> int:
    """The console script `pmt-ner`: exit status 0, 1 (diverged), 2 (bad input), 130 (Ctrl-C)."""
    return cli.main(run, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
