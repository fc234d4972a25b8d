"""From pretraining to fine-tuning: the exported weights file and loading it into another model.

`MaskedLM` names its embeddings and encoder exactly as `qqp.PairClassifier` does (`tok_emb`,
`seg_emb`, `pos`, `encoder.*`), so transfer is a copy by key: every parameter of the target whose
name and shape match the pretrained file is overwritten; the rest (the classifier head) keeps its
fresh initialisation, and the pretrained keys nobody asked for (the MLM head) are skipped.  One
exception is allowed: a target with a shorter position table (QQP reads 96 tokens, pretraining
128) takes the first rows, since position t means the same thing in both.

The weights come in two formats, read by one code path (`weights_file`, `weights_meta`,
`load_masked_lm`) into the same model and the same metadata dict:

    <run>/encoder.npz          a pretraining run folder (`pmt-pretrain train --run-dir RUN`): a
                               `pmt.core` checkpoint of the whole `MaskedLM` (no optimizer) whose
                               metadata holds the model config, the step and the held-out scores,
                               rewritten after every round
    <dir>/encoder.safetensors  an exported folder (`pmt-pretrain export --out DIR`), the one a
                               repository ships: the same tensors under the same keys, float32,
                               and the same metadata as text (`shipped_metadata`), plus the sha256
                               of the vocab.txt beside it

A folder holding both is refused as ambiguous (no run or export writes both): name the file.
`open_pretrained(folder)` reads what a fine-tuning run needs (the tokenizer, the encoder's shape,
the weights file and its sha256) and checks that they belong together.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pmt.core.checkpoint import checkpoint_meta, save_checkpoint
from pmt.core.safetensors import safetensors_metadata
from pmt.core.weights import WEIGHT_FORMATS, load_weights, weights_format

from ..tokenizer import Tokenizer
from .electra import build_pretraining_model
from .model import MaskedLM, MaskedLMConfig

__all__ = ["ENCODER_FILE", "SHIPPED_FILE", "VOCAB_FILE", "export_encoder", "weights_file", "weights_meta",
           "shipped_metadata", "load_masked_lm", "load_pretrained", "TransferReport", "pair_classifier_config",
           "PretrainedRun", "open_pretrained", "file_sha256"]

ENCODER_FILE = "encoder.npz"               # a pretraining run's weights, rewritten every round
SHIPPED_FILE = "encoder.safetensors"       # an exported folder's weights (`pmt-pretrain export`)
VOCAB_FILE = "vocab.txt"
TASK = "pretrain"                          # "pmt.task" of an exported file, as `pmt-qqp export` writes "qqp"

# The metadata encoder.npz keeps as JSON values, and the type each is parsed back with from the
# text-only metadata of a safetensors file ("pmt.step": "12000").  "config" is JSON text.
_SCALARS = {"step": int, "round": int, "val_mlm_acc": float, "val_ppl": float, "train_hours": float,
            "vocab_sha256": str}


def export_encoder(model: MaskedLM, path, **meta) -> Path:
    """Write the model's weights and config to `path` (atomically); `meta` is stored beside them."""
    return save_checkpoint(path, model, config=model.config.to_dict(), **meta)


def shipped_metadata(meta: dict) -> dict:
    """encoder.npz's metadata as the str -> str map of an encoder.safetensors.

    Args:
        meta: "config" (a `MaskedLMConfig` dict) and any of step, round, val_mlm_acc, val_ppl,
            train_hours, vocab_sha256 (others are dropped: checkpoint bookkeeping).
    Returns:
        {"pmt.task": "pretrain", "pmt.config": config as JSON, "pmt.step": "12000", ...}; floats are
        written with `repr`, so `weights_meta` reads back the very same numbers.

    Example:
        >>> shipped_metadata({"config": {"vocab_size": 90}, "step": 3, "val_ppl": 81.5, "format": "pmt"})
        {'pmt.task': 'pretrain', 'pmt.config': '{"vocab_size": 90}', 'pmt.step': '3', 'pmt.val_ppl': '81.5'}
    """
    text = {"pmt.task": TASK, "pmt.config": json.dumps(meta["config"])}
    text.update({f"pmt.{k}": repr(meta[k]) if isinstance(meta[k], float) else str(meta[k])
                 for k in _SCALARS if meta.get(k) is not None})
    return text


