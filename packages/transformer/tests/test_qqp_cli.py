import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.transformer.qqp.cli import load_run, main, predict_proba, run
from pmt.core.data import train_valid_split
from pmt.transformer.qqp.data import read_qqp
from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_pair_classifier_shapes_and_padding_invariance(pooling):
    cfg = PairClassifierConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=16,
                               dropout=0.0, pooling=pooling)
    model = PairClassifier(cfg)
    model.eval()
    ids = np.array([[2, 7, 8, 3, 9, 3]])
    seg = np.array([[0, 0, 0, 0, 1, 1]])
    a = model(ids, seg).data
    b = model(np.pad(ids, ((0, 0), (0, 4))), np.pad(seg, ((0, 0), (0, 4)))).data   # extra [PAD]s
    assert a.shape == (1, 2)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_pair_classifier_rejects_mismatched_inputs():
    model = PairClassifier(PairClassifierConfig(vocab_size=10, d_model=8, n_heads=2, d_ff=8, n_layers=1))
    with pytest.raises(ValueError, match="ids and segments"):
        model(np.ones((2, 5), int), np.ones((2, 4), int))


def test_qqp_trains_above_majority_on_real_slice(tmp_path, capsys):
    path = require_dataset("qqp", files=["train.tsv"])["train.tsv"]
    out = tmp_path / "run"
    history = run(["train", "--data", str(path), "--max-rows", "8000", "--max-valid", "800", "--epochs", "3",
                   "--vocab-size", "4000", "--d-model", "64", "--heads", "2", "--ff", "128", "--layers", "1",
                   "--batch-size", "64", "--lr", "1e-3", "--warmup", "50", "--run-dir", str(out), "--no-progress"])
    data = read_qqp(path, max_rows=8000)
    _, va = train_valid_split(len(data), 0.1, 0)
    y = data.labels[va[:800]]
    majority = max(y.mean(), 1 - y.mean())
    best = max(history["val_acc"])
    assert best > majority + 0.03, (best, majority)
    # the saved run scores the same validation pairs the same way through eval/predict
    model, tok, cfg = load_run(out)
    p = predict_proba(model, tok, [data.question1[i] for i in va[:800]], [data.question2[i] for i in va[:800]],
                      cfg["model"]["max_len"])
    assert p.shape == (800,) and ((p > 0.5) == y).mean() == pytest.approx(best, abs=1e-6)
    capsys.readouterr()
    run(["eval", "--split", "valid", "--run-dir", str(out)])      # the run's own split, from its config
    assert f"pairs 800  accuracy {best * 100:.2f}%" in capsys.readouterr().out
    run(["predict", "How do I learn Python?", "How can I learn Python?", "--run-dir", str(out)])
    assert "P(duplicate) = " in capsys.readouterr().out
    run(["attention", "How do I learn Python?", "How can I learn Python?", "--run-dir", str(out),
         "--plot", str(tmp_path / "att.png")])
    assert (tmp_path / "att.png").stat().st_size > 1000


