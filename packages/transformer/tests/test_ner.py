import numpy as np
import pytest

from pmt.graph import Tensor
from pmt.transformer.conll import TagVocab
from pmt.transformer.ner.cli import entity_f1_metric, main
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
    main(["train", "--train", str(files["eng.train"]), "--valid", str(files["eng.testa"]),
          "--max-train", "2000", "--max-valid", "400", "--epochs", "4", "--lr", "2e-3",
                    "--warmup", "50", "--d-model", "64", "--ff", "128", "--layers", "1", "--word-dim", "50",
                    "--char-filters", "32", "--out", str(out)])
    assert (out / "best.npz").is_file() and (out / "history.png").is_file()
    text = capsys.readouterr().out
    best = float(text.split("validation entity F1 ")[1].split()[0])
    assert best > 40.0, text
    main(["eval", "--data", str(files["eng.testa"]), "--model", str(out)])
    assert "processed 51362 tokens with 5942 phrases" in capsys.readouterr().out
    main(["tag", "EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", ".", "--model", str(out)])
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


def test_cli_reports_bad_input_in_one_line(tmp_path):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "pmt.transformer.ner", "tag", "EU", "--model", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "pmt-ner: error:" in r.stderr and "not a ner run folder" in r.stderr and "Traceback" not in r.stderr