def _shipped_meta(path: Path) -> dict:
    """The metadata of an encoder.safetensors as encoder.npz holds it (parsed, typed)."""
    text = safetensors_metadata(path)                  # SafetensorsError (a ValueError) names the file
    task = text.get("pmt.task", TASK)
    if task != TASK:
        raise ValueError(f"{path}: holds a {task!r} model, not a pretrained encoder (`pmt-pretrain export` "
                         f"writes those)")
    meta = {}
    if "pmt.config" in text:
        try:
            meta["config"] = json.loads(text["pmt.config"])
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: metadata 'pmt.config' is not JSON ({e.msg})") from None
    for key, kind in _SCALARS.items():
        if f"pmt.{key}" in text:
            try:
                meta[key] = kind(text[f"pmt.{key}"])
            except ValueError:
                raise ValueError(f"{path}: metadata 'pmt.{key}' should be {'an' if kind is int else 'a'} "
                                 f"{kind.__name__}, got {text[f'pmt.{key}']!r}") from None
    return meta


def weights_file(source, flag: str | None = None) -> Path:
    """The pretrained weights of `source`: a folder's encoder.npz or encoder.safetensors, or the file.

    Args:
        source: a pretraining run folder, an exported folder, or a weights file (.npz/.safetensors).
        flag: the command-line flag `source` came from, to start messages with (e.g. "--init").
    Raises:
        FileNotFoundError: nothing there, or a folder with neither file.
        ValueError: a folder holding both (which one is meant is ambiguous).
    """
    path = Path(source)
    where = f"{flag} {source}" if flag else str(source)
    if path.is_dir():
        found = [path / name for name in (ENCODER_FILE, SHIPPED_FILE) if (path / name).is_file()]
        if len(found) == 2:
            raise ValueError(f"{where}: holds both {ENCODER_FILE} and {SHIPPED_FILE}, so the weights to use are "
                             f"ambiguous (a pretraining run writes the first, `pmt-pretrain export` the second): "
                             f"name the file itself, or remove one")
        if not found:
            raise FileNotFoundError(f"{where}: no pretrained weights ({ENCODER_FILE} or {SHIPPED_FILE}); a "
                                    f"pretraining run folder (`pmt-pretrain train --run-dir`) holds {VOCAB_FILE} "
                                    f"and, after its first round, {ENCODER_FILE}; an exported folder "
                                    f"(`pmt-pretrain export`) holds {SHIPPED_FILE}")
        return found[0]
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no pretrained weights there (no such file or folder); pretrain with "
                                f"`pmt-pretrain train --run-dir RUN`, or give the weights file itself")
    return path


def weights_meta(path) -> dict:
    """The metadata of a pretrained weights file of either format, as one dict.

    Returns:
        "config": the `MaskedLMConfig` fields (checked: they build a config), and whichever of
        "step", "round", "val_mlm_acc", "val_ppl", "train_hours", "vocab_sha256" the file
        records (an encoder.npz also its checkpoint bookkeeping: "format", "version", ...).
    Raises:
        ValueError: no or a bad model config, a file of another task, malformed metadata;
            `CheckpointError` / `SafetensorsError` (ValueErrors) for a damaged file; each names it.
    """
    path = Path(path)
    meta = checkpoint_meta(path) if weights_format(path) == "npz" else _shipped_meta(path)
    config = meta.get("config")
    if not isinstance(config, dict) or "vocab_size" not in config:
        raise ValueError(f"{path}: no model config in its metadata (not written by pmt-pretrain)")
    try:
        meta["config"] = MaskedLMConfig(**config).to_dict()        # the config checks its own values
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: bad model config in its metadata: {e}") from None
    return meta


