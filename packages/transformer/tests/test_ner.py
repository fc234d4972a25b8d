import numpy as np
import pytest

from pmt.graph import Tensor
from pmt.transformer.conll import TagVocab
from pmt.transformer.ner.cli import entity_f1_metric, main, run
from pmt.transformer.ner.features import SentenceBatches, Vocab, case_id, encode_sentences, normalise_word
from pmt.transformer.ner.model import NERTagger, TaggerConfig, crf_loss
from pmt.core.testing import require_dataset

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def small_tagger(crf=True, dtype=np.float32):
    cfg = TaggerConfig(n_words=30, n_chars=20, tags=TAGS, word_dim=8, case_dim=4, char_dim=5, char_filters=6,
                       d_model=8, n_heads=2, d_ff=16, n_layers=1, dropout=0.0, crf=crf)
    return NERTagger(cfg)


def test_word_normalisation_and_case_classes():
    assert normalise_word("Sept.1996") == "sept.0000"
    assert [case_id(w) for w in ["the", "London", "EU", "iPhone", "1996", ","]] == [1, 2, 3, 4, 5, 5]


def test_encoding_and_batches_pad_and_align():
    words = Vocab(["eu", "rejects", "german"])
    chars = Vocab(list("EUrejctsGman"))
    sents = [["EU", "rejects", "German"], ["EU"]]
    tags = [np.array([3, 0, 1]), np.array([3])]
    data = encode_sentences(sents, words, chars, tags)
    assert data.lengths.tolist() == [3, 1]
    w, c, ch, t = next(iter(SentenceBatches(data, batch_size=2, shuffle=False, width=5)))
    assert w.tolist() == [[2, 3, 4], [2, 0, 0]]
    assert c.tolist() == [[3, 1, 2], [3, 0, 0]]
    assert t.tolist() == [[3, 0, 1, -100, -100], [3, -100, -100, -100, -100]]
    assert ch.shape == (2, 3, 7) and (ch[1, 1:] == 0).all() and ch[0, 0, :2].tolist() == [2, 3]
    assert words.lookup(["unseen"]).tolist() == [1]


@pytest.mark.parametrize("crf", [True, False])
def test_tagger_loss_gradient_matches_finite_differences(crf):
    from pmt.core import seed
    seed(0)
    model = small_tagger(crf)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    rng = np.random.default_rng(1)
    words = np.array([[3, 4, 5, 6], [7, 8, 0, 0]])
    cases = np.array([[1, 2, 3, 1], [2, 1, 0, 0]])
    chars = rng.integers(1, 20, (2, 4, 3)) * (words[..., None] != 0)
    tags = np.array([[1, 2, 0, 3, -100], [3, 4, -100, -100, -100]])
    params = [model.out.weight, model.proj.weight] + ([model.transitions, model.end] if crf else [])

    def loss_value():
        return float(model.loss(model(words, cases, chars), tags).data)

    model.zero_grad()
    model.loss(model(words, cases, chars), tags).backward()
    for p in params:
        g = p.grad
        flat = p.data.reshape(-1)
        for i in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            up = loss_value()
            flat[i] = old - 1e-6
            down = loss_value()
            flat[i] = old
            assert abs((up - down) / 2e-6 - g.reshape(-1)[i]) < 1e-5


def test_crf_loss_op_scales_upstream_gradient():
    rng = np.random.default_rng(0)
    em = Tensor(rng.normal(size=(1, 3, 5)), requires_grad=True)
    trans, start, end = (Tensor(np.zeros(s), requires_grad=True) for s in [(5, 5), (5,), (5,)])
    tags, mask = np.array([[1, 2, 0]]), np.ones((1, 3), bool)
    (crf_loss(em, tags, mask, trans, start, end) * 3.0).backward()
    g3 = em.grad.copy()
    em.grad = None
    crf_loss(em, tags, mask, trans, start, end).backward()
    np.testing.assert_allclose(g3, 3 * em.grad)


def test_bad_input_shapes_are_named():
    with pytest.raises(ValueError, match="expected words, cases"):
        small_tagger()(np.ones((2, 4), int), np.ones((2, 3), int), np.ones((2, 4, 3), int))


def test_entity_f1_metric_scores_decoded_ids():
    vocab = TagVocab(TAGS)
    gold = np.array([[1, 2, 0, 3, -100]])
    assert entity_f1_metric(vocab)(gold.copy(), gold) == 1.0
    pred = np.array([[1, 0, 0, 3, -100]])          # PER cut short: 1 of 2 entities right
    assert entity_f1_metric(vocab)(pred, gold) == pytest.approx(0.5)


