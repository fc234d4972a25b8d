"""safetensors writer and reader, against files built by hand from the format's specification."""
import json
import struct

import numpy as np
import pytest

from pmt.core.checkpoint import CheckpointError
from pmt.core.safetensors import (MAX_HEADER_BYTES, SafetensorsError, load_safetensors, safetensors_metadata,
                                  save_safetensors)


def build(path, header, data=b"", length=None, pad=0):
    """A file as the specification lays it out: u64 LE header length, JSON header, data area."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode("utf-8")
    text += b" " * pad
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)
    return path


def test_reads_a_hand_built_file(tmp_path):
    header = {"__metadata__": {"format": "pt"},
              "b": {"dtype": "I64", "shape": [], "data_offsets": [8, 16]},
              "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
    data = struct.pack("<2f", 1.0, -2.5) + struct.pack("<q", -7)
    f = build(tmp_path / "x.safetensors", header, data, pad=5)   # trailing spaces are allowed
    out = load_safetensors(f)
    assert list(out) == ["b", "a"]
    np.testing.assert_array_equal(out["a"], np.array([1.0, -2.5], np.float32))
    assert out["b"].shape == () and out["b"].dtype == np.int64 and out["b"] == -7
    assert safetensors_metadata(f) == {"format": "pt"}


def test_bf16_is_read_as_float32(tmp_path):
    # bfloat16 1.5 is the float32 0x3FC00000 cut to its high half, 0x3FC0; -2.0 is 0xC000.
    f = build(tmp_path / "b.safetensors", {"h": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}},
              struct.pack("<2H", 0x3FC0, 0xC000))
    out = load_safetensors(f)["h"]
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.5, -2.0])


ALL_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.uint32, np.int32, np.float32,
              np.uint64, np.int64, np.float64]


def test_round_trip_of_every_dtype_shape_and_metadata(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {f"t{i}": (rng.random((3, 2)) * 100).astype(dt) for i, dt in enumerate(ALL_DTYPES)}
    tensors["scalar"] = np.float32(3.25)
    tensors["empty"] = np.zeros((4, 0), np.float32)
    path = save_safetensors(tmp_path / "sub" / "r.safetensors", tensors, {"epoch": "3", "note": "é"})
    out = load_safetensors(path)
    assert set(out) == set(tensors)
    for k, v in tensors.items():
        assert out[k].dtype == np.asarray(v).dtype and out[k].shape == np.shape(v)
        np.testing.assert_array_equal(out[k], v)
    assert safetensors_metadata(path) == {"epoch": "3", "note": "é"}
    out["t8"][0, 0] = 1.0                                          # loaded arrays are writable


def test_written_layout_follows_the_specification(tmp_path):
    path = save_safetensors(tmp_path / "l.safetensors",
                            {"small": np.arange(3, dtype=np.int8), "big": np.arange(2, dtype=np.float64)})
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert (8 + n) % 8 == 0                                        # data area 8-aligned
    header = json.loads(raw[8:8 + n])
    assert raw[8:9] == b"{" and "__metadata__" not in header
    # Largest itemsize first, so each tensor starts at a multiple of its itemsize.
    assert header["big"] == {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}
    assert header["small"] == {"dtype": "I8", "shape": [3], "data_offsets": [16, 19]}
    assert raw[8 + n:] == struct.pack("<2d", 0.0, 1.0) + bytes([0, 1, 2])


def test_big_endian_and_strided_arrays_are_stored_as_little_endian_c_order(tmp_path):
    big = np.arange(6, dtype=">i4").reshape(2, 3)
    strided = np.arange(12, dtype=np.float32).reshape(3, 4).T     # Fortran-ordered view
    path = save_safetensors(tmp_path / "e.safetensors", {"big": big, "strided": strided})
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    offsets = json.loads(raw[8:8 + n])["big"]["data_offsets"]
    assert raw[8 + n + offsets[0]:8 + n + offsets[1]] == struct.pack("<6i", *range(6))
    out = load_safetensors(path)
    np.testing.assert_array_equal(out["big"], big)
    np.testing.assert_array_equal(out["strided"], strided)


@pytest.mark.parametrize("tensors, metadata, problem", [
    ({"x": np.array([object()])}, None, "dtype object"),
    ({"x": np.ones(2, np.complex64)}, None, "dtype complex64"),
    ({"x": np.array(["a"])}, None, "dtype <U1"),
    ({"__metadata__": np.ones(2)}, None, "names must be strings"),
    ({3: np.ones(2)}, None, "names must be strings"),
    ({"x": np.ones(2)}, {"epoch": 3}, "str -> str"),
    ({"x": np.ones(2)}, ["not", "a", "dict"], "dict of str -> str"),
])
def test_save_refuses_what_the_format_cannot_hold_and_leaves_the_old_file(tmp_path, tensors, metadata, problem):
    path = save_safetensors(tmp_path / "keep.safetensors", {"old": np.ones(1, np.float32)})
    before = path.read_bytes()
    with pytest.raises(SafetensorsError, match=problem) as e:
        save_safetensors(path, tensors, metadata)
    assert "keep.safetensors" in str(e.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]   # no temp file left


F32_2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
DATA8 = bytes(8)


@pytest.mark.parametrize("header, data, length, problem", [
    (b"", b"", None, None),                                               # replaced: 5-byte file
    ({"a": F32_2}, DATA8, 10**6, "runs past the end of the file"),
    ({"a": F32_2}, DATA8, MAX_HEADER_BYTES + 1, "exceeds the limit"),
    (b"\xff\xfe{}", b"", None, "not UTF-8"),
    (b"[1, 2]", b"", None, "JSON object starting with"),
    (b'{"a": {"dtype": "F32",', DATA8, None, "not valid JSON"),
    (b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {}}', DATA8, None, "key 'a' twice"),
    (b'{"a": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 8]}}', DATA8, None, "non-JSON constant NaN"),
    ({"__metadata__": {"epoch": 3}, "a": F32_2}, DATA8, None, "__metadata__ must map strings to strings"),
    ({"__metadata__": "text", "a": F32_2}, DATA8, None, "__metadata__ must map strings to strings"),
    ({"a": [1, 2]}, DATA8, None, "entry must be an object"),
    ({"a": {"dtype": "F32", "shape": [2]}}, DATA8, None, r"missing \['data_offsets'\]"),
    ({"a": {**F32_2, "offsets": [0, 8]}}, DATA8, None, r"unexpected \['offsets'\]"),
    ({"a": {**F32_2, "dtype": "F8_E4M3"}}, DATA8, None, "unknown or unsupported dtype 'F8_E4M3'"),
    ({"a": {**F32_2, "dtype": ["F32"]}}, DATA8, None, "unknown or unsupported dtype"),
    ({"a": {**F32_2, "shape": [-2]}}, DATA8, None, "non-negative integers"),
    ({"a": {**F32_2, "shape": [2.0]}}, DATA8, None, "non-negative integers"),
    ({"a": {**F32_2, "shape": [True, 2]}}, DATA8, None, "non-negative integers"),
    ({"a": {**F32_2, "data_offsets": [8, 0]}}, DATA8, None, "0 <= begin <= end"),
    ({"a": {**F32_2, "data_offsets": [0, 8, 16]}}, DATA8, None, "0 <= begin <= end"),
    ({"a": {**F32_2, "data_offsets": [-8, 0]}}, DATA8, None, "0 <= begin <= end"),
    ({"a": {**F32_2, "shape": [3]}}, DATA8, None, "needs 12 bytes, data_offsets \\[0, 8\\] hold 8"),
    ({"a": {**F32_2, "shape": [4], "data_offsets": [0, 16]}}, DATA8, None, "run past the end of the data area"),
    ({"a": F32_2, "b": {**F32_2, "data_offsets": [4, 12]}}, bytes(12), None, "'a' and 'b' overlap"),
    ({"a": F32_2, "b": {**F32_2, "data_offsets": [12, 20]}}, bytes(20), None, r"bytes \[8, 12\) .* no tensor"),
    ({"a": {**F32_2, "data_offsets": [4, 12]}}, bytes(12), None, r"bytes \[0, 4\) .* no tensor"),
    ({"a": F32_2}, bytes(11), None, "last 3 bytes of the data area"),
])
def test_malformed_files_are_refused_with_the_file_and_the_problem(tmp_path, header, data, length, problem):
    path = tmp_path / "bad.safetensors"
    if problem is None:
        path.write_bytes(b"\x05\x00\x00\x00\x00")
        problem = "too short"
    else:
        build(path, header, data, length)
    for read in (load_safetensors, safetensors_metadata):
        with pytest.raises(SafetensorsError, match=problem) as e:
            read(path)
        assert str(e.value).startswith(str(path))


def test_missing_file_is_a_checkpoint_error_naming_it(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_safetensors(tmp_path / "nope.safetensors")
