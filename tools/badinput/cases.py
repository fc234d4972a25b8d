"""The bad-input cases: what goes in, and the status and line that must come out."""
from __future__ import annotations

import io
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .fixtures import MNIST_SMALL, NER_SMALL, PRETRAIN_SMALL, QQP_INIT_SMALL, QQP_SMALL, TOY_SMALL, W2V_SMALL, write_idx

RUN = "{RUN}"            # in argv: a fresh copy of the CLI's trained fixture run
NEW = "{NEW}"            # in argv: a fresh path where no folder exists yet
ARGS = r"argument {}: "   # the start of argparse's message for a flag


@dataclass
class Case:
    """One input and the outcome it must have.

    cli + argv: an in-process CLI call (`main(argv)`), expected exit `status`, `pattern`
        searched in the last line of stderr.  With `run`, RUN in argv is a fresh copy of
        that CLI's trained run (first changed by `prepare(path)`), which a failing command
        must leave byte for byte.
    call: an API call; `expect` is the exception class it must raise with `pattern` in its
        message, or None when it must succeed and `check(result)` be true.
    proc: a subprocess case (see `__main__.run_proc`).
    """

    name: str
    cli: str | None = None
    argv: list = field(default_factory=list)
    status: int = 2
    pattern: str = ""
    run: str | None = None
    prepare: Callable | None = None
    env: dict | None = None
    call: Callable | None = None
    expect: type | None = None
    check: Callable | None = None
    proc: dict | None = None
    timeout: float = 60.0


def _arg(flag, what):
    return ARGS.format(flag) + what


INT1 = "must be an integer >= 1"
POS = "must be a finite number > 0"


def _corrupt(name):
    def prepare(run):
        (run / name).write_bytes(b"PK\x03\x04 truncated")
    return prepare


def _nan_checkpoint(name):
    def prepare(run):
        from pmt.core.files import read_npz
        arrays = read_npz(run / name)
        key = next(k for k in arrays if k.startswith("model/") and arrays[k].dtype.kind == "f")
        arrays[key] = np.full_like(arrays[key], np.nan)
        np.savez(run / name, **arrays)           # the name ends in .npz: numpy adds nothing
    return prepare


def _edit_config(fn):
    def prepare(run):
        import json
        path = run / "config.json"
        path.write_text(fn(json.loads(path.read_text())) if callable(fn) else fn)
    return prepare


def _remove(*names):
    def prepare(run):
        for n in names:
            (run / n).unlink()
    return prepare


def _foreign_checkpoint(run, name="last.npz"):
    """`name` holding another model: a bare 2x2 checkpoint."""
    from pmt.core.checkpoint import save_checkpoint
    from pmt.core.examples.linear_demo import LinearClassifier
    from pmt.core import Adam
    m = LinearClassifier(2, 2)
    save_checkpoint(run / name, m, Adam(m.parameters()), epoch=1, step=1, rng={}, history={})


def _edit_safetensors(change):
    """encoder.safetensors rewritten after `change(tensors, metadata)` (a damaged exported folder)."""
    def prepare(folder):
        from pmt.core.safetensors import load_safetensors, safetensors_metadata, save_safetensors
        path = folder / "encoder.safetensors"
        tensors, meta = load_safetensors(path), safetensors_metadata(path)
        change(tensors, meta)
        save_safetensors(path, tensors, meta)
    return prepare


def _copy_from(fixture, name):
    """`name` of another fixture copied into the run (a folder holding both weights files)."""
    def prepare(run):
        import shutil
        shutil.copyfile(fixture / name, run / name)
    return prepare


def _other_vocabulary(run):
    """vocab.txt replaced by a tokenizer of another size (the run folder no longer fits together)."""
    from pmt.transformer.tokenizer import Tokenizer
    Tokenizer.train(["a b c d e f"] * 3, vocab_size=40).save(run / "vocab.txt")


