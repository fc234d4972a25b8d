"""From pretraining to fine-tuning: the exported weights file and loading it into another model.

`MaskedLM` names its embeddings and encoder exactly as `qqp.PairClassifier` does (`tok_emb`,
`seg_emb`, `pos`, `encoder.*`), so transfer is a copy by key: every parameter of the target whose
name and shape match the pretrained file is overwritten; the rest (the classifier head) keeps its
fresh initialisation, and the pretrained keys nobody asked for (the MLM head) are skipped.  One
exception is allowed: a target with a shorter position table (QQP reads 96 tokens, pretraining
128) takes the first rows, since position t means the same thing in both.

The file, `<run>/encoder.npz`, is a `pmt.core` checkpoint of the whole `MaskedLM` (no optimizer)
whose metadata holds the model config, the step and the held-out scores at export.
`open_pretrained(run)` reads what a fine-tuning run needs from a run folder (the tokenizer, the
encoder's shape, the weights file and its sha256) and checks that they belong together.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pmt.core.checkpoint import checkpoint_meta, load_checkpoint, save_checkpoint

from ..tokenizer import Tokenizer
from .model import MaskedLM, MaskedLMConfig

__all__ = ["ENCODER_FILE", "VOCAB_FILE", "export_encoder", "load_masked_lm", "load_pretrained", "TransferReport",
           "pair_classifier_config", "PretrainedRun", "open_pretrained", "file_sha256"]

ENCODER_FILE = "encoder.npz"
VOCAB_FILE = "vocab.txt"


def export_encoder(model: MaskedLM, path, **meta) -> Path:
    """Write the model's weights and config to `path` (atomically); `meta` is stored beside them."""
    return save_checkpoint(path, model, config=model.config.to_dict(), **meta)


def _weights_file(source) -> Path:
    path = Path(source)
    if path.is_dir():
        path = path / ENCODER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{source}: no pretrained weights ({ENCODER_FILE}); pretrain with "
                                f"`pmt-pretrain train --run-dir RUN`, or give the .npz file itself")
    return path


def load_masked_lm(source) -> tuple[MaskedLM, dict]:
    """(MaskedLM with the pretrained weights, the file's metadata) from a run folder or .npz file."""
    path = _weights_file(source)
    meta = load_checkpoint(path)
    if "config" not in meta:
        raise ValueError(f"{path}: no model config in its metadata (not written by export_encoder)")
    model = MaskedLM(MaskedLMConfig(**meta["config"]))
    load_checkpoint(path, model)
    return model, meta


@dataclass
class TransferReport:
    """What `load_pretrained` did, key by key.

    Attributes:
        loaded: target keys overwritten with pretrained values.
        initialised: target keys absent from the pretrained file (they keep their init).
        skipped: pretrained keys the target has no use for.
        truncated: keys copied in part (a shorter position table), as "key: rows n of m".
        path: the weights file read.
    """

    loaded: list = field(default_factory=list)
    initialised: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    truncated: list = field(default_factory=list)
    path: str = ""

    def summary(self) -> str:
        """One line for a log."""
        s = (f"{self.path}: loaded {len(self.loaded)} tensors, initialised {len(self.initialised)} "
             f"({', '.join(self.initialised) or 'none'}), skipped {len(self.skipped)} "
             f"({', '.join(self.skipped) or 'none'})")
        return s + (f"; truncated {', '.join(self.truncated)}" if self.truncated else "")


