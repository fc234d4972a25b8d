import sys

import numpy as np
import pytest

from pmt.core import plot_history

PNG = b"\x89PNG\r\n\x1a\n"


def _image_shape(path):
    """(height, width, channels) of a PNG: the figure grows by one panel width per panel."""
    import matplotlib.image as mpimg
    return mpimg.imread(path).shape


def test_writes_png_and_creates_folders(tmp_path):
    h = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7], "acc": [0.5, 0.7, 0.8],
         "val_acc": [0.4, 0.6, 0.7], "lr": [0.1, 0.05, 0.01], "seconds": [1.0, 1.0, 1.0]}
    out = plot_history(h, tmp_path / "a" / "b" / "h.png", title="run")
    assert out == tmp_path / "a" / "b" / "h.png"
    assert out.read_bytes()[:8] == PNG


def test_panel_count_follows_the_history(tmp_path):
    one = plot_history({"loss": [1.0, 0.5]}, tmp_path / "one.png")
    three = plot_history({"loss": [1.0, 0.5], "acc": [0.1, 0.2], "lr": [0.1, 0.05]}, tmp_path / "three.png")
    h1, w1, _ = _image_shape(one)
    h3, w3, _ = _image_shape(three)
    assert w3 > 2.5 * w1 and h1 == h3       # loss, acc and lr side by side
    const_lr = plot_history({"loss": [1.0, 0.5], "lr": [0.1, 0.1]}, tmp_path / "c.png")
    assert _image_shape(const_lr)[1] == w1  # a constant rate gets no panel


def test_single_epoch_and_zero_learning_rate_are_fine(tmp_path):
    assert plot_history({"loss": [1.0]}, tmp_path / "a.png").exists()
    assert plot_history({"loss": [1.0, 0.5, 0.2], "lr": [0.1, 0.05, 0.0]}, tmp_path / "b.png").exists()


def test_does_not_touch_pyplot_state(tmp_path):
    had_pyplot = "matplotlib.pyplot" in sys.modules
    plot_history({"loss": [1.0, 0.5]}, tmp_path / "h.png")
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        import matplotlib.pyplot as plt
        assert plt.get_fignums() == []


@pytest.mark.parametrize("h,match", [
    ({}, "non-empty"),
    ([1, 2], "non-empty dict"),
    ({"loss": [1.0, 0.5], "acc": [0.1]}, "same number"),
    ({"lr": [0.1, 0.1], "seconds": [1, 1]}, "nothing to plot"),
])
def test_bad_histories_raise(tmp_path, h, match):
    with pytest.raises(ValueError, match=match):
        plot_history(h, tmp_path / "x.png")


def test_accepts_numpy_values(tmp_path):
    assert plot_history({"loss": np.array([1.0, 0.5], np.float32)}, tmp_path / "n.png").exists()