def load_masked_lm(source) -> tuple[MaskedLM, dict]:
    """(MaskedLM with the pretrained weights, `weights_meta` of the file) from a folder or weights file.

    Either format gives the same model: `pmt.core.weights.load_weights` checks, before copying
    anything, that the file holds exactly the model's keys and shapes, floating-point values, and
    no NaN/inf (a `CheckpointError` naming the file otherwise).
    """
    path = weights_file(source)
    meta = weights_meta(path)
    try:
        model = build_pretraining_model(MaskedLMConfig(**meta["config"]))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: the model config in its metadata builds no model: {e}") from None
    load_weights(path, model)
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
        source: a pretraining run folder (its encoder.npz), an exported folder (its
            encoder.safetensors), or the weights file itself.

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
    report = TransferReport(path=str(weights_file(source)))
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
    c = weights_meta(weights_file(source))["config"]
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
    """What fine-tuning takes from a pretraining run folder or an exported folder (see `open_pretrained`).

    Attributes:
        path: the folder (absolute).  weights: its encoder.npz or encoder.safetensors.
        sha256: of the weights file.  tokenizer: the cased WordPiece tokenizer (vocab.txt).
        config: the `MaskedLMConfig` fields of the pretrained encoder (a dict).
        step: the pretraining step the weights are from (None if not recorded).
        meta: everything `weights_meta` read (held-out scores, training hours, ...).
    """

    path: Path
    weights: Path
    sha256: str
    tokenizer: Tokenizer
    config: dict
    step: int | None
    meta: dict = field(default_factory=dict)

    def encoder_shape(self) -> dict:
        """The `TextEncoder` arguments of the pretrained body (vocab_size ... pad_id, no dropout)."""
        c = self.config
        return {k: c[k] for k in ("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len", "pad_id")}

    def _unchanged(self, result):
        """`result`, unless the weights file changed since `open_pretrained` hashed it.

        A pretraining run still going rewrites encoder.npz every round: the weights loaded must
        be the ones whose sha256 the fine-tuned run (or an export) records.
        """
        if file_sha256(self.weights) != self.sha256:
            raise ValueError(f"{self.weights} changed while it was read (a pretraining run still writing it?): "
                             f"copy the run's {VOCAB_FILE} and {ENCODER_FILE} to a folder of their own, or retry")
        return result

    def load_into(self, model) -> TransferReport:
        """`load_pretrained(model, self.weights)`, refusing a file that changed since it was opened."""
        return self._unchanged(load_pretrained(model, self.weights))

    def load_masked_lm(self) -> tuple[MaskedLM, dict]:
        """`load_masked_lm(self.weights)`, refusing a file that changed since it was opened."""
        return self._unchanged(load_masked_lm(self.weights))

    def record(self, weights: str = "pretrained") -> dict:
        """What a fine-tuned run folder's config.json keeps under "init" (provenance of its start)."""
        return {"run": str(self.path), "file": str(self.weights), "sha256": self.sha256, "step": self.step,
                "weights": weights}

    def describe(self) -> str:
        """One line for a log."""
        return (f"{self.weights} (pretraining step {self.step}, sha256 {self.sha256[:12]}...), "
                f"{self.config['d_model']}d x {self.config['n_layers']} layers, "
                f"{self.tokenizer.vocab_size:,}-token vocabulary")


def open_pretrained(source, flag: str = "--init") -> PretrainedRun:
    """Read a pretrained encoder for fine-tuning: tokenizer, encoder config, weights file, sha256.

    Args:
        source: the folder `pmt-pretrain train --run-dir` writes (vocab.txt and encoder.npz), the
            folder `pmt-pretrain export --out` writes (vocab.txt and encoder.safetensors), or the
            weights file itself (vocab.txt then comes from its folder: the way to choose in a
            folder holding both files).
        flag: the command-line flag `source` came from, to start messages with.

    Raises:
        FileNotFoundError: no such folder, or it lacks vocab.txt / the weights.
        ValueError: vocab.txt and the weights do not belong together (another vocabulary size, or
            for an exported folder another vocab.txt than the one exported), the weights file has no
            model config, or a folder holds both weights files; `CheckpointError` /
            `SafetensorsError` for a damaged weights file and `VocabFileError` for a damaged
            vocab.txt, each naming the file.

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
        raise FileNotFoundError(f"{flag} {source}: no such folder (give a pretraining run folder, written by "
                                f"`pmt-pretrain train --run-dir RUN`, or an exported one, `pmt-pretrain export`)")
    if path.is_file() and path.suffix.lower() not in WEIGHT_FORMATS:
        raise FileNotFoundError(f"{flag} {source}: is a file; give the pretraining run folder that holds "
                                f"{VOCAB_FILE} and {ENCODER_FILE}, an exported folder ({VOCAB_FILE} and "
                                f"{SHIPPED_FILE}), or the weights file itself")
    path = path.resolve()
    folder = path.parent if path.is_file() else path
    if not (folder / VOCAB_FILE).is_file():
        raise FileNotFoundError(f"{flag} {folder}: no {VOCAB_FILE}; a pretraining run folder (`pmt-pretrain train "
                                f"--run-dir`) holds {VOCAB_FILE} and, after its first round, {ENCODER_FILE}")
    weights = weights_file(path, flag)
    tok = Tokenizer.load(folder / VOCAB_FILE)
    sha256 = file_sha256(weights)              # before the metadata: `_unchanged` checks it again after loading
    meta = weights_meta(weights)
    config = meta["config"]
    kind = "pretraining run" if weights_format(weights) == "npz" else "exported"
    if config["vocab_size"] != tok.vocab_size:
        raise ValueError(f"{folder / VOCAB_FILE}: {tok.vocab_size:,} tokens, but {weights} was pretrained with a "
                         f"vocabulary of {config['vocab_size']:,}: the {kind} folder is inconsistent")
    exported_with = meta.get("vocab_sha256")
    if exported_with is not None and file_sha256(folder / VOCAB_FILE) != exported_with:
        raise ValueError(f"{folder / VOCAB_FILE}: not the vocabulary {weights.name} was exported with (its sha256 "
                         f"differs from the recorded {exported_with[:12]}...): the {kind} folder is inconsistent")
    step = meta.get("step")
    return PretrainedRun(folder, weights, sha256, tok, config, None if step is None else int(step), meta)
