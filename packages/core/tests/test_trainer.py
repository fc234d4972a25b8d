"""The Trainer against the protocol in docs/DESIGN.md, with the demo's LinearClassifier."""
import math

import numpy as np
import pytest

import os
import signal

from pmt.core import (SGD, Adam, Callback, DivergenceError, History, ModelCheckpoint, Rewindable, Trainer,
                      WarmupCosine, accuracy, batches, f1_score, get_rng, load_checkpoint, save_checkpoint, seed)
from pmt.core.checkpoint import checkpoint_meta
from pmt.core.trainer import newest_checkpoint
from pmt.core.examples.linear_demo import LinearClassifier, make_blobs, softmax_cross_entropy

QUIET = dict(progress=False, log=lambda s: None)


def blobs(n=60, classes=3):
    x, y = make_blobs(n, num_classes=classes, dim=4, spread=1.0, rng=np.random.default_rng(0))
    return x, y


def make(dropout=0.0, lr=0.05, **kw):
    model = LinearClassifier(4, 3, dropout=dropout)
    opt = Adam(model.parameters(), lr=lr)
    return model, opt, Trainer(model, opt, softmax_cross_entropy, metrics={"acc": accuracy}, **QUIET, **kw)


class Recorder(Callback):
    def __init__(self):
        self.events, self.batch_logs, self.lrs = [], [], []

    def on_train_begin(self, trainer):
        self.events.append("train_begin")

    def on_epoch_begin(self, trainer, epoch):
        self.events.append(f"epoch_begin {epoch}")

    def on_batch_end(self, trainer, step, logs):
        self.batch_logs.append((step, logs))
        self.lrs.append(trainer.optimizer.lr)

    def on_epoch_end(self, trainer, epoch, logs):
        self.events.append(f"epoch_end {epoch}")

    def on_train_end(self, trainer):
        self.events.append("train_end")


# ----------------------------------------------------------------- training and history
def test_fit_learns_separable_blobs_and_fills_history():
    seed(0)
    x, y = blobs()
    model, opt, trainer = make()
    hist = trainer.fit(batches(x, y, batch_size=16, shuffle=True), epochs=5,
                       eval_data=batches(x, y, batch_size=50))
    assert hist is trainer.history and isinstance(hist, History)
    assert set(hist) == {"loss", "acc", "val_loss", "val_acc", "lr", "seconds"}
    assert all(len(v) == 5 for v in hist.values())
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["val_acc"][-1] > 0.9
    assert trainer.epoch == 5 and trainer.step == 5 * 12 and opt.t == 60
    assert hist["lr"] == [0.05] * 5


def test_train_loss_and_metrics_are_batch_size_weighted_means():
    seed(0)
    x, y = blobs(n=10)                       # 30 examples: batches of 16 and 14
    rec = Recorder()
    model, opt, trainer = make(callbacks=[rec])
    hist = trainer.fit(batches(x, y, batch_size=16), epochs=1)
    sizes = [logs["size"] for _, logs in rec.batch_logs]
    losses = [logs["loss"] for _, logs in rec.batch_logs]
    assert sizes == [16, 14]
    assert hist["loss"][0] == pytest.approx(np.dot(losses, sizes) / 30)


def test_eval_metrics_are_computed_on_concatenated_outputs():
    seed(0)
    x, y = blobs(n=20)
    model, opt, _ = make()
    trainer = Trainer(model, opt, softmax_cross_entropy, **QUIET,
                      metrics={"f1": lambda o, t: f1_score(o, t, average="macro")})
    result = trainer.evaluate(batches(x, y, batch_size=7))
    model.eval()
    logits = model.forward(x)
    assert result["f1"] == pytest.approx(f1_score(logits, y, average="macro"))
    assert result["loss"] == pytest.approx(softmax_cross_entropy(logits, y)[0], rel=1e-5)


def test_evaluate_falls_back_to_weighted_means_for_ragged_outputs():
    class Ragged:
        def __iter__(self):
            yield np.zeros((2, 3)), np.zeros((2, 3), int)
            yield np.zeros((1, 5)), np.ones((1, 5), int)

    class Model(LinearClassifier):
        def eval_step(self, batch, loss):
            x, y = batch
            logits = np.zeros(y.shape + (2,))
            logits[..., 0] = 1.0                   # always predicts 0
            return 0.5, logits

    trainer = Trainer(Model(4, 3), Adam(Model(4, 3).parameters()), None, metrics={"acc": accuracy}, **QUIET)
    r = trainer.evaluate(Ragged())
    assert r["acc"] == pytest.approx((2 * 1.0 + 1 * 0.0) / 3)   # weighted by batch size


