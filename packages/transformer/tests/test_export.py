"""Run folders exported (`pmt-qqp export`, `pmt-ner export`) and scored through the exported ONNX file."""
import json
import re

import numpy as np
import pytest

from pmt.core.safetensors import safetensors_metadata
from pmt.core.testing import require_dataset
from pmt.core.weights import load_weights
from pmt.transformer.ner import cli as ner_cli
from pmt.transformer.ner.model import NERTagger, TaggerConfig
from pmt.transformer.qqp import cli as qqp_cli
from pmt.transformer.qqp.model import PairClassifier, PairClassifierConfig

SKIP = 'needs the onnx extra: pip install "packages/transformer[onnx]" (make install-onnx)'


@pytest.fixture(scope="module")
def qqp_run(tmp_path_factory):
    path = require_dataset("qqp", files=["train.tsv"])["train.tsv"]
    out = tmp_path_factory.mktemp("qqp") / "run"
    qqp_cli.run(["train", "--data", str(path), "--max-rows", "1500", "--max-valid", "150", "--epochs", "1",
                  "--vocab-size", "1500", "--d-model", "16", "--heads", "2", "--ff", "32", "--layers", "1",
                  "--max-len", "48", "--warmup", "10", "--run-dir", str(out), "--no-progress"])
    return out


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
    files = require_dataset("conll2003", files=["eng.train", "eng.testa"])
    out = tmp_path_factory.mktemp("ner") / "run"
    ner_cli.run(["train", "--train", str(files["eng.train"]), "--valid", str(files["eng.testa"]),
                  "--max-train", "300", "--max-valid", "50", "--epochs", "1", "--d-model", "16", "--heads", "2",
                  "--ff", "32", "--layers", "1", "--word-dim", "16", "--char-filters", "8", "--warmup", "5",
                  "--run-dir", str(out), "--no-progress"])
    return out, files["eng.testa"]


@pytest.mark.parametrize("task, Model, Config", [("qqp", PairClassifier, PairClassifierConfig),
                                                 ("ner", NERTagger, TaggerConfig)])
def test_safetensors_export_rebuilds_the_model_from_the_file_alone(tmp_path, qqp_run, ner_run, capsys, task,
                                                                   Model, Config):
    run, cli = (qqp_run, qqp_cli) if task == "qqp" else (ner_run[0], ner_cli)
    target = tmp_path / "w.safetensors"
    cli.run(["export", "--run-dir", str(run), "--safetensors", str(target)])
    assert f"wrote {target}" in capsys.readouterr().out
    meta = safetensors_metadata(target)
    assert meta["pmt.task"] == task
    rebuilt = Model(Config(**json.loads(meta["pmt.config"])))
    load_weights(target, rebuilt)
    trained = cli.load_run(run)[0]
    for k, v in trained.state_dict().items():
        np.testing.assert_array_equal(rebuilt.state_dict()[k], v)


def test_export_needs_a_target(qqp_run):
    with pytest.raises(ValueError, match="--onnx FILE or --safetensors FILE"):
        qqp_cli.run(["export", "--run-dir", str(qqp_run)])


def test_qqp_eval_through_onnx_gives_the_same_scores(tmp_path, qqp_run, capsys):
    pytest.importorskip("onnxruntime", reason=SKIP)
    target = tmp_path / "qqp.onnx"
    qqp_cli.run(["export", "--run-dir", str(qqp_run), "--onnx", str(target)])
    capsys.readouterr()
    qqp_cli.run(["eval", "--split", "valid", "--run-dir", str(qqp_run)])
    numpy_line = capsys.readouterr().out.splitlines()[-1]
    qqp_cli.run(["eval", "--split", "valid", "--run-dir", str(qqp_run), "--onnx", str(target)])
    assert capsys.readouterr().out.splitlines()[-1] == numpy_line
    assert numpy_line.startswith("pairs 150 ")


def test_onnx_pair_probabilities_come_back_in_the_rows_order_whatever_the_batch_size(tmp_path, qqp_run):
    pytest.importorskip("onnxruntime", reason=SKIP)
    from pmt.transformer.export import checked_session, onnx_pair_proba
    target = tmp_path / "qqp.onnx"
    qqp_cli.run(["export", "--run-dir", str(qqp_run), "--onnx", str(target)])
    model, tok, _ = qqp_cli.load_run(qqp_run)
    q1 = ["why is the sky blue?", "how do I learn to cook rice well at home without a cooker?", "what is AI?"] * 5
    q2 = ["what makes the sky blue?", "what is the capital of France?", "how do I learn AI quickly?"] * 5
    session = checked_session(target, "qqp", model)
    one = onnx_pair_proba(session, tok, q1, q2, model.config.max_len, batch_size=256)
    small = onnx_pair_proba(session, tok, q1, q2, model.config.max_len, batch_size=4)   # shortest-first batches
    np.testing.assert_allclose(small, one, rtol=1e-5, atol=1e-6)
    want = qqp_cli.predict_proba(model, tok, q1, q2, model.config.max_len)
    np.testing.assert_allclose(one, want, rtol=1e-4, atol=1e-5)


def test_ner_eval_through_onnx_gives_the_same_report(tmp_path, ner_run, capsys):
    pytest.importorskip("onnxruntime", reason=SKIP)
    run, testa = ner_run
    lines = testa.read_text(encoding="utf-8").split("\n")[:2000]
    small = tmp_path / "testa-head.txt"                          # whole sentences: cut at a blank line
    small.write_text("\n".join(lines[:len(lines) - lines[::-1].index("")]) + "\n", encoding="utf-8")
    target = tmp_path / "ner.onnx"
    ner_cli.run(["export", "--run-dir", str(run), "--onnx", str(target)])
    capsys.readouterr()
    ner_cli.run(["eval", "--data", str(small), "--run-dir", str(run)])
    numpy_report = capsys.readouterr().out
    ner_cli.run(["eval", "--data", str(small), "--run-dir", str(run), "--onnx", str(target)])
    assert capsys.readouterr().out == numpy_report
    assert re.search(r"processed \d{4,} tokens with [1-9]\d* phrases", numpy_report), numpy_report


def test_an_onnx_file_of_another_task_or_model_is_refused(tmp_path, qqp_run, ner_run):
    pytest.importorskip("onnxruntime", reason=SKIP)
    ner_onnx = tmp_path / "ner.onnx"
    ner_cli.run(["export", "--run-dir", str(ner_run[0]), "--onnx", str(ner_onnx)])
    with pytest.raises(ValueError, match="not a PMT qqp export"):
        qqp_cli.run(["eval", "--split", "valid", "--run-dir", str(qqp_run), "--onnx", str(ner_onnx)])
    from pmt.transformer.onnx_export import export_onnx
    other = PairClassifier(PairClassifierConfig(vocab_size=30, d_model=8, n_heads=2, d_ff=8, n_layers=1))
    export_onnx(other, tmp_path / "other.onnx")
    with pytest.raises(ValueError, match="another config than the run's"):
        qqp_cli.run(["eval", "--split", "valid", "--run-dir", str(qqp_run), "--onnx", str(tmp_path / "other.onnx")])
