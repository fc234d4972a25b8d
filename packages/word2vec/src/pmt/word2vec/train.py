"""Command line: train word vectors on a text8-style corpus, save them, evaluate analogies.

    python -m pmt.word2vec.train --corpus text8 --model skipgram --epochs 5 --out vectors.bin
    pmt-word2vec --corpus gutenberg8 --model cbow --epochs 1 --max-chars 20000000

`--corpus` takes `text8`, `gutenberg8` (found through pmt.core.datasets / $PMT_DATA_DIR) or a
path to any zip holding one text file, or a plain text file.  Prints the vocabulary size,
a progress bar in words/s, the training speed and the analogy accuracy (30,000 most frequent
words, 3CosAdd), and names the corpus every number came from.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .analogy import evaluate_analogies, read_questions
from .corpus import read_text
from .training import Word2Vec, Word2VecConfig


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pmt-word2vec", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--corpus", default="text8", help="text8, gutenberg8, or a path (.zip or text)")
    ap.add_argument("--max-chars", type=int, default=None, help="use only the first N characters")
    ap.add_argument("--model", choices=["skipgram", "cbow"], default="skipgram")
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--max-vocab", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--alpha", type=float, default=None, help="initial rate (0.025 skipgram, 0.05 cbow)")
    ap.add_argument("--batch", type=int, default=None, help="centre words per update")
    ap.add_argument("--share-negatives", type=int, default=2,
                    help="CBOW: centres sharing one draw of negatives (1 = a fresh draw per centre, as word2vec.c)")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes training at once on shared tables (Hogwild, like gensim's workers); "
                         "1 is reproducible from the seed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None, help="save vectors here (.bin = binary, else text format)")
    ap.add_argument("--questions", default="analogy", help="questions-words.txt path, or 'analogy'")
    ap.add_argument("--restrict-vocab", type=int, default=30000)
    ap.add_argument("--eval-every-epoch", action="store_true", help="evaluate analogies after each epoch")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--json", default=None, help="write the results as JSON to this file")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    cfg = dict(model=a.model, dim=a.dim, window=a.window, negative=a.negative, sample=a.sample,
               min_count=a.min_count, max_vocab=a.max_vocab, epochs=a.epochs, alpha=a.alpha, seed=a.seed,
               share_negatives=a.share_negatives, workers=a.workers)
    if a.batch is not None:
        cfg["batch"] = a.batch
    try:
        config = Word2VecConfig(**cfg)
        # Read the questions first: a missing file should fail before an hour of training.
        questions = None if a.no_eval else read_questions(a.questions)
        t0 = time.perf_counter()
        text = read_text(a.corpus, max_chars=a.max_chars)
    except (ValueError, FileNotFoundError) as e:
        print(f"pmt-word2vec: {e}", file=sys.stderr)
        return 2
    w2v = Word2Vec(config)
    w2v.build_vocab(text)
    ids, line_starts = w2v.vocab.encode(text)
    del text
    corpus = f"{a.corpus}" + (f" (first {a.max_chars:,} chars)" if a.max_chars else "")
    print(f"corpus {corpus}: {len(ids):,} words in vocabulary, vocabulary {len(w2v.vocab):,} "
          f"(min_count {a.min_count}), read in {time.perf_counter() - t0:.1f} s")
    results = {"corpus": corpus, "config": w2v.config_dict(), "epochs": []}

    def after_epoch(epoch, model):
        h = model.history[-1]
        row = {"epoch": epoch + 1, "seconds": h["seconds"], "words_per_s": h["words_per_s"],
               "words_per_cpu_s": h["words_per_cpu_s"], "trained_words": h["trained_words"]}
        msg = (f"epoch {epoch + 1}: {h['seconds']:.1f} s, {h['words_per_s']:,.0f} words/s "
               f"({h['words_per_cpu_s']:,.0f} words per CPU-second)")
        if a.eval_every_epoch and not a.no_eval:
            res = evaluate_analogies(model.wv, questions, restrict_vocab=a.restrict_vocab)
            row["analogy"] = res.to_dict()
            msg += f", analogy accuracy {res.accuracy:.1%}"
        print(msg, flush=True)
        results["epochs"].append(row)

    w2v.train(ids, line_starts, progress=not a.quiet, epoch_callback=after_epoch)
    total_s = sum(h["seconds"] for h in w2v.history)
    words = sum(h["words"] for h in w2v.history)
    wps = words / max(total_s, 1e-9)
    wpc = words / max(sum(h["cpu_seconds"] for h in w2v.history), 1e-9)
    print(f"trained {a.model} on {corpus}: {a.epochs} epoch(s), {total_s:.1f} s, {wps:,.0f} words/s, "
          f"{wpc:,.0f} words per CPU-second")
    results["words_per_s"] = wps
    results["words_per_cpu_s"] = wpc
    if a.out:
        out = Path(a.out)
        w2v.wv.save_word2vec_format(out, binary=out.suffix == ".bin")
        print(f"vectors saved to {out}")
    if not a.no_eval:
        res = evaluate_analogies(w2v.wv, questions, restrict_vocab=a.restrict_vocab)
        print(f"analogy evaluation ({corpus}, {a.model}, {a.epochs} epoch(s)):")
        print(res.report())
        results["analogy"] = res.to_dict()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
