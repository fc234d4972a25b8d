"""ONNX export: onnxruntime gives PMT's outputs on random small models, with standard operators only."""
import sys

import numpy as np
import pytest

from pmt.core import seed
from pmt.graph import no_grad
from pmt.transformer import onnx_export
from pmt.transformer.ner.model import NERTagger, TaggerConfig
from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig

SKIP = 'needs the onnx extra: pip install "packages/transformer[onnx]" (make install-onnx)'
onnx = pytest.importorskip("onnx", reason=SKIP)
pytest.importorskip("onnxruntime", reason=SKIP)


def pairs(rng, batch=5, seq=11, vocab=60):
    ids = rng.integers(1, vocab, (batch, seq))
    lengths = rng.integers(3, seq + 1, batch)
    ids[np.arange(seq)[None, :] >= lengths[:, None]] = 0                      # ragged padding
    segments = ((np.arange(seq)[None, :] > lengths[:, None] // 2) & (ids != 0)).astype(np.int64)
    return ids, segments


def sentences(rng, batch=4, seq=9, chars=6, n_words=40, n_chars=25):
    words = rng.integers(1, n_words, (batch, seq))
    words[np.arange(seq)[None, :] >= rng.integers(1, seq + 1, batch)[:, None]] = 0
    cases = np.where(words != 0, rng.integers(1, 6, (batch, seq)), 0)
    ch = rng.integers(1, n_chars, (batch, seq, chars))
    ch[np.arange(chars)[None, None, :] >= rng.integers(1, chars + 1, (batch, seq))[..., None]] = 0
    ch[words == 0] = 0
    return words, cases, ch


def run_both(tmp_path, model, feeds):
    model.eval()
    with no_grad():
        ref = model(*feeds.values()).data
    path = onnx_export.export_onnx(model, tmp_path / "m.onnx")
    out = onnx_export.onnx_session(path, threads=1).run(None, feeds)[0]
    return ref, out, onnx.load(str(path))


@pytest.mark.parametrize("pooling", ["cls", "mean"])
@pytest.mark.parametrize("layers", [1, 2])
def test_pair_classifier_logits_equal_pmt(tmp_path, pooling, layers):
    seed(layers)
    model = PairClassifier(PairClassifierConfig(vocab_size=60, d_model=16, n_heads=4, d_ff=24, n_layers=layers,
                                                max_len=16, pooling=pooling))
    ids, segments = pairs(np.random.default_rng(layers))
    ref, out, proto = run_both(tmp_path, model, {"ids": ids, "segments": segments})
    assert out.shape == (5, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=0)
    assert {p.key: p.value for p in proto.metadata_props}["pmt.task"] == "qqp"


@pytest.mark.parametrize("window", [3, 5])
def test_tagger_emissions_equal_pmt(tmp_path, window):
    seed(window)
    cfg = TaggerConfig(n_words=40, n_chars=25, tags=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], word_dim=12,
                       case_dim=4, char_dim=6, char_filters=10, char_window=window, d_model=16, n_heads=2, d_ff=24)
    words, cases, chars = sentences(np.random.default_rng(window))
    ref, out, _ = run_both(tmp_path, NERTagger(cfg), {"words": words, "cases": cases, "chars": chars})
    assert out.shape == ref.shape == (4, 9, 5)
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=0)                     # padding positions too


def test_graph_uses_standard_operators_of_the_declared_opset(tmp_path):
    model = PairClassifier(PairClassifierConfig(vocab_size=20, d_model=8, n_heads=2, d_ff=8, n_layers=1))
    proto = onnx.load(str(onnx_export.export_onnx(model, tmp_path / "m.onnx")))
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", onnx_export.OPSET)]
    assert all(n.domain == "" for n in proto.graph.node)
    assert {i.name for i in proto.graph.initializer} >= set(model.state_dict())   # weights keep their keys
    onnx.checker.check_model(proto, full_check=True)                              # shapes infer


def test_other_models_and_bad_files_are_named(tmp_path):
    with pytest.raises(TypeError, match="PairClassifier or an NERTagger"):
        onnx_export.export_onnx(object(), tmp_path / "x.onnx")
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        onnx_export.onnx_session(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.onnx: onnxruntime cannot load"):
        onnx_export.onnx_session(tmp_path / "junk.onnx")


def test_missing_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)                       # import now fails
    with pytest.raises(ImportError, match=r"onnxruntime is missing\): pip install .*\[onnx\]"):
        onnx_export.onnx_session("any.onnx")
