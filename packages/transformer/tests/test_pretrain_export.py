"""`pmt-pretrain export`: the shipped model folder, and fine-tuning from it exactly as from the run.

The pretraining run is test_finetune's (a tiny masked LM pretrained on synthetic text); the export
must hold its weights bit for bit, a card whose numbers and command are the run's, and fine-tuning
from it must give the very numbers fine-tuning from the run folder gives.
"""
import json
import re
import shlex
import shutil

import numpy as np
import pytest
import test_finetune
from test_finetune import NER_SMALL, QQP_SMALL, _capture_fit

from pmt.core import cli as core_cli
from pmt.core.files import read_npz
from pmt.core.safetensors import load_safetensors, safetensors_metadata, save_safetensors
from pmt.transformer.ner import cli as ner_cli
from pmt.transformer.pretrain import cli as pretrain_cli
from pmt.transformer.pretrain import export as export_module
from pmt.transformer.pretrain.transfer import file_sha256, load_masked_lm
from pmt.transformer.qqp import cli as qqp_cli
from pmt.transformer.tokenizer import Tokenizer

files = test_finetune.files            # the fixture: test_finetune's tiny pretraining run and task files


@pytest.fixture(scope="module")
def shipped(files, tmp_path_factory):
    """The pretraining run of test_finetune, exported."""
    out = tmp_path_factory.mktemp("export") / "models" / "tiny"
    assert pretrain_cli.main(["export", "--run-dir", str(files / "pt"), "--out", str(out)]) == 0
    return out


def _run_weights(files):
    """The model arrays of the run's encoder.npz, as stored."""
    return {k[len("model/"):]: v for k, v in read_npz(files / "pt" / "encoder.npz").items() if k.startswith("model/")}


def test_export_holds_the_runs_weights_tokenizer_and_metadata(files, shipped):
    assert sorted(p.name for p in shipped.iterdir()) == ["README.md", "encoder.safetensors", "mlm_accuracy.png",
                                                        "vocab.txt"]
    assert not [p for p in shipped.parent.iterdir() if p.name.startswith(".")]        # no temporary left
    assert (shipped / "vocab.txt").read_bytes() == (files / "pt" / "vocab.txt").read_bytes()
    tensors, stored = load_safetensors(shipped / "encoder.safetensors"), _run_weights(files)
    assert tensors.keys() == stored.keys()
    for k, v in stored.items():
        assert tensors[k].dtype == np.float32
        np.testing.assert_array_equal(tensors[k], v)
    meta = safetensors_metadata(shipped / "encoder.safetensors")
    config = json.loads((files / "pt" / "config.json").read_text())
    assert meta["pmt.task"] == "pretrain" and json.loads(meta["pmt.config"]) == config["model"]
    assert meta["pmt.step"] == "3" and meta["pmt.vocab_sha256"] == file_sha256(files / "pt" / "vocab.txt")
    row = (files / "pt" / "metrics.csv").read_text().splitlines()[-1].split(",")
    assert float(meta["pmt.val_mlm_acc"]) == float(row[8]) and float(meta["pmt.val_ppl"]) == float(row[9])
    _, read = load_masked_lm(shipped)                                 # the same metadata, typed, either format
    _, original = load_masked_lm(files / "pt")
    for key in ("config", "step", "round", "val_mlm_acc", "val_ppl", "train_hours"):
        assert read[key] == original[key], key


def test_the_card_gives_the_runs_numbers_files_and_the_command_that_trained_it(files, shipped):
    card = (shipped / "README.md").read_text()
    for name in ("encoder.safetensors", "vocab.txt", "mlm_accuracy.png"):
        n, sha = (shipped / name).stat().st_size, file_sha256(shipped / name)
        assert f"| `{name}` | {n:,} | `{sha}` |" in card
    model, _ = load_masked_lm(files / "pt")
    assert f"| parameters | {model.num_parameters():,} (float32" in card
    step, tokens, hours, *_, acc, ppl = (files / "pt" / "metrics.csv").read_text().splitlines()[-1].split(",")[1:]
    assert f"| {step} | {int(tokens):,} | {float(hours):.2f} | {float(acc) * 100:.2f} % | {float(ppl):.1f} |" in card
    assert "| toy | " in card and f"`{files / 'corpus'}`" in card                     # the corpus.json sources
    assert f"pmt-ner train --init {shipped}" in card and f"pmt-qqp train --init {shipped}" in card
    command = re.search(r"```\n(pmt-pretrain train .*?)\n```", card, re.S).group(1).replace("\\\n", " ")
    argv = shlex.split(command)
    assert argv[:4] == ["pmt-pretrain", "train", "--run-dir", str(files / "pt")]
    parsed = core_cli.run_settings(pretrain_cli.build_parser().parse_args(argv[1:]))
    assert parsed == json.loads((files / "pt" / "config.json").read_text())["train"]


