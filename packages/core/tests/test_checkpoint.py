import json

import numpy as np
import pytest

from pmt.core import SGD, Adam, CheckpointError, load_checkpoint, save_checkpoint
from pmt.core.examples.linear_demo import LinearClassifier


def trained(tmp_path, opt_cls=Adam):
    model = LinearClassifier(3, 2, rng=np.random.default_rng(0))
    opt = opt_cls(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = np.ones_like(p.data)
    opt.step()
    return model, opt


def test_round_trip_restores_model_optimizer_and_meta(tmp_path):
    model, opt = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model, opt, epoch=3, history={"loss": [np.float32(0.5)]},
                           note="x")
    fresh = LinearClassifier(3, 2, rng=np.random.default_rng(1))
    fresh_opt = Adam(fresh.parameters(), lr=0.5)
    meta = load_checkpoint(path, fresh, fresh_opt)
    np.testing.assert_array_equal(fresh.W.data, model.W.data)
    np.testing.assert_array_equal(fresh.b.data, model.b.data)
    assert fresh_opt.t == 1 and fresh_opt.lr == 0.1
    np.testing.assert_array_equal(fresh_opt.state[0]["m"], opt.state[0]["m"])
    assert meta["epoch"] == 3 and meta["note"] == "x" and meta["history"] == {"loss": [0.5]}
    assert meta["format"] == "pmt-checkpoint" and meta["version"] == 1


def test_file_layout_is_plain_arrays_with_json_meta(tmp_path):
    model, opt = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model, opt, epoch=1)
    with np.load(path, allow_pickle=False) as z:
        assert {"model/W", "model/b", "meta", "optim/lr", "optim/t"} <= set(z.files)
        meta = json.loads(z["meta"].tobytes().decode())
    assert meta["optimizer"] == {"type": "Adam", "num_params": 2}


def test_model_only_checkpoint_and_meta_without_model(tmp_path):
    model, _ = trained(tmp_path)
    path = save_checkpoint(tmp_path / "sub" / "m.npz", model)
    assert path.exists()
    assert load_checkpoint(path)["optimizer"] is None


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    model, opt = trained(tmp_path)
    save_checkpoint(tmp_path / "a.npz", model, opt)
    save_checkpoint(tmp_path / "a.npz", model, opt, epoch=2)  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]
    assert load_checkpoint(tmp_path / "a.npz")["epoch"] == 2


def test_failed_save_keeps_the_previous_file(tmp_path):
    model, opt = trained(tmp_path)
    save_checkpoint(tmp_path / "a.npz", model, opt, epoch=1)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "a.npz", model, opt, epoch=object())
    assert load_checkpoint(tmp_path / "a.npz")["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_checkpoint_raises_checkpoint_error(tmp_path, keep):
    model, opt = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model, opt, epoch=1)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="a.npz.*truncated or corrupt"):
        load_checkpoint(path, model, opt)


def test_corrupted_bytes_raise_checkpoint_error(tmp_path):
    model, _ = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model)
    data = bytearray(path.read_bytes())
    start = data.find(b"\x93NUMPY")  # inside the first array member
    data[start + 130:start + 134] = b"\xff" * 4  # past the 128-byte .npy header: array bytes
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="truncated or corrupt.*CRC"):
        load_checkpoint(path, model)


def test_non_checkpoint_npz_raises(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a PMT checkpoint"):
        load_checkpoint(tmp_path / "other.npz")


def test_wrong_format_tag_and_future_version_raise(tmp_path):
    meta = np.frombuffer(json.dumps({"format": "something"}).encode(), np.uint8)
    np.savez(tmp_path / "a.npz", meta=meta)
    with pytest.raises(CheckpointError, match="format tag 'something'"):
        load_checkpoint(tmp_path / "a.npz")
    meta = np.frombuffer(json.dumps({"format": "pmt-checkpoint", "version": 99}).encode(), np.uint8)
    np.savez(tmp_path / "b.npz", meta=meta)
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "b.npz")


