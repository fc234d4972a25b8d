"""A training run's folder, and the rules that keep a trained run from ever being damaged.

Every PMT trainer CLI writes one folder per run (`--run-dir`): `config.json` (the settings
and whatever a later command needs to rebuild the model: vocabularies, data paths), the
checkpoints `last.npz` (every epoch, or every `--checkpoint-every` updates), `best.npz`
(where a validation score is tracked), `interrupted.npz` (Ctrl-C), and plots or results.
Later commands (`eval`, `predict`, `tag`, ...) read it back.

The rules, in the order `train` meets them:

1. `prepare(resume, overwrite)` checks, before any data is read, that the folder may be used:
   a folder that already holds a run is refused unless `--resume` (continue it) or
   `--overwrite` (replace it) is given; a file in the way, an unwritable place, or a
   `--resume` with nothing to resume from is an error naming the path.  Nothing is written.
2. `start(files)` runs only once every check has passed and training really starts: with
   `--overwrite` it says so in one line and removes the old run's files, then writes the
   run's files, each atomically.  A failure before this point leaves the folder byte for
   byte as it was.
3. Paths recorded in `config.json` are absolute (`record_path`), so a later command works
   from any directory.

Example:
    >>> import json
    >>> run = RunFolder("runs/qqp", task="qqp", command="pmt-qqp")
    >>> run.prepare(resume=False, overwrite=False)        # before reading any data
    >>> cfg = {"lr": 5e-4}                                 # read data, build the model...
    >>> run.start({"config.json": json.dumps(cfg), "vocab.txt": "[PAD]\\n[UNK]\\n"})
    >>> sorted(p.name for p in run.path.iterdir())         # then Trainer(..., checkpoint_dir=run.path)
    ['config.json', 'vocab.txt']
    >>> RunFolder("runs/qqp", task="qqp", command="pmt-qqp").prepare()   # a second train, same folder
    Traceback (most recent call last):
    FileExistsError: runs/qqp already holds files (config.json, vocab.txt); continue that run with --resume, ...
"""
from __future__ import annotations

import json
from pathlib import Path

from . import distributed
from .checkpoint import CheckpointError
from .files import atomic_write, check_writable_place
from .trainer import newest_checkpoint

__all__ = ["RunFolder"]

CONFIG = "config.json"


