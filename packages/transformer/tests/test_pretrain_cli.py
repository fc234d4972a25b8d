import csv
import os
import signal

import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.transformer.pretrain import cli
from pmt.transformer.pretrain.batches import heldout_batches
from pmt.transformer.pretrain.corpus import Corpus, TextSource, build_corpus
from pmt.transformer.pretrain.log import RoundLog, accuracy_at_hours
from pmt.transformer.pretrain.masking import NOT_MASKED
from pmt.transformer.pretrain.transfer import load_masked_lm
from pmt.transformer.tokenizer import Tokenizer

TINY = ["--d-model", "16", "--heads", "2", "--ff", "32", "--layers", "1", "--seq-len", "16", "--batch-size", "4",
        "--round-steps", "3", "--lr", "3e-3", "--warmup", "2", "--eval-segments", "8", "--no-progress"]


@pytest.fixture(scope="module")
def corpus_folder(tmp_path_factory):
    """A small corpus folder prepared from synthetic text (no dataset needed)."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "Paris", "is", "in", "France", "what", "why", "?", "."]
    lines = [" ".join(rng.choice(words, rng.integers(3, 15))) for _ in range(400)]
    tok = Tokenizer.train(lines, vocab_size=80, lowercase=False)
    tok.save(folder / "vocab.txt")
    build_corpus(tok, [TextSource("toy", lambda: iter(lines), len(lines))], folder, 0.1)
    return folder


def _train(run_dir, corpus, *extra):
    return cli.run(["train", "--run-dir", str(run_dir), "--corpus", str(corpus), *TINY, *extra])


@pytest.mark.parametrize("objective", ["mlm", "electra"])
def test_a_run_resumed_after_ctrl_c_mid_round_is_identical_to_one_never_stopped(corpus_folder, tmp_path,
                                                                                 monkeypatch, objective):
    straight = _train(tmp_path / "a", corpus_folder, "--steps", "12", "--objective", objective)

    def ctrl_c_at_step_7(self, trainer, step, logs):
        if step == 7:
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(RoundLog, "on_batch_end", ctrl_c_at_step_7, raising=False)
    with pytest.raises(KeyboardInterrupt, match="interrupted.npz"):
        _train(tmp_path / "b", corpus_folder, "--steps", "12", "--objective", objective)
    monkeypatch.undo()
    resumed = cli.run(["train", "--run-dir", str(tmp_path / "b"), "--resume", "--no-progress"])
    for key in ("loss", "val_loss", "val_mlm_acc", "lr") + (("val_rtd_acc", "val_rtd_f1") * (objective == "electra")):
        assert resumed[key] == straight[key], key
    a, _ = load_masked_lm(tmp_path / "a")
    b, _ = load_masked_lm(tmp_path / "b")
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    assert type(a).__name__ == {"mlm": "MaskedLM", "electra": "Electra"}[objective]
    rows = list(csv.DictReader(open(tmp_path / "b" / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [3, 6, 9, 12]                 # one row per round
    assert ("val_rtd_f1" in rows[0]) == (objective == "electra")
    assert (tmp_path / "b" / "mlm_accuracy.png").stat().st_size > 1000


def test_run_folder_contract(corpus_folder, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    _train(out, corpus_folder, "--steps", "3")
    assert (out / "vocab.txt").read_text() == (corpus_folder / "vocab.txt").read_text()
    with pytest.raises(FileExistsError, match="--resume"):
        _train(out, corpus_folder, "--steps", "3")
    _train(out, corpus_folder, "--steps", "3", "--overwrite")
    extended = cli.run(["train", "--run-dir", str(out), "--resume", "--steps", "6", "--no-progress"])
    assert len(extended["loss"]) == 2                                         # --steps may change on resume
    with pytest.raises(ValueError, match="--lr"):
        cli.run(["train", "--run-dir", str(out), "--resume", "--lr", "0.1", "--no-progress"])
    monkeypatch.chdir(corpus_folder.parent)         # the same corpus named by a relative path is no change
    cli.run(["train", "--run-dir", str(out), "--resume", "--corpus", corpus_folder.name, "--steps", "9",
             "--no-progress"])
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        cli.run(["train", "--run-dir", str(tmp_path / "empty"), "--resume"])
    with pytest.raises(ValueError, match="not --vocab-size 99"):
        _train(tmp_path / "y", corpus_folder, "--vocab-size", "99")
    options = cli.run(["fill", "the cat [MASK] on the mat .", "--run-dir", str(out), "--top", "3"])
    assert len(options) == 1 and len(options[0]) == 3
    assert capsys.readouterr().out.splitlines()[-1].startswith("[MASK] 1: ")


def test_command_line_errors_are_one_line_with_status_2(tmp_path, capsys):
    assert cli.main(["fill", "no mask here", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pmt-pretrain: error: ") and len(err.strip().splitlines()) == 1
    assert cli.main(["train", "--run-dir", str(tmp_path), "--lr", "-1"]) == 2


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory):
    """A small corpus folder from the first 1,000 lines of each real source (vocabulary 400)."""
    for name in ("gutenberg-cased", "qqp", "conll2003"):
        require_dataset(name)
    folder = tmp_path_factory.mktemp("real") / "corpus"
    cli.run(["prepare", "--corpus", str(folder), "--vocab-size", "400", "--max-lines", "1000",
             "--heldout-fraction", "0.05", "--no-progress"])
    return folder


REAL = ["--d-model", "64", "--heads", "2", "--ff", "128", "--layers", "1", "--seq-len", "24", "--batch-size", "64",
        "--steps", "600", "--round-steps", "300", "--warmup", "60", "--eval-segments", "400", "--no-progress"]


def test_a_tiny_corpus_pretrains_past_the_unigram_baseline(real_corpus, tmp_path):
    history = cli.run(["train", "--run-dir", str(tmp_path / "run"), "--corpus", str(real_corpus), *REAL,
                       "--lr", "5e-3"])
    data = Corpus.load(real_corpus)
    counts = np.bincount(np.asarray(data.train), minlength=400)
    targets = np.concatenate([b[2][b[2] != NOT_MASKED] for b in heldout_batches(
        data.heldout, data.heldout_lines, 24, 64, 400, 400)])
    unigram_acc = np.mean(targets == counts.argmax())                    # always guess the commonest token
    p = (counts + 1) / (counts + 1).sum()
    unigram_ppl = np.exp(-np.log(p[targets]).mean())
    assert len(targets) > 1000
    assert history["val_mlm_acc"][-1] > 1.8 * unigram_acc, (history["val_mlm_acc"], unigram_acc)
    assert history["val_ppl"][-1] < 0.85 * unigram_ppl, (history["val_ppl"], unigram_ppl)


def test_a_tiny_corpus_teaches_electra_to_detect_replaced_tokens_from_context(real_corpus, tmp_path):
    history = cli.run(["train", "--run-dir", str(tmp_path / "run"), "--corpus", str(real_corpus), *REAL,
                       "--lr", "2e-3", "--layers", "2", "--objective", "electra"])
    # A discriminator blind to context can do no better than the entropy of the replaced share
    # (about 0.39 nats at 13 % replaced); a generator no better than the unigram perplexity.
    base, loss = history["val_rtd_base"][-1], history["val_rtd_loss"][-1]
    assert 0.3 < base < 0.45, base
    assert loss < 0.97 * base, (loss, base)
    assert history["val_rtd_loss"][0] > loss                             # and it keeps learning
    data = Corpus.load(real_corpus)
    counts = np.bincount(np.asarray(data.train), minlength=400)
    targets = np.concatenate([b[-1][b[-1] != NOT_MASKED] for b in heldout_batches(
        data.heldout, data.heldout_lines, 24, 64, 400, 400, noise=True)])
    p = (counts + 1) / (counts + 1).sum()
    assert history["val_ppl"][-1] < 0.9 * np.exp(-np.log(p[targets]).mean())


def test_an_electra_run_fills_masks_with_its_generator_and_hands_its_discriminator_to_fine_tuning(corpus_folder,
                                                                                                  tmp_path):
    from pmt.transformer.pretrain.transfer import load_pretrained, pair_classifier_config
    from pmt.transformer.qqp import PairClassifier

    out = tmp_path / "electra"
    _train(out, corpus_folder, "--steps", "3", "--objective", "electra", "--gen-layers", "1")
    options = cli.run(["fill", "the cat [MASK] on the mat .", "--run-dir", str(out), "--top", "2"])
    assert len(options) == 1 and len(options[0]) == 2
    electra, _ = load_masked_lm(out)
    clf = PairClassifier(pair_classifier_config(out, max_len=16))
    report = load_pretrained(clf, out)
    assert {k.split(".")[0] for k in report.skipped} == {"generator", "rtd_head"}
    for k in report.loaded:
        np.testing.assert_array_equal(clf.state_dict()[k], electra.state_dict()[k])
    assert any(k.startswith("encoder.") for k in report.loaded)


def _metrics(folder, hours_and_acc):
    """A metrics.csv in `folder` with one round per (train_hours, val_mlm_acc)."""
    folder.mkdir()
    lines = ["round,step,tokens,train_hours,lr,loss,mlm_acc,val_loss,val_mlm_acc,val_ppl"]
    lines += [f"{r},{100 * r},{800 * r},{h},0.001,5.0,{a},5.0,{a},{100 - 100 * a}"
              for r, (h, a) in enumerate(hours_and_acc, 1)]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_compare_reads_each_run_at_the_hours_the_shortest_one_reached(tmp_path, capsys):
    small = _metrics(tmp_path / "small", [(0.5, 0.10), (1.0, 0.20), (1.5, 0.24)])
    big = _metrics(tmp_path / "big", [(1.0, 0.12), (2.0, 0.30)])
    curves = cli.run(["compare", str(small), str(big), "--out", str(tmp_path / "c.png")])
    assert accuracy_at_hours(curves[str(big)], 1.5) == pytest.approx(0.21)     # halfway between two rounds
    assert np.isnan(accuracy_at_hours(curves[str(big)], 0.5))                 # before its first round
    lines = capsys.readouterr().out.splitlines()
    assert "acc. at 1.50 h" in lines[0]
    assert lines[1].split()[-1] == "24.00%" and lines[2].split()[-1] == "21.00%"
    assert lines[2].split()[1:3] == ["200", "2.00"]                            # its last round: step, hours
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_compare_names_the_file_at_fault(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere.metrics.csv: no such file"):
        cli.run(["compare", str(tmp_path / "nowhere")])
    run = _metrics(tmp_path / "run", [(0.5, 0.1)])
    (run / "metrics.csv").write_text("epoch,loss\n1,2.0\n")
    with pytest.raises(ValueError, match=r"metrics.csv:1: not a pretraining metrics file \(no column 'round'\)"):
        cli.run(["compare", str(run)])
    ok = _metrics(tmp_path / "ok", [(0.5, 0.1), (1.0, 0.2)])
    text = (ok / "metrics.csv").read_text().replace("0.2,5.0", "x,5.0")
    (ok / "metrics.csv").write_text(text)
    with pytest.raises(ValueError, match=r"metrics.csv:3: not a row of numbers"):
        cli.run(["compare", str(ok)])
    with pytest.raises(IsADirectoryError, match="--out .*: is a folder"):
        cli.run(["compare", str(run), "--out", str(tmp_path)])
    for name in ("curves", "curves.txt"):               # matplotlib would add .png, or refuse, after the work
        with pytest.raises(ValueError, match=f"--out .*{name}: expected a file name ending in .png, .svg, .pdf"):
            cli.run(["compare", str(ok), "--out", str(tmp_path / name)])
