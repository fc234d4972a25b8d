"""`python -m tools.bench.linear_layout`: why pmt.graph's `linear` flattens leading axes.

Times y = x W and dL/dx = g W^T for x of shape (B, T, d), numpy's stacked matmul (B small
gemms; the backward on a transposed view) against one (B*T, d) gemm, float32, median of 15.
"""
from __future__ import annotations

import numpy as np

from .common import median_time

SHAPES = [(32, 64, 128, 384), (32, 64, 512, 128), (64, 20, 64, 33)]   # QKV, FFN out, toy vocab


def main():
    rng = np.random.default_rng(0)
    print(f"{'x (B, T, d) @ W (d, k)':28s} {'product':12s} {'stacked':>10s} {'one gemm':>10s} {'ratio':>6s}")
    for b, t, d, k in SHAPES:
        x, w = rng.random((b, t, d), dtype=np.float32), rng.random((d, k), dtype=np.float32)
        g = rng.random((b, t, k), dtype=np.float32)
        x2, g2 = x.reshape(-1, d), g.reshape(-1, k)
        for name, stacked, flat in [("y = x W", lambda: x @ w, lambda: x2 @ w),
                                    ("dx = g W^T", lambda: g @ w.T, lambda: g2 @ w.T)]:
            a, c = median_time(stacked, repeats=15), median_time(flat, repeats=15)
            shapes = f"({b}, {t}, {d}) @ ({d}, {k})"
            print(f"{shapes:28s} {name:12s} {a * 1e3:8.3f}ms {c * 1e3:8.3f}ms {a / c:6.2f}")


if __name__ == "__main__":
    main()
