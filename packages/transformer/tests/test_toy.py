"""The toy tasks: data generation is right, and the encoder-decoder learns to reverse sequences."""
import numpy as np
import pytest

from pmt.transformer.examples.toy import BOS, EOS, PAD, exact_match, make_batch, train_toy


def _rows(src, tgt_out):
    for s, t in zip(src, tgt_out):
        n = int((s != PAD).sum())
        yield list(s[:n]), list(t[:n]), t[n:]


@pytest.mark.parametrize("task, fn", [("reverse", lambda x: x[::-1]), ("sort", sorted), ("copy", list)])
def test_make_batch_targets_follow_the_task(task, fn):
    src, tgt_in, tgt_out = make_batch(task, 50, np.random.default_rng(0), 5, 20)
    assert src.shape == (50, 20) and tgt_in.shape == tgt_out.shape == (50, 21)
    lengths = (src != PAD).sum(1)
    assert lengths.min() >= 5 and lengths.max() <= 20 and src.max() < 33 and src[src != PAD].min() >= 3
    for x, y, rest in _rows(src, tgt_out):
        assert y == list(fn(x)) and rest[0] == EOS and np.all(rest[1:] == PAD)
    np.testing.assert_array_equal(tgt_in[:, 0], BOS)
    shifted = tgt_out[:, :-1].copy()
    shifted[shifted == EOS] = PAD
    np.testing.assert_array_equal(tgt_in[:, 1:], shifted)


def test_exact_match_counts_whole_sequences_and_ignores_trailing_padding():
    tgt = np.array([[5, 6, EOS, PAD], [7, EOS, PAD, PAD]])
    pred = np.array([[5, 6, EOS], [7, 8, EOS]])
    assert exact_match(pred, tgt) == 0.5


def test_make_batch_rejects_unknown_task():
    with pytest.raises(ValueError, match="task"):
        make_batch("shuffle", 2, np.random.default_rng(0))


def test_transformer_learns_to_reverse_short_sequences(tmp_path):
    # A reduced run (shorter sequences, small model) that fits the test budget; the full
    # 5-20 symbol task is `python -m pmt.transformer.examples.toy --task reverse`.
    r = train_toy("reverse", steps=600, batch_size=64, lr=3e-3, warmup=50, eval_every=200, n_eval=200,
                  min_len=3, max_len=8, seed=0, out_dir=tmp_path, progress=False,
                  model_kw=dict(d_model=32, n_heads=4, d_ff=64, layers=1))
    assert r["exact_match"] >= 0.95, r["history"]
    assert r["history"]["loss"][-1] < 0.2
    for k in ("checkpoint", "history_png", "attention_png"):
        assert r[k].exists() and r[k].stat().st_size > 0


# ----------------------------------------------------------------- the command-line contract
SMALL = ["--steps", "6", "--eval-every", "3", "--batch-size", "8", "--n-eval", "8", "--max-len", "4",
         "--d-model", "8", "--heads", "2", "--ff", "8", "--layers", "1", "--warmup", "1", "--no-progress"]


def test_cli_refuses_a_run_in_use_and_keeps_it_byte_for_byte(tmp_path, capsys):
    from pmt.transformer.examples.toy import main
    run_dir = tmp_path / "run"
    assert main(SMALL + ["--run-dir", str(run_dir)]) == 0
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert {"config.json", "last.npz", "results.json", "history.png", "cross_attention.png"} <= set(before)
    assert main(SMALL + ["--run-dir", str(run_dir)]) == 2
    assert main(SMALL + ["--run-dir", str(run_dir), "--overwrite", "--lr", "-1"]) == 2
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    err = capsys.readouterr().err
    assert "already holds files" in err and "argument --lr: must be a finite number > 0" in err


def test_cli_divergence_is_one_line_with_step_loss_and_rate_and_saves_nothing(tmp_path, capsys):
    from pmt.transformer.examples.toy import main
    assert main(SMALL + ["--run-dir", str(tmp_path / "run"), "--lr", "1e30"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pmt-toy: diverged: training loss is nan at epoch 1")
    assert "global step" in err[0] and "lr=" in err[0]
    assert not (tmp_path / "run" / "last.npz").exists()


def test_cli_ctrl_c_exits_130_and_resume_ends_bit_identical(tmp_path, monkeypatch, capsys):
    import os
    import signal
    from pmt.core.checkpoint import load_checkpoint
    from pmt.transformer.examples import toy
    assert toy.main(SMALL + ["--run-dir", str(tmp_path / "full")]) == 0
    real, calls = toy.ToyTransformer.train_step, [0]

    def ctrl_c_at_step_2(self, batch, loss=None):
        calls[0] += 1
        if calls[0] == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self, batch, loss)

    monkeypatch.setattr(toy.ToyTransformer, "train_step", ctrl_c_at_step_2)
    assert toy.main(SMALL + ["--run-dir", str(tmp_path / "cut")]) == 130
    monkeypatch.undo()
    assert not (tmp_path / "cut" / "results.json").exists()
    assert toy.main(["--resume", "--run-dir", str(tmp_path / "cut"), "--no-progress"]) == 0
    a, b = (load_checkpoint(tmp_path / r / "last.npz") for r in ("full", "cut"))
    assert a["step"] == b["step"] == 6
    x, y = toy.build_model(max_len=8, d_model=8, n_heads=2, d_ff=8, layers=1), \
        toy.build_model(max_len=8, d_model=8, n_heads=2, d_ff=8, layers=1)
    load_checkpoint(tmp_path / "full" / "last.npz", x)
    load_checkpoint(tmp_path / "cut" / "last.npz", y)
    for (k, u), (_, v) in zip(x.state_dict().items(), y.state_dict().items()):
        np.testing.assert_array_equal(u, v, err_msg=k)