def test_missing_file_raises(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.npz")


class TwoArrays:
    def __init__(self, shapes):
        self.arrays = {k: np.zeros(s, np.float32) for k, s in shapes.items()}

    def state_dict(self):
        return self.arrays

    def load_state_dict(self, d):
        self.arrays = dict(d)


def test_model_key_mismatch_lists_missing_unexpected_and_misshaped(tmp_path):
    path = save_checkpoint(tmp_path / "a.npz", TwoArrays({"W": (3, 2), "b": (2,), "old": (1,)}))
    other = TwoArrays({"W": (3, 4), "b": (2,), "new": (5,)})
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, other)
    msg = str(e.value)
    assert "missing keys ['new']" in msg and "unexpected keys ['old']" in msg
    assert "W: file (3, 2) vs model (3, 4)" in msg and "a.npz" in msg
    assert other.arrays["W"].shape == (3, 4)  # nothing was loaded


def test_optimizer_type_mismatch_raises(tmp_path):
    model, opt = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model, opt)
    with pytest.raises(CheckpointError, match="file holds Adam state, got a SGD"):
        load_checkpoint(path, model, SGD(model.parameters(), lr=0.1))


def test_optimizer_parameter_count_mismatch_raises(tmp_path):
    model, opt = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model, opt)
    with pytest.raises(CheckpointError, match="state for 2 parameters, the optimizer has 1"):
        load_checkpoint(path, model, Adam([model.W]))


def test_optimizer_requested_but_not_saved_raises(tmp_path):
    model, opt = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(path, model, opt)


def test_optimizer_state_shape_mismatch_is_wrapped(tmp_path):
    model, opt = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model, opt)
    other = LinearClassifier(5, 2)
    with pytest.raises(CheckpointError, match="optimizer.load_state_dict failed"):
        load_checkpoint(path, None, Adam(other.parameters()))


def test_reserved_meta_keys_are_rejected(tmp_path):
    model, _ = trained(tmp_path)
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "a.npz", model, format="x")


def test_object_arrays_are_refused_at_save_time(tmp_path):
    with pytest.raises(TypeError, match="model state 'W' is an object array"):
        save_checkpoint(tmp_path / "a.npz", _ObjModel())
    assert not list(tmp_path.iterdir())


class _ObjModel:
    def state_dict(self):
        return {"W": np.array([1, None], dtype=object)}


def test_nonfinite_weights_are_never_saved_and_the_old_file_stays(tmp_path):
    from pmt.core import DivergenceError
    model, opt = trained(tmp_path)
    save_checkpoint(tmp_path / "a.npz", model, opt, epoch=1)
    model.W.data[0, 0] = np.nan
    with pytest.raises(DivergenceError, match=r"refusing to save .*a.npz: the model: W holds 1 NaN/inf"):
        save_checkpoint(tmp_path / "a.npz", model, opt, epoch=2)
    assert load_checkpoint(tmp_path / "a.npz")["epoch"] == 1


def test_nonfinite_weights_are_refused_on_load_unless_asked(tmp_path):
    model, opt = trained(tmp_path)
    model.b.data[:] = np.inf
    path = save_checkpoint(tmp_path / "nan.npz", model, allow_nonfinite=True)
    fresh = LinearClassifier(3, 2)
    with pytest.raises(CheckpointError, match=r"nan.npz: b holds 2 NaN/inf values of 2.*allow_nonfinite=True"):
        load_checkpoint(path, fresh)
    load_checkpoint(path, fresh, allow_nonfinite=True)
    assert np.isinf(fresh.b.data).all()


def test_checkpoint_gets_the_mode_of_the_other_files(tmp_path):
    import os
    import stat
    from pmt.core.files import file_mode
    model, _ = trained(tmp_path)
    path = save_checkpoint(tmp_path / "m.npz", model)
    assert stat.S_IMODE(os.stat(path).st_mode) == file_mode()


def test_checkpoint_meta_reads_only_the_metadata(tmp_path):
    from pmt.core.checkpoint import checkpoint_meta
    model, opt = trained(tmp_path)
    path = save_checkpoint(tmp_path / "a.npz", model, opt, epoch=4)
    assert checkpoint_meta(path)["epoch"] == 4
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="junk.npz"):
        checkpoint_meta(tmp_path / "junk.npz")
