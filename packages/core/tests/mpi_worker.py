"""Scenarios for test_distributed.py, run as `mpiexec -n N python mpi_worker.py SCENARIO OUT [args]`.

Each scenario is also callable in-process (one rank) for the reference result.  Rank 0 writes
the results to OUT (.npz); scenario functions assert that every rank ends with the same
parameters.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from pmt.core import SGD, Adam, Trainer, accuracy, batches, distributed, f1_score, seed
from pmt.core.examples.linear_demo import LinearClassifier, softmax_cross_entropy
from pmt.core.parameter import Parameter, SparseRows
from pmt.core.seeding import get_rng


class BagClassifier:
    """Mean of embedding rows -> linear classifier; the table gets `SparseRows` gradients.

    mode="sentence": ids (B, T) -> logits (B, C), loss = mean over the B examples.
    mode="token":    ids (B, T) -> logits (B, T, C), targets (B, T) with -1 = ignore, loss = mean
                     over the non-ignored tokens (so `loss_weight` is their count).
    dropout: on the pooled vector, drawn from get_rng() (the rank stream under MPI).
    """

    def __init__(self, vocab, dim, classes, mode="sentence", dropout=0.0):
        rng = get_rng()
        self.E = Parameter(rng.normal(0, 1, (vocab, dim)), "E")
        self.W = Parameter(rng.normal(0, dim ** -0.5, (dim, classes)), "W")
        self.b = Parameter(np.zeros(classes), "b")
        self.mode, self.dropout, self.training = mode, dropout, True

    def parameters(self):
        return [self.E, self.W, self.b]

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self):
        return {"E": self.E.data, "W": self.W.data, "b": self.b.data}

    def load_state_dict(self, d):
        for k, p in zip("EWb", self.parameters()):
            p.data[...] = d[k]

    def _forward(self, ids):
        B, T = ids.shape
        rows = self.E.data[ids]                                          # (B, T, D)
        h = rows.mean(axis=1) if self.mode == "sentence" else rows       # (B, D) or (B, T, D)
        mask = None
        if self.training and self.dropout:
            mask = (get_rng().random(h.shape) >= self.dropout) / np.float32(1 - self.dropout)
            h = h * mask
        return h, mask, h @ self.W.data + self.b.data

    def _loss(self, logits, y):
        flat, t = logits.reshape(-1, logits.shape[-1]), np.asarray(y).reshape(-1)
        keep = t >= 0
        value, grad = softmax_cross_entropy(flat[keep], t[keep])          # mean over kept rows
        full = np.zeros_like(flat)
        full[keep] = grad
        return value, full.reshape(logits.shape)

    def train_step(self, batch, loss):
        ids, y = batch
        B, T = ids.shape
        h, mask, logits = self._forward(ids)
        value, dlogits = self._loss(logits, y)
        dims = (0,) if self.mode == "sentence" else (0, 1)
        self.W.grad = np.tensordot(h, dlogits, axes=(dims, dims))
        self.b.grad = dlogits.sum(axis=dims)
        dh = dlogits @ self.W.data.T
        if mask is not None:
            dh = dh * mask
        if self.mode == "sentence":
            drows = np.repeat(dh[:, None, :] / T, T, axis=1)              # (B, T, D)
        else:
            drows = dh
        self.E.grad = SparseRows(ids.reshape(-1), drows.reshape(-1, dh.shape[-1]))
        return value, logits

    def eval_step(self, batch, loss):
        ids, y = batch
        _, _, logits = self._forward(ids)
        return self._loss(logits, y)[0], logits

    def loss_weight(self, batch):
        """Terms the batch's loss averages: examples, or non-ignored tokens."""
        y = np.asarray(batch[-1])
        return len(y) if self.mode == "sentence" else int((y >= 0).sum())


def token_accuracy(logits, y):
    keep = y >= 0
    return float((logits.argmax(-1)[keep] == y[keep]).mean())


def _data(kind, n=50):
    rng = np.random.default_rng(1)
    if kind == "dense":
        x = rng.normal(size=(n, 4)).astype(np.float32)
        return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    ids = rng.integers(0, 400 if kind != "small-vocab" else 12, size=(n, 6))
    if kind == "token":
        y = ids % 3
        y[rng.random(y.shape) < 0.4] = -1                                  # uneven token counts
        return ids, y
    return ids, (ids.sum(axis=1) % 3).astype(np.int64)


