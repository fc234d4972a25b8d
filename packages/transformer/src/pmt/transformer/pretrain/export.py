"""The shipped model folder: a pretraining run's weights, tokenizer and model card, ready to commit.

    pmt-pretrain export --run-dir runs/pretrain --out models/NAME

turns a pretraining run folder (last.npz with the optimizer's moments, metrics, a 90 MB
checkpoint a user does not need) into the few files a fine-tuning run reads:

    vocab.txt              the run's cased WordPiece tokenizer, byte for byte
    encoder.safetensors    the `MaskedLM` weights, float32, under PMT's keys (the tensors of the
                           run's encoder.npz, unchanged); metadata (`transfer.shipped_metadata`):
                           the model config as JSON, the step, the held-out masked-token accuracy
                           and perplexity, training hours, and the sha256 of vocab.txt
    README.md              the model card: shape and parameters, steps, tokens and hours, the
                           held-out scores (metrics.csv at that step), the corpus, the
                           `pmt-pretrain train` command the run's config.json records, how to
                           fine-tune from it, and the sha256 of every other file
    mlm_accuracy.png       the held-out curve, if the run has one

Fine-tuning reads it as it reads the run folder (`pmt-ner train --init DIR`, `pmt-qqp train
--init DIR`, `pmt-pretrain fill --run-dir DIR`): the same model, hence the same numbers, bit for
bit (a test checks it).

The folder is never half-written: every file goes to a temporary sibling, which is read back
through `open_pretrained` and compared tensor by tensor with the run's weights before it is
renamed to DIR.  An existing non-empty DIR is refused unless `--overwrite`, and `--overwrite`
only replaces a folder that holds an exported model (an encoder.safetensors).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import shlex
import shutil
from pathlib import Path

import numpy as np
from pmt.core.files import atomic_write, check_writable_place
from pmt.core.run_folder import RunFolder
from pmt.core.weights import save_weights

from .corpus import SOURCE_TEXT
from .log import CURVE_FILE, METRICS_FILE, read_metrics
from .transfer import SHIPPED_FILE, VOCAB_FILE, file_sha256, open_pretrained, shipped_metadata

__all__ = ["CARD_FILE", "export_pretrained", "check_export_folder", "model_card"]

CARD_FILE = "README.md"


def check_export_folder(out, overwrite: bool = False) -> Path:
    """Refuse, before reading anything, an --out that `export_pretrained` may not (re)place.

    Raises:
        FileExistsError: DIR holds files and no --overwrite, or --overwrite of a folder that
            holds no exported model.  NotADirectoryError / PermissionError: a file in the way,
            a place this process cannot write.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out}: is a file, not a folder")
    existing = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if existing and not overwrite:
        shown = ", ".join(existing[:4]) + (", ..." if len(existing) > 4 else "")
        raise FileExistsError(f"--out {out} already holds files ({shown}); replace an exported model with "
                              f"--overwrite, or choose another --out")
    if existing and not (out / SHIPPED_FILE).is_file():
        raise FileExistsError(f"--out {out} holds no {SHIPPED_FILE}, so it is not an exported model folder; "
                              f"--overwrite only replaces one: choose another --out")
    check_writable_place(out.parent, f"--out {out}")          # the temporary sibling is made there
    return out


def _metrics_row(run: Path, step: int | None) -> dict:
    """The metrics.csv row of `step`: tokens, hours and held-out scores ({} without the file or the row)."""
    if step is None or not (run / METRICS_FILE).is_file():
        return {}
    row = next((r for r in read_metrics(run) if r["step"] == step), {})
    return {k: row[k] for k in ("tokens", "train_hours", "val_mlm_acc", "val_ppl") if k in row}


def _corpus_info(cfg: dict) -> dict | None:
    """corpus.json of the run's corpus folder (None if that folder is gone)."""
    folder = cfg.get("corpus")
    path = Path(folder) / "corpus.json" if isinstance(folder, str) else None
    if path is None or not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    return info if isinstance(info, dict) else None


def _number(x, fmt: str, scale: float = 1.0) -> str:
    return "unknown" if x is None or (isinstance(x, float) and math.isnan(x)) else format(
        x * scale if scale != 1 else x, fmt)


def _shown(path) -> str:
    """A path for the card: relative to the working folder when inside it (no machine's absolute path)."""
    p = Path(path)
    if p.is_absolute():
        try:
            return str(p.relative_to(Path.cwd()))
        except ValueError:
            pass
    return str(p)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _command_lines(argv: list, width: int = 96) -> str:
    """A shell command over lines of at most ~`width` characters, each break (a backslash) before a flag."""
    units = []                                           # each flag with its values: never split
    for word in map(shlex.quote, argv):
        if units and not word.startswith("--"):
            units[-1] += " " + word
        else:
            units.append(word)
    lines = [units[0]]
    for unit in units[1:]:
        if len(lines[-1]) + 1 + len(unit) > width:
            lines[-1] += " \\"
            lines.append("    " + unit)
        else:
            lines[-1] += " " + unit
    return "\n".join(lines)


