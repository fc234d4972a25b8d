"""The `Word2Vec` model: vocabulary, the two vector tables, epochs, checkpoints and resume.

The arithmetic of an epoch (batched skip-gram and CBOW updates with negative sampling)
lives in `epoch.py`, shared by this single-process loop and the Hogwild workers of
`parallel.py`.  This module runs the epochs: the decaying learning rate, one history entry
per epoch, a NaN/inf check of the tables after each, and checkpoints.

Checkpoints and Ctrl-C (`train(..., checkpoint_dir=...)`): `last.npz` after every epoch, so a
run keeps the epochs finished before anything goes wrong; with one worker, Ctrl-C finishes
the current batch and writes `interrupted.npz` with the exact position (the generator's
state at the epoch's start, the batches done, its state after them).  `train(..., resume=)`
continues from the newer of the two, bit-for-bit as if never stopped.  With several
workers only epoch ends can be resumed: Ctrl-C drops the unfinished epoch and `last.npz`
keeps the finished ones.  Vectors holding NaN or inf are never saved: training stops with
`DivergenceError` naming the epoch and the learning rate.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pmt.core.checkpoint import CheckpointError, checkpoint_meta, load_checkpoint, save_checkpoint
from pmt.core.errors import DivergenceError, nonfinite_report
from pmt.core.interrupts import GracefulInterrupt
from pmt.core.progress import Progress
from pmt.core.trainer import resume_path

from .config import MODELS, Word2VecConfig
from .epoch import train_epoch
from .keyed_vectors import KeyedVectors
from .sampling import NegativeSampler, keep_probabilities, sentence_ids
from .vocab import Vocab

__all__ = ["Word2Vec", "Word2VecConfig", "MODELS"]


class _Start(NamedTuple):
    """Where `train` begins: epochs already done, the generator state, a mid-epoch position."""

    epoch: int = 0
    rng: dict | None = None
    position: dict | None = None


class Word2Vec:
    """Train word vectors with skip-gram or CBOW and negative sampling.

    Args:
        config: a `Word2VecConfig`, or keyword arguments for one.

    Attributes:
        vocab: the `Vocab` (after `build_vocab`).
        W_in: (V, dim) float32 input vectors (the word vectors).
        W_out: (V, dim) float32 output vectors (word2vec's syn1neg).
        history: list of dicts per epoch (words, seconds, cpu_seconds, words_per_s,
            words_per_cpu_s, alpha of the last batch).
        interrupted: the last `train` was ended by Ctrl-C; interrupt_checkpoint: the file
            it wrote then (None if none).

    Example:
        >>> w2v = Word2Vec(model="skipgram", dim=50, epochs=1, min_count=1)
        >>> kv = w2v.fit("the cat sat on the mat " * 100)
        >>> [word for word, _ in kv.most_similar("cat", topn=2)]
        ['mat', 'sat']
    """

    def __init__(self, config: Word2VecConfig | None = None, **kwargs):
        if config is not None and kwargs:
            raise TypeError("Word2Vec: pass either a config or keyword arguments, not both")
        self.config = config if config is not None else Word2VecConfig(**kwargs)
        self.vocab = None
        self._tables = None  # (2V, D): W_in stacked on W_out, so one scatter updates both
        self.history = []
        self.interrupted, self.interrupt_checkpoint = False, None

    @property
    def W_in(self):
        """(V, dim) input vectors: a view of the first half of the stacked tables."""
        return None if self._tables is None else self._tables[:len(self._tables) // 2]

    @property
    def W_out(self):
        """(V, dim) output vectors: a view of the second half of the stacked tables."""
        return None if self._tables is None else self._tables[len(self._tables) // 2:]

    def build_vocab(self, text: str) -> Vocab:
        """Count `text`'s words, then initialise the vectors as word2vec.c does.

        W_in ~ U(-0.5/dim, 0.5/dim), W_out = 0.
        """
        c = self.config
        self.vocab = Vocab.build(text, min_count=c.min_count, max_size=c.max_vocab)
        rng = np.random.default_rng(c.seed)
        V = len(self.vocab)
        self._tables = np.zeros((2 * V, c.dim), dtype=np.float32)
        self._tables[:V] = (rng.random((V, c.dim), dtype=np.float32) - 0.5) / c.dim
        return self.vocab

    def fit(self, text: str, progress: bool = False) -> KeyedVectors:
        """Build the vocabulary (if not built), encode `text` and train. Returns the vectors."""
        if self.vocab is None:
            self.build_vocab(text)
        ids, line_starts = self.vocab.encode(text)
        self.train(ids, line_starts, progress=progress)
        return self.wv

    @property
    def wv(self) -> KeyedVectors:
        """The trained input vectors as `KeyedVectors` (shares memory with W_in)."""
        if self.vocab is None:
            raise RuntimeError("Word2Vec: no vocabulary yet; call build_vocab or fit first")
        return KeyedVectors(self.vocab.words, self.W_in, counts=self.vocab.counts)

    def state_dict(self) -> dict:
        """The trainable state, for checkpoints: `{"tables": (2V, D)}` (W_in stacked on W_out)."""
        return {"tables": self._tables}

    def load_state_dict(self, d: dict):
        if "tables" not in d or np.shape(d["tables"]) != self._tables.shape:
            raise ValueError(f"Word2Vec: state needs 'tables' of shape {self._tables.shape}")
        self._tables[...] = d["tables"]

    def _fingerprint(self, n_words: int) -> dict:
        """What a checkpoint must agree with to be resumed: corpus length and vocabulary."""
        h = hashlib.sha256("\n".join(self.vocab.words).encode("utf-8"))
        h.update(np.asarray(self.vocab.counts, dtype=np.int64).tobytes())
        return {"words": int(n_words), "vocab": len(self.vocab), "vocab_sha256": h.hexdigest()}

    def save_checkpoint(self, path, n_words: int, epoch: int, words_done: int, rng_state=None, position=None,
                        **extra) -> Path:
        """Write the tables and the training position to `path` (refused if they hold NaN/inf)."""
        meta = dict(epoch=epoch, step=int(words_done), rng=rng_state, history=self.history,
                    config=self.config_dict(), corpus=self._fingerprint(n_words), **extra)
        if position is not None:
            meta["position"] = position
        return save_checkpoint(path, self, **meta)

    def _resume_from(self, path, n_words: int, workers: int) -> _Start:
        path = resume_path(path)
        meta = checkpoint_meta(path)
        if meta.get("corpus") != self._fingerprint(n_words):
            raise CheckpointError(f"{path}: written for another corpus or vocabulary ({meta.get('corpus')}); "
                                  f"resume with the same corpus, --max-chars and --min-count")
        needed = int(meta["epoch"]) + (meta.get("position") is not None)
        if needed > self.config.epochs:
            raise ValueError(f"{path}: the run has done {meta['epoch']} epoch(s)"
                             f"{' and part of the next' if meta.get('position') else ''}; epochs must be at least "
                             f"{needed}, got {self.config.epochs}")
        if meta.get("position") is not None and workers > 1:
            raise CheckpointError(f"{path}: the run stopped in the middle of an epoch with one worker; resume it "
                                  f"with one worker (only epoch ends can be resumed with several)")
        load_checkpoint(path, self)
        self.history = list(meta["history"])
        return _Start(int(meta["epoch"]), meta.get("rng"), meta.get("position"))

    def train(self, ids, line_starts=None, progress=False, epoch_callback=None, workers=None,
              checkpoint_dir=None, resume=None):
        """Run `config.epochs` passes of SGD over the encoded corpus `ids`.

        Args:
            ids: (n,) int word ids (from `vocab.encode`).
            line_starts: (L,) sentence start positions, or None.
            progress: True: a bar in words/s (raw corpus words, as gensim reports); None: the
                bar on a terminal, else a progress line a minute; False: nothing.
            epoch_callback: called as fn(epoch, self) after each epoch.
            workers: processes training at once (default `config.workers`); more than 1 runs
                Hogwild on shared tables (`pmt.word2vec.parallel`), which is faster on several
                cores but not bit-for-bit reproducible.
            checkpoint_dir: write `last.npz` there after every epoch, `interrupted.npz` on Ctrl-C.
            resume: a checkpoint (or a folder: the newer of interrupted.npz and last.npz) of
                this corpus and vocabulary to continue from.

        Returns:
            self.history; `self.interrupted` tells whether Ctrl-C ended training early.

        Raises:
            DivergenceError: the vectors became NaN/inf (nothing is saved).
        """
        c = self.config
        if self.vocab is None:
            raise RuntimeError("Word2Vec.train: call build_vocab first")
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids must be a 1-D integer array, got {ids.dtype} of shape {ids.shape}")
        if len(ids) == 0:
            raise ValueError("Word2Vec.train: the corpus holds no word of the vocabulary")
        if ids.min() < 0 or ids.max() >= len(self.vocab):
            raise ValueError(f"ids must lie in [0, {len(self.vocab)}), got range "
                             f"[{ids.min()}, {ids.max()}]")
        ids = ids.astype(np.int32, copy=False)
        workers = c.workers if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        start = _Start() if resume is None else self._resume_from(resume, len(ids), workers)
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.interrupted, self.interrupt_checkpoint = False, None
        n = len(ids)
        bar = Progress(max(c.epochs * n, 1), desc=c.model if workers == 1 else f"{c.model} x{workers}",
                       enabled=progress, unit="w", initial=min(start.epoch, c.epochs) * n)

        def end_epoch(epoch, trained, seconds, cpu_seconds, alpha, rng_state):
            report = nonfinite_report({"the vector table": self._tables})
            if report is not None:
                raise DivergenceError(f"word2vec diverged in epoch {epoch + 1} (learning rate {c.alpha:g}, "
                                      f"{alpha:g} at the end): {report}; nothing saved; lower --lr")
            self._record_epoch(epoch, n, trained, seconds, cpu_seconds, alpha)
            if ckpt is not None:
                self.save_checkpoint(ckpt / "last.npz", n, epoch + 1, (epoch + 1) * n, rng_state)
            if epoch_callback is not None:
                epoch_callback(epoch, self)

        try:
            # Overflow inside a diverging run is reported once, by the NaN/inf check after the epoch.
            with GracefulInterrupt() as stop, np.errstate(over="ignore", invalid="ignore"):
                if workers > 1:
                    from .parallel import train_hogwild
                    train_hogwild(self._tables, self.vocab.counts, c, ids, line_starts, workers, bar,
                                  end_epoch, first_epoch=start.epoch, stop=stop)
                else:
                    self._train_serial(ids, line_starts, bar, end_epoch, start, stop, ckpt)
                stop.check()        # a Ctrl-C during the last epoch's callback still stops the program
        except KeyboardInterrupt:
            self.interrupted = True
            if self.interrupt_checkpoint is None and ckpt is not None and self.history:
                print(f"interrupted: the unfinished epoch is dropped; {ckpt / 'last.npz'} keeps "
                      f"{len(self.history)} finished epoch(s)")
        finally:
            bar.close()
        return self.history

    def _train_serial(self, ids, line_starts, bar, end_epoch, start: _Start, stop, ckpt):
        """One process: epochs of `train_epoch`, exactly resumable (see the module docstring)."""
        c = self.config
        n = len(ids)
        rng = np.random.default_rng((c.seed, 1))
        if start.rng is not None:
            rng.bit_generator.state = start.rng
        keep_p = keep_probabilities(self.vocab.counts, c.sample)
        sampler = NegativeSampler(self.vocab.counts)
        sent_all = sentence_ids(n, line_starts)
        total = max(c.epochs * n, 1)
        position = start.position
        for epoch in range(start.epoch, c.epochs):
            if position is not None:
                rng.bit_generator.state = position["epoch_rng"]
            epoch_rng = rng.bit_generator.state
            t0, c0 = time.perf_counter(), time.process_time()
            done_before = epoch * n
            shown = [0]

            def rate(done):  # words of this pass done -> learning rate; moves the bar
                bar.update(done - shown[0])
                shown[0] = done
                return c.alpha * max(1.0 - (done_before + done) / total, c.min_alpha_ratio)

            resume_at = None if position is None else (position["batch"], position["rng"])
            res = train_epoch(self._tables, c, ids, sent_all, keep_p, sampler, rng, rate, resume=resume_at, stop=stop)
            dt = time.perf_counter() - t0 + (position["seconds"] if position else 0.0)
            dc = time.process_time() - c0 + (position["cpu_seconds"] if position else 0.0)
            position = None
            if not res.finished:
                if ckpt is not None:
                    here = {"epoch_rng": epoch_rng, "batch": res.batches, "rng": res.rng_state, "seconds": dt,
                            "cpu_seconds": dc}
                    self.interrupt_checkpoint = self.save_checkpoint(
                        ckpt / "interrupted.npz", n, epoch, done_before + shown[0], res.rng_state, position=here,
                        interrupted=True)
                    print(f"interrupted in epoch {epoch + 1} after {shown[0]:,} of {n:,} words: checkpoint saved "
                          f"to {self.interrupt_checkpoint}")
                raise KeyboardInterrupt
            bar.update(n - shown[0])
            end_epoch(epoch, res.trained, dt, dc, res.alpha, rng.bit_generator.state)
        if ckpt is not None:
            (ckpt / "interrupted.npz").unlink(missing_ok=True)     # the run went past it

    def _record_epoch(self, epoch, words, trained, seconds, cpu_seconds, alpha):
        # CPU seconds too: on a shared machine wall-clock speed says more about the neighbours.
        self.history.append({"epoch": epoch + 1, "words": int(words), "trained_words": int(trained),
                             "seconds": seconds, "cpu_seconds": cpu_seconds,
                             "words_per_s": words / max(seconds, 1e-9),
                             "words_per_cpu_s": words / max(cpu_seconds, 1e-9), "alpha": alpha})

    def config_dict(self) -> dict:
        return self.config.to_dict()