def cli_cases(ws) -> list:
    f, t = ws, ws.tmp
    mnist = ["--data-dir", str(f.mnist), *MNIST_SMALL]
    ner = ["train", "--train", str(f.conll), "--valid", str(f.conll), *NER_SMALL]
    qqp = ["train", "--data", str(f.qqp), *QQP_SMALL]
    w2v = ["--corpus", str(f.corpus), *W2V_SMALL]
    new = NEW
    cases = []
    add = lambda *a, **k: cases.append(Case(*a, **k))  # noqa: E731

    # ---------------------------------------------------------------- pmt-mnist
    for flag, value, what in [("--epochs", "0", INT1), ("--epochs", "-3", INT1), ("--batch-size", "0", INT1),
                              ("--lr", "inf", POS), ("--lr", "nan", POS), ("--lr", "-1", POS),
                              ("--dropout", "1", r"must be a number in \[0, 1\)"),
                              ("--dropout", "-0.1", r"must be a number in \[0, 1\)"), ("--hidden", "0", INT1),
                              ("--max-train", "0", INT1), ("--limit", "-30", INT1), ("--seed", "-1", "must be an integer >= 0"),
                              ("--checkpoint-every", "0", INT1), ("--dataset", "cifar", "invalid choice"),
                              ("--valid-size", "0", INT1), ("--split-seed", "-1", "must be an integer >= 0")]:
        add(f"mnist {flag} {value}", "mnist", mnist + ["--run-dir", new, flag, value], 2, _arg(flag, what))
    add("mnist --valid-size as large as the training set", "mnist", mnist + ["--run-dir", new, "--valid-size", "200"],
        2, "--valid-size 200: the mnist training set holds only 200 images")
    add("mnist run folder is a file", "mnist", mnist + ["--run-dir", str(f.a_file)], 2, "is a file, not a run folder")
    add("mnist run folder under a file", "mnist", mnist + ["--run-dir", str(f.a_file / "run")], 2, "is a file")
    add("mnist train into a trained run", "mnist", mnist + ["--run-dir", RUN], 2, "already holds files", run="mnist")
    add("mnist --overwrite of a folder that is no run", "mnist", mnist + ["--run-dir", str(f.not_a_run), "--overwrite"],
        2, "not a run folder")
    add("mnist --resume with nothing to resume", "mnist", mnist + ["--run-dir", new, "--resume"], 2, "nothing to resume")
    add("mnist --resume and --overwrite", "mnist", mnist + ["--run-dir", RUN, "--resume", "--overwrite"], 2,
        "not allowed with argument", run="mnist")
    add("mnist garbage IDX files", "mnist", ["--data-dir", str(f.mnist_garbage), *MNIST_SMALL, "--run-dir", new], 2,
        "bad IDX magic number")
    add("mnist IDX header asking for 4 EiB", "mnist", ["--data-dir", str(f.mnist_huge), *MNIST_SMALL, "--run-dir", new],
        2, "train-images-idx3-ubyte.gz: truncated IDX data: header says shape")
    add("mnist IDX data shorter than its header", "mnist",
        ["--data-dir", str(f.mnist_short), *MNIST_SMALL, "--run-dir", new], 2, "truncated IDX data")
    add("mnist labels outside 0-9", "mnist", ["--data-dir", str(f.mnist_labels), *MNIST_SMALL, "--run-dir", new], 2,
        "labels must lie in 0-9")
    add("mnist images of the wrong shape", "mnist", ["--data-dir", str(f.mnist_shape), *MNIST_SMALL, "--run-dir", new],
        2, r"expected \(n, 28, 28\)")
    add("mnist corrupt mnist.npz", "mnist", ["--data-dir", str(f.mnist_npz), *MNIST_SMALL, "--run-dir", new], 2,
        "mnist.npz: not a readable .npz")
    add("mnist --data-dir missing", "mnist", ["--data-dir", str(t / "nowhere"), *MNIST_SMALL, "--run-dir", new], 2,
        "holds neither the four IDX files")
    add("mnist --resume, last.npz truncated", "mnist", ["--run-dir", RUN, "--resume", "--epochs", "2"], 2,
        r"last.npz: not a readable .npz", run="mnist", prepare=_corrupt("last.npz"))
    add("mnist --resume, last.npz of another model", "mnist", ["--run-dir", RUN, "--resume", "--epochs", "2"], 2,
        "last.npz: checkpoint does not fit the model", run="mnist", prepare=_foreign_checkpoint)
    add("mnist --resume, last.npz holds NaN", "mnist", ["--run-dir", RUN, "--resume", "--epochs", "2"], 2,
        "NaN/inf", run="mnist", prepare=_nan_checkpoint("last.npz"))
    add("mnist --resume with another --hidden", "mnist", ["--run-dir", RUN, "--resume", "--hidden", "16"], 2,
        "--hidden .*16.* differs from the saved", run="mnist")
    add("mnist --resume, config.json garbled", "mnist", ["--run-dir", RUN, "--resume", "--epochs", "2"], 2,
        r"config.json:1: not valid JSON", run="mnist", prepare=_edit_config("{garbled"))
    add("mnist diverges at --lr 1e30", "mnist", mnist + ["--run-dir", new, "--lr", "1e30"], 1,
        r"diverged: training loss is (nan|inf) at epoch 1, batch \d+, global step \d+ \(lr=")
    if ws.swapped is not None:
        for placed in ("mnist", "fashion-mnist"):
            add(f"{placed}: the other dataset's files in its folder", "mnist",
                ["--dataset", placed, *MNIST_SMALL, "--run-dir", new], 2,
                rf"is not the expected {placed}/.*sha256 [0-9a-f]{{64}}.*expected [0-9a-f]{{64}}",
                env={"PMT_DATA_DIR": str(ws.swapped)})

    # ---------------------------------------------------------------- pmt-word2vec
    for flag, value, what in [("--lr", "inf", POS), ("--alpha", "inf", POS), ("--lr", "nan", POS),
                              ("--epochs", "0", INT1), ("--dim", "0", INT1), ("--window", "0", INT1),
                              ("--negative", "0", INT1), ("--sample", "-1", "must be a finite number >= 0"),
                              ("--max-chars", "0", INT1), ("--max-vocab", "0", INT1), ("--workers", "0", INT1),
                              ("--batch-size", "0", INT1), ("--batch", "-5", INT1), ("--share-negatives", "0", INT1),
                              ("--min-count", "0", INT1), ("--arch", "glove", "invalid choice"),
                              ("--model", "glove", "invalid choice")]:
        add(f"word2vec {flag} {value}", "word2vec", w2v + ["--run-dir", new, flag, value], 2, _arg(flag, what))
    for corpus, what in [(t / "missing.txt", "not one of the known corpora"), (f.data, "is a folder"),
                         (f.corpus_empty, "the corpus is empty"), (f.zip_two, "expected a zip with one text file"),
                         (f.zip_broken, "corrupt zip")]:
        add(f"word2vec corpus {Path(corpus).name}", "word2vec",
            ["--corpus", str(corpus), *W2V_SMALL, "--run-dir", new], 2, what)
    add("word2vec --min-count above every count", "word2vec", w2v + ["--run-dir", new, "--min-count", "99999"], 2,
        "no word occurs at least min_count=99999")
    for q, what in [(t / "noq.txt", "noq.txt"), (f.questions_bad, r"badq.txt:2: expected 4 words"),
                    (f.questions_empty, "no analogy questions"), (f.data, "is a folder")]:
        add(f"word2vec --questions {Path(q).name}", "word2vec",
            ["--corpus", str(f.corpus), "--dim", "4", "--min-count", "1", "--epochs", "1", "--no-progress",
             "--questions", str(q), "--run-dir", new], 2, what)
    add("word2vec --export is a folder", "word2vec", w2v + ["--run-dir", new, "--export", str(f.data)], 2,
        "--export .*: is a folder")
    add("word2vec --json under a file", "word2vec", w2v + ["--run-dir", new, "--json", str(f.a_file / "r.json")], 2,
        "--json .*is a file")
    add("word2vec run folder is a file", "word2vec", w2v + ["--run-dir", str(f.a_file)], 2, "is a file, not a run folder")
    add("word2vec train into a trained run", "word2vec", w2v + ["--run-dir", RUN], 2, "already holds files",
        run="word2vec")
    add("word2vec --resume, nothing to resume", "word2vec", w2v + ["--run-dir", new, "--resume"], 2, "nothing to resume")
    add("word2vec --resume with another --dim", "word2vec", ["--run-dir", RUN, "--resume", "--dim", "8"], 2,
        "--dim 8 differs from the saved 4", run="word2vec")
    add("word2vec --resume, last.npz truncated", "word2vec", ["--run-dir", RUN, "--resume", "--epochs", "2"], 2,
        "last.npz: not a readable .npz", run="word2vec", prepare=_corrupt("last.npz"))
    add("word2vec --resume on another corpus", "word2vec",
        ["--run-dir", RUN, "--resume", "--epochs", "2", "--corpus", str(f.corpus_other)], 2,
        "--corpus .* differs from the saved", run="word2vec")

    def _swap_corpus(run):
        import json
        cfg = json.loads((run / "config.json").read_text())
        cfg["train"]["corpus"] = str(f.corpus_other)
        (run / "config.json").write_text(json.dumps(cfg))
    add("word2vec --resume, the corpus changed since", "word2vec", ["--run-dir", RUN, "--resume", "--epochs", "2"], 2,
        "written for another corpus or vocabulary", run="word2vec", prepare=_swap_corpus)
    add("word2vec diverges at --lr 1e30", "word2vec", w2v + ["--run-dir", new, "--lr", "1e30"], 1,
        r"diverged: word2vec diverged in epoch 1 \(learning rate 1e\+30.*nothing saved")

    # ---------------------------------------------------------------- pmt-ner
    for flag, value, what in [("--max-train", "0", INT1), ("--max-valid", "-1", INT1), ("--epochs", "0", INT1),
                              ("--dropout", "1", r"must be a number in \[0, 1\)"), ("--lr", "0", POS),
                              ("--lr", "inf", POS), ("--clip", "0", POS), ("--warmup", "-1", "must be an integer >= 0"),
                              ("--batch-size", "0", INT1), ("--word-dim", "0", INT1)]:
        add(f"ner train {flag} {value}", "ner", ner + ["--run-dir", new, flag, value], 2, _arg(flag, what))
    for path, what in [(t / "missing.conll", "missing.conll"), (f.conll_empty, "empty.conll: no sentences"),
                       (f.conll_docstart_only, "docstart.conll: no sentences"),
                       (f.conll_bad_tag, "badtag.conll:2: bad NER tag"),
                       (f.conll_bad_cols, "badcols.conll:1: expected 4 columns"),
                       (f.conll_mixed_cols, "mixedcols.conll:2: expected 4 columns like the first line"),
                       (f.conll_run_on, r"runon.conll:3: a sentence of 1,200 tokens starts here"),
                       (f.conll_latin1, "latin1.conll: not utf-8 text"), (f.data, "Is a directory")]:
        add(f"ner train --train {Path(path).name}", "ner",
            ["train", "--train", str(path), "--valid", str(f.conll), *NER_SMALL, "--run-dir", new], 2, what)
    add("ner validation tag unseen in training", "ner",
        ["train", "--train", str(f.conll), "--valid", str(f.conll_new_tag), *NER_SMALL, "--run-dir", new], 2,
        r"newtag.conll: tags \['B-CITY'\] never occur in the training data")
    add("ner --heads not dividing --d-model", "ner", ner + ["--run-dir", new, "--heads", "3"], 2, "divisible")
    add("ner odd --d-model", "ner", ner + ["--run-dir", new, "--d-model", "7", "--heads", "7"], 2, "even d_model")
    for vec, what in [(t / "none.txt", "--vectors .*none.txt: no such file"),
                      (f.vectors_bad_head, "badhead.txt:1: first line must be"),
                      (f.vectors_dim4, "dim4.txt: vectors have dimension 4, the tagger's --word-dim is 8"),
                      (f.vectors_nan, "nan.txt:2: the vector of 'eu' holds NaN/inf"),
                      (f.vectors_word, "word.txt:2: not a vector of numbers")]:
        add(f"ner --vectors {Path(vec).name}", "ner", ner + ["--run-dir", new, "--vectors", str(vec)], 2, what)
    add("ner train into a trained run", "ner", ner + ["--run-dir", RUN], 2, "already holds files", run="ner")
    add("ner --overwrite with a broken training file", "ner",
        ["train", "--train", str(f.conll_bad_tag), "--valid", str(f.conll), *NER_SMALL, "--run-dir", RUN,
         "--overwrite"], 2, "badtag.conll:2", run="ner")
    add("ner --resume with another --d-model", "ner", ["train", "--run-dir", RUN, "--resume", "--d-model", "16"], 2,
        "--d-model 16 differs from the saved 8", run="ner")
    add("ner --resume, config.json garbled", "ner", ["train", "--run-dir", RUN, "--resume"], 2,
        r"config.json:1: not valid JSON", run="ner", prepare=_edit_config("{garbled"))
    add("ner --resume, last.npz truncated", "ner", ["train", "--run-dir", RUN, "--resume", "--epochs", "3"], 2,
        "last.npz: not a readable .npz", run="ner", prepare=_corrupt("last.npz"))
    add("ner eval --data missing", "ner", ["eval", "--data", str(t / "none.conll"), "--run-dir", RUN], 2,
        "none.conll", run="ner")
    add("ner eval --data empty", "ner", ["eval", "--data", str(f.conll_empty), "--run-dir", RUN], 2,
        "no sentences", run="ner")
    add("ner eval a 600-token sentence", "ner", ["eval", "--data", str(f.conll_long), "--run-dir", RUN], 2,
        r"long.conll:1: a sentence of 600 tokens; the tagger reads at most 512", run="ner")
    add("ner eval from a missing run folder", "ner", ["eval", "--data", str(f.conll), "--run-dir", new], 2,
        "is not a ner run folder")
    add("ner eval, config.json garbled", "ner", ["eval", "--data", str(f.conll), "--run-dir", RUN], 2,
        r"config.json:1: not valid JSON", run="ner", prepare=_edit_config("{garbled"))
    add("ner eval, config.json without words", "ner", ["eval", "--data", str(f.conll), "--run-dir", RUN], 2,
        "config.json: missing 'words'", run="ner", prepare=_edit_config(lambda c: __import__("json").dumps(
            {k: v for k, v in c.items() if k != "words"})))
    add("ner eval, config.json model settings wrong", "ner", ["eval", "--data", str(f.conll), "--run-dir", RUN], 2,
        "config.json: bad 'model' settings", run="ner", prepare=_edit_config(lambda c: __import__("json").dumps(
            {**c, "model": {**c["model"], "bogus": 1}})))
    add("ner eval, config.json is a list", "ner", ["eval", "--data", str(f.conll), "--run-dir", RUN], 2,
        "expected a JSON object", run="ner", prepare=_edit_config("[1, 2]"))
    add("ner eval, best.npz truncated", "ner", ["eval", "--data", str(f.conll), "--run-dir", RUN], 2,
        "best.npz: not a readable .npz", run="ner", prepare=_corrupt("best.npz"))
    add("ner eval, best.npz holds NaN", "ner", ["eval", "--data", str(f.conll), "--run-dir", RUN], 2,
        "best.npz: .*NaN/inf.*allow_nonfinite", run="ner", prepare=_nan_checkpoint("best.npz"))
    add("ner eval, no checkpoint at all", "ner", ["eval", "--data", str(f.conll), "--run-dir", RUN], 2,
        "holds no checkpoint", run="ner", prepare=_remove("best.npz", "last.npz"))
    add("ner tag an empty text", "ner", ["tag", "", "--run-dir", RUN], 2, "tag: the text is empty", run="ner")
    add("ner tag, only spaces", "ner", ["tag", "   ", "--run-dir", RUN], 2, "tag: the text is empty", run="ner")
    add("ner tag with the old --model spelling, no run", "ner", ["tag", "EU", "--model", new], 2,
        "is not a ner run folder")
    add("ner diverges at --lr 1e30", "ner", ner + ["--run-dir", new, "--lr", "1e30"], 1,
        r"diverged: .*(nan|inf)")

    # ---------------------------------------------------------------- pmt-qqp
    for flag, value, what in [("--max-rows", "0", INT1), ("--max-train", "-30", INT1), ("--max-valid", "0", INT1),
                              ("--valid-fraction", "1", "must be a number strictly between 0 and 1"),
                              ("--valid-fraction", "0", "must be a number strictly between 0 and 1"), ("--vocab-size", "0", INT1),
                              ("--max-len", "0", INT1), ("--label-smoothing", "1.5", r"must be a number in \[0, 1\)"),
                              ("--warmup", "-1", "must be an integer >= 0"), ("--clip", "0", POS), ("--lr", "nan", POS),
                              ("--epochs", "0", INT1), ("--pooling", "max", "invalid choice")]:
        add(f"qqp train {flag} {value}", "qqp", qqp + ["--run-dir", new, flag, value], 2, _arg(flag, what))
    for path, what in [(t / "missing.tsv", "QQP file not found"), (f.data, "is a folder"),
                       (f.qqp_header, "line 1 should be a header naming question1 and question2"),
                       (f.qqp_no_pairs, r"no question pairs \(2 malformed rows skipped; the first malformed row: line 2"),
                       (f.qqp_empty, "no question pairs"), (f.qqp_latin1, "not UTF-8 text"),
                       (f.qqp_unlabelled, "unlabelled.tsv: no is_duplicate column: training needs labelled pairs")]:
        add(f"qqp train --data {Path(path).name}", "qqp",
            ["train", "--data", str(path), *QQP_SMALL, "--run-dir", new], 2, what)
    add("qqp --max-len too short for a pair", "qqp", qqp + ["--run-dir", new, "--max-len", "2"], 2, "max_length=2")
    add("qqp --heads not dividing --d-model", "qqp", qqp + ["--run-dir", new, "--d-model", "10", "--heads", "3"], 2,
        "divisible")
    add("qqp the issue's --epochs 0 over a trained run", "qqp",
        ["train", "--data", str(f.qqp), "--max-rows", "50", "--vocab-size", "30", "--epochs", "0", "--run-dir", RUN], 2,
        _arg("--epochs", INT1), run="qqp")
    add("qqp a new tokenizer over a trained run", "qqp",
        ["train", "--data", str(f.qqp), "--max-rows", "50", "--vocab-size", "30", "--run-dir", RUN], 2,
        "already holds files", run="qqp")
    add("qqp --overwrite with a missing data file", "qqp",
        ["train", "--data", str(t / "missing.tsv"), *QQP_SMALL, "--run-dir", RUN, "--overwrite"], 2,
        "QQP file not found", run="qqp")
    add("qqp --resume with another --vocab-size", "qqp", ["train", "--run-dir", RUN, "--resume", "--vocab-size", "30"],
        2, "--vocab-size 30 differs from the saved 60", run="qqp")
    add("qqp --resume, vocab.txt damaged", "qqp", ["train", "--run-dir", RUN, "--resume", "--epochs", "3"], 2,
        "vocab.txt", run="qqp", prepare=lambda r: (r / "vocab.txt").write_text("not a vocabulary\n"))
    add("qqp --resume, interrupted.npz truncated", "qqp", ["train", "--run-dir", RUN, "--resume", "--epochs", "3"], 2,
        "interrupted.npz: not a readable .npz", run="qqp", prepare=_corrupt("interrupted.npz"))
    add("qqp predict an empty question", "qqp", ["predict", "", "where is paris", "--run-dir", RUN], 2,
        "question1 is empty", run="qqp")
    add("qqp predict a blank second question", "qqp", ["predict", "where is paris", "  ", "--run-dir", RUN], 2,
        "question2 is empty", run="qqp")
    add("qqp predict from a missing run", "qqp", ["predict", "a", "b", "--run-dir", new], 2, "is not a qqp run folder")
    add("qqp predict, vocab.txt of another run", "qqp", ["predict", "a", "b", "--run-dir", RUN], 2,
        "the run folder is inconsistent", run="qqp",
        prepare=lambda r: __import__("pmt.transformer.tokenizer", fromlist=["Tokenizer"]).Tokenizer.train(
            ["a b c d e f"] * 3, vocab_size=40).save(r / "vocab.txt"))
    add("qqp predict, config.json garbled", "qqp", ["predict", "a", "b", "--run-dir", RUN], 2,
        r"config.json:1: not valid JSON", run="qqp", prepare=_edit_config("{garbled"))
    add("qqp predict, best.npz of another model", "qqp", ["predict", "a", "b", "--run-dir", RUN], 2,
        "best.npz: checkpoint does not fit the model", run="qqp",
        prepare=lambda r: (_foreign_checkpoint(r), (r / "last.npz").rename(r / "best.npz")))
    add("qqp eval without --data or --split", "qqp", ["eval", "--run-dir", RUN], 2, "give --data FILE, or --split",
        run="qqp")
    add("qqp eval an unlabelled file", "qqp", ["eval", "--data", str(f.qqp_unlabelled), "--run-dir", RUN], 2,
        "no is_duplicate column", run="qqp")
    add("qqp eval --split when the data file is gone", "qqp", ["eval", "--split", "valid", "--run-dir", RUN], 2,
        "QQP file not found", run="qqp", prepare=_edit_config(lambda c: __import__("json").dumps(
            {**c, "data": "/nonexistent/train.tsv"})))
    add("qqp eval --split, config.json split garbled", "qqp", ["eval", "--split", "valid", "--run-dir", RUN], 2,
        "config.json: 'split' should be", run="qqp", prepare=_edit_config(lambda c: __import__("json").dumps(
            {**c, "split": "ten percent"})))
    add("qqp eval --max-rows 0", "qqp", ["eval", "--data", str(f.qqp), "--run-dir", RUN, "--max-rows", "0"], 2,
        _arg("--max-rows", INT1), run="qqp")
    add("qqp attention --layer 9", "qqp", ["attention", "a", "b", "--run-dir", RUN, "--layer", "9"], 2,
        "--layer 9: the model has 1 encoder layer", run="qqp")
    add("qqp attention --plot without a plot's extension", "qqp", ["attention", "a", "b", "--run-dir", RUN,
        "--plot", str(t / "a.txt")], 2, r"--plot .*a.txt: expected a file name ending in .png", run="qqp")
    add("qqp attention --plot is a folder", "qqp", ["attention", "a", "b", "--run-dir", RUN, "--plot", str(f.data)], 2,
        "--plot .*is a folder", run="qqp")
    add("qqp diverges at --lr 1e30", "qqp", qqp + ["--run-dir", new, "--lr", "1e30"], 1, r"diverged: .*(nan|inf)")

    # ---------------------------------------------------------------- pmt-pretrain
    pt = ["train", "--corpus", str(f.pt_corpus), *PRETRAIN_SMALL]
    for flag, value, what in [("--steps", "0", INT1), ("--round-steps", "0", INT1), ("--batch-size", "0", INT1),
                              ("--seq-len", "0", INT1), ("--eval-segments", "0", INT1), ("--lr", "nan", POS),
                              ("--clip", "0", POS), ("--warmup", "-1", "must be an integer >= 0"),
                              ("--weight-decay", "-0.1", "must be a finite number >= 0"),
                              ("--mask-prob", "1", "must be a number strictly between 0 and 1"),
                              ("--dropout", "1", r"must be a number in \[0, 1\)"), ("--vocab-size", "0", INT1)]:
        add(f"pretrain train {flag} {value}", "pretrain", pt + ["--run-dir", new, flag, value], 2, _arg(flag, what))
    add("pretrain --seq-len too short for two spans", "pretrain", pt + ["--run-dir", new, "--seq-len", "4"], 2,
        r"seq_len must be at least 5 \(\[CLS\] A \[SEP\] B \[SEP\]")
    add("pretrain --heads not dividing --d-model", "pretrain", pt + ["--run-dir", new, "--d-model", "10", "--heads", "3"],
        2, "divisible")
    add("pretrain --vocab-size other than the corpus's", "pretrain", pt + ["--run-dir", new, "--vocab-size", "99"], 2,
        "holds a [0-9]+-token vocabulary, not --vocab-size 99")
    add("pretrain --corpus missing its token files", "pretrain",
        ["train", "--corpus", str(f.pt_corpus_broken), *PRETRAIN_SMALL, "--run-dir", new], 2,
        "is not a complete corpus folder: missing")
    add("pretrain prepare over a prepared corpus", "pretrain", ["prepare", "--corpus", str(f.pt_corpus)], 2,
        "already holds a corpus; pass --overwrite")
    add("pretrain train into a trained run", "pretrain", pt + ["--run-dir", RUN], 2, "already holds files",
        run="pretrain")
    add("pretrain --resume with nothing to resume", "pretrain", pt + ["--run-dir", new, "--resume"], 2,
        "nothing to resume")
    add("pretrain --resume with another --lr", "pretrain", ["train", "--run-dir", RUN, "--resume", "--lr", "0.1"], 2,
        "--lr 0.1 differs from the saved", run="pretrain")
    add("pretrain --resume, last.npz truncated", "pretrain", ["train", "--run-dir", RUN, "--resume", "--steps", "4"], 2,
        "last.npz: not a readable .npz", run="pretrain", prepare=_corrupt("last.npz"))
    add("pretrain --resume, config.json garbled", "pretrain", ["train", "--run-dir", RUN, "--resume"], 2,
        r"config.json:1: not valid JSON", run="pretrain", prepare=_edit_config("{garbled"))
    add("pretrain fill without [MASK]", "pretrain", ["fill", "the cat", "--run-dir", RUN], 2,
        r"no \[MASK\] in 'the cat'", run="pretrain")
    add("pretrain fill a text longer than the model reads", "pretrain",
        ["fill", "[MASK] " + "how do i learn python " * 8, "--run-dir", RUN], 2, "the model reads at most 16",
        run="pretrain")
    add("pretrain fill from a missing run", "pretrain", ["fill", "[MASK] cat", "--run-dir", new], 2,
        "--run-dir .*: no such folder")
    add("pretrain fill, encoder.npz truncated", "pretrain", ["fill", "[MASK] cat", "--run-dir", RUN], 2,
        "encoder.npz: not a readable .npz", run="pretrain", prepare=_corrupt("encoder.npz"))
    add("pretrain fill --top 0", "pretrain", ["fill", "[MASK] cat", "--run-dir", RUN, "--top", "0"], 2,
        _arg("--top", INT1), run="pretrain")
    add("pretrain diverges at --lr 1e30", "pretrain", pt + ["--run-dir", new, "--lr", "1e30"], 1,
        r"diverged: training loss is (nan|inf)")
    out = ["export", "--run-dir", RUN, "--out"]
    add("pretrain export into a folder holding files", "pretrain", out + [str(f.not_a_run)], 2,
        "already holds files .*; replace an exported model with --overwrite", run="pretrain")
    add("pretrain export --overwrite of a folder that holds no export", "pretrain", out + [str(f.not_a_run), "--overwrite"],
        2, "holds no encoder.safetensors, so it is not an exported model folder", run="pretrain")
    add("pretrain export --out is a file", "pretrain", out + [str(f.a_file)], 2, "--out .*: is a file, not a folder",
        run="pretrain")
    add("pretrain export of a run without encoder.npz", "pretrain", out + [new], 2,
        r"no pretrained weights \(encoder.npz or encoder.safetensors\)", run="pretrain", prepare=_remove("encoder.npz"))
    add("pretrain export of a run whose vocab.txt does not fit", "pretrain", out + [new], 2,
        "vocab.txt: [0-9]+ tokens, but .*encoder.npz was pretrained with a vocabulary of", run="pretrain",
        prepare=_other_vocabulary)
    add("pretrain export without --out", "pretrain", ["export", "--run-dir", RUN], 2,
        "the following arguments are required: --out", run="pretrain")
    add("pretrain compare a folder without metrics.csv", "pretrain", ["compare", RUN, new], 2,
        "metrics.csv: no such file", run="pretrain")
    add("pretrain compare --out without a plot's extension", "pretrain", ["compare", RUN, "--out", str(t / "c.txt")], 2,
        r"--out .*c.txt: expected a file name ending in .png", run="pretrain")
    add("pretrain compare --out is a folder", "pretrain", ["compare", RUN, "--out", str(f.not_a_run)], 2,
        "--out .*: is a folder, expected a file name", run="pretrain")
    add("pretrain fill of an export, encoder.safetensors truncated", "pretrain", ["fill", "[MASK] cat", "--run-dir", RUN],
        2, "encoder.safetensors: header length", run="pretrain-export", prepare=_corrupt("encoder.safetensors"))

    # ---------------------------------------------------------------- --init (qqp, ner)
    pre = str(ws.runs["pretrain"])
    qqp_init = ["train", "--data", str(f.qqp), *QQP_INIT_SMALL]
    ner_init = ["train", "--train", str(f.conll), "--valid", str(f.conll), *NER_SMALL]
    for task, base in (("qqp", qqp_init), ("ner", ner_init)):
        add(f"{task} --init a missing folder", task, base + ["--init", str(t / "nowhere"), "--run-dir", new], 2,
            "--init .*nowhere: no such folder")
        add(f"{task} --init a file", task, base + ["--init", str(f.a_file), "--run-dir", new], 2,
            "is a file; give the pretraining run folder")
        add(f"{task} --init a task run folder (no encoder.npz)", task, base + ["--init", RUN, "--run-dir", new], 2,
            r"no pretrained weights \(encoder.npz or encoder.safetensors\); a pretraining run folder", run="qqp")
        add(f"{task} --init, vocab.txt of another vocabulary", task, base + ["--init", RUN, "--run-dir", new], 2,
            r"vocab.txt: [0-9]+ tokens, but .*encoder.npz was pretrained with a vocabulary of [0-9]+: the pretraining "
            "run folder is inconsistent", run="pretrain", prepare=_other_vocabulary)
        add(f"{task} --init, encoder.npz truncated", task, base + ["--init", RUN, "--run-dir", new], 2,
            "encoder.npz: not a readable .npz", run="pretrain", prepare=_corrupt("encoder.npz"))
        add(f"{task} --init, encoder.npz of another model", task, base + ["--init", RUN, "--run-dir", new], 2,
            "encoder.npz: no model config in its metadata", run="pretrain",
            prepare=lambda r: _foreign_checkpoint(r, "encoder.npz"))
        add(f"{task} --init an export, encoder.safetensors truncated", task, base + ["--init", RUN, "--run-dir", new],
            2, "encoder.safetensors: header length", run="pretrain-export", prepare=_corrupt("encoder.safetensors"))
        add(f"{task} --init an export, encoder.safetensors of another shape", task,
            base + ["--init", RUN, "--run-dir", new], 2,
            "encoder.safetensors: checkpoint does not fit the model: shape mismatch pos.weight", run="pretrain-export",
            prepare=_edit_safetensors(lambda w, m: w.update({"pos.weight": w["pos.weight"][:4]})))
        add(f"{task} --init an export without its config metadata", task, base + ["--init", RUN, "--run-dir", new], 2,
            "encoder.safetensors: no model config in its metadata", run="pretrain-export",
            prepare=_edit_safetensors(lambda w, m: m.pop("pmt.config")))
        add(f"{task} --init an export with NaN weights", task, base + ["--init", RUN, "--run-dir", new], 2,
            "encoder.safetensors: .* NaN/inf value", run="pretrain-export",
            prepare=_edit_safetensors(lambda w, m: w["tok_emb.weight"].__setitem__((0, 0), np.nan)))
        add(f"{task} --init an export, vocab.txt of another vocabulary", task, base + ["--init", RUN, "--run-dir", new],
            2, r"vocab.txt: [0-9]+ tokens, but .*encoder.safetensors was pretrained with a vocabulary of [0-9]+: the "
            "exported folder is inconsistent", run="pretrain-export", prepare=_other_vocabulary)
        add(f"{task} --init a folder holding encoder.npz and encoder.safetensors", task,
            base + ["--init", RUN, "--run-dir", new], 2, "holds both encoder.npz and encoder.safetensors, so the "
            "weights to use are ambiguous", run="pretrain-export", prepare=_copy_from(ws.runs["pretrain"], "encoder.npz"))
        add(f"{task} --init-lr without --init", task, base + ["--init-lr", "1e-4", "--run-dir", new], 2,
            "--init-lr needs --init RUN")
        add(f"{task} --init-weights without --init", task, base + ["--init-weights", "random", "--run-dir", new], 2,
            "--init-weights needs --init RUN")
        add(f"{task} --init-lr 0", task, base + ["--init", pre, "--init-lr", "0", "--run-dir", new], 2,
            _arg("--init-lr", POS))
        add(f"{task} --init-weights zeros", task, base + ["--init", pre, "--init-weights", "zeros", "--run-dir", new],
            2, _arg("--init-weights", "invalid choice"))
        add(f"{task} --resume of an --init run with another --init-lr", task,
            ["train", "--run-dir", RUN, "--resume", "--init-lr", "0.5"], 2, "--init-lr 0.5 differs from the saved",
            run=f"{task}-init")
    add("qqp --init with --d-model", "qqp", qqp_init + ["--init", pre, "--d-model", "32", "--run-dir", new], 2,
        "--d-model: with --init the pretraining run decides it; leave it out")
    add("qqp --init with --max-len beyond the pretrained one", "qqp",
        qqp_init + ["--init", pre, "--max-len", "64", "--run-dir", new], 2,
        "--max-len 64: the pretrained encoder of .* reads at most 16 tokens")
    add("qqp predict, an --init run's vocab.txt replaced", "qqp", ["predict", "a", "b", "--run-dir", RUN], 2,
        "the run folder is inconsistent", run="qqp-init", prepare=_other_vocabulary)
    add("ner --layers 0 without --init", "ner", ner_init + ["--layers", "0", "--run-dir", new], 2,
        r"--layers 0 \(no encoder of the tagger's own\) needs --init RUN")
    add("ner --init-dropout without --init", "ner", ner_init + ["--init-dropout", "0.2", "--run-dir", new], 2,
        "--init-dropout needs --init RUN")
    add("ner --init-dropout 1", "ner", ner_init + ["--init", pre, "--init-dropout", "1", "--run-dir", new], 2,
        _arg("--init-dropout", r"must be a number in \[0, 1\)"))
    add("ner --init-view without --init", "ner", ner_init + ["--init-view", "mix", "--run-dir", new], 2,
        "--init-view needs --init RUN")
    add("ner --init-view first", "ner", ner_init + ["--init", pre, "--init-view", "first", "--run-dir", new], 2,
        _arg("--init-view", "invalid choice"))
    add("ner eval of an --init run without its vocab.txt", "ner", ["eval", "--data", str(f.conll), "--run-dir", RUN], 2,
        "vocab.txt: missing; the tagger reads sub-words", run="ner-init", prepare=_remove("vocab.txt"))
    add("ner tag, an --init run's vocab.txt replaced", "ner", ["tag", "EU", "--run-dir", RUN], 2,
        "the run folder is inconsistent", run="ner-init", prepare=_other_vocabulary)
    add("ner export --onnx of an --init run", "ner", ["export", "--run-dir", RUN, "--onnx", str(t / "init.onnx"),
                                                      "--safetensors", str(t / "init.safetensors")], 2,
        "a tagger with a pretrained encoder .* has no ONNX graph here yet", run="ner-init")

    # ---------------------------------------------------------------- pmt-toy
    for flag, value, what in [("--steps", "0", INT1), ("--lr", "inf", POS), ("--batch-size", "0", INT1),
                              ("--eval-every", "0", INT1), ("--task", "shuffle", "invalid choice"),
                              ("--max-len", "0", INT1), ("--n-eval", "0", INT1), ("--warmup", "-2", "must be an integer >= 0")]:
        add(f"toy {flag} {value}", "toy", TOY_SMALL + ["--run-dir", new, flag, value], 2, _arg(flag, what))
    add("toy --heads not dividing --d-model", "toy", TOY_SMALL + ["--run-dir", new, "--heads", "3"], 2, "divisible")
    add("toy run folder is a file", "toy", TOY_SMALL + ["--run-dir", str(f.a_file)], 2, "is a file, not a run folder")
    add("toy train into a trained run", "toy", TOY_SMALL + ["--run-dir", RUN], 2, "already holds files", run="toy")
    add("toy --resume with nothing to resume", "toy", TOY_SMALL + ["--run-dir", new, "--resume"], 2,
        "nothing to resume")
    add("toy diverges at --lr 1e30", "toy", TOY_SMALL + ["--run-dir", new, "--lr", "1e30"], 1,
        r"diverged: training loss is (nan|inf) at epoch 1, batch \d, global step \d \(lr=")
    return cases


