"""A Sequential's weights and buffers through both weight-file formats of pmt.core."""
import numpy as np
import pytest

from pmt.core import load_weights, save_weights, seed
from pmt.mlp import BatchNorm1d, Dense, ReLU, Sequential


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_sequential_round_trip_restores_outputs(tmp_path, suffix):
    seed(0)
    make = lambda: Sequential([Dense(6), BatchNorm1d(), ReLU(), Dense(3)], input_shape=(4,))  # noqa: E731
    a = make()
    a.forward(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))   # moves BatchNorm's running stats
    a.eval()
    save_weights(tmp_path / f"w{suffix}", a)
    seed(1)
    b = make()
    load_weights(tmp_path / f"w{suffix}", b)
    b.eval()
    x = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(b.forward(x), a.forward(x))