def test_callbacks_run_in_protocol_order():
    seed(0)
    x, y = blobs(n=4)
    rec = Recorder()
    _, _, trainer = make(callbacks=[rec])
    trainer.fit(batches(x, y, batch_size=6), epochs=2)
    assert rec.events == ["train_begin", "epoch_begin 1", "epoch_end 1", "epoch_begin 2", "epoch_end 2",
                          "train_end"]
    assert [s for s, _ in rec.batch_logs] == [1, 2, 3, 4]


def test_per_step_schedule_sets_lr_before_every_update():
    seed(0)
    x, y = blobs(n=10)
    rec = Recorder()
    sched = WarmupCosine(0.1, warmup=2, total=8)
    _, opt, trainer = make(callbacks=[rec], schedule=sched)
    hist = trainer.fit(batches(x, y, batch_size=8), epochs=2)   # 4 batches per epoch
    assert rec.lrs == pytest.approx([sched(k) for k in range(1, 9)])
    assert hist["lr"] == pytest.approx([sched(4), sched(8)])


def test_clip_norm_bounds_every_update():
    class Huge(LinearClassifier):
        def train_step(self, batch, loss):
            self.W.grad = np.full_like(self.W.data, 1e3)
            self.b.grad = np.full_like(self.b.data, 1e3)
            return 1.0, np.zeros((len(batch[-1]), 3))

    x, y = blobs(n=4)
    model = Huge(4, 3)
    before = np.concatenate([model.W.data.ravel(), model.b.data.ravel()])
    trainer = Trainer(model, SGD(model.parameters(), lr=1.0), None, clip_norm=0.5, **QUIET)
    trainer.fit(batches(x, y, batch_size=12), epochs=1)           # one update
    after = np.concatenate([model.W.data.ravel(), model.b.data.ravel()])
    assert np.linalg.norm(after - before) == pytest.approx(0.5, rel=1e-5)


def test_set_epoch_is_called_with_each_epoch_number():
    x, y = blobs(n=4)

    class Spy:
        def __init__(self):
            self.inner, self.calls = batches(x, y, batch_size=6), []

        def set_epoch(self, e):
            self.calls.append(e)

        def __iter__(self):
            return iter(self.inner)

    spy = Spy()
    make()[2].fit(spy, epochs=3)
    assert spy.calls == [1, 2, 3]


