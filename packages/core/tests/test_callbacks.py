import numpy as np
import pytest

from pmt.core import (Adam, Callback, EarlyStopping, LRSchedulerCallback, ModelCheckpoint, PlotHistory,
                      StepDecay, Trainer, accuracy, batches, load_checkpoint, seed)
from pmt.core.examples.linear_demo import LinearClassifier, make_blobs, softmax_cross_entropy


class Scripted(Callback):
    """Overwrites the epoch logs' monitored values with a script, before the callbacks under test."""

    def __init__(self, **series):
        self.series = series

    def on_epoch_end(self, trainer, epoch, logs):
        for k, vals in self.series.items():
            logs[k] = vals[epoch - 1]


def trainer_with(*callbacks, tmp=None):
    seed(0)
    model = LinearClassifier(2, 3)
    return Trainer(model, Adam(model.parameters(), lr=0.05), softmax_cross_entropy,
                   metrics={"acc": accuracy}, callbacks=callbacks, progress=False, log=lambda s: None,
                   checkpoint_dir=tmp)


def data():
    x, y = make_blobs(10, num_classes=3, rng=np.random.default_rng(0))
    return batches(x, y, batch_size=10)


# ----------------------------------------------------------------- EarlyStopping
def test_early_stopping_stops_after_patience_epochs_without_improvement():
    es = EarlyStopping(monitor="val_loss", patience=2)
    t = trainer_with(Scripted(val_loss=[1.0, 0.8, 0.9, 0.85, 0.7, 0.6]), es)
    t.fit(data(), epochs=6, eval_data=data())
    assert t.epoch == 4 and es.stopped_epoch == 4
    assert es.best == 0.8 and es.best_epoch == 2


def test_early_stopping_mode_auto_maximises_accuracy():
    es = EarlyStopping(monitor="val_acc", patience=1)
    assert es.mode == "max"
    t = trainer_with(Scripted(val_acc=[0.5, 0.7, 0.6, 0.9]), es)
    t.fit(data(), epochs=4, eval_data=data())
    assert t.epoch == 3 and es.best == 0.7


def test_early_stopping_min_delta_requires_a_real_improvement():
    es = EarlyStopping(monitor="val_loss", patience=1, min_delta=0.1)
    t = trainer_with(Scripted(val_loss=[1.0, 0.95, 0.5]), es)
    t.fit(data(), epochs=3, eval_data=data())
    assert t.epoch == 2


def test_early_stopping_restore_best_reloads_the_best_weights():
    class Snap(Callback):
        def __init__(self):
            self.weights = {}

        def on_epoch_end(self, trainer, epoch, logs):
            self.weights[epoch] = trainer.model.W.data.copy()

    snap = Snap()
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best=True)
    t = trainer_with(Scripted(val_loss=[1.0, 0.5, 0.9, 0.9]), snap, es)
    t.fit(data(), epochs=4, eval_data=data())
    np.testing.assert_array_equal(t.model.W.data, snap.weights[2])
    assert not np.array_equal(snap.weights[2], snap.weights[4])


def test_early_stopping_missing_monitor_names_available_keys():
    t = trainer_with(EarlyStopping(monitor="val_loss"))
    with pytest.raises(ValueError, match=r"'val_loss' is not in the epoch logs \['acc', 'loss'.*eval_data"):
        t.fit(data(), epochs=2)


@pytest.mark.parametrize("kw", [dict(patience=0), dict(mode="up"), dict(min_delta=-1)])
def test_early_stopping_bad_arguments(kw):
    with pytest.raises(ValueError):
        EarlyStopping(**kw)


# ----------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_every_n_epochs_into_a_folder(tmp_path):
    mc = ModelCheckpoint(tmp_path, every=2)
    trainer_with(mc).fit(data(), epochs=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-002.npz", "epoch-004.npz"]
    assert mc.last_path == tmp_path / "epoch-004.npz"
    assert load_checkpoint(mc.last_path)["epoch"] == 4


def test_model_checkpoint_save_best_only_keeps_best_epoch(tmp_path):
    mc = ModelCheckpoint(tmp_path, save_best_only=True, monitor="val_acc")
    t = trainer_with(Scripted(val_acc=[0.5, 0.8, 0.7]), mc)
    t.fit(data(), epochs=3, eval_data=data())
    assert mc.best_path == tmp_path / "best.npz"
    assert load_checkpoint(mc.best_path)["epoch"] == 2


def test_model_checkpoint_pattern_with_logs(tmp_path):
    mc = ModelCheckpoint(str(tmp_path / "ck-{epoch}-{val_loss:.1f}.npz"))
    trainer_with(Scripted(val_loss=[0.5, 0.25]), mc).fit(data(), epochs=2, eval_data=data())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck-1-0.5.npz", "ck-2-0.2.npz"]


def test_model_checkpoint_is_resumable(tmp_path):
    mc = ModelCheckpoint(tmp_path / "ck", every=1)
    t = trainer_with(mc)
    t.fit(data(), epochs=2)
    t2 = trainer_with()
    t2.fit(data(), epochs=3, resume=tmp_path / "ck" / "epoch-002.npz")
    assert t2.epoch == 3 and t2.history.epochs == 3


def test_model_checkpoint_bad_pattern_key_is_explained(tmp_path):
    t = trainer_with(ModelCheckpoint(str(tmp_path / "{nope}.npz")))
    with pytest.raises(ValueError, match="cannot fill the path pattern"):
        t.fit(data(), epochs=1)


def test_model_checkpoint_rejects_bad_every(tmp_path):
    with pytest.raises(ValueError, match="every"):
        ModelCheckpoint(tmp_path, every=0)


# ----------------------------------------------------------------- LRSchedulerCallback
class LrSpy(Callback):
    def __init__(self):
        self.lrs = []

    def on_batch_end(self, trainer, step, logs):
        self.lrs.append(trainer.optimizer.lr)


def test_lr_scheduler_per_epoch_sets_rate_at_epoch_start():
    spy = LrSpy()
    t = trainer_with(LRSchedulerCallback(StepDecay(0.1, step_size=2, gamma=0.5), per="epoch"), spy)
    x, y = make_blobs(10, num_classes=3, rng=np.random.default_rng(0))
    hist = t.fit(batches(x, y, batch_size=15), epochs=4)           # 2 steps per epoch
    assert spy.lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05])
    assert hist["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05])


def test_lr_scheduler_per_step_matches_trainer_schedule():
    sched = StepDecay(0.1, step_size=3, gamma=0.5)
    spy = LrSpy()
    # the spy runs first, so it sees the rate the update just used
    trainer_with(spy, LRSchedulerCallback(sched, per="step")).fit(data(), epochs=3)   # 3 steps per epoch
    assert spy.lrs == pytest.approx([sched(k) for k in range(1, 10)])


def test_lr_scheduler_bad_arguments():
    with pytest.raises(ValueError, match="per"):
        LRSchedulerCallback(StepDecay(0.1, 1), per="batch")
    with pytest.raises(TypeError):
        LRSchedulerCallback(0.1)


# ----------------------------------------------------------------- PlotHistory
def test_plot_history_callback_writes_png_each_epoch(tmp_path):
    path = tmp_path / "h.png"
    trainer_with(PlotHistory(path, title="t")).fit(data(), epochs=2, eval_data=data())
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