def model_card(name: str, out: str, run: str, cfg: dict, meta: dict, scores: dict, n_params: int,
               files: dict, command: list | None, corpus: dict | None) -> str:
    """The README.md of an exported folder (markdown).

    Args:
        name: the model's name (the folder's).  out: the folder as the user names it (in the
            fine-tuning commands).  run: the run folder as the user named it.
        cfg: the run's config.json.  meta: `weights_meta` of its encoder.npz (config, step ...).
        scores: tokens, train_hours, val_mlm_acc, val_ppl at the step (metrics.csv, else meta).
        n_params: parameter count.  files: {file name: (bytes, sha256)} of the other files.
        command: the `pmt-pretrain train` argv (None if the run records no settings).
        corpus: the corpus folder's corpus.json (None if not found).
    """
    c, step, train = meta["config"], meta.get("step"), cfg.get("train") or {}
    size = files[SHIPPED_FILE][0]
    electra = c.get("objective") == "electra"
    how = "replaced-token detection (ELECTRA)" if electra else "masked-language modelling"
    heads = (f"a generator of {c['gen_layers']} layer{'s' * (c['gen_layers'] != 1)} (shared embeddings, an MLM "
             f"head tied to the token embedding; the held-out masked-token scores below are its) and a "
             f"replaced-token detection head" if electra else
             "an MLM head whose output projection is the token embedding")
    lines = [f"# {name}", "",
             f"A Transformer encoder pretrained by {how} with PMT (numpy only), exported by "
             f"`pmt-pretrain export` from the pretraining run `{run}` at step {_number(step, ',')}.", "",
             "## Model", "", "| | |", "|---|---|",
             f"| architecture | `pmt.transformer.pretrain.{'Electra' if electra else 'MaskedLM'}`: token, segment "
             f"and position embeddings, an encoder of {c['n_layers']} layer{'s' * (c['n_layers'] != 1)}, {heads} |",
             f"| shape | d_model {c['d_model']}, {c['n_heads']} heads, feed-forward {c['d_ff']}, at most "
             f"{c['max_len']} tokens per input, dropout {c['dropout']} |",
             f"| parameters | {n_params:,} (float32: `{SHIPPED_FILE}` is {_size(size)}) |",
             f"| vocabulary | {c['vocab_size']:,} cased WordPiece tokens (`{VOCAB_FILE}`) |", "",
             "## Training", "",
             "| step | tokens seen | training hours | held-out masked-token accuracy | held-out perplexity |",
             "|---|---|---|---|---|"]
    total = None
    if "steps" in train and "round_steps" in train:
        total = math.ceil(train["steps"] / train["round_steps"]) * train["round_steps"]
    of = f" of {total:,}" if total is not None and total != step else ""
    lines += [f"| {_number(step, ',')}{of} | {_number(scores.get('tokens'), ',')} | "
              f"{_number(scores.get('train_hours'), '.2f')} | {_number(scores.get('val_mlm_acc'), '.2f', 100)} % | "
              f"{_number(scores.get('val_ppl'), '.1f')} |", "",
              "Scores from the run's metrics.csv at that step: the held-out slice of the corpus, the same "
              "masked segments every round; training hours exclude that evaluation."
              + (f" `{CURVE_FILE}` is the curve." if CURVE_FILE in files else ""), "", "## Corpus", ""]
    where = f"`{train['corpus']}`" if "corpus" in train else "the run's corpus folder"
    if corpus is None:
        lines += [f"{where} (its corpus.json was not found when the model was exported)."]
    else:
        lines += [f"{where}: the tokenizer was trained on the training lines; the last "
                  f"{corpus.get('heldout_fraction', 0) * 100:g} % of each source's lines are held out"
                  + (f"; each source cut to its first {train['max_lines']:,} lines" if train.get("max_lines") else "")
                  + ".", "", "| source | text | training lines | training tokens | held-out lines | held-out tokens |",
                  "|---|---|---|---|---|---|"]
        for src, s in corpus.get("sources", {}).items():
            lines.append(f"| {src} | {SOURCE_TEXT.get(src, '')} | {s.get('train_lines', 0):,} | "
                         f"{s.get('train_tokens', 0):,} | {s.get('heldout_lines', 0):,} | {s.get('heldout_tokens', 0):,} |")
        lines.append(f"| all | | | {corpus.get('train_tokens', 0):,} | | {corpus.get('heldout_tokens', 0):,} |")
    lines += ["", "## How it was trained", ""]
    if command is None:
        lines += ["The run's config.json records no training settings."]
    else:
        lines += ["```", _command_lines(command), "```", "",
                  "Every setting as the run's config.json records it (a `--resume` may have changed `--steps`). "
                  "With `PMT_DATA_DIR` naming the datasets, the command first prepares the corpus if `--corpus` "
                  "holds none."]
    lines += ["", "## Fine-tuning from it", "", "```",
              f"pmt-ner train --init {out}", f"pmt-qqp train --init {out}",
              f'pmt-pretrain fill "The [MASK] of France is Paris." --run-dir {out}', "```", "",
              f"A fine-tuned run tokenises with this `{VOCAB_FILE}`, takes the encoder's shape, and records the "
              f"sha256 and step of `{SHIPPED_FILE}` in its config.json (`\"init\"`).", "",
              "## Files", "", "| file | bytes | sha256 |", "|---|---|---|"]
    lines += [f"| `{f}` | {n:,} | `{sha}` |" for f, (n, sha) in files.items()]
    lines += ["", f"(`{CARD_FILE}`, this card, cannot list its own sha256.)", ""]
    return "\n".join(lines)


