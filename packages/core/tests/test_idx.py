import gzip
import struct

import numpy as np
import pytest

from pmt.core.idx import IDXError, read_idx
from pmt.core.testing import require_dataset


def write_idx(path, arr, type_code, compress=False, extra=b"", cut=0):
    """IDX bytes written independently of the reader: header by struct, data big-endian."""
    header = struct.pack(">HBB", 0, type_code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes() + extra
    raw = raw[:len(raw) - cut]
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                        (np.int32, 0x0C), (np.float32, 0x0D), (np.float64, 0x0E)])
def test_round_trips_every_type_gzip_or_not(tmp_path, dtype, code, compress):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a.idx", arr, code, compress))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.shape == (3, 4, 5) and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_reads_one_dimensional_labels(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "l", labels, 0x08, True)), labels)


def test_bad_magic_is_named(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x00\x00\x07\x01" + b"\x00" * 8)
    with pytest.raises(IDXError, match=r"bad IDX magic number 0x00000701"):
        read_idx(p)
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 8)
    with pytest.raises(ValueError, match="bad IDX magic"):
        read_idx(p)


def test_truncated_header_is_reported(tmp_path):
    p = tmp_path / "short"
    p.write_bytes(struct.pack(">HBB", 0, 8, 3) + struct.pack(">I", 5))
    with pytest.raises(IDXError, match="truncated IDX header"):
        read_idx(p)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data_is_reported_with_expected_shape(tmp_path, compress):
    p = write_idx(tmp_path / "t", np.zeros((4, 3), np.int32), 0x0C, compress, cut=5)
    with pytest.raises(IDXError, match=r"truncated IDX data: header says shape \(4, 3\)"):
        read_idx(p)


def test_trailing_bytes_mean_wrong_size(tmp_path):
    p = write_idx(tmp_path / "x", np.zeros(6, np.uint8), 0x08, extra=b"\x01")
    with pytest.raises(IDXError, match="wrong size"):
        read_idx(p)


def test_cut_gzip_stream_is_reported_as_corrupt(tmp_path):
    p = write_idx(tmp_path / "g", np.arange(1000, dtype=np.uint8), 0x08, compress=True)
    p.write_bytes(p.read_bytes()[:-12])  # drop the gzip trailer and some data
    with pytest.raises(IDXError):
        read_idx(p)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


def test_real_mnist_test_set_has_published_shapes_and_label_counts():
    paths = require_dataset("mnist", files=["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
    x = read_idx(paths["t10k-images-idx3-ubyte.gz"])
    y = read_idx(paths["t10k-labels-idx1-ubyte.gz"])
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and x.max() == 255
    np.testing.assert_array_equal(np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dims", [(2**31, 2**31, 2**10), (60000, 28, 28)])
def test_a_header_announcing_more_than_the_file_holds_is_refused_before_allocating(tmp_path, compress, dims,
                                                                                    monkeypatch):
    path = tmp_path / "huge"
    raw = struct.pack(">HBB", 0, 0x08, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + b"\0" * 14
    path.write_bytes(gzip.compress(raw) if compress else raw)
    monkeypatch.setattr(np, "empty", lambda *a, **k: pytest.fail("allocated"))
    with pytest.raises(IDXError, match=r"huge: truncated IDX data: header says shape"):
        read_idx(path)


def test_a_tiny_gzip_is_a_clear_error(tmp_path):
    (tmp_path / "t.gz").write_bytes(b"\x1f\x8b\x08")
    with pytest.raises(IDXError, match="truncated gzip"):
        read_idx(tmp_path / "t.gz")
