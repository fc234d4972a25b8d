import gzip
import hashlib
import io
import socket
import struct
import threading
import warnings
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from pmt.core import datasets
from pmt.core.datasets import (DatasetError, DatasetSpec, RemoteFile, fetch, get_spec, idx_gz_validator,
                               list_datasets, register, unregister)
from pmt.core.idx import read_idx
from pmt.core.testing import require_dataset

PAYLOAD = bytes(range(256)) * 40 + b"tail"   # 10,244 bytes, several chunks' worth of structure
SHA = hashlib.sha256(PAYLOAD).hexdigest()


# ----------------------------------------------------------------------------- fixtures

class _Handler(BaseHTTPRequestHandler):
    """Serves `server.files`; honours `Range: bytes=N-` when `server.range_ok`."""

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start, rng = 0, self.headers.get("Range")
        if rng and srv.range_ok:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if srv.cut_at is not None:  # announce everything, send a prefix, hang up
            self.wfile.write(payload[:srv.cut_at])
            self.close_connection = True
            return
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.requests, srv.range_ok, srv.cut_at = {"/data.bin": PAYLOAD}, [], True, None
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Empty PMT_DATA_DIR and PMT_CACHE under tmp_path."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    monkeypatch.setenv("PMT_DATA_DIR", str(data))
    monkeypatch.setenv("PMT_CACHE", str(cache))
    return data, cache


@pytest.fixture
def temp_spec():
    """Register specs for one test only."""
    names = []

    def make(*files, archives=(), how_to_get=""):
        spec = DatasetSpec(f"tmp-{len(names)}", files=tuple(files), archives=tuple(archives),
                           how_to_get=how_to_get)
        names.append(spec.name)
        return register(spec)

    yield make
    for n in names:
        unregister(n)


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/data.bin"


# ----------------------------------------------------------------------------- registry

def test_registry_holds_the_mirror_datasets():
    assert {"mnist", "fashion-mnist", "text8", "gutenberg8", "analogy", "conll2003", "qqp"} <= set(list_datasets())
    assert get_spec("mnist").file("t10k-labels-idx1-ubyte.gz").size == 4542


def test_unknown_dataset_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnits'; known datasets: .*mnist"):
        fetch("mnits")


def test_unknown_file_lists_the_dataset_files():
    with pytest.raises(ValueError, match=r"no file 'train.csv'.*train-images-idx3-ubyte.gz"):
        fetch("mnist", files=["train.csv"], download=False)


def test_register_refuses_to_replace_silently(temp_spec):
    spec = temp_spec(RemoteFile("a", None))
    with pytest.raises(ValueError, match="already registered"):
        register(spec)
    with pytest.raises(TypeError, match="DatasetSpec"):
        register({"name": "x"})


# ----------------------------------------------------------------------------- download

def test_download_lands_verified_in_the_cache_and_is_reused(server, dirs, temp_spec):
    _, cache = dirs
    spec = temp_spec(RemoteFile("data.bin", server.url + "/data.bin", SHA, len(PAYLOAD)))
    paths = fetch(spec.name)
    assert paths == {"data.bin": cache / spec.name / "data.bin"}
    assert paths["data.bin"].read_bytes() == PAYLOAD
    assert list((cache / spec.name).iterdir()) == [paths["data.bin"]]  # no .part left behind
    fetch(spec.name)
    assert len(server.requests) == 1  # the second fetch was served from the cache


def test_file_url_download_works(tmp_path, dirs, temp_spec):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    spec = temp_spec(RemoteFile("data.bin", src.as_uri(), SHA, len(PAYLOAD)))
    assert fetch(spec.name)["data.bin"].read_bytes() == PAYLOAD


@pytest.mark.parametrize("sha,size,what", [("0" * 64, len(PAYLOAD), "sha256"), (SHA, 99, "size")])
def test_checksum_mismatch_raises_and_leaves_no_file(server, dirs, temp_spec, sha, size, what):
    _, cache = dirs
    url = server.url + "/data.bin"
    spec = temp_spec(RemoteFile("data.bin", url, sha, size))
    with pytest.raises(DatasetError) as e:
        fetch(spec.name)
    msg = str(e.value)
    assert "data.bin" in msg and url in msg and f"{what} " in msg and "corrupt" in msg
    assert not any((cache / spec.name).iterdir())


def test_http_404_names_file_url_checksum_and_manual_fix(server, dirs, temp_spec):
    data, _ = dirs
    url = server.url + "/missing.gz"
    spec = temp_spec(RemoteFile("missing.gz", url, SHA, 10))
    with pytest.raises(DatasetError) as e:
        fetch(spec.name)
    msg = str(e.value)
    for part in ["missing.gz", url, "HTTP 404", SHA, f"put missing.gz in $PMT_DATA_DIR/{spec.name}/",
                 str(data / spec.name)]:
        assert part in msg


