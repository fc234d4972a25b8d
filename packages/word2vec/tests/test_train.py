import json

import numpy as np

from pmt.word2vec import KeyedVectors
from pmt.word2vec.train import main


def _corpus(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(300)))
    q = tmp_path / "q.txt"
    q.write_text(": capital-common-countries\nw1 w2 w3 w4\nw1 w2 w3 nowhere\n: gram1-x\nw5 w6 w7 w8\n")
    return path, q


def test_cli_trains_saves_binary_vectors_and_reports_analogies(tmp_path, capsys):
    corpus, q = _corpus(tmp_path)
    out, js = tmp_path / "v.bin", tmp_path / "r.json"
    rc = main(["--corpus", str(corpus), "--model", "cbow", "--epochs", "2", "--dim", "8", "--min-count", "1",
               "--out", str(out), "--questions", str(q), "--json", str(js), "--quiet", "--eval-every-epoch"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "words/s" in text and "total" in text and str(corpus) in text
    kv = KeyedVectors.load_word2vec_format(out, binary=True)
    assert len(kv) == 40 and kv.dim == 8
    res = json.loads(js.read_text())
    assert res["analogy"]["attempted"] == 2 and res["analogy"]["oov"] == 1
    assert len(res["epochs"]) == 2 and "analogy" in res["epochs"][0]


def test_cli_reports_a_missing_corpus_without_a_traceback(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nope.zip"), "--quiet", "--no-eval"]) == 2
    assert "nope.zip" in capsys.readouterr().err


def test_cli_reports_a_missing_questions_file_before_training(tmp_path, capsys):
    corpus, _ = _corpus(tmp_path)
    assert main(["--corpus", str(corpus), "--quiet", "--questions", str(tmp_path / "noq.txt")]) == 2
    err = capsys.readouterr().err
    assert "noq.txt" in err
