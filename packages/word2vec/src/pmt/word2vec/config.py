"""The settings of a word2vec run (`Word2VecConfig`), checked when they are made."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

MODELS = ("skipgram", "cbow")


@dataclass
class Word2VecConfig:
    """Hyper-parameters; defaults are word2vec.c's / gensim's.

    Args:
        model: "skipgram" or "cbow".
        dim: vector size.
        window: maximum context distance (dynamic: each centre draws 1..window).
        negative: negative samples K.
        sample: subsampling threshold t (0 = off).
        min_count: drop rarer words.
        max_vocab: keep at most this many words (None = all).
        epochs: passes over the corpus.
        alpha: initial learning rate (None: 0.025 skip-gram, 0.05 CBOW).
        min_alpha_ratio: the rate never falls below alpha * this.
        batch: centre positions per update step (None: 64 skip-gram, 256 CBOW; measured on
            gutenberg8, skip-gram with 256 falls 20 points short after 5 epochs, see README).
        share_negatives: CBOW only: centres that share one draw of K negatives (1 = a fresh
            draw per centre, as word2vec.c).  The sharers are batch / share_negatives positions
            apart, so their contexts are unrelated.  Measured (README): 2 runs 1.4x as fast as
            1 and scored 0.5 points lower after 5 epochs on gutenberg8, 4 runs 1.65x as fast
            and scored 1.5 points lower.  Skip-gram always shares one draw per window.
        workers: processes that train at once on shared tables (Hogwild, like word2vec.c's
            threads and gensim's workers).  1 is bit-for-bit reproducible from the seed; more
            is faster on several cores but the interleaving of updates varies run to run.
        seed: random seed for initialisation, subsampling, windows and negatives.
    """

    model: str = "skipgram"
    dim: int = 100
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    min_count: int = 5
    max_vocab: int | None = None
    epochs: int = 5
    alpha: float | None = None
    min_alpha_ratio: float = 1e-4
    batch: int | None = None
    share_negatives: int = 2
    workers: int = 1
    seed: int = 1

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        for name in ("dim", "window", "negative", "epochs", "min_count", "share_negatives", "workers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.alpha is None:
            self.alpha = 0.025 if self.model == "skipgram" else 0.05
        if self.batch is None:
            self.batch = 64 if self.model == "skipgram" else 256
        if not isinstance(self.batch, (int, np.integer)) or self.batch < 1:
            raise ValueError(f"batch must be a positive integer, got {self.batch!r}")
        if self.max_vocab is not None and (not isinstance(self.max_vocab, (int, np.integer)) or self.max_vocab < 1):
            raise ValueError(f"max_vocab must be a positive integer or None, got {self.max_vocab!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        # `not x > 0` is also true for NaN: a rate of NaN or inf would silently give NaN vectors.
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"alpha (the learning rate) must be a finite number > 0, got {self.alpha}")
        if not 0 < self.min_alpha_ratio <= 1:
            raise ValueError(f"min_alpha_ratio must lie in (0, 1], got {self.min_alpha_ratio}")
        if not (math.isfinite(self.sample) and self.sample >= 0):
            raise ValueError(f"sample must be a finite number >= 0, got {self.sample}")

    def to_dict(self) -> dict:
        return asdict(self)