def test_offline_server_gives_the_same_actionable_error(dirs, temp_spec):
    url = closed_port_url()
    spec = temp_spec(RemoteFile("data.bin", url, SHA, len(PAYLOAD)))
    with pytest.raises(DatasetError, match="could not download") as e:
        fetch(spec.name)
    assert url in str(e.value) and SHA in str(e.value) and "put data.bin in" in str(e.value)
    assert not (dirs[1] / spec.name).exists()  # a failed connection leaves nothing in the cache


def test_download_false_never_touches_the_network(server, dirs, temp_spec):
    spec = temp_spec(RemoteFile("data.bin", server.url + "/data.bin", SHA, len(PAYLOAD)))
    with pytest.raises(DatasetError, match="download disabled") as e:
        fetch(spec.name, download=False)
    assert server.url in str(e.value) and server.requests == []


def test_interrupted_download_is_kept_and_resumed_with_range(server, dirs, temp_spec):
    _, cache = dirs
    spec = temp_spec(RemoteFile("data.bin", server.url + "/data.bin", SHA, len(PAYLOAD)))
    server.cut_at = 4000
    with pytest.raises(DatasetError, match="4,000 bytes received so far are kept"):
        fetch(spec.name)
    part = cache / spec.name / "data.bin.part"
    assert part.stat().st_size == 4000 and not (cache / spec.name / "data.bin").exists()
    server.cut_at = None
    assert fetch(spec.name)["data.bin"].read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/data.bin", "bytes=4000-") and not part.exists()


def test_server_without_range_support_restarts_from_scratch(server, dirs, temp_spec):
    _, cache = dirs
    spec = temp_spec(RemoteFile("data.bin", server.url + "/data.bin", SHA, len(PAYLOAD)))
    server.range_ok = False
    (cache / spec.name).mkdir(parents=True)
    (cache / spec.name / "data.bin.part").write_bytes(b"garbage!" * 10)
    assert fetch(spec.name)["data.bin"].read_bytes() == PAYLOAD


def test_complete_partial_file_is_verified_without_a_new_body(server, dirs, temp_spec):
    _, cache = dirs
    spec = temp_spec(RemoteFile("data.bin", server.url + "/data.bin", SHA, len(PAYLOAD)))
    (cache / spec.name).mkdir(parents=True)
    (cache / spec.name / "data.bin.part").write_bytes(PAYLOAD)
    assert fetch(spec.name)["data.bin"].read_bytes() == PAYLOAD and server.requests == []


def test_unknown_sha256_is_accepted_by_size_with_a_warning(server, dirs, temp_spec):
    spec = temp_spec(RemoteFile("data.bin", server.url + "/data.bin", None, len(PAYLOAD)))
    with pytest.warns(UserWarning, match="no sha256 is known.*checked by size only"):
        fetch(spec.name)


# ----------------------------------------------------------------------------- local files

def test_data_dir_copy_is_preferred_over_cache_and_download(server, dirs, temp_spec):
    data, cache = dirs
    spec = temp_spec(RemoteFile("data.bin", server.url + "/data.bin", SHA, len(PAYLOAD)))
    for base, content in [(data, PAYLOAD), (cache, b"stale")]:
        (base / spec.name).mkdir(parents=True)
        (base / spec.name / "data.bin").write_bytes(content)
    assert fetch(spec.name) == {"data.bin": data / spec.name / "data.bin"}
    assert server.requests == []


def test_cache_copy_is_used_when_data_dir_lacks_the_file(dirs, temp_spec):
    _, cache = dirs
    spec = temp_spec(RemoteFile("data.bin", None, SHA, len(PAYLOAD)))
    (cache / spec.name).mkdir(parents=True)
    (cache / spec.name / "data.bin").write_bytes(PAYLOAD)
    assert fetch(spec.name)["data.bin"] == cache / spec.name / "data.bin"


def test_corrupt_data_dir_file_is_an_error_not_a_silent_download(server, dirs, temp_spec):
    data, _ = dirs
    spec = temp_spec(RemoteFile("data.bin", server.url + "/data.bin", SHA, len(PAYLOAD)))
    (data / spec.name).mkdir()
    (data / spec.name / "data.bin").write_bytes(PAYLOAD[:-1] + b"X")
    with pytest.raises(DatasetError, match=r"is not the expected .*/data.bin: sha256 [0-9a-f]{64}, expected"):
        fetch(spec.name)
    assert server.requests == []