def api_cases(ws) -> list:
    """Public functions given bad (or awkward but good) input directly."""
    from pmt.core import Adam, Trainer, batches, fetch
    from pmt.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from pmt.core.errors import DivergenceError
    from pmt.core.examples.linear_demo import LinearClassifier, softmax_cross_entropy
    from pmt.core.files import NpzError, read_npz
    from pmt.core.idx import IDXError, read_idx
    from pmt.transformer.conll import read_conll
    from pmt.transformer.qqp.data import read_qqp
    from pmt.transformer.tokenizer import Tokenizer, VocabFileError
    from pmt.word2vec import KeyedVectors, Word2VecConfig, read_text
    f, t = ws, ws.tmp
    idx_huge = write_idx(t / "huge.idx", np.zeros(20, np.uint8), shape=(2**20, 2**20, 2**20), compress=False)
    header = io.BytesIO()            # an .npy member announcing 2**40 float64 values, holding 16 bytes
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    with zipfile.ZipFile(t / "forged.npz", "w") as z:
        z.writestr("w.npy", header.getvalue() + bytes(16))
    nan_model = LinearClassifier(2, 2)
    nan_model.W.data[:] = np.nan
    save_checkpoint(t / "nan.npz", nan_model, allow_nonfinite=True)
    (t / "bad.vocab").write_text("hello\n")
    nan_kv = KeyedVectors(["a"], np.full((1, 2), np.nan))
    quiet = dict(progress=False, log=lambda s: None)
    model = LinearClassifier(2, 2)
    (t / "empty_dir").mkdir()
    C = Case
    return [
        C("read_idx garbage", call=lambda: read_idx(f.mnist_garbage / "train-labels-idx1-ubyte"), expect=IDXError,
          pattern="bad IDX magic number"),
        C("read_idx 8 EiB header", call=lambda: read_idx(idx_huge), expect=IDXError, pattern="truncated IDX data"),
        C("read_npz forged member shape", call=lambda: read_npz(t / "forged.npz"), expect=NpzError,
          pattern=r"forged.npz: member 'w.npy' announces shape \(1099511627776,\)"),
        C("load_checkpoint truncated", call=lambda: load_checkpoint(f.a_file), expect=CheckpointError,
          pattern="a_file: not a readable .npz"),
        C("load_checkpoint NaN weights", call=lambda: load_checkpoint(t / "nan.npz", LinearClassifier(2, 2)),
          expect=CheckpointError, pattern="nan.npz: W holds 4 NaN/inf values"),
        C("save_checkpoint NaN weights", call=lambda: save_checkpoint(t / "never.npz", nan_model),
          expect=DivergenceError, pattern="refusing to save .*never.npz"),
        C("KeyedVectors binary header asking for 4.8 TB",
          call=lambda: KeyedVectors.load_word2vec_format(f.vectors_huge_bin, binary=True), expect=ValueError,
          pattern="huge.bin: header announces 4,000,000,000 words"),
        C("KeyedVectors binary file too short", call=lambda: KeyedVectors.load_word2vec_format(f.vectors_short_bin,
                                                                                              binary=True),
          expect=ValueError, pattern="short.bin: header announces 3 words"),
        C("KeyedVectors text NaN", call=lambda: KeyedVectors.load_word2vec_format(f.vectors_nan), expect=ValueError,
          pattern="nan.txt: the vector table holds 8 NaN/inf"),
        C("KeyedVectors save NaN", call=lambda: nan_kv.save_word2vec_format(t / "never.txt"), expect=DivergenceError,
          pattern="refusing to write"),
        C("Word2VecConfig alpha inf", call=lambda: Word2VecConfig(alpha=float("inf")), expect=ValueError,
          pattern="alpha .* finite"),
        C("read_text empty corpus", call=lambda: read_text(f.corpus_empty), expect=ValueError,
          pattern="the corpus is empty"),
        C("Trainer checkpoint_every 0", call=lambda: Trainer(model, Adam(model.parameters()), softmax_cross_entropy,
                                                             checkpoint_every=0, checkpoint_dir=t, **quiet),
          expect=ValueError, pattern="checkpoint_every must be an integer >= 1"),
        C("Trainer.fit resume from an empty folder",
          call=lambda: Trainer(model, Adam(model.parameters()), softmax_cross_entropy, **quiet).fit(
              [], 1, resume=t / "empty_dir"), expect=FileNotFoundError, pattern="nothing to resume"),
        C("fetch an unknown dataset", call=lambda: fetch("imagenet"), expect=ValueError,
          pattern="unknown dataset 'imagenet'"),
        C("batches batch_size 0", call=lambda: batches(np.zeros(3), batch_size=0), expect=ValueError,
          pattern="batch_size must be an integer >= 1"),
        C("Tokenizer.load a file that is no vocabulary", call=lambda: Tokenizer.load(t / "bad.vocab"),
          expect=VocabFileError, pattern="bad.vocab: line 1 must be the header"),
        C("read_conll BOM + CRLF + BIOES reads correctly", call=lambda: read_conll(f.conll_bioes_bom_crlf),
          check=lambda s: [x.tokens for x in s][0] == ["EU", "rejects", "German", "call"]
          and s[1].ner == ["B-PER", "E-PER"]),
        C("read_conll without blank line before -DOCSTART-", call=lambda: read_conll(f.conll_no_blank),
          check=lambda s: len(s) == 2 and s[1].tokens == ["Peter"]),
        C("read_qqp BOM + CRLF reads correctly", call=lambda: read_qqp(f.qqp_bom_crlf),
          check=lambda d: d.ids == ["0", "1", "2", "3"] and not d.malformed),
    ]


