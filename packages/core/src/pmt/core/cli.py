"""The command-line contract every PMT trainer keeps: one flag vocabulary, one line per error.

Every CLI (`pmt-mnist`, `pmt-word2vec`, `pmt-ner`, `pmt-qqp`, `pmt-toy`, the benchmarks)
builds its parser from these pieces instead of its own copy of them:

    flag                  meaning
    --run-dir DIR         the run folder: `train` writes it, every other command reads it
    --resume              continue the run in --run-dir from its newest checkpoint
    --overwrite           replace the run in --run-dir (said in one line when it happens)
    --epochs N            total epochs (a resumed run trains up to N)
    --batch-size N        examples per update
    --lr X                (peak) learning rate, finite and > 0
    --seed N              seeds initialisation, shuffling, dropout
    --max-train N         use at most N training examples (sentences, pairs, images)
    --max-valid N         use at most N validation examples
    --valid-size N        validation examples carved from the training set (seeded; the test set stays out)
    --split-seed N        seeds that split alone
    --checkpoint-every N  also write last.npz every N updates, mid-epoch
    --no-progress         no progress bar or progress lines (the per-epoch lines stay)
    --no-reference        benchmarks: skip the PyTorch / gensim side

Numbers are checked as they are parsed, with the flag in the message (`argument --lr: must
be a finite number > 0, got 'inf'`).  Old spellings (`--out`, `--model` for a run folder,
`--batch`, `--alpha`, `--limit`, `--quiet`, `--no-ref`) still work and print a one-line
notice naming the new one.

`main(run, argv, prog)` runs a command and turns the outcome into an exit status and, on
failure, one line on stderr, never a traceback:

    0    done
    1    training diverged (DivergenceError: NaN/inf loss or weights), or out of memory
    2    bad input: arguments, files, data, checkpoints (ValueError, OSError, DatasetError ...)
    130  interrupted by Ctrl-C (a checkpoint of the exact position was written if training had started)

Example (the messages go to stderr, one line each; the statuses are returned):
    >>> p = ArgumentParser(prog="pmt-thing")
    >>> add_training_flags(p, run_dir="runs/thing", epochs=10, batch_size=32, lr=1e-3)
    >>> def run(argv):
    ...     args = parse_args(p, argv)
    ...     if args.lr > 0.1:
    ...         raise ValueError(f"--lr {args.lr}: too high for this model")
    >>> main(run, ["--lr", "0.01"], prog="pmt-thing")
    0
    >>> main(run, ["--lr", "0.5"], prog="pmt-thing")     # pmt-thing: error: --lr 0.5: too high ...
    2
    >>> main(run, ["--lr", "inf"], prog="pmt-thing")     # argument --lr: must be a finite number > 0 ...
    2
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

from . import distributed
from .datasets import DatasetError
from .errors import DivergenceError
from .files import existing_ancestor
from .plots import PLOT_FORMATS

__all__ = ["ArgumentParser", "Interrupted", "main", "add_run_dir", "add_run_folder_flags", "add_training_flags",
           "add_progress_flag", "add_reference_flag", "add_split_flags",
           "deprecate", "positive_int", "nonneg_int", "positive_float", "nonneg_float", "dropout_rate",
           "open_fraction", "raise_if_interrupted", "settings_for_resume", "parse_args", "run_settings",
           "settings_argv", "check_output_file", "check_plot_file",
           "EXIT_OK", "EXIT_DIVERGED", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

# What "bad input" means: the errors a file, a folder, a number or a dataset can cause, and an
# optional extra that is not installed (ImportError, e.g. onnx: its message says how to install it).
BAD_INPUT = (ValueError, OSError, EOFError, DatasetError, zipfile.BadZipFile, zlib.error, ImportError)


class Interrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C; the message says what was saved and how to continue."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: `prog: error: message (see prog --help)`, exit status 2.

    Sub-command parsers (`add_subparsers().add_parser`) are of this class too.  Abbreviated
    flags (`--epo` for `--epochs`) are not accepted: the vocabulary is spelled out.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ----------------------------------------------------------------------------- numbers

def _number(kind, text, ok, expected):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
    return value


def positive_int(text) -> int:
    """An integer >= 1 (epochs, batch sizes, every --max-* limit)."""
    return _number(int, text, lambda v: v >= 1, "an integer >= 1")


def nonneg_int(text) -> int:
    """An integer >= 0 (seeds)."""
    return _number(int, text, lambda v: v >= 0, "an integer >= 0")


def positive_float(text) -> float:
    """A finite number > 0 (learning rates, clipping norms)."""
    return _number(float, text, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


def nonneg_float(text) -> float:
    """A finite number >= 0."""
    return _number(float, text, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def dropout_rate(text) -> float:
    """A probability in [0, 1) (1 would drop everything)."""
    return _number(float, text, lambda v: 0 <= v < 1, "a number in [0, 1)")


def open_fraction(text) -> float:
    """A number strictly between 0 and 1 (a validation fraction)."""
    return _number(float, text, lambda v: 0 < v < 1, "a number strictly between 0 and 1")


# ----------------------------------------------------------------------------- flags

class _Deprecated(argparse.Action):
    """A hidden old spelling: stores like the new flag and prints a one-line notice."""

    def __init__(self, option_strings, dest, new, **kw):
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def deprecate(parser, old: str, new: str):
    """Let `old` keep working as a hidden alias of the existing flag `new`, with a notice."""
    target = parser._option_string_actions[new]
    flag = target.nargs == 0          # store_true / store_const
    parser.add_argument(old, dest=target.dest, action=_Deprecated, new=new, help=argparse.SUPPRESS,
                        default=argparse.SUPPRESS, nargs=0 if flag else target.nargs,
                        const=target.const if flag else None, type=None if flag else target.type,
                        choices=target.choices, metavar=target.metavar)


def add_run_dir(parser, default, help="run folder written by `train`", old=()):
    """`--run-dir DIR` (and hidden old spellings of it, e.g. `--model` or `--out`)."""
    parser.add_argument("--run-dir", default=default, metavar="DIR", help=help)
    for o in old:
        deprecate(parser, o, "--run-dir")


def add_run_folder_flags(parser, default, help="run folder to write (refused if it holds a run, unless "
                                                "--resume or --overwrite)"):
    """How `train` uses its folder: `--run-dir DIR` and one of `--resume` / `--overwrite`.

    `default` may be None for a command that derives the folder from other flags
    (`runs/<dataset>`); say so in `help`.
    """
    add_run_dir(parser, default, help=help)
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--resume", action="store_true",
                     help="continue the run in --run-dir from its newest checkpoint (exactly where it stopped)")
    how.add_argument("--overwrite", action="store_true", help="replace the run in --run-dir")


def add_reference_flag(parser):
    """`--no-reference` (benchmarks): skip the PyTorch / gensim side; `--no-ref` still works."""
    parser.add_argument("--no-reference", action="store_true", help="skip the reference (PyTorch / gensim) run")
    deprecate(parser, "--no-ref", "--no-reference")


def add_progress_flag(parser, old=()):
    """`--no-progress`: no bar and no progress lines (the one line per epoch stays)."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bar or periodic progress lines")
    for o in old:
        deprecate(parser, o, "--no-progress")


