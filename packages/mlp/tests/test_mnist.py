import gzip
import struct

import numpy as np
import pytest

from pmt.core.testing import require_dataset
from pmt.mlp.mnist import FILES, load_mnist


def write_idx(path, array, compress=True):
    """An IDX file as the format defines it: magic 0x0000 08 ndim, big-endian sizes, uint8 data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def fake_arrays(n_train=6, n_test=4, side=28):
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
            "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
            "y_test": rng.integers(0, 10, n_test).astype(np.uint8)}


@pytest.mark.parametrize("compress", [True, False])
def test_reads_idx_files_gzipped_or_not(tmp_path, compress):
    arrays = fake_arrays()
    for key, stem in FILES.items():
        write_idx(tmp_path / (stem + (".gz" if compress else "")), arrays[key], compress)
    data = load_mnist("mnist", data_dir=tmp_path)
    assert data.x_train.shape == (6, 784) and data.x_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train, arrays["x_train"].reshape(6, -1) / 255, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])
    assert data.y_test.dtype == np.int64


def test_reads_keras_npz_from_a_folder_or_a_path(tmp_path):
    arrays = fake_arrays()
    np.savez(tmp_path / "mnist.npz", **arrays)
    a = load_mnist("mnist", data_dir=tmp_path, flatten=False, scale=False)
    b = load_mnist("mnist", data_dir=tmp_path / "mnist.npz", flatten=False, scale=False)
    np.testing.assert_array_equal(a.x_train, arrays["x_train"])
    np.testing.assert_array_equal(b.x_test, arrays["x_test"])


def test_finds_files_under_pmt_data_dir(tmp_path, monkeypatch):
    (tmp_path / "fashion-mnist").mkdir()
    np.savez(tmp_path / "fashion-mnist" / "mnist.npz", **fake_arrays())
    monkeypatch.setenv("PMT_DATA_DIR", str(tmp_path))
    assert load_mnist("fashion-mnist").x_test.shape == (4, 784)


def test_rejects_unknown_dataset_and_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_mnist("cifar10")
    with pytest.raises(FileNotFoundError, match="neither the four IDX files nor mnist.npz"):
        load_mnist("mnist", data_dir=tmp_path)


def test_rejects_images_of_the_wrong_size(tmp_path):
    np.savez(tmp_path / "mnist.npz", **fake_arrays(side=27))
    with pytest.raises(ValueError, match=r"train images have shape \(6, 27, 27\), expected \(n, 28, 28\)"):
        load_mnist("mnist", data_dir=tmp_path)


def test_rejects_npz_missing_arrays(tmp_path):
    arrays = fake_arrays()
    del arrays["y_test"]
    np.savez(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(ValueError, match=r"missing arrays \['y_test'\]"):
        load_mnist("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("name,train_counts", [
    ("mnist", [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
    ("fashion-mnist", [6000] * 10),
])
def test_loads_the_real_datasets_unchanged(name, train_counts):
    folder = next(iter(require_dataset(name).values())).parent
    data = load_mnist(name, data_dir=folder)
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert data.x_train.min() == 0 and data.x_train.max() == 1
    np.testing.assert_array_equal(np.bincount(data.y_train), train_counts)
    assert len(np.unique(data.y_test)) == 10