def export_pretrained(run_dir, out, overwrite: bool = False, log=print) -> Path:
    """Write the shipped model folder `out` from the pretraining run `run_dir` (see the module docstring).

    Args:
        run_dir: a pretraining run folder (`pmt-pretrain train --run-dir`) with an encoder.npz.
        out: the folder to write; refused if it holds files, unless `overwrite` and it holds an
            exported model.
        log: where the one-line summary goes.
    Returns:
        `out`, as a Path.
    Raises:
        FileExistsError, NotADirectoryError, PermissionError: see `check_export_folder`;
        FileNotFoundError / ValueError: the run has no config.json, vocab.txt or encoder.npz, or
        they do not belong together (each message names the file).
    """
    out = check_export_folder(out, overwrite)
    folder = RunFolder(run_dir, "pretrain", "pmt-pretrain")
    cfg = folder.config(required=("model",))
    run = open_pretrained(folder.path, flag="--run-dir")
    model, meta = run.load_masked_lm()
    vocab = (run.path / VOCAB_FILE).read_bytes()
    meta["vocab_sha256"] = hashlib.sha256(vocab).hexdigest()          # of the very bytes shipped
    scores = {k: meta.get(k) for k in ("train_hours", "val_mlm_acc", "val_ppl")}
    scores.update(_metrics_row(folder.path, run.step))
    train = cfg.get("train")
    if "tokens" not in scores and run.step is not None and isinstance(train, dict) and "batch_size" in train:
        scores["tokens"] = run.step * train["batch_size"] * run.config["max_len"]
    corpus = _corpus_info(cfg)
    command = None
    if isinstance(train, dict):
        if isinstance(train.get("corpus"), str):      # shown as the user would type it, not this machine's path
            train = {**train, "corpus": _shown(train["corpus"])}
            cfg = {**cfg, "train": train}
        from .cli import train_command
        command = train_command(train, _shown(run_dir))

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        atomic_write(tmp / VOCAB_FILE, vocab)
        save_weights(tmp / SHIPPED_FILE, model, metadata=shipped_metadata(meta))
        if (folder.path / CURVE_FILE).is_file():
            shutil.copyfile(folder.path / CURVE_FILE, tmp / CURVE_FILE)
        # Read back the way fine-tuning reads it: the same tensors, bit for bit, or nothing is shipped.
        shipped, _ = open_pretrained(tmp, flag="--out").load_masked_lm()
        theirs = shipped.state_dict()
        changed = [k for k, v in model.state_dict().items() if not np.array_equal(v, theirs[k])]
        if changed:
            raise RuntimeError(f"{tmp / SHIPPED_FILE}: read back with other values for {', '.join(changed)}")
        files = {p.name: (p.stat().st_size, file_sha256(p)) for p in sorted(tmp.iterdir())}
        card = model_card(out.name, _shown(out), _shown(run_dir), cfg, meta, scores, model.num_parameters(), files,
                          command, corpus)
        atomic_write(tmp / CARD_FILE, card)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"exported step {run.step} of {run_dir} -> {out}: {', '.join(files)}, {CARD_FILE} "
        f"({model.num_parameters():,} parameters, {_size(files[SHIPPED_FILE][0])})")
    return out


def _replace(tmp: Path, out: Path):
    """Rename the finished folder `tmp` to `out`; an old `out` is moved aside first, then removed."""
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.parent / f".{out.name}.{secrets.token_hex(4)}.old"
    os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old)
