"""`mpiexec -n 2 python -m pmt.mlp.examples.mnist`: one process's result, printed and written once."""
import json

import pytest

from pmt.core.testing import require_dataset, run_mpi
from pmt.mlp.examples.mnist import run


def test_example_on_two_ranks_matches_one_process(tmp_path, monkeypatch):
    folder = next(iter(require_dataset("fashion-mnist").values())).parent
    monkeypatch.setenv("PMT_DATA_DIR", str(folder.parent))
    # dropout 0: the two runs then see the same global batches and the same gradients
    args = ["--dataset", "fashion-mnist", "--epochs", "1", "--max-train", "2000", "--hidden", "64", "--dropout", "0",
            "--no-progress"]
    r = run_mpi(2, ["-m", "pmt.mlp.examples.mnist", *args, "--run-dir", tmp_path / "two"], timeout=120,
                env={"PMT_DATA_DIR": str(folder.parent)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("test accuracy") == 1 and r.stdout.count("total parameters") == 1  # rank 0 prints
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    one = run([*args, "--run-dir", str(tmp_path / "one")])
    assert two["test_acc"] == pytest.approx(one["test_acc"], abs=2e-4)      # at most 2 of 10,000 flip
    assert two["test_loss"] == pytest.approx(one["test_loss"], rel=1e-4)
