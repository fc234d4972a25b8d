"""PyTorch CPU reference for `bench_pretrain`: one masked-LM pretraining step.

Runs in its own process (torch is never imported by the numpy side).  The model is
`pmt.transformer.pretrain.MaskedLM` written in torch: token + segment embeddings + learned
positions, L pre-LN encoder layers (ReLU, no dropout) with a final LayerNorm, and the MLM head on
the masked rows only: Linear(d, d), GELU (tanh), LayerNorm, logits = z E_tokᵀ + b (tied), then
cross-entropy, gradient clipping at 1.0 and AdamW (dense).  The masked batches are read from the
.npz file the numpy side wrote, so both score exactly the same positions.

    python ref_torch_pretrain.py --batches b.npz --vocab 16000 --d-model 256 --heads 4 --ff 1024 --layers 4

Prints one JSON line: {"ms_per_step": median over the timed steps, ...}.
"""
import argparse
import json
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", required=True, help=".npz with inputs, segments, labels: (n, batch, seq)")
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ff", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    z = np.load(a.batches)
    data = [tuple(torch.from_numpy(z[k][i].astype(np.int64)) for k in ("inputs", "segments", "labels"))
            for i in range(len(z["inputs"]))]
    seq = data[0][0].shape[1]

    class MaskedLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            d = a.d_model
            self.tok = torch.nn.Embedding(a.vocab, d)
            self.seg = torch.nn.Embedding(2, d)
            self.pos = torch.nn.Parameter(0.02 * torch.randn(seq, d))
            block = torch.nn.TransformerEncoderLayer(d, a.heads, a.ff, dropout=0.0, batch_first=True,
                                                     norm_first=True)
            self.body = torch.nn.TransformerEncoder(block, a.layers, norm=torch.nn.LayerNorm(d),
                                                    enable_nested_tensor=False)
            self.dense = torch.nn.Linear(d, d)
            self.norm = torch.nn.LayerNorm(d)
            self.bias = torch.nn.Parameter(torch.zeros(a.vocab))

        def forward(self, ids, segments, chosen):
            h = self.body(self.tok(ids) + self.seg(segments) + self.pos)          # (B, T, d)
            r = h[chosen]                                                          # (M, d)
            z = self.norm(torch.nn.functional.gelu(self.dense(r), approximate="tanh"))
            return z @ self.tok.weight.T + self.bias                              # (M, V), tied

    model = MaskedLM()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)

    def step(i):
        inputs, segments, labels = data[i % len(data)]
        chosen = labels >= 0
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs, segments, chosen), labels[chosen])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for i in range(a.warmup):
        step(i)
    times = []
    for i in range(a.steps):
        t0 = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({"ms_per_step": times[len(times) // 2] * 1e3, "steps": a.steps, "torch": torch.__version__,
                      "threads": a.threads}))


if __name__ == "__main__":
    main()
