"""Cross-checks of PMT's exported weights against the real other side: the official `safetensors`
package, a PyTorch twin, and onnxruntime.

For each trained run folder (QQP and/or NER), on the first N validation examples (QQP: the run's
own seeded validation split carved from train.tsv; NER: eng.testa):

    safetensors   PMT's writer -> safetensors.torch.load_file: every tensor equal, bit for bit
    twin          PyTorch twin on those weights vs PMT: max |logits or emissions| difference
    onnxruntime   the exported .onnx vs PMT: max difference
    reverse       a twin with random weights, saved by safetensors.torch.save_file, loaded into a
                  fresh PMT model by pmt.core.load_weights: max difference to the twin's outputs
    viterbi       (NER) PMT's CRF decode of the twin's emissions vs of PMT's: sentences that differ

Every difference must be <= --tol (1e-4).  Emissions are compared on real tokens (what a padding
position holds is not part of the contract).  Files go to --out, never into the run folders.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from pmt.core import load_weights
from pmt.graph import no_grad
from pmt.transformer.export import export_run, weights_metadata
from pmt.transformer.onnx_export import onnx_session

from .twin import build, pmt_to_torch, randomize_, torch_to_pmt


# ------------------------------------------------------------------------------------ examples
def qqp_batches(run_dir, n, batch_size=50):
    """PMT model, [(ids, segments)] batches of the first n pairs of the run's validation split."""
    from pmt.core import fetch
    from pmt.transformer.qqp.cli import load_run
    from pmt.core.data import train_valid_split
    from pmt.transformer.qqp.data import read_qqp
    model, tok, cfg = load_run(run_dir)
    path = Path(cfg["data"])
    data = read_qqp(path if path.is_file() else fetch("qqp", files=["train.tsv"])["train.tsv"],
                    max_rows=cfg["train"].get("max_rows"))
    _, valid = train_valid_split(len(data), cfg["split"]["valid_fraction"], cfg["split"]["seed"])
    data = data.subset(valid[:n])
    enc = tok.encode_batch(data.question1, data.question2, max_length=cfg["model"]["max_len"], padding="max_length")
    batches = []
    for i in range(0, len(data), batch_size):
        w = int(enc.lengths[i:i + batch_size].max())                     # ragged: real padding inside
        batches.append((enc.input_ids[i:i + batch_size, :w].astype(np.int64),
                        enc.segment_ids[i:i + batch_size, :w].astype(np.int64)))
    return model, batches


def ner_batches(run_dir, n, batch_size=50):
    """PMT tagger, [(words, cases, chars)] batches of the first n sentences of eng.testa."""
    from pmt.transformer.conll import load_conll2003
    from pmt.transformer.ner.cli import load_run
    from pmt.transformer.ner.features import SentenceBatches, encode_sentences
    model, words, chars, _ = load_run(run_dir)
    data = encode_sentences([s.tokens for s in load_conll2003("validation")[:n]], words, chars)
    return model, [b[:3] for b in SentenceBatches(data, batch_size, shuffle=False)]


# ------------------------------------------------------------------------------------ outputs
def pmt_out(model, batches):
    with no_grad():
        return [model(*b).data for b in batches]


def torch_out(twin, batches):
    with torch.inference_mode():
        return [twin(*map(torch.from_numpy, b)).numpy() for b in batches]


def ort_out(session, batches):
    names = [i.name for i in session.get_inputs()]
    return [session.run(None, dict(zip(names, b)))[0] for b in batches]


def max_diff(a, b, batches, task):
    """max |a - b| over all batches; for NER only on real tokens (words != 0)."""
    worst = 0.0
    for x, y, batch in zip(a, b, batches):
        d = np.abs(x - y)
        worst = max(worst, float((d[batch[0] != 0] if task == "ner" else d).max()))
    return worst


