"""Benchmark pmt.word2vec against gensim 4.4: training speed (words/s) and analogy accuracy.

    make bench-word2vec                       # first 20M characters of gutenberg8, 1 epoch
    python -m tools.bench word2vec --full-corpus --epochs 5   # the README's full runs

Both sides use the same corpus slice and settings (dim 100, window 5, negative 5, sample 1e-3,
min_count 5), and by default 2 workers each (ours: processes, pmt.word2vec.parallel; gensim:
threads).  gensim runs in its own process (tools/bench/ref_gensim_word2vec.py)
through `run_reference`; without a gensim interpreter, ours is reported alone.  words/s
counts raw corpus words per second of training (vocabulary building excluded), as gensim does;
words/CPU-s divides by the CPU time of all the workers, which
a busy shared machine disturbs far less than wall-clock time.
"""
from __future__ import annotations

import time
from pathlib import Path

from .common import Row, report, run_reference

HERE = Path(__file__).resolve().parent


def _ours(corpus, questions, model, epochs, max_chars, workers):
    from pmt.word2vec import Word2Vec, evaluate_analogies, read_text

    text = read_text(corpus, max_chars=max_chars)
    w2v = Word2Vec(model=model, epochs=epochs, workers=workers)
    w2v.build_vocab(text)
    ids, starts = w2v.vocab.encode(text)
    del text
    t0 = time.perf_counter()
    w2v.train(ids, starts)                                   # worker start-up included
    dt = time.perf_counter() - t0
    dc = sum(h["cpu_seconds"] for h in w2v.history)         # all workers' CPU time
    res = evaluate_analogies(w2v.wv, questions, restrict_vocab=30000)
    return {"words_per_s": epochs * len(ids) / dt, "words_per_cpu_s": epochs * len(ids) / dc,
            "accuracy": res.accuracy, "semantic": res.semantic, "syntactic": res.syntactic,
            "seconds": dt, "corpus_words": len(ids)}


def _archs(text) -> list:
    """`skipgram`, `cbow`, or a comma-separated list of them (the old --models spelling)."""
    import argparse
    names = [t for t in text.split(",") if t]
    bad = [t for t in names if t not in ("skipgram", "cbow")]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected skipgram or cbow, got {text!r}")
    return names


def main(argv=None) -> int:
    from pmt.core import cli
    ap = cli.ArgumentParser(prog="python -m tools.bench word2vec")
    ap.add_argument("--max-chars", type=cli.positive_int, default=20_000_000, help="the first N characters")
    ap.add_argument("--full-corpus", action="store_true", help="the whole corpus instead of --max-chars")
    ap.add_argument("--epochs", type=cli.positive_int, default=1)
    ap.add_argument("--arch", type=_archs, nargs="+", default=[["skipgram", "cbow"]], help="skipgram, cbow or both")
    ap.add_argument("--workers", type=cli.positive_int, default=2, help="our worker processes (gensim: --ref-workers)")
    ap.add_argument("--ref-workers", type=cli.positive_int, default=2, help="gensim worker threads")
    cli.add_reference_flag(ap)
    cli.deprecate(ap, "--models", "--arch")
    a = ap.parse_args(argv)
    archs = [m for group in a.arch for m in group]
    from pmt.word2vec.analogy import _dataset_file
    from pmt.word2vec.corpus import resolve_corpus

    corpus = resolve_corpus("gutenberg8")
    questions = _dataset_file("analogy", "questions-words.txt")
    max_chars = None if a.full_corpus else a.max_chars
    where = f"gutenberg8{'' if max_chars is None else f' first {max_chars:,} chars'}, {a.epochs} epoch(s)"
    rows = []
    for model in archs:
        ours = _ours(corpus, questions, model, a.epochs, max_chars, a.workers)
        ref = None
        if not a.no_reference:
            args = ["--corpus", corpus, "--questions", questions, "--arch", model, "--epochs", a.epochs,
                    "--workers", a.ref_workers]
            if max_chars:
                args += ["--max-chars", max_chars]
            ref = run_reference(HERE / "ref_gensim_word2vec.py", args, timeout=7200)
        note = where + ("" if ref or a.no_reference else "; gensim not installed")
        rows.append(Row(f"{model} train words/s", ours["words_per_s"], ref and ref["words_per_s"], "w/s",
                        note + f", ours {a.workers} worker(s)" + (f", gensim {a.ref_workers}" if ref else "")))
        rows.append(Row(f"{model} train words/CPU-s", ours["words_per_cpu_s"],
                        ref and ref.get("words_per_cpu_s"), "w/cpu-s",
                        "CPU time of all threads: robust to a busy machine"))
        rows.append(Row(f"{model} analogy acc (30k)", 100 * ours["accuracy"],
                        ref and 100 * ref["accuracy"], "%", note))
        rows.append(Row(f"{model} semantic / syntactic", 100 * ours["semantic"],
                        ref and 100 * ref["semantic"], "%",
                        f"syntactic ours {100 * ours['syntactic']:.1f}%"
                        + (f", gensim {100 * ref['syntactic']:.1f}%" if ref else "")))
    report("word2vec", rows)
    return 0
