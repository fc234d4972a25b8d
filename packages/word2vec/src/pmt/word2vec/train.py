"""Command line: train word vectors on a text8-style corpus, save them, evaluate analogies.

    python -m pmt.word2vec.train --corpus text8 --arch skipgram --epochs 5 --run-dir runs/sg
    pmt-word2vec --corpus gutenberg8 --arch cbow --epochs 1 --max-chars 20000000

`--corpus` takes `text8`, `gutenberg8` (found through pmt.core.datasets / $PMT_DATA_DIR) or a
path to any zip holding one text file, or a plain text file.  Prints the vocabulary size,
progress in words/s, the training speed and the analogy accuracy (30,000 most frequent
words, 3CosAdd), and names the corpus every number came from.

The run folder (`--run-dir`, default runs/word2vec) holds `config.json`, `last.npz` (after
every epoch), `interrupted.npz` (Ctrl-C), and at the end `vectors.txt` (word2vec text
format, what `pmt-ner train --vectors` reads) and `results.json`.  The CLI contract of
`pmt.core.cli` holds: a folder with a run is refused unless `--resume` (continue it, from
the exact word where it stopped with one worker) or `--overwrite`; exit status 0, 1
(diverged: the vectors became NaN/inf; nothing is saved), 2 (bad input) or 130 (Ctrl-C).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from pmt.core import cli
from pmt.core.cli import nonneg_float, positive_int
from pmt.core.files import atomic_write
from pmt.core.run_folder import RunFolder

from .analogy import evaluate_analogies, read_questions
from .config import MODELS, Word2VecConfig
from .corpus import KNOWN_CORPORA, read_text
from .training import Word2Vec

PROG = "pmt-word2vec"
# What a --resume may change (training further, and what is done with the vectors afterwards);
# everything else must stay as the run was started.  How an invocation runs (--run-dir,
# --resume, --no-progress) is not a setting at all (`cli.run_settings`).
RESUMABLE = {"epochs", "export", "json", "eval_every_epoch", "no_eval", "questions", "restrict_vocab"}


def build_parser() -> argparse.ArgumentParser:
    ap = cli.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--corpus", default="text8", help="text8, gutenberg8, or a path (.zip or text)")
    ap.add_argument("--max-chars", type=positive_int, default=None, help="use only the first N characters")
    ap.add_argument("--arch", choices=MODELS, default="skipgram", help="skip-gram or CBOW")
    ap.add_argument("--dim", type=positive_int, default=100)
    ap.add_argument("--window", type=positive_int, default=5)
    ap.add_argument("--negative", type=positive_int, default=5)
    ap.add_argument("--sample", type=nonneg_float, default=1e-3)
    ap.add_argument("--min-count", type=positive_int, default=5)
    ap.add_argument("--max-vocab", type=positive_int, default=None)
    cli.add_training_flags(ap, run_dir="runs/word2vec", epochs=5, batch_size=None, lr=None, seed=1,
                           max_train=False, checkpoint_every=False)
    ap.add_argument("--lr", type=cli.positive_float, default=None, metavar="X",
                    help="initial learning rate (default 0.025 skip-gram, 0.05 CBOW)")
    ap.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                    help="centre words per update (default 64 skip-gram, 256 CBOW)")
    ap.add_argument("--share-negatives", type=positive_int, default=2,
                    help="CBOW: centres sharing one draw of negatives (1 = a fresh draw per centre, as word2vec.c)")
    ap.add_argument("--workers", type=positive_int, default=1,
                    help="processes training at once on shared tables (Hogwild, like gensim's workers); "
                         "1 is reproducible from the seed and resumable mid-epoch")
    ap.add_argument("--export", default=None, metavar="FILE",
                    help="also write the vectors to FILE (.bin = binary word2vec format, else text)")
    ap.add_argument("--questions", default="analogy", help="questions-words.txt path, or 'analogy'")
    ap.add_argument("--restrict-vocab", type=positive_int, default=30000)
    ap.add_argument("--eval-every-epoch", action="store_true", help="evaluate analogies after each epoch")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON to FILE")
    for old, new in (("--model", "--arch"), ("--alpha", "--lr"), ("--batch", "--batch-size"),
                     ("--quiet", "--no-progress"), ("--out", "--export")):
        cli.deprecate(ap, old, new)
    return ap


def run(argv=None) -> dict:
    """Train as the command line says; returns the results written to results.json."""
    parser = build_parser()
    a = cli.parse_args(parser, argv)
    folder = RunFolder(a.run_dir, "word2vec", PROG)
    folder.prepare(a.resume, a.overwrite)
    for flag, path in (("--export", a.export), ("--json", a.json)):
        if path:
            cli.check_output_file(path, flag)
    if a.corpus not in KNOWN_CORPORA:
        a.corpus = folder.record_path(a.corpus)      # recorded absolute: resumable from anywhere
    if a.resume:
        saved = folder.config(required=("train",))
        a = cli.settings_for_resume(a, saved["train"], parser, RESUMABLE, folder.path)
    config = Word2VecConfig(model=a.arch, dim=a.dim, window=a.window, negative=a.negative, sample=a.sample,
                            min_count=a.min_count, max_vocab=a.max_vocab, epochs=a.epochs, alpha=a.lr,
                            seed=a.seed, share_negatives=a.share_negatives, workers=a.workers,
                            **({"batch": a.batch_size} if a.batch_size is not None else {}))
    # Read the questions first: a missing file should fail before an hour of training.
    questions = None if a.no_eval else read_questions(a.questions)
    t0 = time.perf_counter()
    text = read_text(a.corpus, max_chars=a.max_chars)
    corpus = f"{a.corpus}" + (f" (first {a.max_chars:,} chars)" if a.max_chars else "")
    w2v = Word2Vec(config)
    try:
        w2v.build_vocab(text)
    except ValueError as e:
        raise ValueError(f"corpus {corpus}: {e}") from None
    ids, line_starts = w2v.vocab.encode(text)
    del text
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

    settings = cli.run_settings(a)
    folder.start(None if a.resume else {"config.json": json.dumps({"train": settings, "word2vec": w2v.config_dict()},
                                                                  indent=1)})
    w2v.train(ids, line_starts, progress=False if a.no_progress else None, epoch_callback=after_epoch,
              checkpoint_dir=folder.path, resume=folder.path if a.resume else None)
    if w2v.interrupted:
        raise cli.Interrupted(f"checkpoint saved to {w2v.interrupt_checkpoint}; continue with --resume"
                              if w2v.interrupt_checkpoint else f"{folder.path / 'last.npz'} keeps "
                              f"{len(w2v.history)} finished epoch(s); continue with --resume")
    total_s = sum(h["seconds"] for h in w2v.history)
    words = sum(h["words"] for h in w2v.history)
    wps = words / max(total_s, 1e-9)
    wpc = words / max(sum(h["cpu_seconds"] for h in w2v.history), 1e-9)
    print(f"trained {a.arch} on {corpus}: {a.epochs} epoch(s), {total_s:.1f} s, {wps:,.0f} words/s, "
          f"{wpc:,.0f} words per CPU-second")
    results["words_per_s"] = wps
    results["words_per_cpu_s"] = wpc
    w2v.wv.save_word2vec_format(folder.path / "vectors.txt")
    print(f"vectors saved to {folder.path / 'vectors.txt'}")
    if a.export:
        w2v.wv.save_word2vec_format(a.export, binary=str(a.export).endswith(".bin"))
        print(f"vectors exported to {a.export}")
    if not a.no_eval:
        res = evaluate_analogies(w2v.wv, questions, restrict_vocab=a.restrict_vocab)
        print(f"analogy evaluation ({corpus}, {a.arch}, {a.epochs} epoch(s)):")
        print(res.report())
        results["analogy"] = res.to_dict()
    text = json.dumps(results, indent=2) + "\n"
    folder.write("results.json", text)
    if a.json:
        atomic_write(a.json, text)
    return results


def main(argv=None) -> int:
    """The console script `pmt-word2vec`: exit status 0, 1 (diverged), 2 (bad input), 130 (Ctrl-C)."""
    return cli.main(run, argv, PROG)


if __name__ == "__main__":
    sys.exit(main())