# ------------------------------------------------------------------------------------ checks
def check_task(task, run_dir, out_dir, n, tol):
    """Rows {task, check, value, limit, ok, note} for one run folder."""
    model, batches = (qqp_batches if task == "qqp" else ner_batches)(run_dir, n)
    n_examples = sum(len(b[0]) for b in batches)
    cfg = model.config.to_dict()
    st_path, onnx_path = out_dir / f"{task}.safetensors", out_dir / f"{task}.onnx"
    export_run(task, run_dir, onnx=onnx_path, safetensors=st_path)
    rows = []

    def row(check, value, limit, note):
        rows.append({"task": task, "check": check, "value": value, "limit": limit, "ok": bool(value <= limit),
                     "note": note, "examples": n_examples})

    # 1. PMT's writer, the official reader.
    state = load_file(str(st_path))
    pmt_state = model.state_dict()
    worst = max(float(np.abs(state[k].numpy() - v).max(initial=0)) for k, v in pmt_state.items())
    row("safetensors", worst if set(state) == set(pmt_state) else float("inf"), 0.0,
        f"{len(state)} tensors read by safetensors.torch.load_file")

    # 2. The twin on PMT's weights.
    twin = build(task, cfg)
    twin.load_state_dict(pmt_to_torch(state, cfg.get("char_window")))
    ref, tw = pmt_out(model, batches), torch_out(twin, batches)
    scale = lambda outs: max(float(np.abs(o).max()) for o in outs)       # noqa: E731
    row("twin", max_diff(ref, tw, batches, task), tol, f"PyTorch twin vs PMT (outputs up to {scale(ref):.3g})")
    if task == "ner":
        same = sum(int((model.decode(a, b[0] != 0) == model.decode(t, b[0] != 0)).all(axis=1).sum())
                   for a, t, b in zip(ref, tw, batches))
        row("viterbi", n_examples - same, 0, "sentences whose decoded tags differ (twin vs PMT emissions)")

    # 3. onnxruntime on the exported graph.
    row("onnxruntime", max_diff(ref, ort_out(onnx_session(onnx_path, threads=1), batches), batches, task), tol,
        "onnxruntime vs PMT")

    # 4. The other way: a twin's own (random) weights, saved by the official writer, loaded by PMT.
    other = randomize_(build(task, cfg), seed=1)
    back = out_dir / f"{task}-from-torch.safetensors"
    save_file(torch_to_pmt(other, pmt_state), str(back), metadata=weights_metadata(task, model))
    fresh = type(model)(type(model.config)(**cfg)).eval()
    load_weights(back, fresh)
    theirs = torch_out(other, batches)
    row("reverse", max_diff(theirs, pmt_out(fresh, batches), batches, task), tol,
        f"random twin -> save_file -> pmt.core.load_weights: PMT vs twin (outputs up to {scale(theirs):.3g})")
    return rows


def run_checks(qqp=None, ner=None, n=200, tol=1e-4, out="runs/interop") -> int:
    """Run every check for the given run folders; print a table, write out/check.json; 0 if all pass."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    rows = []
    for task, run_dir in (("qqp", qqp), ("ner", ner)):
        if run_dir is not None:
            rows += check_task(task, Path(run_dir), out_dir, n, tol)
    print(f"{'task':5s} {'check':12s} {'value':>10s} {'limit':>8s}  ok    examples  note")
    for r in rows:
        print(f"{r['task']:5s} {r['check']:12s} {r['value']:10.3g} {r['limit']:8.3g}  {'yes' if r['ok'] else 'NO ':4s}"
              f"  {r['examples']:8d}  {r['note']}")
    runs = {"qqp": str(qqp) if qqp else None, "ner": str(ner) if ner else None}
    (out_dir / "check.json").write_text(json.dumps({"runs": runs, "tol": tol, "rows": rows}, indent=1))
    failed = [r for r in rows if not r["ok"]]
    print(f"{len(rows) - len(failed)} of {len(rows)} checks passed; details in {out_dir / 'check.json'}")
    return 1 if failed or not rows else 0