def add_training_flags(parser, *, run_dir, epochs, batch_size, lr, seed=0, max_train=True, max_valid=False,
                       checkpoint_every=True, lr_help="learning rate"):
    """The flags every `train` shares; pass None to leave one out.

    Adds --run-dir, --resume, --overwrite, --epochs, --batch-size, --lr, --seed,
    --max-train, --max-valid (if asked), --checkpoint-every (if asked), --no-progress.
    """
    if run_dir is not None:
        add_run_folder_flags(parser, run_dir)
    if epochs is not None:
        parser.add_argument("--epochs", type=positive_int, default=epochs, metavar="N", help="total epochs")
    if batch_size is not None:
        parser.add_argument("--batch-size", type=positive_int, default=batch_size, metavar="N",
                            help="examples per update")
    if lr is not None:
        parser.add_argument("--lr", type=positive_float, default=lr, metavar="X", help=lr_help)
    if seed is not None:
        parser.add_argument("--seed", type=nonneg_int, default=seed, metavar="N", help="random seed")
    if max_train:
        parser.add_argument("--max-train", type=positive_int, metavar="N", help="use at most N training examples")
    if max_valid:
        parser.add_argument("--max-valid", type=positive_int, metavar="N", help="use at most N validation examples")
    if checkpoint_every:
        parser.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                            help="also write last.npz every N updates, mid-epoch (a killed run loses at most N)")
    add_progress_flag(parser)


