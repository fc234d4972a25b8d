"""Run folders: refused when in use, written only when training starts, read back with clear errors."""
import json
import os

import numpy as np
import pytest

from pmt.core import Adam, Trainer, batches
from pmt.core.checkpoint import CheckpointError
from pmt.core.examples.linear_demo import LinearClassifier, softmax_cross_entropy
from pmt.core.run_folder import RunFolder


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def trained_run(path):
    run = RunFolder(path, "demo", "pmt-demo")
    run.prepare()
    run.start({"config.json": json.dumps({"model": {"n": 4}})}, log=lambda s: None)
    model = LinearClassifier(4, 3)
    Trainer(model, Adam(model.parameters()), softmax_cross_entropy, checkpoint_dir=path, progress=False,
            log=lambda s: None).fit(batches(np.ones((4, 4), np.float32), np.zeros(4, np.int64), batch_size=2), epochs=1)
    return run


def test_a_new_folder_is_created_only_at_start(tmp_path):
    run = RunFolder(tmp_path / "a" / "b", "demo", "pmt-demo")
    run.prepare()
    assert not (tmp_path / "a").exists()
    run.start({"config.json": "{}"})
    assert os.listdir(tmp_path / "a" / "b") == ["config.json"]


def test_a_folder_holding_a_run_is_refused_without_resume_or_overwrite(tmp_path):
    trained_run(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError, match=r"already holds files \(config.json, last.npz\); continue that run "
                                              r"with --resume, replace it with --overwrite"):
        RunFolder(tmp_path, "demo", "pmt-demo").prepare()
    assert snapshot(tmp_path) == before


def test_overwrite_removes_the_old_files_only_at_start_and_says_so(tmp_path):
    trained_run(tmp_path)
    run = RunFolder(tmp_path, "demo", "pmt-demo")
    run.prepare(overwrite=True)
    assert (tmp_path / "last.npz").exists()        # checks alone change nothing
    lines = []
    run.start({"config.json": "{}"}, log=lines.append)
    assert os.listdir(tmp_path) == ["config.json"] and lines == [f"--overwrite: replaced the run in {tmp_path} (2 files removed)"]


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a run folder"):
        RunFolder(tmp_path, "demo", "pmt-demo").prepare(overwrite=True)


def test_resume_needs_a_run_and_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        RunFolder(tmp_path, "demo", "pmt-demo").prepare(resume=True)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="before its first checkpoint"):
        RunFolder(tmp_path, "demo", "pmt-demo").prepare(resume=True)
    (tmp_path / "last.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="last.npz"):
        RunFolder(tmp_path, "demo", "pmt-demo").prepare(resume=True)


def test_a_file_in_the_way_and_an_unwritable_parent(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file"):
        RunFolder(tmp_path / "f", "demo", "pmt-demo").prepare()
    with pytest.raises(NotADirectoryError, match="is a file"):
        RunFolder(tmp_path / "f" / "run", "demo", "pmt-demo").prepare()
    if os.geteuid() != 0:          # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="permission denied"):
            RunFolder(locked / "run", "demo", "pmt-demo").prepare()


@pytest.mark.parametrize("text,match", [
    ('{"model": {"n": 4},\n "x": }', r"config.json:2: not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"other": 1}', "missing 'model'"),
    (b"\xff\xfe{", "not UTF-8"),
])
def test_a_malformed_config_is_one_error_naming_the_file(tmp_path, text, match):
    (tmp_path / "config.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ValueError, match=match):
        RunFolder(tmp_path, "demo", "pmt-demo").config(required=("model",))


def test_missing_folder_or_config_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not a demo run folder: no config.json \(train one with `pmt-demo train"):
        RunFolder(tmp_path, "demo", "pmt-demo").config()
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        RunFolder(tmp_path, "demo", "pmt-demo").best_checkpoint()


def test_build_names_the_config_file_for_bad_settings(tmp_path):
    run = RunFolder(tmp_path, "demo", "pmt-demo")
    with pytest.raises(ValueError, match=r"config.json: bad 'model' settings"):
        run.build(LinearClassifier, {"dim": 4, "bogus": 1}, "model")


def test_paths_are_recorded_absolute_and_old_relative_ones_resolve_in_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = RunFolder("r", "demo", "pmt-demo")
    assert run.record_path("data/x.tsv") == str(tmp_path / "data" / "x.tsv")
    assert run.resolve_path("x.tsv") == run.path / "x.tsv"
    assert run.resolve_path(str(tmp_path / "y")) == tmp_path / "y"
