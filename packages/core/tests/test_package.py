"""The package surface (__init__ re-exports) and the runnable example behind `make demo`."""
import subprocess
import sys

import numpy as np
import pytest

import pmt.core
from pmt.core.gradcheck import numerical_gradient
from pmt.core.examples import linear_demo
from pmt.core.examples.linear_demo import LinearClassifier, make_blobs, softmax_cross_entropy

PUBLIC = """Parameter SparseRows SGD Adam AdamW RMSProp Adagrad Optimizer clip_grad_norm
seed get_rng get_rng_state set_rng_state Constant StepDecay Exponential Cosine WarmupLinear WarmupCosine
InverseSqrt Schedule Trainer History DivergenceError Callback EarlyStopping ModelCheckpoint
LRSchedulerCallback PlotHistory accuracy precision recall f1_score confusion_matrix save_checkpoint
load_checkpoint CheckpointError plot_history batches Rewindable bucket_batches pad_sequences fetch
register DatasetSpec RemoteFile DatasetError read_idx checkpoint_meta check_finite atomic_write read_npz
GracefulInterrupt Progress RunFolder newest_checkpoint train_valid_split""".split()


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_is_exported(name):
    assert hasattr(pmt.core, name)


def test_version_string():
    assert pmt.core.__version__.count(".") == 2


def test_importing_pmt_core_does_not_import_pyplot():
    code = "import sys, pmt.core; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------- the example model
def test_softmax_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5, 4))
    y = rng.integers(0, 4, 5)
    _, g = softmax_cross_entropy(z, y)
    np.testing.assert_allclose(g, numerical_gradient(lambda: softmax_cross_entropy(z, y)[0], z), atol=1e-8)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    loss, g = softmax_cross_entropy(np.array([[1e4, 0.0], [0.0, 1e4]]), np.array([0, 0]))
    assert np.isfinite(loss) and loss == pytest.approx(0.5e4) and np.all(np.isfinite(g))


@pytest.mark.parametrize("bad,err", [
    ((np.zeros((2, 3)), np.array([0, 3])), ValueError),
    ((np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError),
    ((np.zeros(3), np.array([0])), ValueError),
])
def test_softmax_cross_entropy_rejects_bad_targets(bad, err):
    with pytest.raises(err):
        softmax_cross_entropy(*bad)


def test_linear_classifier_train_step_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    model = LinearClassifier(3, 4, dtype=np.float64, rng=rng)
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 4, 6)
    model.train_step((x, y), softmax_cross_entropy)
    loss = lambda: softmax_cross_entropy(model.forward(x), y)[0]  # noqa: E731
    np.testing.assert_allclose(model.W.grad, numerical_gradient(loss, model.W.data), atol=1e-8)
    np.testing.assert_allclose(model.b.grad, numerical_gradient(loss, model.b.data), atol=1e-8)


def test_linear_classifier_dropout_only_in_train_mode_and_inverted():
    from pmt.core import seed
    seed(0)
    model = LinearClassifier(1000, 2, dropout=0.5)
    x = np.ones((1, 1000), np.float32)
    dropped = model._drop(x)
    assert set(np.unique(dropped)) == {0.0, 2.0} and abs(dropped.mean() - 1.0) < 0.1
    model.eval()
    assert model._drop(x) is x


def test_linear_classifier_state_dict_round_trip_and_errors():
    a, b = LinearClassifier(3, 2, rng=np.random.default_rng(0)), LinearClassifier(3, 2)
    w_before = b.W.data
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(b.W.data, a.W.data)
    assert b.W.data is w_before                       # loaded in place: optimizers keep working
    with pytest.raises(ValueError, match="'W' of shape"):
        b.load_state_dict({"W": np.zeros((2, 2)), "b": np.zeros(2)})
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        a.forward(np.zeros((4, 5)))
    with pytest.raises(ValueError):
        LinearClassifier(3, 1)


def test_make_blobs_is_balanced_and_seeded():
    x1, y1 = make_blobs(50, num_classes=4, dim=3, rng=np.random.default_rng(0))
    x2, _ = make_blobs(50, num_classes=4, dim=3, rng=np.random.default_rng(0))
    assert x1.shape == (200, 3) and x1.dtype == np.float32
    assert np.bincount(y1).tolist() == [50] * 4
    np.testing.assert_array_equal(x1, x2)


# ----------------------------------------------------------------- the demo
def test_demo_trains_to_high_accuracy_and_writes_plot_and_checkpoints(tmp_path, capsys):
    result = linear_demo.main(["--epochs", "6", "--run-dir", str(tmp_path), "--seed", "0"])
    assert result["test_acc"] > 0.9 and result["train_acc"] > 0.9
    assert result["plot"].read_bytes()[:4] == b"\x89PNG"
    assert {"last.npz", "best.npz", "history.png"} <= {p.name for p in tmp_path.iterdir()}
    out = capsys.readouterr().out
    assert f"history plot: {tmp_path / 'history.png'}" in out and "test accuracy" in out


def test_demo_help_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "pmt.core.examples.linear_demo", "--help"],
                         capture_output=True, text=True, check=True)
    assert "--epochs" in out.stdout and "--run-dir" in out.stdout


def test_demo_rejects_bad_arguments(tmp_path):
    with pytest.raises(SystemExit):
        linear_demo.main(["--epochs", "0", "--run-dir", str(tmp_path)])