def proc_cases(ws) -> list:
    """Subprocesses: Ctrl-C in the middle of training, then --resume; console scripts' statuses."""
    f, t = ws, ws.tmp
    py = sys.executable
    bin_dir = Path(py).parent
    cases = []
    trainings = {   # prog: (command training for a long time, the same command's resume)
        "pmt-mnist": ([py, "-m", "pmt.mlp.examples.mnist", "--data-dir", str(f.mnist), "--hidden", "8",
                       "--batch-size", "4", "--valid-size", "50", "--epochs", "500", "--checkpoint-every", "1"],
                      [py, "-m", "pmt.mlp.examples.mnist", "--resume"]),
        "pmt-word2vec": ([py, "-m", "pmt.word2vec.train", "--corpus", str(f.corpus), "--dim", "4", "--min-count", "1",
                          "--epochs", "5000", "--no-eval"], [py, "-m", "pmt.word2vec.train", "--resume", "--no-eval"]),
        "pmt-ner": ([py, "-m", "pmt.transformer.ner", "train", "--train", str(f.conll), "--valid", str(f.conll),
                     *NER_SMALL[:-5], "--epochs", "5000", "--batch-size", "1", "--checkpoint-every", "1"],
                    [py, "-m", "pmt.transformer.ner", "train", "--resume"]),
        "pmt-qqp": ([py, "-m", "pmt.transformer.qqp", "train", "--data", str(f.qqp), *QQP_SMALL[:-5],
                     "--epochs", "5000", "--batch-size", "2", "--checkpoint-every", "1"],
                    [py, "-m", "pmt.transformer.qqp", "train", "--resume"]),
        "pmt-toy": ([py, "-m", "pmt.transformer.examples.toy", "--steps", "300", *TOY_SMALL[2:-1],
                     "--checkpoint-every", "1"], [py, "-m", "pmt.transformer.examples.toy", "--resume"]),
    }
    for prog, (cmd, resume) in trainings.items():
        run_dir = t / f"ctrl-c-{prog}"
        cases.append(Case(f"{prog}: Ctrl-C in the middle of training, then --resume", status=130,
                          pattern=r"interrupted: checkpoint saved to .*interrupted\.npz; continue with --resume|"
                                  r"interrupted: .*last\.npz keeps \d+ finished epoch",
                          proc={"cmd": cmd + ["--run-dir", str(run_dir), "--no-progress"], "run_dir": run_dir,
                                "resume": resume + ["--run-dir", str(run_dir), "--no-progress"],
                                "finish_epoch": prog != "pmt-toy"}, timeout=180))
    for script, argv, status, pattern in [
        ("pmt-ner", ["tag", "", "--run-dir", str(t / "none")], 2, "pmt-ner: error: tag: the text is empty"),
        ("pmt-qqp", ["predict", "a", "b", "--run-dir", str(t / "none")], 2, "is not a qqp run folder"),
        ("pmt-word2vec", ["--lr", "inf"], 2, r"pmt-word2vec: error: argument --lr"),
        ("pmt-mnist", ["--epochs", "0"], 2, r"pmt-mnist: error: argument --epochs"),
        ("pmt-toy", ["--steps", "0"], 2, r"pmt-toy: error: argument --steps"),
        ("pmt-pretrain", ["fill", "[MASK]", "--run-dir", str(t / "none")], 2, "--run-dir .*: no such folder"),
    ]:
        exe = bin_dir / script
        cases.append(Case(f"console script {script} {' '.join(argv[:2])}", status=status, pattern=pattern,
                          proc={"cmd": [str(exe), *argv], "run_dir": None, "resume": None}, timeout=60))
    return cases