def load_pretrained(model, source) -> TransferReport:
    """Copy pretrained embedding and encoder weights into `model` by parameter name.

    Args:
        model: a pmt.graph Module with some of MaskedLM's parameter names, e.g. a
            `qqp.PairClassifier` built with `pair_classifier_config(run)`.
        source: a pretraining run folder (its encoder.npz) or the .npz file.

    Returns:
        a `TransferReport`.

    Raises:
        ValueError: a shared key has another shape (other than a shorter position table), e.g. a
            model built with another tokenizer: nothing is modified then.

    Example:
        >>> from pmt.transformer.pretrain import MaskedLM, MaskedLMConfig
        >>> from pmt.transformer.qqp.model import PairClassifier
        >>> mlm = MaskedLM(MaskedLMConfig(vocab_size=100, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=64))
        >>> _ = export_encoder(mlm, "runs/pretrain/encoder.npz")
        >>> clf = PairClassifier(pair_classifier_config("runs/pretrain", max_len=32))
        >>> report = load_pretrained(clf, "runs/pretrain")
        >>> report.initialised, report.truncated
        (['head.weight', 'head.bias'], ['pos.weight: rows 32 of 64'])
    """
    pretrained, _ = load_masked_lm(source)
    state = pretrained.state_dict()
    own = dict(model.named_parameters())
    report = TransferReport(path=str(_weights_file(source)))
    values, problems = {}, []
    for key, p in own.items():
        if key not in state:
            report.initialised.append(key)
            continue
        v = state[key]
        if v.shape == p.shape:
            values[key] = v
        elif key == "pos.weight" and v.shape[1:] == p.shape[1:] and p.shape[0] < v.shape[0]:
            values[key] = v[:p.shape[0]]
            report.truncated.append(f"{key}: rows {p.shape[0]} of {v.shape[0]}")
        else:
            problems.append(f"{key}: model {p.shape}, pretrained {v.shape}")
    if problems:
        hint = (" (the vocabulary differs: build the model with the run's vocab.txt)"
                if any(k.startswith("tok_emb.") for k in problems) else "")
        raise ValueError(f"{report.path}: pretrained weights do not fit the model: {'; '.join(problems)}{hint}")
    for key, v in values.items():
        own[key].data[...] = np.asarray(v, dtype=own[key].dtype)
        report.loaded.append(key)
    report.skipped = [k for k in state if k not in own]
    return report


def pair_classifier_config(source, **overrides):
    """A `qqp.PairClassifierConfig` whose encoder matches the pretrained one (other fields overridable).

    Example:
        >>> from pmt.transformer.pretrain import MaskedLM, MaskedLMConfig
        >>> _ = export_encoder(MaskedLM(MaskedLMConfig(vocab_size=100, d_model=16, n_heads=2, d_ff=32)),
        ...                    "runs/pretrain/encoder.npz")
        >>> cfg = pair_classifier_config("runs/pretrain", max_len=96, dropout=0.1, pooling="cls")
        >>> cfg.vocab_size, cfg.d_model, cfg.n_layers, cfg.max_len
        (100, 16, 4, 96)
    """
    from ..qqp.model import PairClassifierConfig
    meta = load_checkpoint(_weights_file(source))
    c = meta["config"]
    fields = dict(vocab_size=c["vocab_size"], d_model=c["d_model"], n_heads=c["n_heads"], d_ff=c["d_ff"],
                  n_layers=c["n_layers"], max_len=c["max_len"], pad_id=c["pad_id"])
    fields.update(overrides)
    return PairClassifierConfig(**fields)