def test_the_card_names_paths_under_the_working_folder_as_a_user_types_them(files, tmp_path, monkeypatch):
    """The run records its corpus as an absolute path; the committed card must not carry this machine's."""
    work = tmp_path / "work"
    shutil.copytree(files / "pt", work / "runs" / "pt")
    shutil.copytree(files / "corpus", work / "runs" / "corpus")
    config = json.loads((work / "runs" / "pt" / "config.json").read_text())
    config["train"]["corpus"] = str(work / "runs" / "corpus")
    (work / "runs" / "pt" / "config.json").write_text(json.dumps(config))
    monkeypatch.chdir(work)
    assert pretrain_cli.main(["export", "--run-dir", str(work / "runs" / "pt"), "--out", "models/tiny"]) == 0
    card = (work / "models" / "tiny" / "README.md").read_text()
    assert str(tmp_path) not in card
    assert "`runs/corpus`: the tokenizer was trained" in card and "| toy | " in card   # corpus.json still read
    command = re.search(r"```\n(pmt-pretrain train .*?)\n```", card, re.S).group(1).replace("\\\n", " ")
    argv = shlex.split(command)
    assert argv[2:4] == ["--run-dir", "runs/pt"] and argv[argv.index("--corpus") + 1] == "runs/corpus"


@pytest.mark.parametrize("task", ["qqp", "ner"])
def test_fine_tuning_from_the_export_is_bit_for_bit_fine_tuning_from_the_run(files, shipped, tmp_path, monkeypatch,
                                                                              task):
    seen = _capture_fit(monkeypatch)
    main, base = ((qqp_cli.main, ["train", "--data", str(files / "pairs.tsv"), *QQP_SMALL]) if task == "qqp" else
                  (ner_cli.main, ["train", "--train", str(files / "tiny.conll"), "--valid", str(files / "tiny.conll"),
                                  *NER_SMALL]))
    prefix = "" if task == "qqp" else "pretrained."
    runs, starts = {}, {}
    for name, source in (("run", files / "pt"), ("export", shipped)):
        runs[name] = tmp_path / name
        assert main(base + ["--init", str(source), "--init-lr", "5e-4", "--run-dir", str(runs[name])]) == 0
        starts[name] = seen["state"]
    for key, value in _run_weights(files).items():                  # the body starts as the run's encoder.npz
        if not key.startswith("mlm_head."):
            assert starts["export"][prefix + key].dtype == value.dtype
            np.testing.assert_array_equal(starts["export"][prefix + key], value)
    for key, value in starts["run"].items():
        np.testing.assert_array_equal(starts["export"][key], value)
    ends = [read_npz(runs[name] / "last.npz") for name in ("run", "export")]
    assert ends[0].keys() == ends[1].keys()
    for key in ends[0]:
        if key != "meta":
            np.testing.assert_array_equal(ends[1][key], ends[0][key], err_msg=key)
    history = [{k: v for k, v in json.loads(e["meta"].tobytes())["history"].items() if k != "seconds"} for e in ends]
    assert history[1] == history[0] and history[0]["val_loss"]
    init = json.loads((runs["export"] / "config.json").read_text())["init"]
    assert init == {"run": str(shipped.resolve()), "file": str((shipped / "encoder.safetensors").resolve()),
                    "sha256": file_sha256(shipped / "encoder.safetensors"), "step": 3, "weights": "pretrained"}


def test_fill_reads_an_exported_folder_as_the_run(files, shipped, capsys):
    assert pretrain_cli.main(["fill", "the [MASK] sat on the mat", "--run-dir", str(files / "pt")]) == 0
    from_run = capsys.readouterr().out
    assert pretrain_cli.main(["fill", "the [MASK] sat on the mat", "--run-dir", str(shipped)]) == 0
    assert capsys.readouterr().out == from_run and from_run.startswith("[MASK] 1: ")