def test_ner_trains_on_real_conll_slice_and_cli_round_trip(tmp_path, capsys):
    files = require_dataset("conll2003", files=["eng.train", "eng.testa"])
    out = tmp_path / "run"
    run(["train", "--train", str(files["eng.train"]), "--valid", str(files["eng.testa"]),
         "--max-train", "2000", "--max-valid", "400", "--epochs", "4", "--lr", "2e-3",
         "--warmup", "50", "--d-model", "64", "--ff", "128", "--layers", "1", "--word-dim", "50",
         "--char-filters", "32", "--run-dir", str(out), "--no-progress"])
    assert (out / "best.npz").is_file() and (out / "history.png").is_file()
    text = capsys.readouterr().out
    best = float(text.split("validation entity F1 ")[1].split()[0])
    assert best > 40.0, text
    run(["eval", "--data", str(files["eng.testa"]), "--run-dir", str(out)])
    assert "processed 51362 tokens with 5942 phrases" in capsys.readouterr().out
    run(["tag", "EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", ".", "--run-dir", str(out)])
    assert "EU" in capsys.readouterr().out


def test_word_vectors_initialise_known_rows_and_check_dimension(tmp_path):
    from pmt.transformer.ner.cli import _load_vectors
    vocab = Vocab(["london", "0000"])
    path = tmp_path / "vectors.txt"
    path.write_text("3 2\nLondon 1.0 2.0\n1996 3.0 4.0\nunseen 5.0 6.0\n", encoding="utf-8")
    table = np.zeros((len(vocab), 2), np.float32)
    assert _load_vectors(path, vocab, table) == 2
    assert table.tolist() == [[0, 0], [0, 0], [1, 2], [3, 4]]
    with pytest.raises(ValueError, match="dimension 2"):
        _load_vectors(path, vocab, np.zeros((4, 3), np.float32))


def test_shipped_vectors_cover_the_default_vocabulary():
    """The vectors `train` starts from: readable, finite, 100-d, one for most eng.train words."""
    from pmt.transformer.conll import load_conll2003
    from pmt.transformer.ner.cli import _load_vectors, shipped_vectors
    require_dataset("conll2003")
    words = Vocab.build((normalise_word(w) for s in load_conll2003("train") for w in s.tokens), min_count=2)
    table = np.zeros((len(words), 100), np.float32)
    assert _load_vectors(shipped_vectors(), words, table) == 6332     # 64 % of 9,892 words
    assert np.abs(table[2:]).sum(1).astype(bool).sum() == 6332


def test_train_starts_from_the_shipped_vectors_unless_told(tiny, tmp_path, capsys):
    from pmt.transformer.ner.cli import shipped_vectors
    i = SMALL.index("--word-dim")
    default_dim = SMALL[:i] + SMALL[i + 2:]         # --word-dim 100: the shipped vectors fit
    assert main(["train", "--train", str(tiny), "--valid", str(tiny), "--run-dir", str(tmp_path / "a"),
                 *default_dim]) == 0
    assert f"words initialised from {shipped_vectors()}" in capsys.readouterr().out
    assert main(["train", "--train", str(tiny), "--valid", str(tiny), "--run-dir", str(tmp_path / "b"),
                 *default_dim, "--no-vectors"]) == 0
    assert "word vectors" not in capsys.readouterr().out
    assert _train(tiny, tmp_path / "c") == 0     # another --word-dim: said, not silently skipped
    assert "word vectors: none (the shipped ones are 100-d" in capsys.readouterr().out


def test_cli_reports_bad_input_in_one_line(tmp_path):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "pmt.transformer.ner", "tag", "EU", "--model", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "pmt-ner: error:" in r.stderr and "not a ner run folder" in r.stderr and "Traceback" not in r.stderr


# ----------------------------------------------------------------- the command-line contract, on tiny files
TINY = ["-DOCSTART- O", "", "EU B-ORG", "rejects O", "German B-MISC", "call O", "", "Peter B-PER",
        "Blackburn I-PER", "", "BRUSSELS B-LOC", "1996-08-22 O", ""]