def test_callback_can_stop_training():
    class StopAt2(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            trainer.stop_training = epoch >= 2

    x, y = blobs(n=4)
    _, _, trainer = make(callbacks=[StopAt2()])
    assert trainer.fit(batches(x, y, batch_size=6), epochs=10).epochs == 2


def test_epoch_summary_goes_to_log_and_progress_bar_to_stderr(capsys):
    x, y = blobs(n=4)
    lines = []
    model = LinearClassifier(4, 3)
    trainer = Trainer(model, Adam(model.parameters()), softmax_cross_entropy, metrics={"acc": accuracy},
                      progress=True, log=lines.append)
    trainer.fit(batches(x, y, batch_size=6), epochs=2, eval_data=batches(x, y, batch_size=6))
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2")
    assert "loss" in lines[0] and "val_acc" in lines[0] and "lr " in lines[0]
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "loss=" in err


def test_default_log_prints_the_summary(capsys):
    x, y = blobs(n=4)
    model = LinearClassifier(4, 3)
    Trainer(model, Adam(model.parameters()), softmax_cross_entropy, progress=False).fit(
        batches(x, y, batch_size=6), epochs=1)
    assert "epoch 1/1  loss" in capsys.readouterr().out


# ----------------------------------------------------------------- failures
class FailAt(LinearClassifier):
    """Returns a given loss (or raises) at global call number `at`."""

    def __init__(self, at, what):
        super().__init__(4, 3)
        self.at, self.what, self.calls = at, what, 0

    def train_step(self, batch, loss):
        self.calls += 1
        value, out = super().train_step(batch, loss)
        if self.calls == self.at:
            if isinstance(self.what, type):
                raise self.what()
            return self.what, out
        return value, out


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_loss_raises_divergence_error_with_epoch_step_and_advice(bad):
    x, y = blobs(n=4)
    model = FailAt(3, bad)
    trainer = Trainer(model, Adam(model.parameters()), softmax_cross_entropy, **QUIET)
    with pytest.raises(DivergenceError, match=r"(nan|inf) at epoch 2, batch 0, global step 3.*learning rate"):
        trainer.fit(batches(x, y, batch_size=6), epochs=3)   # 2 batches per epoch
    assert issubclass(DivergenceError, FloatingPointError)


def test_a_raised_keyboard_interrupt_saves_the_last_whole_step(tmp_path):
    x, y = blobs(n=4)
    lines = []
    model = FailAt(4, KeyboardInterrupt)
    trainer = Trainer(model, Adam(model.parameters()), softmax_cross_entropy, progress=False,
                      log=lines.append, checkpoint_dir=tmp_path)
    hist = trainer.fit(batches(x, y, batch_size=6), epochs=5)
    assert trainer.interrupted and hist.epochs == 1
    path = tmp_path / "interrupted.npz"
    assert path.exists() and str(path) in lines[-1]
    meta = load_checkpoint(path, LinearClassifier(4, 3))
    assert meta["epoch"] == 1 and meta["step"] == 3 and meta["interrupted"] is True


def test_ctrl_c_without_checkpoint_dir_says_nothing_was_saved():
    x, y = blobs(n=4)
    lines = []
    model = FailAt(2, KeyboardInterrupt)
    trainer = Trainer(model, Adam(model.parameters()), softmax_cross_entropy, progress=False, log=lines.append)
    trainer.fit(batches(x, y, batch_size=6), epochs=5)
    assert trainer.interrupted and "nothing saved" in lines[-1]


def test_model_missing_protocol_methods_is_rejected():
    class Half:
        def parameters(self):
            return []

    with pytest.raises(TypeError, match=r"lacks the protocol method\(s\) \['train', 'eval'"):
        Trainer(Half(), None, None)


def test_bare_arrays_instead_of_batches_get_a_hint():
    x, y = blobs(n=4)
    with pytest.raises(TypeError, match="pmt.core.batches"):
        make()[2].fit((x, y), epochs=1)


@pytest.mark.parametrize("kw,match", [
    (dict(metrics={"loss": accuracy}), "clashes"),
    (dict(metrics={"acc": 3}), "callable"),
    (dict(clip_norm=0), "clip_norm"),
    (dict(schedule=0.1), "schedule"),
])
def test_bad_trainer_arguments(kw, match):
    model = LinearClassifier(4, 3)
    with pytest.raises((TypeError, ValueError), match=match):
        Trainer(model, Adam(model.parameters()), softmax_cross_entropy, **kw)


def test_bad_epochs_and_empty_data_raise():
    _, _, trainer = make()
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit([], epochs=-1)
    with pytest.raises(ValueError, match="no batches"):
        trainer.fit([], epochs=1)


# ----------------------------------------------------------------- resume
def _run(tmp, epochs, resume=None, data_seed=None, init_seed=0):
    """Fresh model + optimizer + data; dropout and (unless data_seed) shuffling draw from get_rng()."""
    seed(init_seed)
    x, y = make_blobs(30, num_classes=3, dim=4, spread=2.0, rng=np.random.default_rng(1))
    model = LinearClassifier(4, 3, dropout=0.3)
    opt = Adam(model.parameters(), lr=0.05)
    trainer = Trainer(model, opt, softmax_cross_entropy, metrics={"acc": accuracy}, checkpoint_dir=tmp,
                      schedule=WarmupCosine(0.05, warmup=3, total=40), **QUIET)
    trainer.fit(batches(x, y, batch_size=8, shuffle=True, seed=data_seed), epochs=epochs,
                eval_data=batches(x, y, batch_size=32), resume=resume)
    return trainer


@pytest.mark.parametrize("data_seed", [None, 5])
def test_resume_from_end_of_epoch_checkpoint_is_bit_identical(tmp_path, data_seed):
    full = _run(tmp_path / "full", 4, data_seed=data_seed)
    _run(tmp_path / "part", 2, data_seed=data_seed)
    # a different init seed: everything must come back from the checkpoint
    resumed = _run(tmp_path / "resumed", 4, resume=tmp_path / "part" / "last.npz", data_seed=data_seed,
                   init_seed=99)
    np.testing.assert_array_equal(resumed.model.W.data, full.model.W.data)
    np.testing.assert_array_equal(resumed.model.b.data, full.model.b.data)
    for k in ("loss", "acc", "val_loss", "val_acc", "lr"):
        assert resumed.history[k] == full.history[k], k
    assert (resumed.epoch, resumed.step, resumed.optimizer.t) == (full.epoch, full.step, full.optimizer.t)
    np.testing.assert_array_equal(resumed.optimizer.state[0]["v"], full.optimizer.state[0]["v"])
    assert resumed.model.W.data.tobytes() != _run(tmp_path / "other", 4, init_seed=1).model.W.data.tobytes()


def test_resume_restores_rng_and_counters(tmp_path):
    t = _run(tmp_path, 2)
    expected_next = get_rng().random(3)
    seed(123)
    fresh = _run(tmp_path / "x", 0)                     # epochs=0: trains nothing
    meta = fresh.load_checkpoint(tmp_path / "last.npz")
    np.testing.assert_array_equal(get_rng().random(3), expected_next)
    assert (fresh.epoch, fresh.step) == (t.epoch, t.step) == (2, meta["step"])
    assert fresh.history["loss"] == t.history["loss"]


def test_resume_with_no_epochs_left_trains_nothing(tmp_path):
    t = _run(tmp_path, 2)
    again = _run(tmp_path / "again", 2, resume=tmp_path / "last.npz")
    np.testing.assert_array_equal(again.model.W.data, t.model.W.data)
    assert again.history.epochs == 2


def test_resume_from_a_bare_model_checkpoint_is_rejected_before_loading(tmp_path):
    model, opt, trainer = make()
    save_checkpoint(tmp_path / "bare.npz", LinearClassifier(4, 3), opt)
    before = model.W.data.copy()
    with pytest.raises(ValueError, match="not a Trainer checkpoint"):
        trainer.fit([], epochs=1, resume=tmp_path / "bare.npz")
    np.testing.assert_array_equal(model.W.data, before)


def test_history_append_backfills_missing_keys_with_nan():
    h = History()
    h.append({"loss": 1.0})
    h.append({"loss": 0.5, "val_loss": 0.7})
    h.append({"loss": 0.4})
    assert h["loss"] == [1.0, 0.5, 0.4] and h.epochs == 3
    assert math.isnan(h["val_loss"][0]) and h["val_loss"][1] == 0.7 and math.isnan(h["val_loss"][2])


def test_dropout_model_is_deterministic_in_eval_mode():
    x, y = blobs(n=10)
    model = LinearClassifier(4, 3, dropout=0.5)
    trainer = Trainer(model, Adam(model.parameters()), softmax_cross_entropy, **QUIET)
    a, b = trainer.evaluate(batches(x, y, batch_size=8)), trainer.evaluate(batches(x, y, batch_size=8))
    assert a == b


# ----------------------------------------------------------------- Ctrl-C and exact mid-epoch resume
class CtrlCAt(LinearClassifier):
    """Sends this process a real SIGINT (one, or two: "pressed twice") during training-step call `at`."""

    def __init__(self, at, presses=1, dropout=0.3):
        super().__init__(4, 3, dropout=dropout)
        self.at, self.presses, self.calls = at, presses, 0

    def train_step(self, batch, loss):
        self.calls += 1
        if self.calls == self.at:
            for _ in range(self.presses):
                os.kill(os.getpid(), signal.SIGINT)
        return super().train_step(batch, loss)


def _exact_run(tmp, epochs, model=None, resume=None, data_seed=None, every=None, callbacks=()):
    """Shuffled batches and dropout drawing from get_rng(): what exact resume must reproduce."""
    seed(0)
    x, y = make_blobs(30, num_classes=3, dim=4, spread=2.0, rng=np.random.default_rng(1))
    model = (model or (lambda: LinearClassifier(4, 3, dropout=0.3)))()
    trainer = Trainer(model, Adam(model.parameters(), lr=0.05), softmax_cross_entropy, metrics={"acc": accuracy},
                      checkpoint_dir=tmp, schedule=WarmupCosine(0.05, warmup=3, total=40), checkpoint_every=every,
                      callbacks=list(callbacks), **QUIET)
    trainer.fit(batches(x, y, batch_size=24, shuffle=True, seed=data_seed), epochs=epochs,
                eval_data=batches(x, y, batch_size=32), resume=resume)
    return trainer


def _assert_same_run(a, b):
    np.testing.assert_array_equal(a.model.W.data, b.model.W.data)
    np.testing.assert_array_equal(a.model.b.data, b.model.b.data)
    for k in ("loss", "acc", "val_loss", "val_acc", "lr"):
        assert a.history[k] == b.history[k], k
    assert (a.epoch, a.step, a.optimizer.t) == (b.epoch, b.step, b.optimizer.t)
    np.testing.assert_array_equal(a.optimizer.state[0]["m"], b.optimizer.state[0]["m"])
    np.testing.assert_array_equal(get_rng().random(2), np.asarray(b._rng_after))


@pytest.mark.parametrize("data_seed", [None, 5])
@pytest.mark.parametrize("at", [2, 4, 6, 11])     # 90 examples, 4 batches per epoch: mid-epoch, an epoch's end ...
def test_ctrl_c_then_resume_is_bit_identical_to_a_run_that_never_stopped(tmp_path, at, data_seed):
    full = _exact_run(tmp_path / "full", 3, data_seed=data_seed)
    full._rng_after = get_rng().random(2)
    cut = _exact_run(tmp_path / "cut", 3, model=lambda: CtrlCAt(at), data_seed=data_seed)
    assert cut.interrupted and cut.step == at     # the step that was running when Ctrl-C came is finished
    assert cut.interrupt_checkpoint == tmp_path / "cut" / "interrupted.npz"
    meta = checkpoint_meta(cut.interrupt_checkpoint)
    assert meta["step"] == at and meta["position"]["batch"] == at - 4 * meta["epoch"]
    resumed = _exact_run(tmp_path / "cut", 3, resume=tmp_path / "cut", data_seed=data_seed)
    _assert_same_run(resumed, full)
    assert not (tmp_path / "cut" / "interrupted.npz").exists()     # finished: the stale file is gone


def test_resume_without_a_cheap_skip_replays_the_batches_done(tmp_path):
    x, y = make_blobs(30, num_classes=3, dim=4, spread=2.0, rng=np.random.default_rng(1))

    def shuffled(bs):     # draws its order when iteration starts, offers no skip()
        order = get_rng().permutation(len(x))
        for s in range(0, len(x), bs):
            yield x[order[s:s + bs]], y[order[s:s + bs]]

    def run(model, resume=None):
        seed(3)
        model = model()
        trainer = Trainer(model, Adam(model.parameters(), lr=0.05), softmax_cross_entropy, checkpoint_dir=tmp_path,
                          **QUIET)
        trainer.fit(Rewindable(shuffled, 8, length=4), epochs=2, resume=resume)
        return trainer

    full = run(lambda: LinearClassifier(4, 3, dropout=0.3))   # 90 examples: 12 batches of 8 per epoch
    assert run(lambda: CtrlCAt(3)).interrupted
    resumed = run(lambda: LinearClassifier(4, 3, dropout=0.3), resume=tmp_path)
    np.testing.assert_array_equal(resumed.model.W.data, full.model.W.data)
    assert resumed.history["loss"] == full.history["loss"]


def test_ctrl_c_during_evaluation_resumes_with_the_evaluation(tmp_path):
    class CtrlCInEval(LinearClassifier):
        def eval_step(self, batch, loss):
            if not getattr(self, "done", False):
                self.done = True
                os.kill(os.getpid(), signal.SIGINT)
            return super().eval_step(batch, loss)

    full = _exact_run(tmp_path / "full", 2)
    full._rng_after = get_rng().random(2)
    cut = _exact_run(tmp_path / "cut", 2, model=lambda: CtrlCInEval(4, 3, dropout=0.3))
    assert cut.interrupted and cut.epoch == 0 and cut.step == 4 and cut.history.epochs == 0
    _assert_same_run(_exact_run(tmp_path / "cut", 2, resume=tmp_path / "cut"), full)


def test_ctrl_c_twice_stops_at_once_and_writes_no_checkpoint(tmp_path):
    lines = []
    model = CtrlCAt(6, presses=2)
    trainer = Trainer(model, Adam(model.parameters()), softmax_cross_entropy, checkpoint_dir=tmp_path,
                      progress=False, log=lines.append)
    x, y = blobs(n=10)
    trainer.fit(batches(x, y, batch_size=8), epochs=3)
    assert trainer.interrupted and trainer.interrupt_checkpoint is None
    assert not (tmp_path / "interrupted.npz").exists() and "no checkpoint written" in lines[-1]
    assert checkpoint_meta(tmp_path / "last.npz")["epoch"] == 1     # the last epoch end survives


def test_checkpoint_every_writes_the_exact_position_a_killed_run_resumes_from(tmp_path):
    class Kill(Callback):       # a SIGKILL stand-in: the process dies after step `at`, nothing more runs
        def on_batch_end(self, trainer, step, logs):
            if step == 7:
                raise SystemExit("killed")

    full = _exact_run(tmp_path / "full", 3)
    full._rng_after = get_rng().random(2)
    with pytest.raises(SystemExit):
        _exact_run(tmp_path / "cut", 3, every=3, callbacks=[Kill()])
    meta = checkpoint_meta(tmp_path / "cut" / "last.npz")
    assert meta["step"] == 6 and meta["epoch"] == 1 and meta["position"]["batch"] == 2
    resumed = _exact_run(tmp_path / "cut", 3, resume=tmp_path / "cut", every=3)
    _assert_same_run(resumed, full)


def test_newest_checkpoint_compares_the_recorded_steps(tmp_path):
    model, opt, trainer = make(checkpoint_dir=tmp_path)
    assert newest_checkpoint(tmp_path) is None
    trainer.step = 9
    trainer.save_checkpoint(tmp_path / "interrupted.npz")
    trainer.step = 12
    trainer.save_checkpoint(tmp_path / "last.npz")
    assert newest_checkpoint(tmp_path) == tmp_path / "last.npz"
    trainer.step = 15
    trainer.save_checkpoint(tmp_path / "interrupted.npz")
    assert newest_checkpoint(tmp_path) == tmp_path / "interrupted.npz"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        make()[2].fit([], epochs=1, resume=tmp_path / "empty")


def test_checkpoint_every_needs_a_folder_and_a_positive_count():
    with pytest.raises(ValueError, match="checkpoint_dir"):
        make(checkpoint_every=5)
    with pytest.raises(ValueError, match="checkpoint_every"):
        make(checkpoint_every=0, checkpoint_dir=".")


def test_progress_lines_when_stderr_is_not_a_terminal(capsys):
    x, y = blobs(n=10)
    lines = []
    model = LinearClassifier(4, 3)
    trainer = Trainer(model, Adam(model.parameters()), softmax_cross_entropy, log=lines.append, log_interval=1e-9)
    trainer.fit(batches(x, y, batch_size=8), epochs=1)   # pytest's captured stderr is no terminal
    steps = [s for s in lines if "step (" in s]
    assert steps and steps[-1].startswith("epoch 1/1  4/4 step (100%)") and "loss" in steps[-1]
    assert lines[-1].startswith("epoch 1/1  loss") and "\r" not in capsys.readouterr().err


def test_a_resumed_model_checkpoint_keeps_best_npz_unless_an_epoch_beats_every_earlier_one(tmp_path):
    x, y = blobs(n=10)
    values = iter([0.9, 0.5, 0.6, 0.95])     # scripted validation accuracies, epochs 1..4

    def fake_eval(data):
        return {"acc": next(values)}

    def run(epochs, resume=None):
        model, _, trainer = make(checkpoint_dir=tmp_path, callbacks=[ModelCheckpoint(tmp_path, save_best_only=True,
                                                                                     monitor="val_acc")])
        trainer.evaluate = fake_eval
        trainer.fit(batches(x, y, batch_size=8), epochs=epochs, eval_data=[()], resume=resume)
        return trainer

    run(2)
    assert checkpoint_meta(tmp_path / "best.npz")["epoch"] == 1
    run(3, resume=tmp_path)            # epoch 3 scores 0.6 < 0.9: best.npz stays epoch 1
    assert checkpoint_meta(tmp_path / "best.npz")["epoch"] == 1
    run(4, resume=tmp_path)            # epoch 4 scores 0.95
    assert checkpoint_meta(tmp_path / "best.npz")["epoch"] == 4
