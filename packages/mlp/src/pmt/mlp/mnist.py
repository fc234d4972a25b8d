"""Loaders for MNIST and Fashion-MNIST: the same 28×28 grey images, 10 classes, same files.

Both are published as four gzip-compressed IDX files (`train-images-idx3-ubyte.gz`,
`train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`);
Keras ships MNIST as one `mnist.npz` with arrays `x_train, y_train, x_test, y_test`.
`load_mnist` reads either, from the folder you pass (as they are), or else through
`pmt.core.datasets.fetch(name)`: `$PMT_DATA_DIR/<name>/`, the cache (`$PMT_CACHE/<name>/`,
default `~/.cache/pmt/<name>/`) or a download, every file checked against the registry's
checksums on first use.

Example:
    >>> data = load_mnist("fashion-mnist")
    >>> data.x_train.shape, data.y_train.shape, data.x_test.shape
    ((60000, 784), (60000,), (10000, 784))
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from pmt.core.files import read_npz
from pmt.core.idx import read_idx

DATASETS = ("mnist", "fashion-mnist")
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
KERAS_NPZ = "mnist.npz"
CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


class MnistData(NamedTuple):
    """The four arrays of an MNIST-format dataset.

    Attributes:
        x_train: (60000, 784) float32 in [0, 1] (or (60000, 28, 28) with flatten=False; uint8 with scale=False).
        y_train: (60000,) int64 labels 0-9.
        x_test: (10000, 784), like x_train.
        y_test: (10000,) int64.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _find_files(folder: Path) -> dict | None:
    """{key: path} for the four IDX files (gzip or not) in `folder`, or {"npz": path}, or None."""
    found = {}
    for key, stem in FILES.items():
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found[key] = candidate
                break
    if len(found) == 4:
        return found
    if (folder / KERAS_NPZ).is_file():
        return {"npz": folder / KERAS_NPZ}
    return None


def _locate(name: str) -> dict:
    """The dataset's files through `pmt.core.datasets.fetch`, which checks them against the
    registry's checksums (so Fashion-MNIST files put in `mnist/` are refused, not trained on
    as MNIST) and downloads what is missing.  Keras' `mnist.npz`, which the registry does not
    know, is used only when a data folder holds no IDX file of the dataset at all."""
    from pmt.core import datasets
    roots = [Path(r) / name for r in (datasets.get_data_dir(), datasets.get_cache_dir()) if r is not None]
    has_idx = any((root / f"{stem}{ext}").is_file() for root in roots for stem in FILES.values() for ext in (".gz", ""))
    if not has_idx:
        for root in roots:
            if (root / KERAS_NPZ).is_file():
                return {"npz": root / KERAS_NPZ}
    paths = datasets.fetch(name)
    found = _find_files(Path(next(iter(paths.values()))).parent)
    if found is None:
        raise FileNotFoundError(f"load_mnist: fetch({name!r}) returned {sorted(paths)}, which are not "
                                f"the four IDX files {sorted(s + '.gz' for s in FILES.values())}")
    return found


def _check(arrays: dict, where) -> None:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"{where}: {split} images have shape {x.shape}, expected (n, 28, 28)")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{where}: {len(x)} {split} images but labels of shape {y.shape}")
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise ValueError(f"{where}: {split} labels must lie in 0-9, got {y.min()}..{y.max()}")


def load_mnist(name: str = "mnist", data_dir=None, flatten: bool = True, scale: bool = True,
               dtype=np.float32) -> MnistData:
    """Load MNIST or Fashion-MNIST (IDX `.gz` files or Keras' `mnist.npz`).

    Args:
        name: "mnist" or "fashion-mnist".
        data_dir: a folder holding the files (or the path of an `.npz`); default: see module.
        flatten: images as (n, 784) rows (True) or (n, 28, 28).
        scale: pixels as `dtype` in [0, 1] (pixel / 255); False keeps uint8 0-255.
        dtype: floating dtype of the scaled images.

    Returns:
        MnistData(x_train, y_train, x_test, y_test); labels are int64.

    Raises:
        ValueError: unknown name, or files of the wrong shape.  FileNotFoundError: no files.
    """
    if name not in DATASETS:
        raise ValueError(f"load_mnist: name must be one of {DATASETS}, got {name!r}")
    if data_dir is None:
        files = _locate(name)
        where = next(iter(files.values())).parent
    else:
        data_dir = Path(data_dir)
        files = {"npz": data_dir} if data_dir.suffix == ".npz" and data_dir.is_file() else _find_files(data_dir)
        where = data_dir
        if files is None:
            raise FileNotFoundError(f"load_mnist: {data_dir} holds neither the four IDX files nor {KERAS_NPZ}")
    if "npz" in files:
        z = read_npz(files["npz"])      # member sizes checked before anything is allocated
        missing = [k for k in FILES if k not in z]
        if missing:
            raise ValueError(f"{files['npz']}: missing arrays {missing}; expected {list(FILES)}")
        arrays = {k: z[k] for k in FILES}
    else:
        arrays = {k: read_idx(p) for k, p in files.items()}
    _check(arrays, where)
    out = {}
    for key, a in arrays.items():
        if key.startswith("y"):
            out[key] = a.astype(np.int64)
            continue
        if flatten:
            a = a.reshape(len(a), -1)
        out[key] = scale_pixels(a, dtype) if scale else a
    return MnistData(**out)


def scale_pixels(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """uint8 pixels 0-255 -> `dtype` in [0, 1] (pixel / 255), any shape.

    Example:
        >>> scale_pixels(np.array([[0, 255]], np.uint8))
        array([[0., 1.]], dtype=float32)
    """
    # One pass, straight to the float dtype: no float64 intermediate of 188 MB.
    return np.multiply(images, np.dtype(dtype).type(1 / 255), dtype=dtype)