def add_split_flags(parser, *, valid_size: int, split_seed: int = 0):
    """--valid-size N and --split-seed N: the validation split carved out of the training data.

    Every choice (epochs, checkpoints, hyper-parameters) is made on it
    (`pmt.core.data.train_valid_split`), so the test set is scored once, at the end.  A run
    records both in config.json: a resumed run validates on the same examples.
    """
    parser.add_argument("--valid-size", type=positive_int, default=valid_size, metavar="N",
                        help="validation examples carved at random from the training set (the test set is "
                             "scored once, at the end)")
    parser.add_argument("--split-seed", type=nonneg_int, default=split_seed, metavar="N",
                        help="seed of the train/validation split (independent of --seed)")


def check_output_file(path, flag: str) -> Path:
    """Refuse, before any work, an output file that cannot be written (a folder, no permission)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{flag} {path}: is a folder, expected a file name")
    parent = existing_ancestor(path.parent)
    if not parent.is_dir():
        raise NotADirectoryError(f"{flag} {path}: {parent} is a file, not a folder")
    if not os.access(path if path.exists() else parent, os.W_OK):
        raise PermissionError(f"{flag} {path}: not writable")
    return path


def check_plot_file(path, flag: str) -> Path:
    """`check_output_file`, and a name whose suffix matplotlib writes as named (`PLOT_FORMATS`)."""
    path = check_output_file(path, flag)
    if path.suffix.lower() not in PLOT_FORMATS:
        raise ValueError(f"{flag} {path}: expected a file name ending in {', '.join(PLOT_FORMATS)}")
    return path


# ----------------------------------------------------------------------------- resume

def parse_args(parser, argv=None) -> argparse.Namespace:
    """`parser.parse_args(argv)`, remembering which flags the command line spelled out.

    The names (dests) of the given flags go to `args._given`: `settings_for_resume` needs to
    tell "--epochs 5 given" from "--epochs left at its default of 5".
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    dests = {}

    def collect(p):
        for action in p._actions:
            dests.update(dict.fromkeys(action.option_strings, action.dest))
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    collect(sub)
    collect(parser)
    given = set()
    for token in argv:
        if token == "--":
            break
        name = token.split("=", 1)[0]
        if name in dests:
            given.add(dests[name])
    args._given = frozenset(given)
    return args


# What a run records as its settings: everything parsed but how this one invocation ran.
_NOT_SETTINGS = {"run_dir", "resume", "overwrite", "no_progress", "func", "parser", "command"}


def run_settings(args) -> dict:
    """The settings a run records in config.json (`"train"`): `args` minus how this invocation ran
    (run folder, --resume/--overwrite, progress, sub-command plumbing)."""
    return {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS and not k.startswith("_")}


def settings_argv(parser, settings: dict) -> list[str]:
    """The flags that give `settings` back through `parser`: the inverse of `run_settings`.

    Every setting the parser has a flag for is spelled out, defaults included (a later release
    may change a default, never what the recorded command means), in the parser's order.  A
    setting of None is a flag that was not given and is left out; a switch (`--swap`) appears
    when its setting is the value the switch stores.

    Example:
        >>> p = ArgumentParser(prog="pmt-thing")
        >>> add_training_flags(p, run_dir="runs/thing", epochs=10, batch_size=32, lr=1e-3)
        >>> argv = settings_argv(p, {"epochs": 3, "batch_size": 32, "lr": 5e-4, "seed": 0, "max_train": None})
        >>> argv
        ['--epochs', '3', '--batch-size', '32', '--lr', '0.0005', '--seed', '0']
        >>> run_settings(p.parse_args(argv))["lr"]
        0.0005
    """
    argv = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS or action.dest not in settings:
            continue
        value = settings[action.dest]
        flag = next((o for o in action.option_strings if o.startswith("--")), action.option_strings[0])
        if action.nargs == 0:                               # store_true / store_false / store_const
            if value == action.const:
                argv.append(flag)
        elif value is not None:
            argv += [flag, *map(str, value)] if isinstance(value, (list, tuple)) else [flag, str(value)]
    return argv


