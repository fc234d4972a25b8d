"""Atomic writes with the ordinary file mode, and .npz members checked before allocation."""
import os
import stat
import zipfile

import numpy as np
import pytest

from pmt.core.files import NpzError, atomic_open, atomic_write, file_mode, read_npz


def test_atomic_write_gives_the_mode_of_an_ordinary_file_and_leaves_no_temp(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write(tmp_path / "sub" / "a.json", "{}")
    assert (tmp_path / "sub" / "a.json").read_text() == "{}"
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "a.json").st_mode) == stat.S_IMODE(plain.stat().st_mode) == file_mode()
    assert os.listdir(tmp_path / "sub") == ["a.json"]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "v.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(target) as f:
            f.write(b"new half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["v.bin"]


def test_read_npz_round_trip_and_member_selection(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.arange(6).reshape(2, 3), meta=np.frombuffer(b"{}", np.uint8))
    got = read_npz(tmp_path / "a.npz")
    assert set(got) == {"x", "meta"} and got["x"].shape == (2, 3)
    assert set(read_npz(tmp_path / "a.npz", members=["meta"])) == {"meta"}


def _forge(path, shape):
    """An .npz whose member announces `shape` but stores 8 bytes of data."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = shape
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", buf.getvalue() + b"\0" * 8)


@pytest.mark.parametrize("shape", [(2**40,), (2**20, 2**20), (3,)])
def test_a_member_announcing_more_than_it_holds_is_refused_before_allocation(tmp_path, shape):
    _forge(tmp_path / "bad.npz", shape)
    with pytest.raises(NpzError, match=r"bad.npz: member 'w.npy' announces shape .* holds 8 bytes"):
        read_npz(tmp_path / "bad.npz")


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_garbage_is_an_npz_error_naming_the_file(tmp_path, content):
    (tmp_path / "g.npz").write_bytes(content)
    with pytest.raises(NpzError, match="g.npz"):
        read_npz(tmp_path / "g.npz")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        read_npz(tmp_path / "nope.npz")
    with pytest.raises(NpzError, match="is a folder"):
        read_npz(tmp_path)


def test_object_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "o.npz", o=np.array([{"a": 1}], dtype=object))
    with pytest.raises(NpzError, match="pickle"):
        read_npz(tmp_path / "o.npz")
