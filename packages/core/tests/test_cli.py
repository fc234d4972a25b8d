"""The shared command-line contract: flag vocabulary, number checks, aliases, exit statuses."""
import warnings

import numpy as np
import pytest

from pmt.core import cli
from pmt.core.checkpoint import CheckpointError
from pmt.core.datasets import DatasetError
from pmt.core.errors import DivergenceError


def parser():
    p = cli.ArgumentParser(prog="pmt-x")
    cli.add_training_flags(p, run_dir="runs/x", epochs=3, batch_size=16, lr=1e-3, max_valid=True)
    cli.add_split_flags(p, valid_size=500)
    cli.deprecate(p, "--out", "--run-dir")
    cli.deprecate(p, "--alpha", "--lr")
    cli.deprecate(p, "--quiet", "--no-progress")
    return p


def test_defaults_cover_the_whole_vocabulary():
    a = parser().parse_args([])
    assert vars(a) == dict(run_dir="runs/x", resume=False, overwrite=False, epochs=3, batch_size=16, lr=1e-3,
                           seed=0, max_train=None, max_valid=None, checkpoint_every=None, no_progress=False,
                           valid_size=500, split_seed=0)


@pytest.mark.parametrize("argv,flag,expected", [
    (["--epochs", "0"], "--epochs", "an integer >= 1"),
    (["--max-train", "-30"], "--max-train", "an integer >= 1"),
    (["--max-valid", "0"], "--max-valid", "an integer >= 1"),
    (["--batch-size", "2.5"], "--batch-size", "an integer >= 1"),
    (["--lr", "inf"], "--lr", "a finite number > 0"),
    (["--lr", "nan"], "--lr", "a finite number > 0"),
    (["--lr", "0"], "--lr", "a finite number > 0"),
    (["--alpha", "-1"], "--alpha", "a finite number > 0"),
    (["--seed", "-1"], "--seed", "an integer >= 0"),
    (["--checkpoint-every", "0"], "--checkpoint-every", "an integer >= 1"),
    (["--valid-size", "0"], "--valid-size", "an integer >= 1"),
    (["--valid-size", "0.1"], "--valid-size", "an integer >= 1"),
    (["--split-seed", "-2"], "--split-seed", "an integer >= 0"),
])
def test_bad_numbers_end_in_one_line_naming_the_flag(argv, flag, expected, capsys):
    with pytest.raises(SystemExit) as e:
        parser().parse_args(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"pmt-x: error: argument {flag}: ") and expected in err and "--help" in err


def test_resume_and_overwrite_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_old_spellings_work_with_a_one_line_notice(capsys):
    a = parser().parse_args(["--out", "runs/y", "--alpha", "0.5", "--quiet"])
    assert (a.run_dir, a.lr, a.no_progress) == ("runs/y", 0.5, True)
    err = capsys.readouterr().err.splitlines()
    assert err == ["pmt-x: --out is deprecated; use --run-dir", "pmt-x: --alpha is deprecated; use --lr",
                   "pmt-x: --quiet is deprecated; use --no-progress"]
    assert "--alpha" not in parser().format_help()


@pytest.mark.parametrize("exc,status,line", [
    (ValueError("data.tsv:3: bad label 'x'"), 2, "pmt-x: error: data.tsv:3: bad label 'x'"),
    (FileNotFoundError(2, "No such file or directory", "a.txt"), 2, "pmt-x: error: a.txt: No such file or directory"),
    (CheckpointError("last.npz: truncated"), 2, "pmt-x: error: last.npz: truncated"),
    (DatasetError("mnist missing"), 2, "pmt-x: error: mnist missing"),
    (DivergenceError("loss nan at step 3"), 1, "pmt-x: diverged: loss nan at step 3"),
    (cli.Interrupted("checkpoint saved to r/interrupted.npz"), 130,
     "pmt-x: interrupted: checkpoint saved to r/interrupted.npz"),
    (KeyboardInterrupt(), 130, "pmt-x: interrupted (nothing written)"),
])
def test_main_turns_each_error_class_into_its_status_and_one_line(exc, status, line, capsys):
    def run(argv):
        raise exc
    assert cli.main(run, [], prog="pmt-x") == status
    assert capsys.readouterr().err == line + "\n"