def build(kind, opt_name, dropout=0.0):
    """(model, optimizer, trainer, train data, eval data) of one scenario, seeded."""
    seed(3)
    x, y = _data(kind)
    if kind == "dense":
        model = LinearClassifier(4, 3, dropout=dropout)
        loss, metrics = softmax_cross_entropy, {"acc": accuracy}
    else:
        vocab = 12 if kind == "small-vocab" else 400
        model = BagClassifier(vocab, 8, 3, mode="token" if kind == "token" else "sentence", dropout=dropout)
        loss = None
        metrics = {"acc": token_accuracy} if kind == "token" else {"acc": accuracy, "f1": f1_score}
    params = model.parameters()
    if opt_name == "adam":
        opt = Adam(params, lr=0.05)
    elif opt_name == "adam-groups":   # the first parameter (a table, or W) at a tenth of the rate
        opt = Adam([{"params": params[:1], "lr": 0.005}, {"params": params[1:]}], lr=0.05)
    else:
        opt = SGD(params, lr=0.2, momentum=0.9)
    trainer = Trainer(model, opt, loss, metrics=metrics, clip_norm=None if opt_name == "sgd" else 1.0,
                      progress=False, log=lambda s: None)
    # 50 examples in batches of 16: the last batch has 2, so a third rank idles on it.
    return model, trainer, batches(x, y, batch_size=16, shuffle=True), batches(x, y, batch_size=20)


CASES = [(k, o) for k in ("dense", "sentence", "small-vocab", "token") for o in ("sgd", "adam", "adam-groups")]


def _save(out, results):
    if out is not None and distributed.is_main():
        np.savez(out, **results)


def _same_everywhere(arrays):
    """Assert every rank holds the same arrays (run on all ranks)."""
    digest = np.concatenate([np.ravel(a).astype(np.float64) for a in arrays])
    everyone = distributed.broadcast(digest)
    assert np.array_equal(everyone, digest), f"rank {distributed.rank()}: parameters differ from rank 0's"


def scenario_equivalence(out):
    """Every case of CASES, 2 epochs with validation: final parameters and history."""
    results = {}
    for kind, opt in CASES:
        model, trainer, train, valid = build(kind, opt)
        trainer.fit(train, epochs=2, eval_data=valid)
        params = [p.data.copy() for p in model.parameters()]
        _same_everywhere(params)
        for i, p in enumerate(params):
            results[f"{kind}-{opt}/p{i}"] = p
        for key, vals in trainer.history.items():
            if key != "seconds":
                results[f"{kind}-{opt}/h-{key}"] = np.array(vals)
    _save(out, results)
    return results


def scenario_compare(saved):
    """Print how far an `equivalence` result of N ranks is from one process (run without mpiexec)."""
    want, got = scenario_equivalence(None), np.load(saved)
    keys = [k for k in want if "/p" in k or "/h-loss" in k or "/h-val_" in k]
    worst = max(float(np.abs(got[k] - want[k]).max() / (np.abs(want[k]).max() + 1e-12)) for k in keys)
    print(f"{len(keys)} arrays (parameters, loss, val_loss, val_acc): largest relative difference {worst:.2g}")


def scenario_allreduce(out):
    """allreduce_gradients on hand-made gradients against the weighted mean computed here."""
    n, r = distributed.world_size(), distributed.rank()
    results = {}
    for route in ("gather", "dense", "auto"):
        def grads(k):                         # rank k's gradients, weight and sums
            g = np.random.default_rng(k)
            rows = g.integers(0, 30, size=3 + k)                          # uneven, with repeats
            return ([g.normal(size=(3, 2)),                               # dense everywhere
                     SparseRows(rows, g.normal(size=(len(rows), 4))),     # sparse everywhere
                     g.normal(size=5) if k % 2 else None,                 # dense on odd ranks only
                     SparseRows(rows[:1], g.normal(size=(1, 4))) if k == 0 else None],  # rank 0 only
                    float(k + 1))
        ps = [Parameter(np.zeros(s)) for s in [(3, 2), (30, 4), (5,), (30, 4)]]
        mine, w = grads(r)
        for p, g in zip(ps, mine):
            p.grad = g
        sums = distributed.allreduce_gradients(ps, weight=w, sums=[w, 1.0], sparse=route)
        W = sum(grads(k)[1] for k in range(n))
        assert np.allclose(sums, [W, n])
        for i, p in enumerate(ps):
            want = sum((grads(k)[1] / W) * _dense(grads(k)[0][i], p.data.shape) for k in range(n))
            got = p.grad
            if isinstance(got, SparseRows):
                touched = np.unique(np.concatenate([grads(k)[0][i].indices for k in range(n)
                                                    if grads(k)[0][i] is not None]))
                assert np.array_equal(np.unique(got.indices), touched), (route, i)
                got = got.to_dense(p.data.shape)
            assert np.allclose(got, want, atol=1e-6), (route, i)
            results[f"{route}/{i}"] = got
    _save(out, results)


