"""Tokenizer speed on QQP: train on the first 10 MB of questions (vocab 8000 and 30000), then encode
every pair.  usage: python tools/tokenizer_speed.py [path/to/qqp/train.tsv]"""
import os
import sys
import time

from pmt.transformer.tokenizer import Tokenizer

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("PMT_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")),
    "qqp", "train.tsv")
rows = [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8")][1:]
a, b = [r[3] for r in rows], [r[4] for r in rows]
qs, n = [], 0
for x, y in zip(a, b):
    qs += [x, y]
    n += len(x) + len(y) + 2
    if n >= 10**7:
        break


def clock():
    return time.perf_counter(), time.process_time()


for v in (8000, 30000):
    w, c = clock()
    tok = Tokenizer.train(qs, vocab_size=v)
    w2, c2 = clock()
    print(f"train on {n / 1e6:.0f} MB of QQP questions, vocab {v}: {w2 - w:.1f} s wall, {c2 - c:.1f} s CPU")
w, c = clock()
enc = tok.encode_batch(a, b, max_length=128)
w2, c2 = clock()
print(f"encode_batch {len(a):,} pairs: {w2 - w:.1f} s wall, {c2 - c:.1f} s CPU, "
      f"{enc.lengths.sum() / (c2 - c):,.0f} tokens per CPU-second")
