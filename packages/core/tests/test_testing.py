import os

import pytest

from pmt.core.datasets import DatasetSpec, RemoteFile, register, unregister
from pmt.core.testing import _monorepo_data_dir, require_dataset

CONTENT = b"hello\n"
SHA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"  # sha256(b"hello\n")


@pytest.fixture
def spec(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PMT_DATA_DIR", str(data))
    monkeypatch.setenv("PMT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PMT_REQUIRE_DATA", raising=False)
    s = register(DatasetSpec("tmp-testing", files=(RemoteFile("f.txt", "http://127.0.0.1:9/f.txt", SHA, 6),)))
    yield s, data
    unregister(s.name)


def test_present_dataset_returns_its_paths(spec):
    s, data = spec
    (data / s.name).mkdir()
    (data / s.name / "f.txt").write_bytes(CONTENT)
    assert require_dataset(s.name) == {"f.txt": data / s.name / "f.txt"}


def test_missing_dataset_skips_with_the_reason_and_never_downloads(spec):
    with pytest.raises(pytest.skip.Exception, match=r"dataset 'tmp-testing' unavailable: .*download disabled"):
        require_dataset(spec[0].name)


def test_missing_dataset_fails_when_data_is_required(spec, monkeypatch):
    monkeypatch.setenv("PMT_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match=r"PMT_REQUIRE_DATA=1 .*put f.txt in \$PMT_DATA_DIR"):
        require_dataset(spec[0].name)


def test_corrupt_dataset_fails_when_data_is_required(spec, monkeypatch):
    s, data = spec
    (data / s.name).mkdir()
    (data / s.name / "f.txt").write_bytes(b"HELLO\n")
    monkeypatch.setenv("PMT_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="sha256"):
        require_dataset(s.name)


def test_without_pmt_data_dir_the_monorepo_mirror_is_used(monkeypatch):
    mirror = _monorepo_data_dir()
    if mirror is None or not (mirror / "analogy").is_dir():
        if os.environ.get("PMT_REQUIRE_DATA") == "1":
            pytest.fail("PMT_REQUIRE_DATA=1 but there is no data mirror beside this checkout")
        pytest.skip("no data mirror beside this checkout")
    monkeypatch.delenv("PMT_DATA_DIR", raising=False)
    paths = require_dataset("analogy")
    assert paths["questions-words.txt"] == mirror / "analogy" / "questions-words.txt"
