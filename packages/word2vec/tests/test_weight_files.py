"""Word vectors through both weight-file formats of pmt.core."""
import numpy as np
import pytest

from pmt.core import load_weights, save_weights
from pmt.word2vec import NegativeSamplingModel


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_negative_sampling_model_round_trip(tmp_path, suffix):
    a = NegativeSamplingModel(20, 8, rng=np.random.default_rng(0))
    a.embed_out.weight.data[...] = np.random.default_rng(1).normal(size=(20, 8))   # W_out starts at 0
    save_weights(tmp_path / f"w{suffix}", a)
    b = NegativeSamplingModel(20, 8, rng=np.random.default_rng(2))
    load_weights(tmp_path / f"w{suffix}", b)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
