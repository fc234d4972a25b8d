"""A trained run folder in formats other tools read, and scoring through the exported ONNX file.

    pmt-qqp export --run-dir RUN --onnx qqp.onnx --safetensors qqp.safetensors
    pmt-qqp eval   --run-dir RUN --onnx qqp.onnx --split valid     # the network runs in onnxruntime
    pmt-ner export --run-dir RUN --onnx ner.onnx
    pmt-ner eval   --run-dir RUN --onnx ner.onnx --data eng.testa  # emissions from onnxruntime, CRF in numpy

Both files carry the task and the model's config (JSON) as metadata ("pmt.task", "pmt.config"),
so a reader can rebuild the architecture from the file alone; the tokenizer or vocabularies stay
in the run folder.  The safetensors file holds `state_dict()` under PMT's keys and layouts
(Linear weights are (d_in, d_out)); `tools/interop` maps them onto PyTorch modules.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pmt.core import cli
from pmt.core.numerics import softmax
from pmt.core.weights import save_weights

from .ner.features import SentenceBatches, encode_sentences
from .onnx_export import check_exportable, export_onnx, onnx_session

__all__ = ["TASKS", "export_run", "add_export_command", "onnx_pair_proba", "onnx_tag", "checked_session",
           "weights_metadata"]

TASKS = ("qqp", "ner")


def _load_run(task, run_dir):
    """(model, run extras) through the task's own loader."""
    if task == "qqp":
        from .qqp.cli import load_run
    elif task == "ner":
        from .ner.cli import load_run
    else:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    model, *extras = load_run(run_dir)
    return model, extras


def weights_metadata(task: str, model) -> dict:
    """The metadata written beside exported weights: {"pmt.task": task, "pmt.config": config JSON}."""
    return {"pmt.task": task, "pmt.config": json.dumps(model.config.to_dict())}


def export_run(task: str, run_dir, onnx=None, safetensors=None) -> list[Path]:
    """Write the best model of a run folder as an ONNX file and/or a safetensors file.

    Args:
        task: "qqp" or "ner".
        run_dir: a run folder written by `pmt-<task> train`.
        onnx: target `.onnx` path, or None.
        safetensors: target `.safetensors` path, or None.
    Returns:
        the paths written.
    """
    if onnx is None and safetensors is None:
        raise ValueError("export: name at least one target, --onnx FILE or --safetensors FILE")
    for flag, target in (("--onnx", onnx), ("--safetensors", safetensors)):
        if target is not None:
            cli.check_output_file(target, flag)       # before loading anything
    model, _ = _load_run(task, run_dir)
    if onnx is not None:
        check_exportable(model)                     # before writing either file
    written = []
    if safetensors is not None:
        written.append(save_weights(safetensors, model, format="safetensors", metadata=weights_metadata(task, model)))
    if onnx is not None:
        written.append(export_onnx(model, onnx))
    return written


def add_export_command(sub, task: str, default_run: str):
    """Add `export` to a task CLI's sub-commands (prints what it wrote)."""
    x = sub.add_parser("export", help="write the run's model as ONNX (onnxruntime, ...) and/or safetensors "
                       "(PyTorch, ...)")
    cli.add_run_dir(x, default_run, old=("--model",))
    x.add_argument("--onnx", metavar="FILE", help=f"ONNX file (needs the onnx extra: {task} encoder, opset 17)")
    x.add_argument("--safetensors", metavar="FILE", help="weights as safetensors, config in its metadata")

    def run(a, parser=None):
        written = export_run(task, a.run_dir, a.onnx, a.safetensors)
        for path in written:
            print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return written
    x.set_defaults(func=run, parser=x)
    return x


def checked_session(path, task: str, model, threads: int | None = None):
    """An onnxruntime session for `path`, refused unless the file was exported from this task and
    from a model of exactly `model`'s config."""
    session = onnx_session(path, threads)
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("pmt.task") != task:
        raise ValueError(f"{path}: not a PMT {task} export (its pmt.task is {meta.get('pmt.task')!r})")
    if json.loads(meta.get("pmt.config", "null")) != json.loads(json.dumps(model.config.to_dict())):
        raise ValueError(f"{path}: exported from a model with another config than the run's; export this "
                         f"run again (pmt-{task} export --onnx FILE)")
    return session


def onnx_pair_proba(session, tok, q1, q2, max_len: int, batch_size: int = 256, symmetric: bool = True):
    """P(duplicate) of each pair (N,), the network run by onnxruntime; as `qqp.cli.predict_proba`.

    symmetric: the mean of the probabilities of (q1, q2) and (q2, q1).
    """
    orders = [(q1, q2), (q2, q1)] if symmetric else [(q1, q2)]
    p = 0.0
    for a, b in orders:
        enc = tok.encode_batch(list(a), list(b), max_length=max_len, padding="max_length")
        order = np.argsort(enc.lengths, kind="stable")     # shortest first, as qqp.cli: least padding
        probs = np.zeros(len(order), np.float32)
        for i in range(0, len(order), batch_size):
            rows = order[i:i + batch_size]
            width = int(enc.lengths[rows].max())                       # cut to the batch's longest pair
            feeds = {"ids": enc.input_ids[rows, :width].astype(np.int64),
                     "segments": enc.segment_ids[rows, :width].astype(np.int64)}
            probs[rows] = softmax(session.run(None, feeds)[0])[:, 1]         # (b,) P(duplicate), in place
        p = p + probs
    return p / len(orders)


def onnx_tag(session, model, words_vocab, chars_vocab, sentences, batch_size: int = 64):
    """Predicted tag lists for token lists: emissions from onnxruntime, `model.decode` (CRF Viterbi
    or argmax, numpy) on top; as `ner.cli.predict`."""
    data = encode_sentences(sentences, words_vocab, chars_vocab)
    tags = model.config.tags
    out = []
    for words, cases, chars, _ in SentenceBatches(data, batch_size, shuffle=False):
        emissions = session.run(None, {"words": words, "cases": cases, "chars": chars})[0]
        ids = model.decode(emissions, words != 0)
        out += [[tags[i] for i in row[row != -100]] for row in ids]
    return out
