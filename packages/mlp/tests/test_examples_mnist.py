"""The example end to end, on a slice of real Fashion-MNIST (a few seconds)."""
import json

import pytest

import numpy as np

from pmt.core import Trainer, train_valid_split
from pmt.core.testing import require_dataset
from pmt.mlp import Sequential
from pmt.mlp.examples.mnist import build_model, load_splits, main, parse_args, run
from pmt.mlp.mnist import load_mnist


@pytest.fixture
def fashion(monkeypatch):
    folder = next(iter(require_dataset("fashion-mnist").values())).parent
    monkeypatch.setenv("PMT_DATA_DIR", str(folder.parent))


def test_example_trains_on_a_slice_of_fashion_mnist_to_over_82_percent(tmp_path, fashion):
    # 3 epochs over 12,000 of the 55,000 images outside the validation split; measured
    # (seeds 0, 1) 84.86 / 84.82% on the 5,000 validation images, 84.06 / 84.42% on the 10,000 test images.
    metrics = run(["--dataset", "fashion-mnist", "--epochs", "3", "--max-train", "12000", "--batch-size", "64",
                   "--lr", "2e-3", "--hidden", "256", "128", "--run-dir", str(tmp_path), "--no-progress"])
    assert metrics["val_acc"] >= 0.82 and metrics["test_acc"] >= 0.82
    assert metrics["images"] == {"train": 12000, "valid": 5000, "test": 10000}
    assert metrics["epochs"] == 3 and metrics["peak_rss_mb"] > 0 and "final model" in metrics["test_scored"]
    for name in ("config.json", "history.png", "last.npz", "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_acc"] == metrics["test_acc"] and saved["val_acc"] == metrics["val_acc"]
    assert saved["config"]["valid_size"] == 5000 and saved["config"]["split_seed"] == 0


def test_the_test_set_is_scored_once_after_training_and_never_during_it(tmp_path, fashion, monkeypatch, capsys):
    events = []   # what the model is run on, in order: each evaluation's size, each prediction's size
    fit, evaluate, predict = Trainer.fit, Trainer.evaluate, Sequential.predict

    def spy_fit(self, *a, **k):
        events.append("fit begins")
        try:
            return fit(self, *a, **k)
        finally:
            events.append("fit ends")

    monkeypatch.setattr(Trainer, "fit", spy_fit)
    monkeypatch.setattr(Trainer, "evaluate", lambda self, data: events.append(("evaluate", data.n))
                        or evaluate(self, data))
    monkeypatch.setattr(Sequential, "predict", lambda self, x, **k: events.append(("predict", len(x)))
                        or predict(self, x, **k))
    metrics = run(["--dataset", "fashion-mnist", "--epochs", "2", "--max-train", "500", "--valid-size", "700",
                   "--hidden", "16", "--run-dir", str(tmp_path), "--no-progress"])
    assert events == ["fit begins", ("evaluate", 700), ("evaluate", 700), "fit ends", ("predict", 10000)]
    assert metrics["images"] == {"train": 500, "valid": 700, "test": 10000}
    out = capsys.readouterr().out
    assert out.count("val_acc") == 2 and out.count("test accuracy") == 1 and "test_acc" not in out


def test_the_validation_split_follows_the_split_seed_alone(tmp_path, fashion, monkeypatch):
    seen = []
    evaluate = Trainer.evaluate
    monkeypatch.setattr(Trainer, "evaluate", lambda self, data: seen.append(data.arrays[1].copy())
                        or evaluate(self, data))
    common = ["--dataset", "fashion-mnist", "--epochs", "1", "--max-train", "100", "--valid-size", "300",
              "--hidden", "8", "--no-progress"]
    run(common + ["--run-dir", str(tmp_path / "a"), "--seed", "1"])
    run(common + ["--run-dir", str(tmp_path / "b"), "--seed", "2"])             # other init, same split
    run(common + ["--run-dir", str(tmp_path / "c"), "--split-seed", "1"])
    assert (seen[0] == seen[1]).all() and not (seen[0] == seen[2]).all()