def test_main_lets_bugs_through_and_returns_zero_on_success(capsys):
    assert cli.main(lambda argv: None, [], prog="p") == 0

    def bug(argv):
        return {}["x"]
    with pytest.raises(KeyError):
        cli.main(bug, [], prog="p")


def test_warnings_become_one_line(capsys):
    def run(argv):
        warnings.warn("text8.zip is checked by size only", stacklevel=1)
    assert cli.main(run, [], prog="p") == 0
    assert capsys.readouterr().err == "p: warning: text8.zip is checked by size only\n"


def test_settings_for_resume_keeps_the_saved_run_and_refuses_conflicts():
    p = parser()
    saved = vars(p.parse_args(["--lr", "0.01", "--epochs", "2"]))
    a = cli.settings_for_resume(p.parse_args(["--epochs", "5", "--resume"]), saved, p, may_change={"epochs", "resume"})
    assert (a.lr, a.epochs) == (0.01, 5)
    with pytest.raises(ValueError, match=r"--batch-size 8 differs from the saved 16"):
        cli.settings_for_resume(p.parse_args(["--batch-size", "8"]), saved, p)


def test_settings_argv_spells_out_every_recorded_setting_and_parses_back_to_it():
    p = parser()
    p.add_argument("--swap", action="store_true")
    p.add_argument("--sizes", type=int, nargs="+")
    for argv in ([], ["--lr", "1e-05", "--max-train", "30", "--swap", "--sizes", "3", "4"]):
        settings = cli.run_settings(p.parse_args(argv))
        again = cli.settings_argv(p, settings)
        assert cli.run_settings(p.parse_args(again)) == settings
        assert "--out" not in again and "--alpha" not in again            # hidden old spellings stay hidden
    assert again[:4] == ["--epochs", "3", "--batch-size", "16"] and "--swap" in again
    assert "--swap" not in cli.settings_argv(p, {"swap": False}) and cli.settings_argv(p, {"max_train": None}) == []


def test_check_output_file(tmp_path):
    assert cli.check_output_file(tmp_path / "new" / "v.bin", "--out") == tmp_path / "new" / "v.bin"
    with pytest.raises(IsADirectoryError, match="is a folder"):
        cli.check_output_file(tmp_path, "--out")
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file"):
        cli.check_output_file(tmp_path / "f" / "v.bin", "--out")


def test_check_plot_file_wants_a_suffix_matplotlib_writes_as_named(tmp_path):
    assert cli.check_plot_file(tmp_path / "c.SVG", "--out") == tmp_path / "c.SVG"
    for name in ("c", "c.txt"):          # matplotlib would write c.png, or refuse after the work
        with pytest.raises(ValueError, match=f"--out .*{name}: expected a file name ending in .png, .svg, .pdf"):
            cli.check_plot_file(tmp_path / name, "--out")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        cli.check_plot_file(tmp_path, "--out")


def test_raise_if_interrupted_names_the_checkpoint():
    class T:
        interrupted, interrupt_checkpoint = True, "r/interrupted.npz"
    with pytest.raises(cli.Interrupted, match="r/interrupted.npz; continue with --resume"):
        cli.raise_if_interrupted(T())
    T.interrupted = False
    cli.raise_if_interrupted(T())
    assert np.isfinite(1.0)


def test_a_flag_given_with_its_default_value_still_counts_as_given_on_resume():
    p = parser()
    saved = cli.run_settings(cli.parse_args(p, ["--epochs", "9"]))
    assert "run_dir" not in saved and not any(k.startswith("_") for k in saved)
    a = cli.parse_args(p, ["--resume", "--epochs", "3"])          # 3 is the parser's default
    assert a._given == {"resume", "epochs"}
    assert cli.settings_for_resume(a, saved, p, may_change={"epochs"}).epochs == 3
    assert cli.settings_for_resume(cli.parse_args(p, ["--resume"]), saved, p, may_change={"epochs"}).epochs == 9


def test_abbreviated_flags_are_not_guessed(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--epo", "3"])
    assert "unrecognized arguments: --epo" in capsys.readouterr().err
