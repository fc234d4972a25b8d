"""save_weights / load_weights: one call for both weight formats, chosen by extension or by name."""
import numpy as np
import pytest

from pmt.core.checkpoint import CheckpointError, load_checkpoint
from pmt.core.examples.linear_demo import LinearClassifier
from pmt.core.safetensors import load_safetensors, save_safetensors
from pmt.core.weights import load_weights, save_weights, weights_format


def model(seed):
    return LinearClassifier(5, 3, rng=np.random.default_rng(seed))


@pytest.mark.parametrize("name, fmt", [("w.npz", None), ("w.safetensors", None), ("w.bin", "safetensors"),
                                       ("w.weights", "npz")])
def test_round_trip_in_either_format_restores_every_weight(tmp_path, name, fmt):
    a, b = model(0), model(1)
    save_weights(tmp_path / name, a, format=fmt, metadata={"task": "demo"})
    meta = load_weights(tmp_path / name, b, format=fmt)
    assert meta["task"] == "demo"
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)


def test_the_extension_decides_the_bytes_on_disk(tmp_path):
    a = model(0)
    save_weights(tmp_path / "w.safetensors", a)
    np.testing.assert_array_equal(load_safetensors(tmp_path / "w.safetensors")["W"], a.W.data)
    save_weights(tmp_path / "w.npz", a)
    assert load_checkpoint(tmp_path / "w.npz")["format"] == "pmt-checkpoint"   # a PMT checkpoint


def test_unknown_extension_or_format_is_refused():
    with pytest.raises(ValueError, match="cannot tell the weights format from the extension '.pt'"):
        weights_format("model.pt")
    with pytest.raises(ValueError, match="must be one of"):
        weights_format("model.npz", "onnx")


def test_a_file_that_does_not_fit_the_model_leaves_it_untouched(tmp_path):
    save_safetensors(tmp_path / "w.safetensors", {"W": np.ones((4, 3), np.float32), "c": np.ones(3, np.float32)})
    m = model(0)
    before = m.W.data.copy()
    with pytest.raises(CheckpointError, match=r"missing keys \['b'\].*unexpected keys \['c'\].*W: file \(4, 3\)"):
        load_weights(tmp_path / "w.safetensors", m)
    np.testing.assert_array_equal(m.W.data, before)


def test_integer_tensors_for_float_parameters_are_refused(tmp_path):
    save_safetensors(tmp_path / "w.safetensors", {"W": np.ones((5, 3), np.int32), "b": np.ones(3, np.float32)})
    with pytest.raises(CheckpointError, match="non-float tensors: W: int32"):
        load_weights(tmp_path / "w.safetensors", model(0))


@pytest.mark.parametrize("name", ["w.npz", "w.safetensors"])
def test_nan_weights_are_refused_in_either_format_unless_asked(tmp_path, name):
    a = model(0)
    a.W.data[1, 2] = np.nan
    if name.endswith(".npz"):
        save_weights(tmp_path / name, model(0))     # save_checkpoint refuses NaN: write a good one, then spoil it
        np.savez(tmp_path / name, **{**dict(np.load(tmp_path / name)), "model/W": a.W.data})
    else:
        save_safetensors(tmp_path / name, a.state_dict())
    b = model(1)
    before = b.W.data.copy()
    with pytest.raises(CheckpointError, match=r"W holds 1 NaN/inf value of 15.*allow_nonfinite=True"):
        load_weights(tmp_path / name, b)
    np.testing.assert_array_equal(b.W.data, before)
    load_weights(tmp_path / name, b, allow_nonfinite=True)
    assert np.isnan(b.W.data[1, 2])


def test_metadata_must_be_strings(tmp_path):
    with pytest.raises(TypeError, match="str -> str"):
        save_weights(tmp_path / "w.npz", model(0), metadata={"epoch": 3})


def test_weight_file_functions_are_exported_by_pmt_core():
    import pmt.core
    for name in ("save_weights", "load_weights", "save_safetensors", "load_safetensors", "safetensors_metadata",
                 "SafetensorsError"):
        assert hasattr(pmt.core, name), name
