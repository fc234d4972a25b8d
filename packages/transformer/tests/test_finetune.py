"""Fine-tuning from a pretraining run: `pmt-qqp train --init` and `pmt-ner train --init`.

A tiny masked LM is pretrained by `pmt-pretrain` on synthetic text (no dataset needed); the task
CLIs then start from it.  The checks: the pretrained weights arrive (the task model's encoder
computes what the pretrained one computes when training starts), the random-init control builds
the same model without them, the run folder records the start and `eval`/`predict`/`tag`/`--resume`
rebuild the model without the pretraining run, the NER alignment of words to first sub-words, and
the learning-rate groups.
"""
import json
import re
import shutil

import numpy as np
import pytest

from pmt.core import Trainer, seed
from pmt.core.testing import run_mpi
from pmt.graph import no_grad
from pmt.transformer.ner import cli as ner_cli
from pmt.transformer.ner.features import SentenceBatches, Vocab, encode_sentences
from pmt.transformer.ner.model import NERTagger, TaggerConfig
from pmt.transformer.pretrain import cli as pretrain_cli
from pmt.transformer.pretrain.corpus import TextSource, build_corpus
from pmt.transformer.pretrain.transfer import file_sha256, load_masked_lm, open_pretrained
from pmt.transformer.qqp import cli as qqp_cli
from pmt.transformer.tokenizer import CLS_ID, PAD_ID, SEP_ID, Tokenizer

WORDS = ["the", "cat", "sat", "on", "a", "mat", "Paris", "is", "in", "France", "what", "why", "?", ".",
         "Peter", "Blackburn", "visited", "Brussels", "EU", "rejects", "German", "lamb"]
