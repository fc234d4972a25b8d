"""The example end to end, on a slice of real Fashion-MNIST (a few seconds)."""
import json

import pytest

from pmt.core.testing import require_dataset
from pmt.mlp.examples.mnist import build_model, main, parse_args


@pytest.fixture
def fashion(monkeypatch):
    folder = next(iter(require_dataset("fashion-mnist").values())).parent
    monkeypatch.setenv("PMT_DATA_DIR", str(folder.parent))


def test_example_trains_on_a_slice_of_fashion_mnist_to_over_82_percent(tmp_path, fashion):
    # 3 epochs over 12,000 images; measured 84.1-84.2% on the 10,000 test images (seeds 0, 1).
    metrics = main(["--dataset", "fashion-mnist", "--epochs", "3", "--limit", "12000", "--batch-size", "64",
                    "--lr", "2e-3", "--hidden", "256", "128", "--out", str(tmp_path), "--no-progress"])
    assert metrics["test_acc"] >= 0.82
    assert metrics["epochs"] == 3 and metrics["peak_rss_mb"] > 0
    for name in ("history.png", "last.npz", "metrics.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "metrics.json").read_text())["test_acc"] == metrics["test_acc"]


def test_example_resume_continues_from_the_last_checkpoint(tmp_path, fashion, capsys):
    common = ["--dataset", "fashion-mnist", "--limit", "1000", "--hidden", "32", "--out", str(tmp_path),
              "--no-progress"]
    main(common + ["--epochs", "1"])
    metrics = main(common + ["--epochs", "2", "--resume"])
    assert metrics["epochs"] == 2
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and out.count("epoch 1/") == 1   # epoch 1 was not trained again


def test_resume_without_a_checkpoint_says_so(tmp_path, fashion):
    with pytest.raises(SystemExit, match="no checkpoint"):
        main(["--dataset", "fashion-mnist", "--limit", "100", "--hidden", "8", "--out", str(tmp_path),
              "--resume", "--no-progress"])


def test_original_project_model_has_its_parameter_count():
    assert build_model((128, 64), 0.25).num_parameters() == 109386


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--dropout", "1"], ["--lr", "-1"], ["--hidden", "0"],
                                  ["--dataset", "cifar"]])
def test_bad_arguments_exit_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2 and "error" in capsys.readouterr().err


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(["--help"])
    assert e.value.code == 0 and "--dataset" in capsys.readouterr().out