def test_load_splits_carves_the_validation_images_out_of_the_training_images(fashion):
    (xt, yt), (xv, yv), (xs, ys) = load_splits("fashion-mnist", None, 1000, 4, max_train=300)
    full = load_mnist("fashion-mnist")
    train_idx, valid_idx = train_valid_split(60000, 1000, 4)
    assert xt.shape == (300, 784) and xv.shape == (1000, 784) and xs.shape == (10000, 784)
    assert xt.dtype == xv.dtype == xs.dtype == np.float32
    np.testing.assert_array_equal(xv, full.x_train[valid_idx])
    np.testing.assert_array_equal(yv, full.y_train[valid_idx])
    np.testing.assert_array_equal(xt, full.x_train[train_idx[:300]])
    np.testing.assert_array_equal(xs, full.x_test)


def test_a_validation_split_as_large_as_the_training_set_is_refused(tmp_path, fashion, capsys):
    assert main(["--dataset", "fashion-mnist", "--valid-size", "60000", "--run-dir", str(tmp_path / "run"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--valid-size 60000" in err and "holds only 60000" in err
    assert not (tmp_path / "run").exists()


def test_example_resume_continues_from_the_last_checkpoint(tmp_path, fashion, capsys):
    common = ["--dataset", "fashion-mnist", "--max-train", "1000", "--hidden", "32", "--run-dir", str(tmp_path),
              "--no-progress"]
    run(common + ["--epochs", "1"])
    metrics = run(["--run-dir", str(tmp_path), "--epochs", "2", "--resume"])
    assert metrics["epochs"] == 2 and metrics["config"]["hidden"] == [32]
    assert metrics["images"]["valid"] == 5000 and metrics["config"]["split_seed"] == 0
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and out.count("epoch 1/") == 1   # epoch 1 was not trained again


def test_resume_without_a_checkpoint_says_so(tmp_path, fashion, capsys):
    assert main(["--dataset", "fashion-mnist", "--max-train", "100", "--hidden", "8", "--run-dir", str(tmp_path),
                 "--resume", "--no-progress"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_a_trained_run_is_refused_and_left_byte_for_byte(tmp_path, fashion, capsys):
    argv = ["--dataset", "fashion-mnist", "--max-train", "200", "--hidden", "8", "--run-dir", str(tmp_path),
            "--no-progress", "--epochs", "1"]
    assert main(argv) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(argv + ["--overwrite", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_fashion_files_in_the_mnist_folder_are_refused(tmp_path, fashion, monkeypatch, capsys):
    src = next(iter(require_dataset("fashion-mnist").values())).parent
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    for f in src.iterdir():
        (tmp_path / "data" / "mnist" / f.name).symlink_to(f)
    monkeypatch.setenv("PMT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PMT_CACHE", str(tmp_path / "cache"))
    assert main(["--dataset", "mnist", "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is not the expected mnist/" in err and "sha256" in err and not (tmp_path / "run").exists()


def test_original_project_model_has_its_parameter_count():
    assert build_model((128, 64), 0.25).num_parameters() == 109386


@pytest.mark.parametrize("argv,flag", [(["--epochs", "0"], "--epochs"), (["--dropout", "1"], "--dropout"),
                                       (["--lr", "-1"], "--lr"), (["--hidden", "0"], "--hidden"),
                                       (["--dataset", "cifar"], "--dataset"), (["--max-train", "0"], "--max-train"),
                                       (["--limit", "-30"], "--limit"),
                                       (["--valid-size", "0"], "--valid-size"),
                                       (["--split-seed", "-1"], "--split-seed")])
def test_bad_arguments_exit_with_one_line_naming_the_flag(argv, flag, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and f"error: argument {flag}" in err


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(["--help"])
    assert e.value.code == 0 and "--dataset" in capsys.readouterr().out