def _listing(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_export_refuses_a_used_folder_and_replaces_only_an_export(files, shipped, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(shipped, out)
    before = _listing(out)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    no_run = tmp_path / "no-run"
    shutil.copytree(files / "pt", no_run)
    (no_run / "encoder.npz").unlink()
    export = ["export", "--run-dir", str(files / "pt"), "--out"]
    for argv, line in [(export + [str(out)], "already holds files .*; replace an exported model with --overwrite"),
                       (export + [str(mine), "--overwrite"], "holds no encoder.safetensors, so it is not an exported"),
                       (export + [str(files / "pairs.tsv")], "is a file, not a folder"),
                       (["export", "--run-dir", str(no_run), "--out", str(tmp_path / "new")],
                        "no pretrained weights .*encoder.npz or encoder.safetensors"),
                       (["export", "--run-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "new")],
                        "is not a pretrain run folder: no such folder"),
                       (["export", "--run-dir", str(files / "pt")], "the following arguments are required: --out")]:
        assert pretrain_cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and re.search(line, err[0]), (argv, err)
    assert _listing(out) == before and _listing(mine) == {"notes.txt": b"mine"} and not (tmp_path / "new").exists()
    (out / "README.md").write_text("an older card")
    assert pretrain_cli.main(export + [str(out), "--overwrite"]) == 0
    now, first = _listing(out), _listing(shipped)                     # the same run exports the same bytes,
    assert now.pop("README.md").startswith(b"# out\n") and first.pop("README.md").startswith(b"# tiny\n")
    assert now == first                                               # (the card names the folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "no-run", "out"]


def test_a_failed_export_leaves_no_folder_and_the_old_export_untouched(files, shipped, tmp_path, monkeypatch, capsys):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(export_module, "save_weights", disk_full)
    assert pretrain_cli.main(["export", "--run-dir", str(files / "pt"), "--out", str(tmp_path / "new")]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "out"
    shutil.copytree(shipped, out)
    (out / "README.md").write_text("the old card")
    before = _listing(out)
    assert pretrain_cli.main(["export", "--run-dir", str(files / "pt"), "--out", str(out), "--overwrite"]) == 2
    assert _listing(out) == before and [p.name for p in tmp_path.iterdir()] == ["out"]


def _damage(kind, run):
    """Change an exported folder of `run` in one way a fine-tuning run must refuse."""
    def prepare(folder):
        path = folder / "encoder.safetensors"
        tensors, meta = load_safetensors(path), safetensors_metadata(path)
        if kind == "missing tensor":
            del tensors["encoder.layers.0.ff.linear1.bias"]
        elif kind == "other shape":
            tensors["pos.weight"] = tensors["pos.weight"][:8]
        elif kind == "no config":
            del meta["pmt.config"]
        elif kind == "NaN":
            tensors["encoder.layers.0.ff.linear1.weight"][0, 0] = np.nan
        elif kind == "another task":
            meta["pmt.task"] = "qqp"
        elif kind == "other vocabulary size":
            Tokenizer.train(["a b c d e f g"] * 3, vocab_size=30).save(folder / "vocab.txt")
        elif kind == "edited vocabulary":
            text = (folder / "vocab.txt").read_text().splitlines()
            (folder / "vocab.txt").write_text("\n".join(text[:-1] + ["zzzz"]) + "\n")
        elif kind == "truncated":
            path.write_bytes(path.read_bytes()[:100])
        elif kind == "both files":
            shutil.copyfile(run / "encoder.npz", folder / "encoder.npz")
        if kind in ("missing tensor", "other shape", "no config", "NaN", "another task"):
            save_safetensors(path, tensors, meta)
    return prepare


DAMAGES = [
    ("missing tensor", r"encoder.safetensors: checkpoint does not fit the model: missing keys "
                       r"\['encoder.layers.0.ff.linear1.bias'\]"),
    ("other shape", r"encoder.safetensors: checkpoint does not fit the model: shape mismatch pos.weight"),
    ("no config", r"encoder.safetensors: no model config in its metadata"),
    ("NaN", r"encoder.safetensors: .*NaN"),
    ("another task", r"encoder.safetensors: holds a 'qqp' model, not a pretrained encoder"),
    ("other vocabulary size", r"vocab.txt: 21 tokens, but .*encoder.safetensors was pretrained with a vocabulary "
                              r"of 90: the exported folder is inconsistent"),
    ("edited vocabulary", r"vocab.txt: not the vocabulary encoder.safetensors was exported with"),
    ("truncated", r"encoder.safetensors: "),
    ("both files", r"holds both encoder.npz and encoder.safetensors, so the weights to use are ambiguous"),
]


@pytest.mark.parametrize("kind,line", DAMAGES, ids=[kind for kind, _ in DAMAGES])
def test_a_damaged_export_is_a_one_line_error_before_anything_is_written(files, shipped, tmp_path, capsys, kind,
                                                                          line):
    folder = tmp_path / "tiny"
    shutil.copytree(shipped, folder)
    _damage(kind, files / "pt")(folder)
    argv = ["train", "--data", str(files / "pairs.tsv"), *QQP_SMALL, "--run-dir", str(tmp_path / "r"), "--init"]
    assert qqp_cli.main(argv + [str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(line, err[0]), err
    assert not (tmp_path / "r").exists()
    if kind == "both files":                   # naming the file chooses
        assert qqp_cli.main(argv + [str(folder / "encoder.safetensors"), "--epochs", "1"]) == 0
