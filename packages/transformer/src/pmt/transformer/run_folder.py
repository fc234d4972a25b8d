"""The run folder the task CLIs (`ner`, `qqp`) share: config.json beside best.npz / last.npz.

`train` writes the folder; `eval`, `predict`, `tag` and `attention` read it back through
these helpers, so a missing or half-written folder gives one clear error in every CLI.
"""
from __future__ import annotations

import json
from pathlib import Path

from pmt.core import distributed
from pmt.core.checkpoint import CheckpointError
from pmt.core.datasets import DatasetError


def read_config(run_dir, task: str) -> dict:
    """The parsed config.json of a run folder written by `python -m pmt.transformer.<task> train`."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a {task} run folder: no config.json (train one with "
                                f"`python -m pmt.transformer.{task} train --out {run_dir}`)")
    return json.loads(path.read_text())


def best_checkpoint(run_dir) -> Path:
    """best.npz (best validation score) if present, else last.npz."""
    for name in ("best.npz", "last.npz"):
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    raise CheckpointError(f"{run_dir} holds no best.npz or last.npz checkpoint")


def run_cli(parser, argv=None):
    """Parse argv and run the chosen sub-command.

    From the shell (argv None) it returns 0 for `sys.exit`, and bad input ends the program with
    one line naming the problem and exit status 2. Called with a list (tests, notebooks) it
    returns what the sub-command returned, e.g. `train`'s history, and lets errors propagate.
    Under `mpiexec -n N` (see pmt.core.distributed) only rank 0 prints, and a rank that fails
    ends the whole job.
    """
    args = parser.parse_args(argv)
    if argv is not None:
        return args.func(args)
    with distributed.job():
        try:
            args.func(args)
        except (OSError, ValueError, ImportError, CheckpointError, DatasetError) as e:
            # Bad input (a missing file, a malformed row, a corrupt checkpoint): one clear line,
            # not a traceback.
            parser.exit(2, f"{parser.prog}: error: {e}\n")
    return 0
