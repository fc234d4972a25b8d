"""`mpiexec -n 2` with `pmt-qqp train` and `pmt-ner train`: one process's numbers, one run folder."""
import json

import pytest

from pmt.core.testing import require_dataset, run_mpi
from pmt.transformer.ner.cli import run as ner_main
from pmt.transformer.qqp.cli import run as qqp_main


def _history_line(text, epoch):
    return next(line for line in text.splitlines() if line.startswith(f"epoch {epoch}/"))


def _numbers(line):
    return {k: float(v) for k, v in zip(line.split()[2::2], line.split()[3::2]) if k not in ("lr",)
            and not v.endswith("s")}


def test_qqp_train_on_two_ranks_matches_one_process(tmp_path, capsys):
    path = require_dataset("qqp", files=["train.tsv"])["train.tsv"]
    args = ["train", "--data", str(path), "--max-rows", "2000", "--max-valid", "300", "--epochs", "1",
            "--vocab-size", "1000", "--d-model", "32", "--heads", "2", "--ff", "64", "--layers", "1",
            "--warmup", "10", "--dropout", "0"]
    r = run_mpi(2, ["-m", "pmt.transformer.qqp", *args, "--run-dir", tmp_path / "two", "--no-progress"], timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("best epoch") == 1                              # rank 0 prints
    for name in ("best.npz", "last.npz", "vocab.txt", "config.json", "history.png"):
        assert (tmp_path / "two" / name).is_file()
    qqp_main([*args, "--run-dir", str(tmp_path / "one"), "--no-progress"])
    one = _numbers(_history_line(capsys.readouterr().out, 1))
    two = _numbers(_history_line(r.stdout, 1))
    # Train F1 is a running mean of per-batch (one process) or per-share (2 ranks) values.
    for key in ("loss", "acc", "val_loss", "val_acc", "val_f1"):
        assert two[key] == pytest.approx(one[key], abs=2e-3), key
    assert (tmp_path / "one" / "vocab.txt").read_text() == (tmp_path / "two" / "vocab.txt").read_text()


def test_ner_token_mean_loss_on_two_ranks_matches_one_process(tmp_path, capsys):
    # Without a CRF the loss is a token mean: ranks are weighted by their real tokens (loss_weight);
    # the CRF's per-sentence mean is weighted like QQP's, by examples.
    files = require_dataset("conll2003", files=["eng.train", "eng.testa"])
    args = ["train", "--train", str(files["eng.train"]), "--valid", str(files["eng.testa"]), "--max-train", "300",
            "--max-valid", "100", "--epochs", "1", "--lr", "2e-3", "--warmup", "5", "--d-model", "16",
            "--heads", "2", "--ff", "32", "--layers", "1", "--word-dim", "16", "--char-filters", "8",
            "--dropout", "0", "--no-crf"]
    r = run_mpi(2, ["-m", "pmt.transformer.ner", *args, "--run-dir", tmp_path / "two", "--no-progress"], timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("best epoch") == 1
    assert json.loads((tmp_path / "two" / "config.json").read_text())["model"]["crf"] is False
    ner_main([*args, "--run-dir", str(tmp_path / "one"), "--no-progress"])
    one = _numbers(_history_line(capsys.readouterr().out, 1))
    two = _numbers(_history_line(r.stdout, 1))
    for key in ("loss", "val_loss", "val_f1"):
        assert two[key] == pytest.approx(one[key], abs=2e-3), key