def file_sha256(path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class PretrainedRun:
    """What fine-tuning takes from a pretraining run folder (see `open_pretrained`).

    Attributes:
        path: the run folder (absolute).  weights: its encoder.npz.  sha256: of that file.
        tokenizer: the run's cased WordPiece tokenizer (vocab.txt).
        config: the `MaskedLMConfig` fields of the pretrained encoder (a dict).
        step: the pretraining step the weights are from (None if not recorded).
    """

    path: Path
    weights: Path
    sha256: str
    tokenizer: Tokenizer
    config: dict
    step: int | None

    def encoder_shape(self) -> dict:
        """The `TextEncoder` arguments of the pretrained body (vocab_size ... pad_id, no dropout)."""
        c = self.config
        return {k: c[k] for k in ("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len", "pad_id")}

    def load_into(self, model) -> TransferReport:
        """`load_pretrained(model, self.weights)`, refusing a file that changed since it was opened.

        A pretraining run still going rewrites encoder.npz every round: the weights loaded must
        be the ones whose sha256 the fine-tuned run records.
        """
        report = load_pretrained(model, self.weights)
        if file_sha256(self.weights) != self.sha256:
            raise ValueError(f"{self.weights} changed while it was read (a pretraining run still writing it?): "
                             f"copy the run's {VOCAB_FILE} and {ENCODER_FILE} to a folder of their own, or retry")
        return report

    def record(self, weights: str = "pretrained") -> dict:
        """What a fine-tuned run folder's config.json keeps under "init" (provenance of its start)."""
        return {"run": str(self.path), "file": str(self.weights), "sha256": self.sha256, "step": self.step,
                "weights": weights}

    def describe(self) -> str:
        """One line for a log."""
        return (f"{self.weights} (pretraining step {self.step}, sha256 {self.sha256[:12]}...), "
                f"{self.config['d_model']}d x {self.config['n_layers']} layers, "
                f"{self.tokenizer.vocab_size:,}-token vocabulary")


def open_pretrained(source) -> PretrainedRun:
    """Read a pretraining run folder for fine-tuning: tokenizer, encoder config, weights file, sha256.

    Args:
        source: the folder `pmt-pretrain train --run-dir` writes (vocab.txt and encoder.npz).

    Raises:
        FileNotFoundError: no such folder, or it lacks vocab.txt / encoder.npz.
        ValueError: vocab.txt and encoder.npz do not belong together (another vocabulary size),
            or encoder.npz has no model config; `CheckpointError` for a damaged encoder.npz and
            `VocabFileError` for a damaged vocab.txt, each naming the file.

    Example:
        >>> from pmt.transformer import Tokenizer
        >>> tok = Tokenizer.train(["The cat sat."] * 3, vocab_size=40, lowercase=False)
        >>> tok.save("runs/pt/vocab.txt")
        >>> _ = export_encoder(MaskedLM(MaskedLMConfig(tok.vocab_size, d_model=16, n_heads=2, d_ff=32,
        ...                                           n_layers=1)), "runs/pt/encoder.npz", step=500)
        >>> run = open_pretrained("runs/pt")
        >>> run.step, run.encoder_shape()["d_model"], len(run.sha256)
        (500, 16, 64)
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"--init {source}: no such folder (give a pretraining run folder, written by "
                                f"`pmt-pretrain train --run-dir RUN`)")
    if not path.is_dir():
        raise FileNotFoundError(f"--init {source}: is a file; give the pretraining run folder that holds "
                                f"{VOCAB_FILE} and {ENCODER_FILE}")
    path = path.resolve()
    for name in (VOCAB_FILE, ENCODER_FILE):
        if not (path / name).is_file():
            raise FileNotFoundError(f"--init {path}: no {name}; a pretraining run folder (`pmt-pretrain train "
                                    f"--run-dir`) holds {VOCAB_FILE} and, after its first round, {ENCODER_FILE}")
    tok = Tokenizer.load(path / VOCAB_FILE)
    weights = path / ENCODER_FILE
    sha256 = file_sha256(weights)              # before the metadata: `load_into` checks it again after loading
    meta = checkpoint_meta(weights)
    config = meta.get("config")
    if not isinstance(config, dict) or "vocab_size" not in config:
        raise ValueError(f"{weights}: no model config in its metadata (not written by pmt-pretrain)")
    if config["vocab_size"] != tok.vocab_size:
        raise ValueError(f"{path / VOCAB_FILE}: {tok.vocab_size:,} tokens, but {weights} was pretrained with a "
                         f"vocabulary of {config['vocab_size']:,}: the pretraining run folder is inconsistent")
    step = meta.get("step")
    return PretrainedRun(path, weights, sha256, tok, config, None if step is None else int(step))