MAX_LEN = 16
QQP_SMALL = ["--max-len", "16", "--epochs", "2", "--batch-size", "8", "--warmup", "2", "--no-progress"]
NER_SMALL = ["--d-model", "8", "--heads", "2", "--ff", "8", "--layers", "1", "--word-dim", "8",
             "--char-filters", "4", "--min-count", "1", "--epochs", "2", "--batch-size", "2", "--warmup", "1",
             "--no-progress"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A pretraining run (d 16, 1 layer, max_len 16) and tiny QQP / CoNLL files of the same words."""
    root = tmp_path_factory.mktemp("finetune")
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, rng.integers(3, 15))) for _ in range(400)]
    tok = Tokenizer.train(lines, vocab_size=90, lowercase=False)
    (root / "corpus").mkdir()
    tok.save(root / "corpus" / "vocab.txt")
    build_corpus(tok, [TextSource("toy", lambda: iter(lines), len(lines))], root / "corpus", 0.1)
    assert pretrain_cli.main(["train", "--run-dir", str(root / "pt"), "--corpus", str(root / "corpus"),
                              "--d-model", "16", "--heads", "2", "--ff", "32", "--layers", "1", "--seq-len",
                              str(MAX_LEN), "--batch-size", "4", "--round-steps", "3", "--steps", "3", "--warmup",
                              "1", "--eval-segments", "8", "--no-progress"]) == 0
    questions = [" ".join(rng.choice(WORDS, rng.integers(2, 7))) for _ in range(80)]
    rows = ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"]
    rows += [f"{i}\t{2 * i}\t{2 * i + 1}\t{questions[i]}\t{questions[(7 * i) % 80]}\t{i % 2}" for i in range(80)]
    (root / "pairs.tsv").write_text("\n".join(rows) + "\n")
    conll = ["-DOCSTART- O", "", "EU B-ORG", "rejects O", "German B-MISC", "lamb O", "", "Peter B-PER",
             "Blackburn I-PER", "visited O", "Brussels B-LOC", ""]
    conll += [f"{w} O" for w in rng.choice(WORDS[:14], 40)] + ["Paris B-LOC", ""]     # > MAX_LEN sub-words
    (root / "tiny.conll").write_text("\n".join(conll) + "\n")
    return root


def _capture_fit(monkeypatch):
    """Record the model and optimizer as `Trainer.fit` starts (the weights training starts from)."""
    seen = {}
    real = Trainer.fit

    def fit(self, *args, **kw):
        seen["state"] = {k: v.copy() for k, v in self.model.state_dict().items()}
        seen["model"], seen["opt"] = self.model, self.optimizer
        return real(self, *args, **kw)
    monkeypatch.setattr(Trainer, "fit", fit)
    return seen


def _pretrained_states(pt, ids, segments):
    mlm, _ = load_masked_lm(pt)
    mlm.eval()
    with no_grad():
        return mlm.encode(ids, segments).data


# ------------------------------------------------------------------------------------------ QQP
def test_qqp_init_starts_from_the_pretrained_encoder_and_the_run_records_it(files, tmp_path, monkeypatch, capsys):
    seen = _capture_fit(monkeypatch)
    run_dir = tmp_path / "qqp"
    assert qqp_cli.main(["train", "--data", str(files / "pairs.tsv"), "--init", str(files / "pt"),
                         "--lr", "1e-3", "--init-lr", "1e-4", "--run-dir", str(run_dir), *QQP_SMALL]) == 0
    model = seen["model"]
    ids = np.array([[CLS_ID, 10, 11, SEP_ID, 12, 13, SEP_ID]])
    segs = np.array([[0, 0, 0, 0, 1, 1, 1]])
    start = type(model)(model.config)
    start.load_state_dict(seen["state"])
    start.eval()
    with no_grad():
        np.testing.assert_allclose(start.encode(ids, segs).data, _pretrained_states(files / "pt", ids, segs),
                                   rtol=1e-5, atol=1e-6)
    # the body learns at --init-lr, the fresh head at --lr, both on the same schedule
    names = [n for n, _ in model.named_parameters()]
    scales = dict(zip(names, seen["opt"].lr_scale))
    assert scales["head.weight"] == 1.0 and scales["encoder.layers.0.ff.linear1.weight"] == pytest.approx(0.1)
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["init"] == {"run": str((files / "pt").resolve()), "file": str((files / "pt" / "encoder.npz").resolve()),
                           "sha256": file_sha256(files / "pt" / "encoder.npz"), "step": 3, "weights": "pretrained"}
    assert cfg["model"]["d_model"] == 16 and cfg["train"]["d_model"] == 16 and cfg["model"]["max_len"] == MAX_LEN
    assert (run_dir / "vocab.txt").read_text() == (files / "pt" / "vocab.txt").read_text()   # no new vocabulary
    out = capsys.readouterr().out
    assert "loaded 17 tensors, initialised 2 (head.weight, head.bias)" in out and "sha256" in out
    # eval and predict rebuild the same model from the run folder alone
    moved = tmp_path / "pt-moved"
    shutil.copytree(files / "pt", moved)
    loaded, tok, _ = qqp_cli.load_run(run_dir)
    assert tok.vocab_size == open_pretrained(moved).tokenizer.vocab_size and loaded.config.d_model == 16
    assert qqp_cli.main(["eval", "--split", "valid", "--run-dir", str(run_dir)]) == 0
    assert qqp_cli.main(["predict", "the cat sat", "a cat sat", "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "init: pretrained weights of" in out and "P(duplicate) = " in out


def test_qqp_random_init_control_is_the_same_model_without_the_weights(files, tmp_path, monkeypatch):
    seen = _capture_fit(monkeypatch)
    argv = ["train", "--data", str(files / "pairs.tsv"), "--init", str(files / "pt"), "--epochs", "1", *QQP_SMALL]
    assert qqp_cli.main(argv + ["--run-dir", str(tmp_path / "pre")]) == 0
    pretrained = seen["state"]
    assert qqp_cli.main(argv + ["--run-dir", str(tmp_path / "rand"), "--init-weights", "random"]) == 0
    control = seen["state"]
    assert {k: v.shape for k, v in control.items()} == {k: v.shape for k, v in pretrained.items()}
    np.testing.assert_array_equal(control["head.weight"], pretrained["head.weight"])      # same seed, same head
    assert not np.allclose(control["encoder.layers.0.ff.linear1.weight"],
                           pretrained["encoder.layers.0.ff.linear1.weight"])
    cfg = json.loads((tmp_path / "rand" / "config.json").read_text())
    assert cfg["init"]["weights"] == "random" and cfg["model"] == json.loads(
        (tmp_path / "pre" / "config.json").read_text())["model"]
    assert (tmp_path / "rand" / "vocab.txt").read_text() == (files / "pt" / "vocab.txt").read_text()


@pytest.mark.parametrize("extra,line", [
    (["--d-model", "32"], "--d-model: with --init the pretraining run decides it; leave it out"),
    (["--vocab-size", "500", "--layers", "3"], "--vocab-size, --layers: with --init the pretraining run decides"),
    (["--max-len", "64"], "--max-len 64: the pretrained encoder of .* reads at most 16 tokens"),
])
def test_qqp_init_refuses_what_the_pretrained_run_decides(files, tmp_path, capsys, extra, line):
    import re
    argv = ["train", "--data", str(files / "pairs.tsv"), "--init", str(files / "pt"), *QQP_SMALL, *extra,
            "--run-dir", str(tmp_path / "r")]
    assert qqp_cli.main(argv) == 2
    assert re.search(line, capsys.readouterr().err.strip().splitlines()[-1])
    assert not (tmp_path / "r").exists()


def test_qqp_init_freeze_trains_the_head_alone(files, tmp_path, monkeypatch):
    seen = _capture_fit(monkeypatch)
    assert qqp_cli.main(["train", "--data", str(files / "pairs.tsv"), "--init", str(files / "pt"), "--init-freeze",
                         "--run-dir", str(tmp_path / "q"), *QQP_SMALL]) == 0
    model, opt = seen["model"], seen["opt"]
    head = [p for name, p in model.named_parameters() if name.startswith("head.")]
    assert [id(p) for p in opt.params] == [id(p) for p in head]
    after = model.state_dict()
    for key, value in seen["state"].items():
        assert np.array_equal(after[key], value) != key.startswith("head."), key    # only the head moved


def test_init_flags_without_init_and_broken_pretraining_runs_are_one_line_errors(files, tmp_path, capsys):
    base = ["train", "--data", str(files / "pairs.tsv"), *QQP_SMALL, "--run-dir", str(tmp_path / "r")]
    bad = tmp_path / "bad"
    shutil.copytree(files / "pt", bad)
    Tokenizer.train(["a b c d e f g"] * 3, vocab_size=30).save(bad / "vocab.txt")     # another vocabulary
    empty = tmp_path / "empty"
    empty.mkdir()
    for extra, line in [(["--init-lr", "1e-4"], "--init-lr needs --init RUN"),
                        (["--init-weights", "random"], "--init-weights needs --init RUN"),
                        (["--init", str(tmp_path / "none")], "no such folder"),
                        (["--init", str(files / "pairs.tsv")], "is a file; give the pretraining run folder"),
                        (["--init", str(empty)], "no vocab.txt; a pretraining run folder"),
                        (["--init", str(bad)], "vocab.txt: 21 tokens, but .*encoder.npz was pretrained with a "
                                               "vocabulary of 90: the pretraining run folder is inconsistent")]:
        assert qqp_cli.main(base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(line, err[0]), (extra, err)
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------------------ NER
def test_subword_windows_point_at_each_words_first_subword_also_in_long_sentences(files):
    tok = open_pretrained(files / "pt").tokenizer
    rng = np.random.default_rng(1)
    sentences = [list(rng.choice(WORDS, n)) for n in (1, 3, 9, 30, 57)]      # the long ones need 2-5 windows
    data = encode_sentences(sentences, Vocab(WORDS), Vocab(list("abc")), tokenizer=tok, max_len=MAX_LEN)
    sw = data.sub
    assert sw.win_len.max() <= MAX_LEN - 2 and len(sw.win_len) > len(sentences)
    words, cases, chars, sub_ids, sub_first, tags = next(iter(SentenceBatches(data, 8, shuffle=False)))
    assert sub_ids.shape[2] <= MAX_LEN and sub_ids.shape[:2] == (5, sw.win_offsets[5] - sw.win_offsets[4])
    for b, sentence in enumerate(sentences):
        flat = sub_ids[b].reshape(-1)
        first_ids = [tok.encode([w], is_pretokenized=True, add_special_tokens=False).ids[0] for w in sentence]
        assert flat[sub_first[b, :len(sentence)]].tolist() == first_ids
        rows = sub_ids[b][sub_ids[b, :, 0] == CLS_ID]                           # this sentence's windows
        assert len(rows) == sw.win_offsets[b + 1] - sw.win_offsets[b]
        inner = np.concatenate([r[1:np.nonzero(r == SEP_ID)[0][0]] for r in rows])   # the windows tile the text
        assert inner.tolist() == tok.encode(sentence, is_pretokenized=True, add_special_tokens=False).ids
        assert (sub_ids[b, len(rows):] == PAD_ID).all()


def test_tagger_word_vectors_are_the_pretrained_outputs_at_first_subwords(files):
    run = open_pretrained(files / "pt")
    seed(0)
    cfg = TaggerConfig(n_words=30, n_chars=10, tags=["O", "B-PER", "I-PER"], word_dim=4, char_filters=4, d_model=8,
                       n_heads=2, d_ff=8, n_layers=1, dropout=0.0, pretrained=run.encoder_shape(),
                       pretrained_dropout=0.0)
    tagger = NERTagger(cfg)
    run.load_into(tagger.pretrained)
    tagger.eval()
    sentences = [["Peter", "Blackburn", "visited", "Brussels"], ["the", "cat"] * 12]      # the second: 2 windows
    data = encode_sentences(sentences, Vocab(WORDS), Vocab(list("abc")), tokenizer=run.tokenizer, max_len=MAX_LEN)
    words, cases, chars, sub_ids, sub_first, _ = next(iter(SentenceBatches(data, 8, shuffle=False)))
    with no_grad():
        got = tagger.first_subword_states(sub_ids, sub_first, words.shape).data           # (2, 24, 16)
    for b, sentence in enumerate(sentences):
        rows = sub_ids[b][sub_ids[b, :, 0] == CLS_ID]
        h = _pretrained_states(files / "pt", rows, np.zeros_like(rows)).reshape(-1, 16)   # each window alone
        np.testing.assert_allclose(got[b, :len(sentence)], h[sub_first[b, :len(sentence)]], rtol=1e-5, atol=1e-6)


def test_the_views_of_the_pretrained_layers(files):
    """"last" is the encoder's output; "concat" holds every layer's output, standardised, ending
    with it; "mix" weighs the same slices by softmax(w): the mean at the start, one layer at a limit."""
    run = open_pretrained(files / "pt")
    shape = {**run.encoder_shape(), "n_layers": 3}
    data = encode_sentences([["Peter", "Blackburn", "visited", "Brussels"], ["the", "cat"] * 12], Vocab(WORDS),
                            Vocab(list("abc")), tokenizer=run.tokenizer, max_len=MAX_LEN)
    words, cases, chars, sub_ids, sub_first, _ = next(iter(SentenceBatches(data, 8, shuffle=False)))
    views = {}
    for view in ("last", "concat", "mix"):
        seed(0)
        tagger = NERTagger(TaggerConfig(n_words=30, n_chars=10, tags=["O", "B-PER"], word_dim=4, char_filters=4,
                                        d_model=8, n_heads=2, d_ff=8, n_layers=1, pretrained=shape,
                                        pretrained_view=view))
        tagger.eval()
        with no_grad():
            views[view] = tagger.first_subword_states(sub_ids, sub_first, words.shape).data
            if view == "mix":
                tagger.pretrained_mix.data[:] = [-50.0, -50.0, 50.0]
                views["mix, last weighted"] = tagger.first_subword_states(sub_ids, sub_first, words.shape).data
                ids = sub_ids.reshape(-1, sub_ids.shape[-1])[:1]
                states = tagger.pretrained.encode_layers(ids, np.zeros_like(ids))
                np.testing.assert_allclose(states[-1].data, tagger.pretrained(ids, np.zeros_like(ids)).data)
    d = shape["d_model"]
    assert views["last"].shape == (2, 24, d) and views["concat"].shape == (2, 24, 3 * d)
    np.testing.assert_allclose(views["concat"][..., 2 * d:], views["last"], rtol=1e-6)
    lower = views["concat"][..., :2 * d].reshape(2, 24, 2, d)
    np.testing.assert_allclose(lower.mean(-1), 0, atol=1e-5)        # standardised residual streams
    np.testing.assert_allclose(lower.std(-1), 1, atol=1e-3)
    np.testing.assert_allclose(views["mix"], views["concat"].reshape(2, 24, 3, d).mean(2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(views["mix, last weighted"], views["last"], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pretrained_view must be one of last, mix, concat, got 'first'"):
        TaggerConfig(n_words=3, n_chars=3, tags=["O"], pretrained=shape, pretrained_view="first")


@pytest.mark.parametrize("scale, view", [(False, "last"), (True, "last"), (False, "mix"), (True, "concat")])
def test_pretrained_tagger_gradient_matches_finite_differences(files, scale, view):
    run = open_pretrained(files / "pt")
    seed(0)
    shape = {**run.encoder_shape(), "n_layers": 1 if view == "last" else 2}
    cfg = TaggerConfig(n_words=30, n_chars=10, tags=["O", "B-PER", "I-PER"], word_dim=4, char_filters=4, d_model=8,
                       n_heads=2, d_ff=8, n_layers=0, dropout=0.0, pretrained=shape,
                       pretrained_dropout=0.0, pretrained_scale=scale, pretrained_view=view)
    tagger = NERTagger(cfg)
    if view == "mix":
        tagger.pretrained_mix.data[:] = [0.3, -0.2]          # away from the symmetric start
    for p in tagger.parameters():
        p.data = p.data.astype(np.float64)
    data = encode_sentences([["Peter", "visited", "Paris"], ["the", "cat"] * 9], Vocab(WORDS), Vocab(list("the")),
                            [np.array([1, 0, 0]), np.array([0, 1, 2] * 6)], tokenizer=run.tokenizer,
                            max_len=MAX_LEN)
    *inputs, tags = next(iter(SentenceBatches(data, 8, shuffle=False)))
    tagger.zero_grad()
    tagger.loss(tagger(*inputs), tags).backward()
    rng = np.random.default_rng(0)
    params = dict(tagger.named_parameters())
    names = ("pretrained.encoder.layers.0.ff.linear1.weight", "pretrained.pos.weight", "proj.weight")
    assert ("pretrained_gain" in params) == scale and ("pretrained_mix" in params) == (view == "mix")
    for name in names + ("pretrained_gain",) * scale + ("pretrained_mix",) * (view == "mix"):
        p = params[name]
        flat, grad = p.data.reshape(-1), p.grad.reshape(-1)
        for i in rng.choice(flat.size, min(5, flat.size), replace=False):
            old = flat[i]
            values = []
            for x in (old + 1e-6, old - 1e-6):
                flat[i] = x
                values.append(float(tagger.loss(tagger(*inputs), tags).data))
            flat[i] = old
            assert abs((values[0] - values[1]) / 2e-6 - grad[i]) < 1e-5, name


def test_ner_init_trains_records_and_reloads_without_the_pretraining_run(files, tmp_path, monkeypatch, capsys):
    pt = tmp_path / "pt"
    shutil.copytree(files / "pt", pt)
    seen = _capture_fit(monkeypatch)
    run_dir = tmp_path / "ner"
    conll = str(files / "tiny.conll")
    assert ner_cli.main(["train", "--train", conll, "--valid", conll, "--init", str(pt), "--init-lr", "5e-4",
                         "--run-dir", str(run_dir), *NER_SMALL]) == 0
    mlm, _ = load_masked_lm(pt)
    for key, value in mlm.state_dict().items():
        if not key.startswith("mlm_head."):
            np.testing.assert_array_equal(seen["state"]["pretrained." + key], value)
    scales = dict(zip([n for n, _ in seen["model"].named_parameters()], seen["opt"].lr_scale))
    assert scales["pretrained.tok_emb.weight"] == pytest.approx(0.5) and scales["proj.weight"] == 1.0
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["init"]["sha256"] == file_sha256(pt / "encoder.npz") and cfg["init"]["weights"] == "pretrained"
    assert cfg["model"]["pretrained"]["d_model"] == 16
    assert (run_dir / "vocab.txt").read_text() == (pt / "vocab.txt").read_text()
    out = capsys.readouterr().out
    assert "2 + 2 sentences longer than 16 read in several windows" in out
    shutil.rmtree(pt)                                   # everything later comes from the run folder alone
    assert ner_cli.main(["eval", "--data", conll, "--run-dir", str(run_dir)]) == 0
    assert ner_cli.main(["tag", "Peter", "visited", "Brussels", "--run-dir", str(run_dir)]) == 0
    assert ner_cli.main(["train", "--resume", "--epochs", "3", "--run-dir", str(run_dir), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "processed 49 tokens with 5 phrases" in out and "epoch 3/3" in out
    model, *_ = ner_cli.load_run(run_dir)
    with pytest.raises(ValueError, match="no ONNX graph here yet"):
        __import__("pmt.transformer.onnx_export", fromlist=["export_onnx"]).export_onnx(model, tmp_path / "x.onnx")


def test_ner_random_control_and_the_pretrained_encoder_alone(files, tmp_path, monkeypatch, capsys):
    seen = _capture_fit(monkeypatch)
    conll = str(files / "tiny.conll")
    argv = ["train", "--train", conll, "--valid", conll, "--init", str(files / "pt"), *NER_SMALL]
    assert ner_cli.main(argv + ["--run-dir", str(tmp_path / "a"), "--init-weights", "random"]) == 0
    mlm, _ = load_masked_lm(files / "pt")
    key = "encoder.layers.0.ff.linear1.weight"
    assert seen["state"]["pretrained." + key].shape == mlm.state_dict()[key].shape
    assert not np.allclose(seen["state"]["pretrained." + key], mlm.state_dict()[key])
    assert ner_cli.main(argv + ["--run-dir", str(tmp_path / "b"), "--layers", "0"]) == 0
    assert not any(k.startswith("encoder.") for k in seen["state"])         # no encoder of the tagger's own
    capsys.readouterr()
    assert ner_cli.main(["train", "--train", conll, "--valid", conll, *NER_SMALL, "--layers", "0",
                         "--run-dir", str(tmp_path / "c")]) == 2
    assert "--layers 0 (no encoder of the tagger's own) needs --init RUN" in capsys.readouterr().err
    assert ner_cli.main(["train", "--train", conll, "--valid", conll, *NER_SMALL, "--init-dropout", "0.2",
                         "--run-dir", str(tmp_path / "d")]) == 2
    assert "--init-dropout needs --init RUN" in capsys.readouterr().err
    assert ner_cli.main(["train", "--train", conll, "--valid", conll, *NER_SMALL, "--init-scale",
                         "--run-dir", str(tmp_path / "d")]) == 2
    assert "--init-scale needs --init RUN" in capsys.readouterr().err
    assert ner_cli.main(["train", "--train", conll, "--valid", conll, *NER_SMALL, "--init-view", "mix",
                         "--run-dir", str(tmp_path / "d")]) == 2
    assert "--init-view needs --init RUN" in capsys.readouterr().err


def test_ner_init_view_mix_learns_its_weights_and_reloads(files, tmp_path, monkeypatch, capsys):
    seen = _capture_fit(monkeypatch)
    conll = str(files / "tiny.conll")
    run_dir = tmp_path / "mix"
    assert ner_cli.main(["train", "--train", conll, "--valid", conll, "--init", str(files / "pt"), "--init-freeze",
                         "--init-view", "mix", *NER_SMALL, "--run-dir", str(run_dir)]) == 0
    model, opt = seen["model"], seen["opt"]
    assert any(p is model.pretrained_mix for p in opt.params)             # the tagger's own, though the body is frozen
    assert json.loads((run_dir / "config.json").read_text())["model"]["pretrained_view"] == "mix"
    reloaded, *_ = ner_cli.load_run(run_dir)
    assert reloaded.config.pretrained_view == "mix" and reloaded.pretrained_mix.data.shape == (1,)
    capsys.readouterr()
    assert ner_cli.main(["eval", "--data", conll, "--run-dir", str(run_dir)]) == 0
    assert "processed 49 tokens with 5 phrases" in capsys.readouterr().out



def test_ner_init_freeze_keeps_the_body_fixed_through_training_and_resume(files, tmp_path, monkeypatch, capsys):
    seen = _capture_fit(monkeypatch)
    conll = str(files / "tiny.conll")
    run_dir = tmp_path / "frozen"
    argv = ["train", "--train", conll, "--valid", conll, "--init", str(files / "pt"), "--init-freeze", *NER_SMALL]
    assert ner_cli.main(argv + ["--run-dir", str(run_dir), "--init-scale"]) == 0
    model, opt = seen["model"], seen["opt"]
    body = {id(p) for p in model.pretrained.parameters()}
    assert body and not any(id(p) in body for p in opt.params)            # the optimizer never sees the body
    assert any(p is model.pretrained_gain for p in opt.params)           # the view's gain is the tagger's own
    assert model.pretrained_gain.data[0] != 1.0
    mlm, _ = load_masked_lm(files / "pt")
    after = model.state_dict()
    for key, value in mlm.state_dict().items():
        if not key.startswith("mlm_head."):
            np.testing.assert_array_equal(after["pretrained." + key], value)    # unchanged by 2 epochs
    assert not np.array_equal(after["proj.weight"], seen["state"]["proj.weight"])   # the tagger learned
    assert json.loads((run_dir / "config.json").read_text())["train"]["init_freeze"] is True
    assert ner_cli.main(["train", "--resume", "--epochs", "3", "--run-dir", str(run_dir), "--no-progress"]) == 0
    assert not any(p.requires_grad for p in seen["model"].pretrained.parameters())   # frozen again on resume
    for key, value in mlm.state_dict().items():
        if not key.startswith("mlm_head."):
            np.testing.assert_array_equal(seen["model"].state_dict()["pretrained." + key], value)
    capsys.readouterr()
    assert ner_cli.main(argv + ["--init-lr", "1e-4", "--run-dir", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--init-lr with --init-freeze: a frozen body does not learn" in err[0], err
    assert ner_cli.main(["train", "--train", conll, "--valid", conll, *NER_SMALL, "--init-freeze",
                         "--run-dir", str(tmp_path / "bad")]) == 2
    assert "--init-freeze needs --init RUN" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_ner_init_on_two_ranks_matches_one_process(files, tmp_path, capsys):
    """Sub-word windows split across MPI ranks with their sentences: one process's numbers."""
    conll = str(files / "tiny.conll")
    args = ["train", "--train", conll, "--valid", conll, "--init", str(files / "pt"), "--init-lr", "5e-4",
            "--dropout", "0", "--init-dropout", "0", *NER_SMALL[:-5], "--batch-size", "3", "--warmup", "1"]
    r = run_mpi(2, ["-m", "pmt.transformer.ner", *args, "--run-dir", tmp_path / "two", "--no-progress"], timeout=120)
    assert r.returncode == 0, r.stderr
    assert ner_cli.main([*args, "--run-dir", str(tmp_path / "one"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    line = [ln for ln in out.splitlines() if ln.startswith("epoch 2/")][0]
    other = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch 2/")][0]

    def numbers(ln):      # the train F1 too: under MPI it is computed on the gathered whole batch
        fields = dict(zip(ln.split()[2::2], ln.split()[3::2]))
        return [float(fields[k]) for k in ("loss", "f1", "val_loss", "val_f1")]
    np.testing.assert_allclose(numbers(other), numbers(line), atol=2e-3)
