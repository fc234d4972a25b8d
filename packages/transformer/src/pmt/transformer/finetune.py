"""Fine-tuning a task model from a pretraining run: the flags `pmt-qqp` and `pmt-ner` share.

    --init RUN               start from the pretraining run folder RUN (`pmt-pretrain train --run-dir RUN`)
                             or an exported one (`pmt-pretrain export --out DIR`, e.g. under models/)
    --init-weights random    the same architecture and tokenizer, randomly initialised: the control
    --init-lr X              peak learning rate of the parameters that --init supplies (default: --lr)
    --init-freeze            keep them fixed: the pretrained body is a feature extractor

What a start from a pretrained encoder changes:

* the tokenizer is the run's own `vocab.txt` (cased WordPiece): the embedding rows mean tokens of
  that vocabulary, so no new vocabulary is trained; the body's shape is the run's;
* the parts the task adds (QQP's classifier head; the tagger's own features, encoder and CRF)
  start from a fresh initialisation and learn at `--lr`, while the pretrained body can learn at
  a gentler `--init-lr`: two parameter groups of one optimizer (`pmt.core` optimizers take
  PyTorch-style groups), both following the same warm-up and decay in proportion;
* or the body is frozen (`--init-freeze`, PyTorch's `requires_grad_(False)`): its parameters
  stop requiring gradients, so its forward pass records no graph and costs no backward, and
  they are left out of the optimizer; only the task's own parts learn.  The body's outputs are
  then fixed features of the text (the feature-based use of a pretrained model), which a
  small labelled set cannot overfit the way it can overfit millions of body weights;
* the run folder records where the weights came from (`"init"` in config.json: the folder, the
  weights file (encoder.npz or encoder.safetensors) with its sha256 and pretraining step,
  pretrained or random), and copies the tokenizer, so
  `eval`, `predict`/`tag` and `--resume` rebuild the same model without the pretraining run.

`--init-weights random` builds exactly the same model (same tokenizer, shape, parameter groups
and recipe) and skips only the copy of the pretrained weights: what the table's control rows
measure is what the pretrained weights are worth, nothing else.
"""
from __future__ import annotations

from pathlib import Path

from pmt.core.cli import positive_float

from .pretrain.transfer import PretrainedRun, open_pretrained

__all__ = ["INIT_WEIGHTS", "add_init_flags", "open_init", "freeze", "lr_groups", "describe_init"]

INIT_WEIGHTS = ("pretrained", "random")


def add_init_flags(parser, what: str):
    """Add --init, --init-weights and --init-lr to a `train` sub-parser; `what` names the body in help."""
    parser.add_argument("--init", metavar="RUN", help=f"start {what} from this pretraining run folder "
                        "(pmt-pretrain train --run-dir RUN) or exported folder (pmt-pretrain export --out DIR): "
                        "its vocab.txt, encoder shape and weights")
    parser.add_argument("--init-weights", choices=INIT_WEIGHTS, default=None,
                        help="with --init: 'random' builds the same model and tokenizer without copying the "
                        "pretrained weights (the control run) [default: pretrained]")
    parser.add_argument("--init-lr", type=positive_float, default=None,
                        help="with --init: peak learning rate of the parameters --init supplies, on the same "
                        "schedule as --lr [default: --lr]")
    parser.add_argument("--init-freeze", action="store_true",
                        help="with --init: keep the parameters --init supplies fixed (no gradients, not in the "
                        "optimizer); only the task's own parts learn")


def open_init(a, decided: dict) -> PretrainedRun | None:
    """Check the --init flags of a new run and open the pretraining run (None without --init).

    Args:
        a: the parsed arguments (with `_given`, from `pmt.core.cli.parse_args`).
        decided: {dest: flag} of settings the pretrained run decides (QQP: its vocabulary and
            shape); giving one of them with --init is an error, not silently ignored.
    """
    given = getattr(a, "_given", frozenset())
    if a.init is None:
        for dest, flag in (("init_weights", "--init-weights"), ("init_lr", "--init-lr"),
                           ("init_freeze", "--init-freeze"), ("init_dropout", "--init-dropout"),
                           ("init_scale", "--init-scale"), ("init_view", "--init-view")):
            if dest in given:
                raise ValueError(f"{flag} needs --init RUN (a pretraining run folder)")
        return None
    if a.init_freeze and a.init_lr is not None:
        raise ValueError("--init-lr with --init-freeze: a frozen body does not learn; give one of them")
    clash = [flag for dest, flag in decided.items() if dest in given]
    if clash:
        raise ValueError(f"{', '.join(clash)}: with --init the pretraining run decides "
                         f"{'them' if len(clash) > 1 else 'it'}; leave {'them' if len(clash) > 1 else 'it'} out")
    return open_pretrained(a.init)


def freeze(params):
    """Keep `params` fixed: they no longer require gradients (PyTorch's `requires_grad_(False)`).

    An op whose inputs all need no gradient records no graph, so a frozen body fed token ids
    runs its forward pass as if under `no_grad` and the backward pass stops at its output.
    """
    for p in params:
        p.requires_grad = False


def lr_groups(params, init_params, init_lr: float | None):
    """Optimizer parameter groups: `init_params` at `init_lr`, the rest at the optimizer's rate.

    Frozen parameters (`freeze`) are left out: the optimizer never sees them.

    Args:
        params: every parameter of the model.  init_params: those --init supplies (a subset).
        init_lr: their peak rate (None: one group, everything at --lr).
    """
    params = [p for p in params if p.requires_grad]
    if init_lr is None:
        return params
    body = {id(p) for p in init_params}
    return [{"params": [p for p in params if id(p) in body], "lr": init_lr},
            {"params": [p for p in params if id(p) not in body]}]


def describe_init(record: dict | None) -> str | None:
    """One line naming a run's start, from config.json's "init" (None for a run from scratch)."""
    if not isinstance(record, dict):
        return None
    kind = ("pretrained weights" if record.get("weights") == "pretrained"
            else "random weights in the pretrained shape and tokenizer (the control)")
    sha = str(record.get("sha256", ""))[:12]
    name = Path(str(record.get("file", "encoder.npz"))).name
    return f"init: {kind} of {record.get('run')} ({name} step {record.get('step')}, sha256 {sha}...)"
