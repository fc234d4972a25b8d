"""`python -m pmt.transformer.ner train|eval|tag` (console script `pmt-ner`).

A run folder (`--out`, default runs/ner) holds `config.json` (tagger settings and the word,
character and tag vocabularies), `best.npz` (best validation F1), `last.npz` (for `--resume`)
and `history.png`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from pmt.core import Adam, Trainer, distributed, plot_history, seed
from pmt.core.callbacks import ModelCheckpoint
from pmt.core.checkpoint import load_checkpoint
from pmt.core.schedules import WarmupCosine
from pmt.graph import no_grad

from ..conll import TagVocab, load_conll2003, read_conll, to_iob2
from ..conlleval import evaluate, extract_entities, print_report
from ..export import add_export_command, checked_session, onnx_tag
from ..run_folder import best_checkpoint, read_config, run_cli
from .features import SentenceBatches, Vocab, encode_sentences, normalise_word
from .model import NERTagger, TaggerConfig


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
    """Copy vectors of a word2vec text file into rows of `table` for words in `vocab`; returns hits."""
    hits = 0
    with open(path, encoding="utf-8") as f:
        n, dim = (int(x) for x in f.readline().split())
        if dim != table.shape[1]:
            raise ValueError(f"{path}: vectors have dimension {dim}, the tagger's word_dim is {table.shape[1]}")
        for line in f:
            word, *vals = line.rstrip().split(" ")
            i = vocab.stoi.get(normalise_word(word))
            if i is not None and i > 1 and len(vals) == dim:
                table[i] = np.asarray(vals, dtype=np.float32)
                hits += 1
    return hits


def load_run(run_dir):
    """(tagger in eval mode, word vocab, char vocab, tag vocab) from a folder written by `train`."""
    cfg = read_config(run_dir, "ner")
    model = NERTagger(TaggerConfig(**cfg["model"]))
    load_checkpoint(best_checkpoint(run_dir), model)
    model.eval()
    return model, Vocab(cfg["words"][2:]), Vocab(cfg["chars"][2:]), TagVocab(cfg["model"]["tags"])


def predict(model, words_vocab, chars_vocab, sentences, batch_size=64):
    """Predicted tag lists (IOB2) for a list of token lists."""
    data = encode_sentences(sentences, words_vocab, chars_vocab)
    tags = model.config.tags
    out = []
    with no_grad():
        for words, cases, chars, _ in SentenceBatches(data, batch_size, shuffle=False):
            ids = model.decode(model(words, cases, chars).data, words != 0)
            out += [[tags[i] for i in row[row != -100]] for row in ids]
    return out


def cmd_train(a):
    seed(a.seed)
    train = read_conll(a.train) if a.train else load_conll2003("train")
    valid = read_conll(a.valid) if a.valid else load_conll2003("validation")
    if a.max_train:
        train = train[: a.max_train]
    if a.max_valid:
        valid = valid[: a.max_valid]
    print(f"{len(train):,} training sentences, {len(valid):,} validation sentences")
    train_tags = [to_iob2(s.ner) for s in train]
    tag_vocab = TagVocab.build(train_tags, scheme="iob2")
    words = Vocab.build((normalise_word(w) for s in train for w in s.tokens), min_count=a.min_count)
    chars = Vocab.build(c for s in train for w in s.tokens for c in w)
    enc = lambda sents, tags: encode_sentences([s.tokens for s in sents], words, chars,  # noqa: E731
                                               [tag_vocab.encode(t) for t in tags])
    tr = enc(train, train_tags)
    va = enc(valid, [to_iob2(s.ner) for s in valid])
    cfg = TaggerConfig(len(words), len(chars), tag_vocab.id_to_tag, a.word_dim, 8, 30, a.char_filters, 3,
                       a.d_model, a.heads, a.ff, a.layers, a.dropout, not a.no_crf)
    model = NERTagger(cfg)
    if a.vectors:
        print(f"word vectors: {_load_vectors(a.vectors, words, model.word_emb.weight.data):,} of "
              f"{len(words):,} words initialised from {a.vectors}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if distributed.is_main():
        (out / "config.json").write_text(json.dumps({"model": cfg.to_dict(), "words": words.itos,
                                                     "chars": chars.itos, "train": vars(a) | {"func": None}}))
    train_b = SentenceBatches(tr, a.batch_size, shuffle=True, seed=a.seed)
    valid_b = SentenceBatches(va, 64, shuffle=False)
    total = a.epochs * len(train_b)
    opt = Adam(model.parameters(), lr=a.lr)
    trainer = Trainer(model, opt, model.loss, metrics={"f1": entity_f1_metric(tag_vocab)},
                      schedule=WarmupCosine(a.lr, min(a.warmup, total), total, min_lr=a.lr * 0.05),
                      clip_norm=a.clip, checkpoint_dir=out,
                      callbacks=[ModelCheckpoint(out, save_best_only=True, monitor="val_f1")])
    print(f"model: {sum(p.data.size for p in model.parameters()):,} parameters, {len(words):,} words, "
          f"{len(chars)} characters, {len(tag_vocab)} tags; {len(train_b)} steps per epoch")
    t0 = time.perf_counter()
    history = trainer.fit(train_b, a.epochs, eval_data=valid_b, resume=(out / "last.npz") if a.resume else None)
    plot = plot_history(history, out / "history.png", title="CoNLL-2003 NER") if distributed.is_main() else None
    best = int(np.argmax(history["val_f1"]))
    print(f"best epoch {best + 1}: validation entity F1 {history['val_f1'][best] * 100:.2f} "
          f"({time.perf_counter() - t0:.0f} s of training)")
    print(f"run folder: {out} (best.npz, last.npz, config.json); history plot: {plot}")
    return history


def cmd_eval(a):
    model, words, chars, _ = load_run(a.model)
    sents = read_conll(a.data)
    if a.onnx:
        pred = onnx_tag(checked_session(a.onnx, "ner", model), model, words, chars, [s.tokens for s in sents])
    else:
        pred = predict(model, words, chars, [s.tokens for s in sents])
    # Gold is converted to IOB2 like the predictions: entities (and so P/R/F1) are unchanged,
    # and the token accuracy then compares like with like (IOB1's I-X vs IOB2's B-X at every
    # entity start would otherwise count as errors).
    print(f"{a.data}: {len(sents):,} sentences (tags compared in IOB2)")
    print_report(evaluate([to_iob2(s.ner) for s in sents], pred))


_TOKEN = re.compile(r"\w+(?:[-'.]\w+)*|[^\w\s]")


def cmd_tag(a):
    model, words, chars, _ = load_run(a.model)
    tokens = _TOKEN.findall(" ".join(a.text))
    tags = predict(model, words, chars, [tokens])[0]
    print(" ".join(f"{w}/{t}" if t != "O" else w for w, t in zip(tokens, tags)))
    for kind, start, end in extract_entities(tags):
        print(f"{kind:5s} {' '.join(tokens[start:end])}")


def build_parser():
    p = argparse.ArgumentParser(prog="pmt-ner", description="Named-entity recognition on CoNLL-2003 with a "
                                "Transformer tagger: train, evaluate any CoNLL-format file, tag text.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on eng.train, validate on eng.testa",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--train", help="CoNLL file (default: conll2003 eng.train via PMT_DATA_DIR / cache)")
    t.add_argument("--valid", help="CoNLL file (default: conll2003 eng.testa)")
    t.add_argument("--out", default="runs/ner")
    t.add_argument("--max-train", type=int, help="use only the first N training sentences")
    t.add_argument("--max-valid", type=int, help="use only the first N validation sentences")
    t.add_argument("--min-count", type=int, default=2, help="rarer training words become [UNK]")
    t.add_argument("--vectors", help="word2vec text-format vectors to initialise word embeddings "
                   "(e.g. saved by pmt.word2vec; dimension must equal --word-dim)")
    t.add_argument("--word-dim", type=int, default=100)
    t.add_argument("--char-filters", type=int, default=64)
    t.add_argument("--d-model", type=int, default=128)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--ff", type=int, default=256)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--dropout", type=float, default=0.2)
    t.add_argument("--no-crf", action="store_true", help="softmax per token instead of a CRF")
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--warmup", type=int, default=500)
    t.add_argument("--clip", type=float, default=5.0)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("eval", help="conlleval table on any CoNLL-format file")
    e.add_argument("--data", required=True)
    e.add_argument("--model", default="runs/ner")
    e.add_argument("--onnx", metavar="FILE", help="compute emissions with this file written by export "
                   "(onnxruntime); the CRF decode stays in numpy")
    e.set_defaults(func=cmd_eval)
    g = sub.add_parser("tag", help="print the entities of a sentence")
    g.add_argument("text", nargs="+")
    g.add_argument("--model", default="runs/ner")
    g.set_defaults(func=cmd_tag)
    add_export_command(sub, "ner", "runs/ner")
    return p


def main(argv=None):
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
