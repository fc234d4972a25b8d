"""Attention heat-map of one question pair (PNG), drawn with matplotlib's Agg canvas."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pmt.graph import no_grad


def plot_pair_attention(model, tok, q1, q2, path, layer=-1):
    """Draw the head-averaged self-attention of encoder layer `layer` for one pair.

    Row i shows how much token i attends to each token j (rows sum to 1).
    """
    enc = tok.encode(q1, q2, max_length=model.config.max_len)
    ids = np.asarray(enc.ids)[None]
    segs = np.asarray(enc.segment_ids)[None]
    attn = model.encoder.layers[layer].self_attn
    attn.keep_weights = True
    try:
        with no_grad():
            model(ids, segs)
        w = attn.weights[0].mean(axis=0)                      # (T, T), averaged over heads
    finally:
        attn.keep_weights, attn.weights = False, None
    labels = [tok.id_to_token(int(i)) for i in enc.ids]
    n = len(labels)
    fig = Figure(figsize=(2 + 0.28 * n, 1.5 + 0.28 * n))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(w, cmap="viridis", vmin=0)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel("attended token (key)")
    ax.set_ylabel("token (query)")
    ax.set_title(f"self-attention, layer {layer % len(model.encoder.layers) + 1}, mean over heads")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
