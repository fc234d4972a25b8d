"""The word vectors pmt-ner ships: a pmt-word2vec run's vectors, kept only for the tagger's words.

The tagger looks a vector up only for words of its own vocabulary (eng.train's words seen at least
`--min-count` times, lower-cased, digits folded to 0); every other row of a vectors file is never
read. Keeping just those rows turns 49 MB of text into 6.2 MB (2.4 MB gzipped) that models/ can hold;
the kept lines are copied unchanged, so every row the tagger reads has the same numbers.

    python -m pmt.word2vec.train --corpus gutenberg8 --arch skipgram --dim 100 --epochs 5 \\
        --workers 2 --run-dir runs/w2v --export runs/w2v/g8-sg100.txt
    python tools/ner_vectors.py runs/w2v/g8-sg100.txt models/gutenberg8-sg100-ner.txt
    gzip -n -9 models/gutenberg8-sg100-ner.txt
"""
import sys

from pmt.transformer.conll import load_conll2003
from pmt.transformer.ner.features import Vocab, normalise_word

MIN_COUNT = 2    # pmt-ner train's --min-count default


def main(src: str, dst: str) -> None:
    train = load_conll2003("train")
    words = Vocab.build((normalise_word(w) for s in train for w in s.tokens), min_count=MIN_COUNT)
    with open(src, encoding="utf-8") as f:
        dim = f.readline().split()[1]
        kept = [line for line in f if words.stoi.get(normalise_word(line.split(" ", 1)[0]), 0) > 1]
    with open(dst, "w", encoding="utf-8") as f:
        f.write(f"{len(kept)} {dim}\n")
        f.writelines(kept)
    print(f"{dst}: {len(kept):,} of the tagger's {len(words):,} words")


if __name__ == "__main__":
    main(*sys.argv[1:])