def test_local_verification_is_cached_per_path_size_and_mtime(dirs, temp_spec, monkeypatch):
    data, _ = dirs
    spec = temp_spec(RemoteFile("data.bin", None, SHA, len(PAYLOAD)))
    (data / spec.name).mkdir()
    path = data / spec.name / "data.bin"
    path.write_bytes(PAYLOAD)
    calls = []
    real = datasets.sha256_of
    monkeypatch.setattr(datasets, "sha256_of", lambda p: calls.append(p) or real(p))
    fetch(spec.name)
    fetch(spec.name)
    assert len(calls) == 1
    path.write_bytes(PAYLOAD[::-1])  # same size, new content and mtime: checked again
    with pytest.raises(DatasetError):
        fetch(spec.name)


def test_local_only_file_error_says_there_is_no_download(dirs, temp_spec):
    spec = temp_spec(RemoteFile("eng.train", None, SHA, 5), how_to_get="license forbids redistribution")
    with pytest.raises(DatasetError) as e:
        fetch(spec.name)
    msg = str(e.value)
    assert "no public download URL" in msg and "license forbids redistribution" in msg
    assert f"put eng.train in $PMT_DATA_DIR/{spec.name}/" in msg and SHA in msg


def test_optional_files_are_returned_only_when_on_disk(dirs, temp_spec):
    data, _ = dirs
    spec = temp_spec(RemoteFile("a", None, SHA, len(PAYLOAD)), RemoteFile("b", None, optional=True))
    (data / spec.name).mkdir()
    (data / spec.name / "a").write_bytes(PAYLOAD)
    assert list(fetch(spec.name)) == ["a"]
    with pytest.raises(DatasetError, match="no public download URL"):
        fetch(spec.name, files=["b"])
    (data / spec.name / "b").write_bytes(b"anything")
    with pytest.warns(UserWarning, match="not verified"):
        assert list(fetch(spec.name)) == ["a", "b"]


def _idx_gz(labels, mtime):
    raw = struct.pack(">HBBI", 0, 8, 1, len(labels)) + labels.tobytes()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=mtime) as g:
        g.write(raw)
    return raw, buf.getvalue()


def test_validate_accepts_a_recompressed_idx_file_and_rejects_other_content(dirs, temp_spec):
    data, _ = dirs
    labels = np.arange(100, dtype=np.uint8) % 10
    raw, upstream = _idx_gz(labels, mtime=1)
    _, recompressed = _idx_gz(labels, mtime=2)   # other gzip bytes, same IDX content
    assert upstream != recompressed
    validate = idx_gz_validator((100,), hashlib.sha256(raw).hexdigest())
    spec = temp_spec(RemoteFile("l.gz", None, hashlib.sha256(upstream).hexdigest(), len(upstream),
                                validate=validate))
    path = data / spec.name / "l.gz"
    path.parent.mkdir()
    path.write_bytes(recompressed)
    np.testing.assert_array_equal(read_idx(fetch(spec.name)["l.gz"]), labels)
    _, other = _idx_gz(labels[::-1].copy(), mtime=1)
    path.write_bytes(other)
    with pytest.raises(DatasetError, match="content check failed: decompressed sha256"):
        fetch(spec.name)
    _, wrong_shape = _idx_gz(labels[:50].copy(), mtime=1)
    path.write_bytes(wrong_shape)
    with pytest.raises(DatasetError, match=r"header says .*\(50,\), expected uint8 \(100,\)"):
        fetch(spec.name)


# ----------------------------------------------------------------------------- archives

def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


