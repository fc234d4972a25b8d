"""Tiny data files (good and broken) and tiny trained runs for the bad-input cases."""
from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np

CONLL = ["-DOCSTART- O", "", "EU B-ORG", "rejects O", "German B-MISC", "call O", "", "Peter B-PER",
         "Blackburn I-PER", "", "BRUSSELS B-LOC", "1996-08-22 O", ""]
QQP_HEADER = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"
QUESTIONS = ["how do i learn python", "how can i learn python", "what is the capital of france",
             "where is paris", "how to cook rice", "best way to cook rice", "why is the sky blue",
             "what makes the sky blue"]

# Small model settings: every training case takes a fraction of a second.
NER_SMALL = ["--d-model", "8", "--heads", "2", "--ff", "8", "--layers", "1", "--word-dim", "8",
             "--char-filters", "4", "--min-count", "1", "--epochs", "2", "--batch-size", "2", "--warmup", "1",
             "--no-progress"]
QQP_SMALL = ["--vocab-size", "60", "--d-model", "8", "--heads", "2", "--ff", "8", "--layers", "1",
             "--max-len", "16", "--epochs", "2", "--batch-size", "8", "--warmup", "1", "--no-progress"]
W2V_SMALL = ["--dim", "4", "--min-count", "1", "--epochs", "1", "--no-eval", "--no-progress"]
MNIST_SMALL = ["--hidden", "8", "--epochs", "1", "--batch-size", "32", "--valid-size", "50", "--no-progress"]
TOY_SMALL = ["--steps", "4", "--eval-every", "2", "--batch-size", "4", "--n-eval", "4", "--max-len", "4",
             "--d-model", "8", "--heads", "2", "--ff", "8", "--layers", "1", "--warmup", "1", "--no-progress"]
QQP_INIT_SMALL = ["--max-len", "16", "--epochs", "2", "--batch-size", "8", "--warmup", "1", "--no-progress"]
PRETRAIN_SMALL = ["--d-model", "8", "--heads", "2", "--ff", "8", "--layers", "1", "--seq-len", "16",
                  "--batch-size", "4", "--round-steps", "2", "--steps", "2", "--warmup", "1", "--eval-segments", "4",
                  "--no-progress"]


