"""A graph Module through both weight-file formats of pmt.core."""
import numpy as np
import pytest

from pmt.core import load_weights, save_weights, seed
from pmt.graph import Linear, Module, Tensor, no_grad


class Net(Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = Linear(4, 6), Linear(6, 2)

    def forward(self, x):
        return self.b(self.a(x).relu())


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_module_round_trip_restores_outputs(tmp_path, suffix):
    seed(0)
    a = Net()
    save_weights(tmp_path / f"w{suffix}", a)
    seed(1)
    b = Net()
    load_weights(tmp_path / f"w{suffix}", b)
    x = Tensor(np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32))
    with no_grad():
        np.testing.assert_array_equal(b(x).data, a(x).data)
