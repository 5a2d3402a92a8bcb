"""GFLOP/s of the teaching matmul (scratchvae.kernels.jit.matmul) next to BLAS (np.dot).

    python benchmarks/bench_matmul.py --threads 2

The shapes are the VAE's (784-400-20, batch 128): the forward products, the weight gradients
x.T @ dpre and the input gradients dpre @ W.T. Each time is the best of several repeats (the
kernel's first call compiles it and is not counted).

A second table times the first layer's two products on inputs with a given fraction of
nonzeros: BLAS against the Numba kernels that skip the zeros (jit.sparse_x_matmul and
jit.sparse_x_weight_grad). Where the two cross is what jit.SPARSE_MAX_DENSITY should be.
"""

import argparse
import json
import time
from pathlib import Path

from threads import machine_line, set_thread_env  # benchmarks/threads.py, beside this script

SHAPES = [  # (n, k, m): (n x k) @ (k x m), and where the VAE uses it
    (128, 784, 400, "x @ W1            encoder fwd"),
    (128, 400, 20, "h @ W_mu          heads fwd"),
    (128, 20, 400, "z @ W3            decoder fwd"),
    (128, 400, 784, "h3 @ W4           decoder out fwd"),
    (784, 128, 400, "x.T @ dpre        dW1"),
    (400, 128, 784, "h3.T @ dlogits    dW4"),
    (128, 784, 400, "dlogits @ W4.T    dh3"),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="BLAS and Numba threads (2)")
    parser.add_argument("--repeats", type=int, default=30, help="calls per timing (30)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args(argv)


def best_seconds(fn, repeats, rounds=5):
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main(argv=None):
    args = parse_args(argv)
    set_thread_env(args.threads)
    import numba
    import numpy as np

    from scratchvae.kernels import jit

    numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    print(f"teaching matmul (blocked {jit.ROW_BLOCK}x{jit.COL_BLOCK}x{jit.K_BLOCK}, prange over "
          f"row blocks) vs np.dot (BLAS), {args.threads} threads, best of 5 x {args.repeats}")
    header = (f"{'dtype':<8}{'(n x k) @ (k x m)':<22}{'use':<32}{'teaching GF/s':>14}"
              f"{'BLAS GF/s':>11}{'ratio':>8}")
    print(header)
    print("-" * len(header))
    for dtype in (np.float32, np.float64):
        for n, k, m, use in SHAPES:
            a = rng.standard_normal((n, k)).astype(dtype)
            b = rng.standard_normal((k, m)).astype(dtype)
            flops = 2 * n * k * m
            t_jit = best_seconds(lambda: jit.matmul(a, b), args.repeats)
            t_blas = best_seconds(lambda: np.dot(a, b), args.repeats)
            row = {"dtype": np.dtype(dtype).name, "n": n, "k": k, "m": m, "use": use,
                   "teaching_gflops": flops / t_jit / 1e9, "blas_gflops": flops / t_blas / 1e9}
            row["ratio"] = row["teaching_gflops"] / row["blas_gflops"]
            rows.append(row)
            shape = f"({n}x{k})@({k}x{m})"
            print(f"{row['dtype']:<8}{shape:<22}{use:<32}{row['teaching_gflops']:>14.1f}"
                  f"{row['blas_gflops']:>11.1f}{row['ratio']:>8.2f}")
    print("target: teaching >= 0.50 x BLAS on (128x784)@(784x400)")
    sparse_rows = sparse_sweep(args, np, jit)
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "rows": rows,
                                         "sparse": sparse_rows}, indent=2))
    return rows


def sparse_sweep(args, np, jit):
    """BLAS vs the zero-skipping kernels on (128 x 784) inputs with a given fraction of nonzeros."""
    rng = np.random.default_rng(1)
    W = rng.standard_normal((784, 400)).astype(np.float32)
    dpre = rng.standard_normal((128, 400)).astype(np.float32)
    print(f"\nfirst layer on sparse x (128 x 784, float32), {machine_line()}")
    print(f"{'nonzeros':>9}{'x@W BLAS ms':>13}{'sparse ms':>11}{'x.T@dpre BLAS ms':>18}"
          f"{'sparse ms':>11}")
    rows = []
    for density in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5):
        x = rng.uniform(size=(128, 784)).astype(np.float32)
        x[rng.uniform(size=x.shape) >= density] = 0
        times = [best_seconds(fn, args.repeats) * 1e3 for fn in (
            lambda: x @ W, lambda: jit.sparse_x_matmul(x, W),
            lambda: x.T @ dpre, lambda: jit.sparse_x_weight_grad(x, dpre))]
        rows.append({"density": density, "ms": times})
        print(f"{density:>9.2f}" + "".join(f"{t:>{w}.3f}" for t, w in zip(times, (13, 11, 18, 11))))
    print(f"jit.SPARSE_MAX_DENSITY = {jit.SPARSE_MAX_DENSITY} (MNIST images: about 0.19 nonzero)")
    return rows


if __name__ == "__main__":
    main()