def _comparable(v):
    return json.loads(json.dumps(v, default=str))


def _default(parser, dest):
    """A flag's default (argparse's get_default would return a hidden alias's SUPPRESS)."""
    for action in parser._actions:
        if action.dest == dest and action.default is not argparse.SUPPRESS:
            return action.default
    return None


def settings_for_resume(args, saved: dict, parser, may_change=(), run_dir="the run") -> argparse.Namespace:
    """The saved run's settings, except those this invocation may change (e.g. `epochs`).

    A flag not given takes the saved value; a flag given with a value that differs from the
    saved one is an error (resuming with other settings is a different run), unless it is
    one of `may_change` (e.g. `--epochs 20` to train a 10-epoch run further).

    Args:
        args: the parsed arguments of this invocation (from `parse_args`, which records the
            flags given; otherwise a flag at its default value counts as not given).
        saved: the settings recorded by the run (`vars(args)` of the first invocation).
        parser: the parser that produced `args` (for the defaults).
        may_change: names (dest) of settings a resume may change.
    """
    out = argparse.Namespace(**vars(args))
    for key, old in saved.items():
        if not hasattr(args, key):
            continue
        new = getattr(args, key)
        if _comparable(new) == _comparable(old):
            continue
        given = key in args._given if hasattr(args, "_given") else _comparable(new) != _comparable(
            _default(parser, key))
        if not given:
            setattr(out, key, old)             # not given this time: the run's own setting
        elif key not in may_change:
            raise ValueError(f"--resume continues {run_dir} with its saved settings, but --{key.replace('_', '-')} "
                             f"{new} differs from the saved {old}; drop the flag, or start a new run "
                             f"(another --run-dir, or --overwrite)")
    return out


def raise_if_interrupted(trainer):
    """After `fit`: raise `Interrupted` (exit 130) if Ctrl-C ended it, naming what was saved."""
    if trainer.interrupted:
        saved = (f"checkpoint saved to {trainer.interrupt_checkpoint}; continue with --resume"
                 if trainer.interrupt_checkpoint else "no checkpoint written")
        raise Interrupted(saved)


# ----------------------------------------------------------------------------- main

def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    text = " ".join(str(e).split()) or type(e).__name__
    return text


def main(run, argv=None, prog=None) -> int:
    """Run `run(argv)` under the contract; return the exit status (see the module docstring).

    Under `mpiexec -n N` (`pmt.core.distributed`) the command runs inside `distributed.job()`:
    a rank that ends with another status than 0 or 130 ends every rank (the others may be
    waiting for it in a collective).

    Args:
        run: the command, `run(argv)`; its return value is ignored.
        argv: arguments (default: `sys.argv[1:]`).
        prog: the name the one-line messages start with.
    Returns:
        0, 1 (diverged), 2 (bad input) or 130 (Ctrl-C); an exception of any other kind is
        a bug and propagates with its traceback.
    """
    prog = prog or Path(sys.argv[0]).name
    with distributed.job():
        status = _run(run, argv, prog)
        if status not in (EXIT_OK, EXIT_INTERRUPTED) and distributed.world_size() > 1:
            raise SystemExit(status)
    return status


def _run(run, argv, prog) -> int:
    def warn(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    shown, warnings.showwarning = warnings.showwarning, warn
    try:
        run(argv)
        return EXIT_OK
    except KeyboardInterrupt as e:
        if distributed.is_main():       # under mpiexec every rank stops together: one line, not N
            print(f"{prog}: interrupted" + (f": {e}" if str(e) else " (nothing written)"), file=sys.stderr)
        return EXIT_INTERRUPTED
    except DivergenceError as e:
        print(f"{prog}: diverged: {_one_line(e)}", file=sys.stderr)
        return EXIT_DIVERGED
    except MemoryError as e:
        print(f"{prog}: out of memory{': ' + str(e) if str(e) else ''}", file=sys.stderr)
        return EXIT_DIVERGED
    except BAD_INPUT as e:
        print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or EXIT_OK
        print(e.code, file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        warnings.showwarning = shown