def write_idx(path: Path, arr: np.ndarray, type_code: int = 0x08, shape=None, compress=True) -> Path:
    """An IDX file; `shape` overrides the header's dimensions (a lying header)."""
    shape = arr.shape if shape is None else shape
    raw = struct.pack(">HBB", 0, type_code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
    raw += arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def _mnist_folder(folder: Path, n_train=200, n_test=50, images=None, labels=None) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if images is None else images
        y = rng.integers(0, 10, n).astype(np.uint8) if labels is None else labels
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", y)
    return folder


def _pretrain_corpus(folder: Path, lines) -> Path:
    """A corpus folder `pmt-pretrain train --corpus` reads: a cased tokenizer and the tokenised lines."""
    from pmt.transformer.pretrain.corpus import TextSource, build_corpus
    from pmt.transformer.tokenizer import Tokenizer
    lines = list(lines) * 8
    tok = Tokenizer.train(lines, vocab_size=120, lowercase=False)
    folder.mkdir(parents=True)
    tok.save(folder / "vocab.txt")
    build_corpus(tok, [TextSource("fixture", lambda: iter(lines), len(lines))], folder, 0.2, progress=False)
    return folder


class Workspace:
    """Paths of every file the cases use, created under `root`."""

    def __init__(self, root: Path):
        self.root = root
        self.tmp = root / "scratch"
        self.tmp.mkdir(parents=True)
        d = self.data = root / "files"
        d.mkdir()
        def w(name, text):
            (d / name).write_text(text)
            return d / name

        def wb(name, data):
            (d / name).write_bytes(data)
            return d / name

        # CoNLL
        self.conll = w("tiny.conll", "\n".join(CONLL) + "\n")
        self.conll_empty = w("empty.conll", "\n\n")
        self.conll_docstart_only = w("docstart.conll", "-DOCSTART- -X- -X- O\n\n")
        self.conll_bad_tag = w("badtag.conll", "EU B-ORG\nrejects X-PER\n")
        self.conll_bad_cols = w("badcols.conll", "EU NNP B-ORG\n")
        self.conll_mixed_cols = w("mixedcols.conll", "EU NNP I-NP B-ORG\nrejects O\n")
        self.conll_run_on = w("runon.conll", "-DOCSTART- O\n\n" + "word O\n" * 1200)
        self.conll_latin1 = wb("latin1.conll", "Caf\u00e9 B-ORG\n".encode("latin-1"))
        self.conll_new_tag = w("newtag.conll", "Rome B-CITY\n\n")
        self.conll_long = w("long.conll", "word O\n" * 600)
        lines = [ln.replace("B-ORG", "S-ORG").replace("B-MISC", "S-MISC").replace("B-LOC", "S-LOC")
                 .replace("I-PER", "E-PER") for ln in CONLL]
        self.conll_bioes_bom_crlf = wb("bioes.conll", ("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
        self.conll_no_blank = w("noblank.conll", "EU B-ORG\nrejects O\n-DOCSTART- O\nPeter B-PER\n")
        # word vectors (for pmt-ner --vectors, and KeyedVectors)
        self.vectors = w("vectors.txt", "2 8\neu " + " ".join(["0.1"] * 8) + "\ncall " + " ".join(["0.2"] * 8) + "\n")
        self.vectors_bad_head = w("badhead.txt", "vectors follow\neu 1 2\n")
        self.vectors_dim4 = w("dim4.txt", "1 4\neu 1 2 3 4\n")
        self.vectors_nan = w("nan.txt", "1 8\neu " + " ".join(["nan"] * 8) + "\n")
        self.vectors_word = w("word.txt", "1 8\neu 1 2 3 four 5 6 7 8\n")
        self.vectors_huge_bin = wb("huge.bin", b"4000000000 300000\nw 1234\n")
        self.vectors_short_bin = wb("short.bin", b"3 2\nab " + b"\0" * 8 + b"\n")
        # QQP
        rng = np.random.default_rng(0)
        rows = [QQP_HEADER] + [f"{i}\t{2 * i}\t{2 * i + 1}\t{QUESTIONS[rng.integers(8)]}\t"
                               f"{QUESTIONS[rng.integers(8)]}\t{rng.integers(2)}" for i in range(60)]
        self.qqp = w("tiny.tsv", "\n".join(rows) + "\n")
        self.qqp_bom_crlf = wb("bom.tsv", ("\ufeff" + "\r\n".join(rows[:5]) + "\r\n").encode())
        self.qqp_header = w("header.tsv", "a\tb\tc\n1\t2\t3\n")
        self.qqp_no_pairs = w("nopairs.tsv", QQP_HEADER + "\n1\t2\n3\t4\t5\tA\tB\tmaybe\n")
        self.qqp_empty = w("empty.tsv", QQP_HEADER + "\n")
        self.qqp_unlabelled = w("unlabelled.tsv", "id\tquestion1\tquestion2\n1\ta b\tc d\n")
        self.qqp_latin1 = wb("latin1.tsv", (QQP_HEADER + "\n1\t1\t2\tCaf\u00e9?\tB\t1\n").encode("latin-1"))
        # corpora and analogy questions
        words = [f"w{i}" for i in range(40)]
        self.corpus = w("corpus.txt", "\n".join(" ".join(rng.choice(words, 12)) for _ in range(300)))
        self.corpus_other = w("corpus2.txt", "\n".join(" ".join(rng.choice(words, 12)) for _ in range(200)))
        self.corpus_empty = w("empty.txt", "  \n\n")
        self.questions = w("questions.txt", ": sec\nw1 w2 w3 w4\nw5 w6 w7 w8\n")
        self.questions_bad = w("badq.txt", ": sec\nw1 w2 w3\n")
        self.questions_empty = w("emptyq.txt", ": sec\n")
        with zipfile.ZipFile(d / "two.zip", "w") as z:
            z.writestr("a", "x y")
            z.writestr("b", "y z")
        self.zip_two = d / "two.zip"
        with zipfile.ZipFile(d / "broken.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("a", "words " * 2000)
        raw = bytearray((d / "broken.zip").read_bytes())
        raw[60:90] = b"\0" * 30
        self.zip_broken = wb("broken.zip", bytes(raw))
        # MNIST-format folders for pmt-mnist --data-dir
        self.mnist = _mnist_folder(d / "mnist")
        self.mnist_garbage = d / "mnist_garbage"
        self.mnist_garbage.mkdir()
        for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                     "t10k-labels-idx1-ubyte"):
            (self.mnist_garbage / name).write_bytes(b"GARBAGE!" * 4)
        self.mnist_huge = _mnist_folder(d / "mnist_huge")
        write_idx(self.mnist_huge / "train-images-idx3-ubyte.gz", np.zeros(30, np.uint8), shape=(2**31, 2**31, 2**10))
        self.mnist_short = _mnist_folder(d / "mnist_short")
        write_idx(self.mnist_short / "train-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8), shape=(200, 28, 28))
        self.mnist_labels = _mnist_folder(d / "mnist_labels", labels=np.full(200, 12, np.uint8), n_test=200)
        self.mnist_shape = _mnist_folder(d / "mnist_shape", images=np.zeros((200, 5, 5), np.uint8), n_test=200)
        self.mnist_npz = d / "mnist_npz"
        self.mnist_npz.mkdir()
        (self.mnist_npz / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
        self.not_a_run = d / "not_a_run"
        self.not_a_run.mkdir()
        (self.not_a_run / "notes.txt").write_text("mine")
        self.a_file = w("a_file", "x")
        # a pretraining corpus folder of the QQP and CoNLL fixtures' words (pmt-pretrain --corpus)
        self.pt_corpus = _pretrain_corpus(d / "pt_corpus", QUESTIONS + [" ".join(ln.split()[0] for ln in CONLL if ln)])
        self.pt_corpus_broken = d / "pt_corpus_broken"
        shutil.copytree(self.pt_corpus, self.pt_corpus_broken)
        next(self.pt_corpus_broken.glob("*.npy")).unlink()
        # a data mirror whose folders hold the other dataset's files (needs the real mirror)
        self.mirror = Path(os.environ["PMT_DATA_DIR"]) if os.environ.get("PMT_DATA_DIR") else None
        self.swapped = root / "swapped"
        if self.mirror is not None and (self.mirror / "mnist").is_dir() and (self.mirror / "fashion-mnist").is_dir():
            for real, placed in (("mnist", "fashion-mnist"), ("fashion-mnist", "mnist")):
                (self.swapped / placed).mkdir(parents=True)
                for f in (self.mirror / real).iterdir():
                    (self.swapped / placed / f.name).symlink_to(f)
        else:
            self.swapped = None
        self.runs = {}

    def train_fixtures(self, clis):
        """One tiny trained run per CLI (the runs bad commands must leave byte for byte)."""
        base = self.root / "fixtures"
        argvs = {
            "ner": ["train", "--train", str(self.conll), "--valid", str(self.conll), *NER_SMALL],
            "qqp": ["train", "--data", str(self.qqp), *QQP_SMALL],
            "word2vec": ["--corpus", str(self.corpus), *W2V_SMALL],
            "mnist": ["--data-dir", str(self.mnist), *MNIST_SMALL],
            "toy": [*TOY_SMALL],
            "pretrain": ["train", "--corpus", str(self.pt_corpus), *PRETRAIN_SMALL],
        }
        for name, argv in argvs.items():
            sink = io.StringIO()
            with redirect_stdout(sink), redirect_stderr(sink):
                status = clis[name](argv + ["--run-dir", str(base / name)])
            if status != 0:
                raise RuntimeError(f"could not train the {name} fixture (exit {status}):\n{sink.getvalue()}")
            self.runs[name] = base / name
        # the pretraining fixture exported (pmt-pretrain export): the folder a repository ships
        sink = io.StringIO()
        with redirect_stdout(sink), redirect_stderr(sink):
            status = clis["pretrain"](["export", "--run-dir", str(self.runs["pretrain"]),
                                       "--out", str(base / "pretrain-export")])
        if status != 0:
            raise RuntimeError(f"could not export the pretrain fixture (exit {status}):\n{sink.getvalue()}")
        self.runs["pretrain-export"] = base / "pretrain-export"
        # tasks fine-tuned from the pretraining fixture (pmt-qqp / pmt-ner train --init)
        for name, argv in (("qqp-init", ["train", "--data", str(self.qqp), *QQP_INIT_SMALL]),
                           ("ner-init", argvs["ner"])):
            task = name.split("-")[0]
            sink = io.StringIO()
            with redirect_stdout(sink), redirect_stderr(sink):
                status = clis[task](argv + ["--init", str(self.runs["pretrain"]), "--run-dir", str(base / name)])
            if status != 0:
                raise RuntimeError(f"could not train the {name} fixture (exit {status}):\n{sink.getvalue()}")
            self.runs[name] = base / name
        return self.runs
