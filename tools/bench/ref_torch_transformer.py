"""PyTorch CPU reference for `bench_transformer`: one training step of an encoder classifier.

Runs in its own process (torch is never imported by the numpy side).  The job: token embedding
(vocab V), learned positions, L post-LN encoder layers (d_model, heads, ff, ReLU, dropout 0.1),
mean over positions, Linear -> 2 classes, cross-entropy, dense Adam; float32, 2 threads.
Prints one JSON line: {"ms_per_step": median over the timed steps, "steps": n, ...}.

    python ref_torch_transformer.py --d-model 128 --heads 4 --ff 512 --layers 2
"""
import argparse
import json
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=30000)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ff", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = torch.nn.Embedding(a.vocab, a.d_model)
            self.pos = torch.nn.Parameter(0.02 * torch.randn(a.seq, a.d_model))
            block = torch.nn.TransformerEncoderLayer(a.d_model, a.heads, a.ff, dropout=0.1,
                                                     batch_first=True)
            self.body = torch.nn.TransformerEncoder(block, a.layers, enable_nested_tensor=False)
            self.head = torch.nn.Linear(a.d_model, 2)

        def forward(self, ids):
            return self.head(self.body(self.tok(ids) + self.pos).mean(dim=1))

    model = Classifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ids = torch.randint(0, a.vocab, (a.batch_size, a.seq))
    labels = torch.randint(0, 2, (a.batch_size,))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(ids), labels)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    ms = times[len(times) // 2] * 1e3
    print(json.dumps({"ms_per_step": ms, "steps": a.steps, "torch": torch.__version__,
                      "threads": a.threads}))


if __name__ == "__main__":
    main()
