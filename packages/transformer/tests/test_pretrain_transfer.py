import re

import numpy as np
import pytest

from pmt.core import seed
from pmt.graph import no_grad
from pmt.transformer.pretrain.model import MaskedLM, MaskedLMConfig
from pmt.core.weights import save_weights
from pmt.transformer.pretrain.transfer import (export_encoder, load_masked_lm, load_pretrained,
                                               pair_classifier_config, shipped_metadata, weights_meta)
from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig

CFG = MaskedLMConfig(vocab_size=40, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_len=24)


@pytest.fixture
def run(tmp_path):
    seed(0)
    mlm = MaskedLM(CFG)
    export_encoder(mlm, tmp_path / "encoder.npz", step=7)
    return tmp_path, mlm


def test_pair_classifier_gets_every_embedding_and_encoder_weight_by_name(run):
    folder, mlm = run
    seed(1)
    clf = PairClassifier(pair_classifier_config(folder, max_len=16, dropout=0.0))
    head_before = clf.head.weight.data.copy()
    report = load_pretrained(clf, folder)
    state = mlm.state_dict()
    for key in report.loaded:
        want = state[key][:16] if key == "pos.weight" else state[key]
        np.testing.assert_array_equal(clf.state_dict()[key], want)
    assert set(report.initialised) == {"head.weight", "head.bias"}
    np.testing.assert_array_equal(clf.head.weight.data, head_before)           # left as initialised
    assert report.skipped and all(k.startswith("mlm_head.") for k in report.skipped)
    assert report.truncated == ["pos.weight: rows 16 of 24"]
    assert len(report.loaded) == len(clf.state_dict()) - 2
    assert "loaded" in report.summary() and "head.weight" in report.summary()
    # the classifier's encoder now computes what the pretrained one computes
    ids = np.array([[2, 9, 10, 3, 11, 12, 3]])
    segs = np.array([[0, 0, 0, 0, 1, 1, 1]])
    clf.eval(), mlm.eval()
    with no_grad():
        h_clf = clf.encoder(clf.pos(clf.tok_emb(ids) + clf.seg_emb(segs))).data
        h_mlm = mlm.encode(ids, segs).data
    np.testing.assert_allclose(h_clf, h_mlm, rtol=1e-6)


def test_weights_file_round_trips_with_its_config_and_metadata(run):
    folder, mlm = run
    loaded, meta = load_masked_lm(folder / "encoder.npz")
    assert loaded.config == CFG and meta["step"] == 7
    for k, v in mlm.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v)


def test_another_vocabulary_is_refused_without_touching_the_model(run):
    folder, _ = run
    clf = PairClassifier(PairClassifierConfig(vocab_size=41, d_model=16, n_heads=2, d_ff=32, n_layers=2,
                                              max_len=24))
    before = clf.state_dict()
    with pytest.raises(ValueError, match="vocabulary differs"):
        load_pretrained(clf, folder)
    for k, v in clf.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no pretrained weights"):
        load_pretrained(PairClassifier(PairClassifierConfig(vocab_size=40)), tmp_path)


def test_a_safetensors_file_loads_as_the_npz_it_came_from_and_both_in_one_folder_are_refused(run):
    folder, mlm = run
    meta = {"config": CFG.to_dict(), "step": 7, "val_ppl": 81.25, "vocab_sha256": "ab" * 32}
    shipped = save_weights(folder / "encoder.safetensors", mlm, metadata=shipped_metadata(meta))
    loaded, read = load_masked_lm(shipped)
    assert {k: read[k] for k in meta} == meta
    for k, v in mlm.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v)
    assert pair_classifier_config(shipped, max_len=16) == pair_classifier_config(folder / "encoder.npz", max_len=16)
    with pytest.raises(ValueError, match="holds both encoder.npz and encoder.safetensors"):
        load_pretrained(PairClassifier(pair_classifier_config(shipped)), folder)


@pytest.mark.parametrize("metadata,line", [
    ({"pmt.config": '{"vocab_size": 40, "d_model": "wide"}'}, "bad model config in its metadata: d_model 'wide'"),
    ({"pmt.config": '{"vocab_size": 40, "width": 3}'}, "bad model config in its metadata: .*'width'"),
    ({"pmt.config": "{vocab"}, "metadata 'pmt.config' is not JSON"),
    ({"pmt.config": '{"vocab_size": 40}', "pmt.step": "three"}, "metadata 'pmt.step' should be an int, got 'three'"),
    ({"pmt.task": "ner", "pmt.config": '{"vocab_size": 40}'}, "holds a 'ner' model, not a pretrained encoder"),
])
def test_malformed_safetensors_metadata_is_a_one_line_error_naming_the_file(tmp_path, metadata, line):
    path = tmp_path / "encoder.safetensors"
    save_weights(path, MaskedLM(CFG), metadata=metadata)
    with pytest.raises(ValueError, match=re.escape(f"{path}: ") + line):
        weights_meta(path)