SMALL = ["--d-model", "8", "--heads", "2", "--ff", "8", "--layers", "1", "--word-dim", "8", "--char-filters", "4",
         "--min-count", "1", "--epochs", "2", "--batch-size", "2", "--warmup", "1", "--no-progress"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "tiny.conll"
    path.write_text("\n".join(TINY) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    """A tiny trained run, shared by the read-only tests."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    assert _train(tiny, run_dir) == 0
    return run_dir


def _train(tiny, run_dir, *extra):
    return main(["train", "--train", str(tiny), "--valid", str(tiny), "--run-dir", str(run_dir), *SMALL, *extra])


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_train_into_a_run_in_use_is_refused_and_the_run_stays_byte_for_byte(tiny, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert _train(tiny, run_dir) == 0
    before = _files(run_dir)
    assert _train(tiny, run_dir) == 2
    assert "already holds files" in capsys.readouterr().err
    bad = tmp_path / "bad.conll"
    bad.write_text("EU B-ORG\nrejects X-Y\n")
    assert main(["train", "--train", str(bad), "--valid", str(tiny), "--run-dir", str(run_dir), "--overwrite",
                 *SMALL]) == 2
    assert "bad.conll:2: bad NER tag" in capsys.readouterr().err
    assert _files(run_dir) == before
    assert _train(tiny, run_dir, "--overwrite") == 0
    assert "--overwrite: replaced the run" in capsys.readouterr().out


def test_bioes_crlf_and_bom_files_train_and_evaluate(tiny, tmp_path, capsys):
    bioes = tmp_path / "bioes.conll"
    lines = [ln.replace("B-ORG", "S-ORG").replace("B-MISC", "S-MISC").replace("B-LOC", "S-LOC")
             .replace("I-PER", "E-PER") for ln in TINY]
    bioes.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    assert main(["train", "--train", str(bioes), "--valid", str(tiny), "--run-dir", str(tmp_path / "r"), *SMALL]) == 0
    assert main(["eval", "--data", str(bioes), "--run-dir", str(tmp_path / "r")]) == 0
    assert "processed 8 tokens with 4 phrases" in capsys.readouterr().out


@pytest.mark.parametrize("argv,line", [
    (["tag", "", "--run-dir", "{run}"], "tag: the text is empty"),
    (["tag", "EU", "--run-dir", "{tmp}/nowhere"], "not a ner run folder"),
    (["eval", "--data", "{tmp}/empty.conll", "--run-dir", "{run}"], "empty.conll: no sentences"),
    (["train", "--train", "{tiny}", "--max-train", "0"], "argument --max-train: must be an integer >= 1"),
    (["train", "--train", "{tiny}", "--dropout", "1"], r"argument --dropout: must be a number in \[0, 1\)"),
    (["train", "--train", "{tiny}", "--lr", "nan"], "argument --lr: must be a finite number > 0"),
    (["train", "--train", "{tiny}", "--valid", "{tiny}", "--vectors", "{tmp}/none.txt", "--run-dir", "{tmp}/r2"],
     "--vectors .*none.txt: no such file"),
    (["eval", "--data", "{tiny}", "--model", "{tmp}/broken"], r"broken/config.json:1: not valid JSON"),
])
def test_bad_input_ends_in_one_line_with_status_2(tiny, trained, tmp_path, capsys, argv, line):
    import re
    run_dir = trained
    before = _files(run_dir)
    (tmp_path / "empty.conll").write_text("\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{oops")
    capsys.readouterr()
    argv = [x.format(run=run_dir, tmp=tmp_path, tiny=tiny) for x in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.search(line, err[-1]) and "Traceback" not in "\n".join(err), err
    assert _files(run_dir) == before


def test_ctrl_c_exits_130_and_resume_ends_bit_identical(tiny, tmp_path, monkeypatch, capsys):
    import os
    import signal
    from pmt.core.checkpoint import load_checkpoint as load
    assert _train(tiny, tmp_path / "full", "--epochs", "3") == 0
    real = NERTagger.train_step
    calls = [0]

    def ctrl_c_at_step_4(self, batch, loss):
        calls[0] += 1
        if calls[0] == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, batch, loss)

    monkeypatch.setattr(NERTagger, "train_step", ctrl_c_at_step_4)
    assert _train(tiny, tmp_path / "cut", "--epochs", "3") == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "interrupted: checkpoint saved to" in err and "best epoch" not in err
    assert main(["train", "--resume", "--run-dir", str(tmp_path / "cut"), "--no-progress"]) == 0
    cfg = TaggerConfig(**__import__("json").loads((tmp_path / "full" / "config.json").read_text())["model"])
    a, b = NERTagger(cfg), NERTagger(cfg)
    load(tmp_path / "full" / "last.npz", a)
    load(tmp_path / "cut" / "last.npz", b)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x, y, err_msg=k)
