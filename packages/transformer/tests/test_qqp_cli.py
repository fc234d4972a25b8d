import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.transformer.qqp.cli import main, predict_proba, load_run
from pmt.transformer.qqp.data import read_qqp, train_valid_split
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
    history = main(["train", "--data", str(path), "--max-rows", "8000", "--max-valid", "800", "--epochs", "3",
                    "--vocab-size", "4000", "--d-model", "64", "--heads", "2", "--ff", "128", "--layers", "1",
                    "--batch-size", "64", "--lr", "1e-3", "--warmup", "50", "--out", str(out)])
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
    main(["eval", "--split", "valid", "--model", str(out)])       # the run's own split, from its config
    assert f"pairs 800  accuracy {best * 100:.2f}%" in capsys.readouterr().out
    main(["predict", "How do I learn Python?", "How can I learn Python?", "--model", str(out)])
    assert "P(duplicate) = " in capsys.readouterr().out
    main(["attention", "How do I learn Python?", "How can I learn Python?", "--model", str(out),
          "--out", str(tmp_path / "att.png")])
    assert (tmp_path / "att.png").stat().st_size > 1000


def test_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a qqp run folder"):
        main(["predict", "a", "b", "--model", str(tmp_path)])