def test_members_are_extracted_from_one_downloaded_archive(server, dirs, temp_spec):
    _, cache = dirs
    server.files["/D.zip"] = _zip({"D/train.tsv": b"h\n1\n", "D/dev.tsv": b"h\n2\n"})
    spec = temp_spec(RemoteFile("train.tsv", archive="D.zip", member="D/train.tsv"),
                     RemoteFile("dev.tsv", archive="D.zip", member="D/dev.tsv"),
                     archives=[RemoteFile("D.zip", server.url + "/D.zip")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # checksums unknown in this spec
        paths = fetch(spec.name)
    assert paths["train.tsv"].read_bytes() == b"h\n1\n" and paths["dev.tsv"].read_bytes() == b"h\n2\n"
    assert paths["train.tsv"].parent == cache / spec.name
    assert [r[0] for r in server.requests] == ["/D.zip"]  # downloaded once for both members


def test_missing_archive_member_is_reported(server, dirs, temp_spec):
    server.files["/D.zip"] = _zip({"D/other.tsv": b"x"})
    spec = temp_spec(RemoteFile("train.tsv", archive="D.zip", member="D/train.tsv"),
                     archives=[RemoteFile("D.zip", server.url + "/D.zip")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DatasetError, match=r"has no member 'D/train.tsv'.*D/other.tsv"):
            fetch(spec.name)


def test_extracted_member_failing_its_check_is_removed(server, dirs, temp_spec):
    _, cache = dirs
    server.files["/D.zip"] = _zip({"D/train.tsv": b"wrong header\n"})
    spec = temp_spec(RemoteFile("train.tsv", sha256="0" * 64, archive="D.zip", member="D/train.tsv",
                                validate=datasets.header_validator("id\tq")),
                     archives=[RemoteFile("D.zip", server.url + "/D.zip")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DatasetError, match="first line 'wrong header'"):
            fetch(spec.name)
    assert not (cache / spec.name / "train.tsv").exists()


@pytest.mark.parametrize("name,expected", [
    ("qqp", ["qqp/train.tsv", "https://dl.fbaipublicfiles.com/glue/data/QQP-clean.zip",
             "put train.tsv in", "(or QQP-clean.zip, which holds it)"]),
    ("conll2003", ["conll2003/eng.train", "no public download URL", "may not be redistributed",
                   "90f4cdcaf844d16a2981727ee793be3131af511057f778c63e5de338c15d97f1"]),
    ("text8", ["http://mattmahoney.net/dc/text8.zip", "sha256 unknown, 31,344,016 bytes"]),
])
def test_registry_errors_say_where_each_real_dataset_comes_from(dirs, name, expected):
    with pytest.raises(DatasetError) as e:
        fetch(name, download=False)
    for part in expected:
        assert part in str(e.value)


# ----------------------------------------------------------------------------- the real mirror

def test_mirror_mnist_passes_the_official_checksums():
    paths = require_dataset("mnist")
    assert sorted(paths) == sorted(f.filename for f in get_spec("mnist").files)
    assert read_idx(paths["train-labels-idx1-ubyte.gz"]).shape == (60000,)


def test_mirror_fashion_mnist_is_accepted_by_its_decompressed_content():
    paths = require_dataset("fashion-mnist")
    spec = get_spec("fashion-mnist")
    for name, path in paths.items():
        # the mirror's gzip bytes differ from upstream's: accepted through `validate`
        assert path.stat().st_size != spec.file(name).size
    np.testing.assert_array_equal(np.bincount(read_idx(paths["t10k-labels-idx1-ubyte.gz"])), [1000] * 10)


@pytest.mark.parametrize("name", ["analogy", "conll2003", "gutenberg8", "qqp"])
def test_mirror_text_datasets_match_the_registry(name):
    paths = require_dataset(name)
    assert set(paths) >= {f.filename for f in get_spec(name).files if not f.optional}


def test_verification_is_remembered_in_the_cache_across_processes(dirs, temp_spec, monkeypatch):
    data, cache = dirs
    spec = temp_spec(RemoteFile("data.bin", None, SHA, len(PAYLOAD)))
    (data / spec.name).mkdir()
    (data / spec.name / "data.bin").write_bytes(PAYLOAD)
    fetch(spec.name)
    assert (cache / datasets.STAMP_FILE).is_file()
    monkeypatch.setattr(datasets, "_VERIFIED", set())          # a new process: only the stamp file is left
    monkeypatch.setattr(datasets, "sha256_of", lambda p: pytest.fail("hashed again"))
    fetch(spec.name)


def test_a_read_only_cache_only_costs_a_recheck(dirs, temp_spec, monkeypatch):
    data, cache = dirs
    cache.write_text("not a folder")                            # nothing can be written under it
    spec = temp_spec(RemoteFile("data.bin", None, SHA, len(PAYLOAD)))
    (data / spec.name).mkdir()
    (data / spec.name / "data.bin").write_bytes(PAYLOAD)
    assert fetch(spec.name)["data.bin"].is_file()


@pytest.mark.parametrize("real,placed", [("mnist", "fashion-mnist"), ("fashion-mnist", "mnist")])
def test_one_datasets_files_in_the_others_folder_are_refused_naming_both_checksums(tmp_path, monkeypatch, real, placed):
    src = require_dataset(real, files=["t10k-labels-idx1-ubyte.gz"])["t10k-labels-idx1-ubyte.gz"]
    data = tmp_path / "data"
    monkeypatch.setenv("PMT_DATA_DIR", str(data))
    monkeypatch.setenv("PMT_CACHE", str(tmp_path / "cache"))
    (data / placed).mkdir(parents=True)
    (data / placed / src.name).symlink_to(src)
    with pytest.raises(DatasetError) as e:
        fetch(placed, files=[src.name], download=False)
    msg = str(e.value)
    expected = get_spec(placed).file(src.name).sha256
    assert f"is not the expected {placed}/{src.name}" in msg and f"expected {expected}" in msg
    assert f"sha256 {datasets.sha256_of(src)}" in msg
    if real == "mnist":     # the official file: recognised by its checksum
        assert f"(that is the sha256 of mnist/{src.name})" in msg
