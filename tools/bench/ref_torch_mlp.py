"""PyTorch CPU reference for `bench_mlp`: the original project's MLP, timed per epoch.

784-128-64-10, ReLU, Dropout 0.25 after each hidden layer, cross-entropy on logits,
Adam(lr 1e-3), float32, a fresh shuffle per epoch.  Runs in the reference interpreter
(it imports torch), never in the numpy process.  Prints one JSON line:
{"s_per_epoch": [..], "median": s, "test_acc": a, "torch": version, "threads": n}.

usage: python ref_torch_mlp.py DATA_DIR --batch-size 32 --epochs 3 [--threads 2]
"""
import argparse
import gzip
import json
import statistics
import time

import numpy as np
import torch


def read_idx_gz(path, header_bytes):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=header_bytes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    d = args.data_dir
    x = torch.from_numpy(read_idx_gz(f"{d}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255)
    y = torch.from_numpy(read_idx_gz(f"{d}/train-labels-idx1-ubyte.gz", 8).astype(np.int64))
    xt = torch.from_numpy(read_idx_gz(f"{d}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255)
    yt = torch.from_numpy(read_idx_gz(f"{d}/t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))

    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.25),
                          nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.25), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(x))
        t0 = time.perf_counter()
        for start in range(0, len(x), args.batch_size):
            idx = order[start:start + args.batch_size]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        acc = (model(xt).argmax(-1) == yt).float().mean().item()
    print(json.dumps({"s_per_epoch": times, "median": statistics.median(times), "test_acc": acc,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