def _dense(g, shape):
    if g is None:
        return np.zeros(shape)
    return g.to_dense(shape).astype(np.float64) if isinstance(g, SparseRows) else np.asarray(g, np.float64)


def scenario_dropout(out):
    """With dropout on, ranks draw different masks, and two runs draw the same ones."""
    model, trainer, train, valid = build("sentence", "adam", dropout=0.5)
    trainer.fit(train, epochs=1)
    _same_everywhere([p.data for p in model.parameters()])
    dp = trainer._dp
    if dp is not None:                         # the streams themselves: per rank, per batch
        data_state = get_rng().bit_generator.state
        with dp.rank_stream(0):
            a = get_rng().random(4)
        with dp.rank_stream(1):
            b = get_rng().random(4)
        assert get_rng().bit_generator.state == data_state          # the data stream is untouched
        everyone = dp.comm.allgather(a)
        assert len({tuple(x) for x in everyone}) == dp.size, "two ranks drew the same dropout numbers"
        assert not np.array_equal(a, b), "two batches drew the same dropout numbers"
    _save(out, {f"p{i}": p.data for i, p in enumerate(model.parameters())})


def scenario_resume(out, folder, epochs):
    """Train (or resume) the dense-Adam and sparse-Adam cases to `epochs` with checkpoints in folder."""
    results = {}
    for kind in ("dense", "sentence"):
        model, trainer, train, valid = build(kind, "adam")
        trainer.checkpoint_dir = __import__("pathlib").Path(folder) / kind
        last = trainer.checkpoint_dir / "last.npz"
        trainer.fit(train, epochs=int(epochs), eval_data=valid, resume=last if last.exists() else None)
        for i, p in enumerate(model.parameters()):
            results[f"{kind}/p{i}"] = p.data.copy()
        results[f"{kind}/loss"] = np.array(trainer.history["loss"])
    _save(out, results)


class _Fail:
    def on_batch_end(self, trainer, step, logs):
        if step == 3 and distributed.rank() == distributed.world_size() - 1:
            raise ValueError(f"boom on rank {distributed.rank()}")


def scenario_fail(out):
    """The last rank raises at step 3; the others are then waiting in the next exchange."""
    model, trainer, train, valid = build("dense", "sgd")
    trainer.callbacks.append(_Fail())
    trainer.fit(train, epochs=50)


def scenario_disagree(out):
    """Each rank shuffles with its own seed: the ranks' global batches differ."""
    model, trainer, train, valid = build("dense", "sgd")
    trainer.fit(batches(*train.arrays, batch_size=16, shuffle=True, seed=distributed.rank()), epochs=1)


def scenario_exit(out):
    """Outside fit: the last rank exits with status 2 while rank 0 waits in a broadcast."""
    if distributed.rank() == distributed.world_size() - 1:
        raise SystemExit(2)
    distributed.broadcast("never received by the last rank")


class _Slow:
    """Makes steps slow enough to interrupt and tells the test when training runs."""

    def __init__(self, ready):
        self.ready = ready

    def on_batch_end(self, trainer, step, logs):
        if step == 2 and distributed.is_main():
            open(self.ready, "w").close()
        time.sleep(0.02)


def scenario_interrupt(out, folder):
    """Long training; the test sends Ctrl-C to mpiexec once `folder/ready` exists."""
    model, trainer, train, valid = build("dense", "adam")
    trainer.checkpoint_dir = __import__("pathlib").Path(folder)
    trainer.callbacks.append(_Slow(os.path.join(folder, "ready")))
    trainer.fit(train, epochs=10_000)
    _same_everywhere([p.data for p in model.parameters()])
    report = {"rank": distributed.rank(), "interrupted": trainer.interrupted, "step": trainer.step}
    with open(os.path.join(folder, f"report-{distributed.rank()}.json"), "w") as f:
        json.dump(report, f)


def scenario_run_folder(out, folder):
    """Every rank checks a new run folder, rank 1 late (a slow start-up); rank 0 then writes it."""
    from pmt.core.run_folder import RunFolder
    run = RunFolder(folder, "test", "pmt-test")
    if distributed.rank() == 1:
        time.sleep(1.0)
    run.prepare()
    run.start({"config.json": "{}"})


def scenario_cli_interrupted(out):
    """Every rank's command ends as after the Trainer's Ctrl-C stop (the CLI contract's exit 130)."""
    from pmt.core import cli

    def run(argv):
        raise cli.Interrupted("checkpoint saved to runs/x/interrupted.npz; continue with --resume")
    raise SystemExit(cli.main(run, [], prog="pmt-test"))


if __name__ == "__main__":
    name, *args = sys.argv[1:]
    with distributed.job():
        globals()[f"scenario_{name}"](*args)