class RunFolder:
    """One run's folder (see the module docstring for the rules).

    Args:
        path: the folder (`--run-dir`).
        task: what the run trains, for messages ("ner", "qqp", "mnist").
        command: the CLI that writes it, for messages ("pmt-ner").
    """

    def __init__(self, path, task: str, command: str):
        self.path = Path(path)
        self.task, self.command = task, command
        self.overwrite = False

    def __repr__(self):
        return f"RunFolder({str(self.path)!r}, task={self.task!r})"

    # ------------------------------------------------------------------ train
    def _listing(self) -> list:
        return sorted(p.name for p in self.path.iterdir()) if self.path.is_dir() else []

    def prepare(self, resume: bool = False, overwrite: bool = False):
        """Check, before any work, that `train` may use the folder this way; writes nothing.

        Under MPI every rank calls it, and none returns before all have checked.
        """
        if resume and overwrite:
            raise ValueError("--resume and --overwrite contradict each other: continue the run, or replace it")
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"{self.path}: is a file, not a run folder")
        existing = self._listing()
        if resume:
            if CONFIG not in existing:
                raise FileNotFoundError(f"{self.path}: nothing to resume (no {CONFIG}); start the run without --resume")
            if newest_checkpoint(self.path) is None:
                raise FileNotFoundError(f"{self.path}: nothing to resume (no last.npz or interrupted.npz: the run "
                                        f"stopped before its first checkpoint); start it again with --overwrite")
        elif existing:
            if not overwrite:
                shown = ", ".join(existing[:4]) + (", ..." if len(existing) > 4 else "")
                raise FileExistsError(f"{self.path} already holds files ({shown}); continue that run with --resume, "
                                      f"replace it with --overwrite, or choose another --run-dir")
            if CONFIG not in existing:
                raise FileExistsError(f"{self.path} is not empty and holds no {CONFIG}, so it is not a run folder; "
                                      f"--overwrite only replaces run folders: choose another --run-dir")
            if any((self.path / name).is_dir() for name in existing):
                raise FileExistsError(f"{self.path} holds sub-folders; --overwrite only replaces the files of a run "
                                      f"folder: remove them yourself or choose another --run-dir")
        check_writable_place(self.path)
        self.overwrite = bool(overwrite and existing)
        # Under MPI every rank checks the folder; rank 0 must not write into it (start) before the
        # slowest rank has looked, or that rank would find rank 0's new files and refuse the run.
        distributed.barrier()

    def start(self, files: dict | None = None, log=print):
        """Training starts: replace the old run if `--overwrite`, then write `files` atomically.

        Args:
            files: `{name: str | bytes}` to write into the folder (e.g. config.json).
            log: where the one-line overwrite notice goes.

        Under MPI only rank 0 touches the folder (every rank holds the same files).
        """
        if not distributed.is_main():
            return
        if self.overwrite:
            old = [p for p in self.path.iterdir() if p.is_file()]
            for p in old:
                p.unlink()
            log(f"--overwrite: replaced the run in {self.path} ({len(old)} files removed)")
            self.overwrite = False
        self.path.mkdir(parents=True, exist_ok=True)
        for name, data in (files or {}).items():
            atomic_write(self.path / name, data)

    def write(self, name: str, data) -> Path:
        """Write one file of the run atomically (results, vectors); under MPI on rank 0 only."""
        if not distributed.is_main():
            return self.path / name
        return atomic_write(self.path / name, data)

    @staticmethod
    def record_path(path) -> str:
        """How config.json records a data path: absolute, so any working directory finds it."""
        return str(Path(path).expanduser().resolve())

    def resolve_path(self, recorded) -> Path:
        """A path read from config.json: absolute as recorded, or (older runs) relative to the folder."""
        p = Path(recorded).expanduser()
        return p if p.is_absolute() else self.path / p

    # ------------------------------------------------------------------ read
    def config(self, required=()) -> dict:
        """The parsed config.json; errors name the file (and line, for malformed JSON).

        Args:
            required: top-level keys that must be present.
        """
        path = self.path / CONFIG
        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.path} is not a {self.task} run folder: no such folder (train one with "
                                    f"`{self.command} train --run-dir {self.path}`)")
        if not path.is_file():
            raise FileNotFoundError(f"{self.path} is not a {self.task} run folder: no {CONFIG} (train one with "
                                    f"`{self.command} train --run-dir {self.path}`)")
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not UTF-8 text ({e.reason})") from None
        if not isinstance(cfg, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(cfg).__name__}")
        missing = [k for k in required if k not in cfg]
        if missing:
            raise ValueError(f"{path}: missing {', '.join(map(repr, missing))}; was it written by "
                             f"`{self.command} train`?")
        return cfg

    def build(self, factory, settings, what: str):
        """`factory(**settings)` (a config dataclass, a model), a failure named after config.json."""
        if not isinstance(settings, dict):
            raise ValueError(f"{self.path / CONFIG}: {what!r} should be a JSON object, got {type(settings).__name__}")
        try:
            return factory(**settings)
        except (TypeError, ValueError, KeyError, IndexError) as e:
            raise ValueError(f"{self.path / CONFIG}: bad {what!r} settings: {e}") from None

    def best_checkpoint(self) -> Path:
        """best.npz (best validation score) if present, else the newest of last.npz / interrupted.npz."""
        if (self.path / "best.npz").is_file():
            return self.path / "best.npz"
        found = newest_checkpoint(self.path) if self.path.is_dir() else None
        if found is None:
            raise CheckpointError(f"{self.path} holds no checkpoint (best.npz or last.npz): did its training stop "
                                  f"before the first epoch ended?")
        return found