def test_missing_run_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["predict", "a", "b", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["pmt-qqp predict: --model is deprecated; use --run-dir",
                   f"pmt-qqp: error: {tmp_path} is not a qqp run folder: no config.json (train one with "
                   f"`pmt-qqp train --run-dir {tmp_path}`)"]


# ----------------------------------------------------------------- the command-line contract, on tiny files
HEADER = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"
QUESTIONS = ["how do i learn python", "how can i learn python", "what is the capital of france",
             "where is paris", "how to cook rice", "best way to cook rice", "why is the sky blue",
             "what makes the sky blue"]
SMALL = ["--vocab-size", "60", "--d-model", "8", "--heads", "2", "--ff", "8", "--layers", "1", "--max-len", "16",
         "--epochs", "2", "--batch-size", "8", "--warmup", "1", "--no-progress"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = [HEADER] + [f"{i}\t{2 * i}\t{2 * i + 1}\t{QUESTIONS[rng.integers(8)]}\t{QUESTIONS[rng.integers(8)]}\t"
                       f"{rng.integers(2)}" for i in range(60)]
    path = tmp_path_factory.mktemp("qqp") / "tiny.tsv"
    path.write_text("\n".join(rows) + "\n")
    return path


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_failed_train_never_touches_a_trained_run(tiny, tmp_path, capsys):
    # The example: a second train over a trained run replaced its tokenizer before failing.
    run_dir = tmp_path / "A"
    assert main(["train", "--data", str(tiny), "--run-dir", str(run_dir), *SMALL]) == 0
    before = _files(run_dir)
    p_before = run(["predict", "how do i learn python", "where is paris", "--run-dir", str(run_dir)])
    assert sorted(before) == ["best.npz", "config.json", "history.png", "last.npz", "vocab.txt"]
    for argv in (["--epochs", "0"], ["--vocab-size", "30", "--max-rows", "20"], ["--overwrite", "--epochs", "0"],
                 ["--overwrite", "--data", str(tmp_path / "missing.tsv")], ["--resume", "--vocab-size", "30"]):
        assert main(["train", "--data", str(tiny), "--run-dir", str(run_dir), *SMALL[:-3], *argv]) == 2
        assert _files(run_dir) == before, argv
    assert run(["predict", "how do i learn python", "where is paris", "--run-dir", str(run_dir)]) == p_before
    err = capsys.readouterr().err
    assert "already holds files" in err and "--vocab-size 30 differs from the saved 60" in err


def test_eval_split_works_from_another_directory(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tiny.parent)
    assert main(["train", "--data", "tiny.tsv", "--run-dir", str(tmp_path / "r"), *SMALL]) == 0
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["eval", "--split", "valid", "--run-dir", "r"]) == 0
    assert "pairs 6 " in capsys.readouterr().out


@pytest.mark.parametrize("argv,line", [
    (["predict", "", "where is paris"], "question1 is empty"),
    (["predict", "a", "  "], "question2 is empty"),
    (["eval", "--data", "{empty}"], r"empty.tsv: no question pairs"),
    (["eval"], "give --data FILE, or --split valid"),
    (["attention", "a", "b", "--layer", "5"], r"--layer 5: the model has 1 encoder layer"),
    (["attention", "a", "b", "--plot", "{tmp}"], "--plot .*: is a folder"),
    (["train", "--data", "{tiny}", "--run-dir", "{tmp}/new", "--valid-fraction", "1"],
     r"argument --valid-fraction: must be a number strictly between 0 and 1"),
    (["train", "--data", "{tiny}", "--run-dir", "{tmp}/new", "--max-train", "-30"],
     "argument --max-train: must be an integer >= 1"),
    (["train", "--data", "{tiny}", "--run-dir", "{tmp}/new", "--label-smoothing", "1.5"],
     r"argument --label-smoothing: must be a number in \[0, 1\)"),
    (["train", "--data", "{tiny}", "--run-dir", "{tmp}/new", "--d-model", "10", "--heads", "3"],
     "must be divisible by n_heads"),
])
def test_bad_input_ends_in_one_line_with_status_2(tiny, tmp_path, capsys, argv, line):
    import re
    run_dir = tmp_path / "r"
    if not run_dir.exists():
        assert main(["train", "--data", str(tiny), "--run-dir", str(run_dir), *SMALL]) == 0
    (tmp_path / "empty.tsv").write_text(HEADER + "\n")
    capsys.readouterr()
    argv = [x.format(tiny=tiny, tmp=tmp_path, empty=tmp_path / "empty.tsv") for x in argv]
    if argv[0] != "train":
        argv += ["--run-dir", str(run_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.search(line, err[-1]), err
    assert not (tmp_path / "new").exists()


def test_ctrl_c_exits_130_and_resume_ends_bit_identical(tiny, tmp_path, monkeypatch, capsys):
    import os
    import signal
    from pmt.core.checkpoint import load_checkpoint
    assert main(["train", "--data", str(tiny), "--run-dir", str(tmp_path / "full"), *SMALL, "--epochs", "3"]) == 0
    capsys.readouterr()
    real, calls = PairClassifier.train_step, [0]

    def ctrl_c_at_step_9(self, batch, loss):
        calls[0] += 1
        if calls[0] == 9:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, batch, loss)

    monkeypatch.setattr(PairClassifier, "train_step", ctrl_c_at_step_9)
    assert main(["train", "--data", str(tiny), "--run-dir", str(tmp_path / "cut"), *SMALL, "--epochs", "3"]) == 130
    monkeypatch.undo()
    assert "best epoch" not in capsys.readouterr().out
    assert main(["train", "--resume", "--run-dir", str(tmp_path / "cut"), "--no-progress"]) == 0
    a, _, _ = load_run(tmp_path / "full")
    b, _, _ = load_run(tmp_path / "cut")
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=k)
    ha, hb = (load_checkpoint(tmp_path / r / "last.npz")["history"] for r in ("full", "cut"))
    assert {k: v for k, v in ha.items() if k != "seconds"} == {k: v for k, v in hb.items() if k != "seconds"}
