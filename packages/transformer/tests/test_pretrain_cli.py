import csv

import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.transformer.pretrain.batches import heldout_batches
from pmt.transformer.pretrain.cli import main, train
from pmt.transformer.pretrain.corpus import Corpus, TextSource, build_corpus
from pmt.transformer.pretrain.masking import NOT_MASKED
from pmt.transformer.pretrain.transfer import load_masked_lm
from pmt.transformer.tokenizer import Tokenizer

TINY = dict(d_model=16, heads=2, ff=32, layers=1, seq_len=16, batch_size=4, round_steps=3, lr=3e-3, warmup=2,
            eval_segments=8, progress=False)


@pytest.fixture(scope="module")
def corpus_folder(tmp_path_factory):
    """A small corpus prepared from synthetic text (no dataset needed)."""
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "Paris", "is", "in", "France", "what", "why", "?", "."]
    lines = [" ".join(rng.choice(words, rng.integers(3, 15))) for _ in range(400)]
    tok = Tokenizer.train(lines, vocab_size=80, lowercase=False)
    tok.save(folder / "vocab.txt")
    build_corpus(tok, [TextSource("toy", lambda: iter(lines), len(lines))], folder / "corpus", 0.1)
    return folder


def _quiet(_):
    pass


def test_a_run_resumed_after_a_stop_is_identical_to_one_never_stopped(corpus_folder, tmp_path):
    straight = train(tmp_path / "a", corpus=corpus_folder, steps=12, log=_quiet, **TINY)

    def stop_after_round_2(line):
        if line.startswith("round 2:"):
            raise KeyboardInterrupt
    stopped = train(tmp_path / "b", corpus=corpus_folder, steps=12, log=stop_after_round_2, **TINY)
    assert len(stopped["loss"]) == 2
    resumed = train(tmp_path / "b", resume=True, progress=False, log=_quiet)
    for key in ("loss", "val_loss", "val_mlm_acc", "lr"):
        assert resumed[key] == straight[key], key
    a, _ = load_masked_lm(tmp_path / "a")
    b, _ = load_masked_lm(tmp_path / "b")
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    rows = list(csv.DictReader(open(tmp_path / "b" / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [3, 6, 9, 12]                 # one row per round, no repeats
    assert (tmp_path / "b" / "mlm_accuracy.png").stat().st_size > 1000


def test_run_folder_contract(corpus_folder, tmp_path, capsys):
    out = tmp_path / "run"
    train(out, corpus=corpus_folder, steps=3, log=_quiet, **TINY)
    assert (out / "vocab.txt").read_text() == (corpus_folder / "vocab.txt").read_text()
    with pytest.raises(ValueError, match="--resume to continue it or --overwrite"):
        train(out, corpus=corpus_folder, steps=3, log=_quiet, **TINY)
    train(out, corpus=corpus_folder, steps=3, overwrite=True, log=_quiet, **TINY)
    extended = train(out, resume=True, steps=6, progress=False, log=_quiet)     # a new end for the run
    assert len(extended["loss"]) == 2
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(tmp_path / "empty", resume=True, log=_quiet)
    with pytest.raises(FileNotFoundError, match="not a prepared corpus folder"):
        train(tmp_path / "x", corpus=tmp_path / "nowhere", log=_quiet)
    with pytest.raises(ValueError, match="not --vocab-size 99"):
        train(tmp_path / "y", corpus=corpus_folder, vocab_size=99, log=_quiet, **TINY)
    main(["fill", "the cat [MASK] on the mat .", "--model", str(out), "--top", "3"])
    assert capsys.readouterr().out.startswith("[MASK] 1: ")


def test_command_line_errors_are_one_line_with_status_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["pmt-pretrain", "fill", "no mask here", "--model", str(tmp_path)])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2
    assert "no pretrained weights" in capsys.readouterr().err


def test_a_tiny_corpus_pretrains_past_the_unigram_baseline(tmp_path):
    for name in ("gutenberg-cased", "qqp", "conll2003"):
        require_dataset(name)
    out = tmp_path / "run"
    history = train(out, vocab_size=400, max_lines=1000, heldout_fraction=0.05, d_model=64, heads=2, ff=128,
                    layers=1, seq_len=24, batch_size=64, steps=600, round_steps=600, lr=5e-3, warmup=60,
                    eval_segments=400, progress=False, log=_quiet)
    corpus = Corpus.load(out / "corpus")
    counts = np.bincount(np.asarray(corpus.train), minlength=400)
    targets = np.concatenate([b[2][b[2] != NOT_MASKED] for b in heldout_batches(
        corpus.heldout, corpus.heldout_lines, 24, 64, 400, 400)])
    unigram_acc = np.mean(targets == counts.argmax())                    # always guess the commonest token
    p = (counts + 1) / (counts + 1).sum()
    unigram_ppl = np.exp(-np.log(p[targets]).mean())
    assert len(targets) > 1000
    assert history["val_mlm_acc"][-1] > 1.8 * unigram_acc, (history["val_mlm_acc"], unigram_acc)
    assert history["val_ppl"][-1] < 0.85 * unigram_ppl, (history["val_ppl"], unigram_ppl)
