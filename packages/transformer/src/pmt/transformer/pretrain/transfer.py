"""From pretraining to fine-tuning: the exported weights file and loading it into another model.

`MaskedLM` names its embeddings and encoder exactly as `qqp.PairClassifier` does (`tok_emb`,
`seg_emb`, `pos`, `encoder.*`), so transfer is a copy by key: every parameter of the target whose
name and shape match the pretrained file is overwritten; the rest (the classifier head) keeps its
fresh initialisation, and the pretrained keys nobody asked for (the MLM head) are skipped.  One
exception is allowed: a target with a shorter position table (QQP reads 96 tokens, pretraining
128) takes the first rows, since position t means the same thing in both.

The file, `<run>/encoder.npz`, is a `pmt.core` checkpoint of the whole `MaskedLM` (no optimizer)
whose metadata holds the model config, the step and the held-out scores at export.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pmt.core.checkpoint import load_checkpoint, save_checkpoint

from .model import MaskedLM, MaskedLMConfig

__all__ = ["ENCODER_FILE", "export_encoder", "load_masked_lm", "load_pretrained", "TransferReport",
           "pair_classifier_config"]

ENCODER_FILE = "encoder.npz"


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
