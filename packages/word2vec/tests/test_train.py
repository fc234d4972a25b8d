"""The command line: run folder, flags (old spellings too), exit statuses, resume."""
import json

import numpy as np
import pytest

from pmt.word2vec import KeyedVectors
from pmt.word2vec.train import main, run


def _corpus(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(300)))
    q = tmp_path / "q.txt"
    q.write_text(": capital-common-countries\nw1 w2 w3 w4\nw1 w2 w3 nowhere\n: gram1-x\nw5 w6 w7 w8\n")
    return path, q


def test_cli_trains_into_a_run_folder_and_reports_analogies(tmp_path, capsys):
    corpus, q = _corpus(tmp_path)
    out, js = tmp_path / "v.bin", tmp_path / "r.json"
    results = run(["--corpus", str(corpus), "--arch", "cbow", "--epochs", "2", "--dim", "8", "--min-count", "1",
                   "--run-dir", str(tmp_path / "run"), "--export", str(out), "--questions", str(q),
                   "--json", str(js), "--no-progress", "--eval-every-epoch"])
    text = capsys.readouterr().out
    assert "words/s" in text and "total" in text and str(corpus) in text
    kv = KeyedVectors.load_word2vec_format(out, binary=True)
    assert len(kv) == 40 and kv.dim == 8
    assert np.array_equal(KeyedVectors.load_word2vec_format(tmp_path / "run" / "vectors.txt").vectors.shape, (40, 8))
    res = json.loads(js.read_text())
    assert res == json.loads((tmp_path / "run" / "results.json").read_text()) == json.loads(json.dumps(results))
    assert res["analogy"]["attempted"] == 2 and res["analogy"]["oov"] == 1
    assert len(res["epochs"]) == 2 and "analogy" in res["epochs"][0]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "last.npz", "results.json",
                                                                      "vectors.txt"]


def test_old_spellings_still_work_with_a_notice(tmp_path, capsys):
    corpus, q = _corpus(tmp_path)
    assert main(["--corpus", str(corpus), "--model", "cbow", "--epochs", "1", "--dim", "4", "--min-count", "1",
                 "--alpha", "0.05", "--batch", "64", "--quiet", "--out", str(tmp_path / "v.txt"), "--no-eval",
                 "--run-dir", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    for old, new in (("--model", "--arch"), ("--alpha", "--lr"), ("--batch", "--batch-size"), ("--quiet", "--no-progress"),
                     ("--out", "--export")):
        assert f"pmt-word2vec: {old} is deprecated; use {new}" in err
    assert (tmp_path / "v.txt").exists()


def test_a_run_folder_in_use_is_refused_and_left_as_it_was(tmp_path, capsys):
    corpus, _ = _corpus(tmp_path)
    argv = ["--corpus", str(corpus), "--epochs", "1", "--dim", "4", "--min-count", "1", "--no-eval", "--no-progress",
            "--run-dir", str(tmp_path / "run")]
    assert main(argv) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    assert main(argv) == 2
    assert "already holds files" in capsys.readouterr().err
    assert main(argv + ["--overwrite", "--lr", "inf"]) == 2            # bad input: checked before anything
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before


def test_ctrl_c_exits_130_and_resume_ends_bit_identical(tmp_path, monkeypatch, capsys):
    import os
    import signal
    import pmt.word2vec.epoch as epoch
    corpus, _ = _corpus(tmp_path)
    common = ["--corpus", str(corpus), "--dim", "4", "--min-count", "1", "--no-eval", "--no-progress", "--epochs", "2"]
    assert main(common + ["--run-dir", str(tmp_path / "full")]) == 0
    calls, step = [0], epoch.skipgram_step

    def ctrl_c_at_batch_70(*args):
        calls[0] += 1
        if calls[0] == 70:
            os.kill(os.getpid(), signal.SIGINT)
        return step(*args)

    monkeypatch.setattr(epoch, "skipgram_step", ctrl_c_at_batch_70)
    assert main(common + ["--run-dir", str(tmp_path / "cut")]) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "pmt-word2vec: interrupted: checkpoint saved to" in err and "continue with --resume" in err
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["config.json", "interrupted.npz", "last.npz"]
    assert main(["--resume", "--run-dir", str(tmp_path / "cut"), "--no-eval"]) == 0
    a = (tmp_path / "full" / "vectors.txt").read_bytes()
    assert a == (tmp_path / "cut" / "vectors.txt").read_bytes()
    assert main(["--resume", "--dim", "8", "--run-dir", str(tmp_path / "cut")]) == 2
    assert "--dim 8 differs from the saved 4" in capsys.readouterr().err


@pytest.mark.parametrize("argv,status,line", [
    (["--corpus", "NOPE.zip"], 2, r"NOPE.zip.*not one of the known corpora"),
    (["--lr", "inf"], 2, r"argument --lr: must be a finite number > 0"),
    (["--alpha", "nan"], 2, r"argument --alpha: must be a finite number > 0"),
    (["--epochs", "0"], 2, r"argument --epochs: must be an integer >= 1"),
    (["--max-chars", "-3"], 2, r"argument --max-chars: must be an integer >= 1"),
    (["--min-count", "99999"], 2, r"no word occurs at least min_count=99999"),
    (["--lr", "1e30"], 1, r"diverged: word2vec diverged in epoch 1 \(learning rate 1e\+30"),
])
def test_bad_input_ends_in_one_line_and_its_status(tmp_path, capsys, argv, status, line):
    import re
    corpus, _ = _corpus(tmp_path)
    rc = main(["--corpus", str(corpus), "--dim", "4", "--min-count", "1", "--no-eval", "--no-progress",
               "--run-dir", str(tmp_path / "run"), "--epochs", "1"] + argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == status and re.search(line, err[-1]), err
    assert not (tmp_path / "run" / "vectors.txt").exists()


def test_a_missing_questions_file_is_reported_before_training(tmp_path, capsys):
    corpus, _ = _corpus(tmp_path)
    assert main(["--corpus", str(corpus), "--no-progress", "--questions", str(tmp_path / "noq.txt"),
                 "--run-dir", str(tmp_path / "run")]) == 2
    assert "noq.txt" in capsys.readouterr().err and not (tmp_path / "run").exists()
