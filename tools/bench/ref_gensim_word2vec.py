"""gensim reference for bench_word2vec: train Word2Vec on a text8-style corpus, print JSON.

Runs in its own process with an interpreter that has gensim 4.4 (never imported by the numpy
side).  The corpus is read like pmt.word2vec reads it (the single member of a zip, or a
text file, optionally cut to --max-chars) and fed as 10,000-word sentences, as gensim's
Text8Corpus does.  Prints one JSON line:
    {"model", "epochs", "accuracy", "semantic", "syntactic", "attempted", "oov",
     "seconds", "words_per_s", "words_per_cpu_s", "corpus_words", "vocab"}

Usage:
    python ref_gensim_word2vec.py --corpus gutenberg8.zip --arch skipgram --epochs 1
"""
import argparse
import json
import logging
import time
import zipfile


def read_words(path, max_chars=None):
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            name = [m for m in zf.namelist() if not m.endswith("/")][0]
            with zf.open(name) as f:
                data = f.read() if max_chars is None else f.read(max_chars)
    else:
        with open(path, "rb") as f:
            data = f.read() if max_chars is None else f.read(max_chars)
    if max_chars is not None and len(data) == max_chars:
        data = data[:data.rfind(b" ")]
    return data.decode("utf-8", errors="replace").lower().split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--max-chars", type=int, default=None)
    ap.add_argument("--arch", choices=["skipgram", "cbow"], default="skipgram")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--restrict-vocab", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from gensim.models import Word2Vec

    words = read_words(a.corpus, a.max_chars)
    sentences = [words[i:i + 10000] for i in range(0, len(words), 10000)]
    model = Word2Vec(vector_size=a.dim, window=a.window, negative=a.negative, hs=0, sample=a.sample,
                     min_count=a.min_count, workers=a.workers, sg=int(a.arch == "skipgram"), seed=a.seed)
    model.build_vocab(sentences)
    t0, c0 = time.perf_counter(), time.process_time()
    model.train(sentences, total_examples=len(sentences), epochs=a.epochs)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    score, sections = model.wv.evaluate_word_analogies(a.questions, restrict_vocab=a.restrict_vocab,
                                                       case_insensitive=True)
    per = {s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections}
    names = [s["section"] for s in sections if s["section"] != "Total accuracy"]

    def acc(ns):
        c = sum(per[n][0] for n in ns)
        t = sum(per[n][1] for n in ns)
        return c / t if t else float("nan")

    print(json.dumps({"model": a.arch, "epochs": a.epochs, "accuracy": score, "semantic": acc(names[:5]),
                      "syntactic": acc(names[5:]), "attempted": per["Total accuracy"][1],
                      "seconds": dt, "words_per_s": a.epochs * len(words) / dt,
                      "words_per_cpu_s": a.epochs * len(words) / dc, "corpus_words": len(words),
                      "vocab": len(model.wv)}))


if __name__ == "__main__":
    main()
