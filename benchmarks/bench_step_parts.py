"""Where a training epoch's time goes, NumPy backend vs Numba backend: the matrix products, the
rest of ``loss_and_grads``, the optimizer, and the fixed cost of a step whatever its size.

    python benchmarks/bench_step_parts.py                  # 2 threads, 11 rounds
    python benchmarks/bench_step_parts.py --threads 1 --rounds 15

Model and data as in ``bench_vae.py``: the 784-400-20 Bernoulli VAE, float32, batch 128, Adam
1e-3, on 8,000 MNIST test images (../shared/data beside the repository, or --root), over
``sv.fit``'s own batches and noise (``sv.train.epoch_generator``, ``sv.train.minibatch_indices``).
Per round and backend, an epoch of the bare step loop is timed in three parts:

    gather      x[idx]: the batch copied out of the data set
    loss        vae.loss_and_grads(x_batch, rng=rng)
    optimizer   opt.step(grads)

and, once per round, the epoch's matrix products alone ("products": ``bench_vae.py``'s GEMM
floor, the five forward products, five weight gradients and four input gradients on batches
of the same shape), which both backends hand to the same BLAS. "fixed" is the same step loop on a
16-8-4 VAE, scaled to the epoch's number of steps: what a step costs whatever the sizes
(Python, argument checks, kernel dispatch).

The last lines answer "how fast could the Numba backend be, calling BLAS for its products?":
NumPy's epoch divided by the products alone (plus the gather) is the largest NumPy / Numba ratio
any backend that calls BLAS for the products can reach on this machine.

Both backends run in this one process, taking turns every round (the Numba kernels the VAE uses
run on the calling thread, so no second thread pool competes with BLAS's). BLAS pins
(OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) are removed from this process's environment only, so
OpenBLAS picks the kernel the CPU supports; the table names it (threadpoolctl).
"""

import argparse
import statistics
import time
from pathlib import Path

from bench_vae import BATCH, LR, N_TRAIN, SIZES, GemmFloor, load_mnist10k  # beside this script
from threads import machine_line, set_thread_env  # benchmarks/threads.py

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SIZES = (16, 8, 4)
PARTS = ("gather", "loss", "optimizer")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=11, help="rounds after one warm-up")
    parser.add_argument("--root", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    return parser.parse_args(argv)


def make_model(sv, np, backend, sizes):
    n_in, hidden, latent = sizes
    vae = sv.VAE(n_in=n_in, hidden=(hidden,), n_latent=latent, dtype=np.float32,
                 backend=backend, rng=0)
    return vae, sv.optim.Adam(vae.params, lr=LR, backend=backend)


def timed_epoch(sv, model, x, epoch):
    """Seconds of each part of one bare-loop epoch over fit's batches of ``epoch``."""
    vae, opt = model
    rng = sv.train.epoch_generator(0, epoch)
    seconds = dict.fromkeys(PARTS, 0.0)
    for idx in sv.train.minibatch_indices(len(x), BATCH, rng):
        t0 = time.perf_counter()
        x_batch = x[idx]
        t1 = time.perf_counter()
        _, grads = vae.loss_and_grads(x_batch, rng=rng)
        t2 = time.perf_counter()
        opt.step(grads)
        t3 = time.perf_counter()
        for part, dt in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2)):
            seconds[part] += dt
    return seconds


def main(argv=None):
    args = parse_args(argv)
    unset = set_thread_env(args.threads)
    import numpy as np  # after the thread counts are set

    import scratchvae as sv

    x, _ = load_mnist10k(args.root)
    steps = -(-N_TRAIN // BATCH)
    tiny_x = np.random.default_rng(0).random((BATCH * steps, TINY_SIZES[0]), dtype=np.float32)
    models = {b: make_model(sv, np, b, SIZES) for b in ("numpy", "numba")}
    tiny = {b: make_model(sv, np, b, TINY_SIZES) for b in ("numpy", "numba")}
    rows = {b: {p: [] for p in PARTS + ("fixed",)} for b in models}
    products, gemm = [], GemmFloor(x, seed=1)
    for epoch in range(args.rounds + 1):
        for backend in (("numpy", "numba") if epoch % 2 else ("numba", "numpy")):
            parts = timed_epoch(sv, models[backend], x, epoch)
            fixed = sum(timed_epoch(sv, tiny[backend], tiny_x, epoch).values())
            if epoch:  # epoch 0 warms up (Numba loads or compiles its kernels)
                for part in PARTS:
                    rows[backend][part].append(parts[part])
                rows[backend]["fixed"].append(fixed)
        start = time.perf_counter()
        gemm.epoch(range(N_TRAIN))
        if epoch:
            products.append(time.perf_counter() - start)
    report(args, unset, rows, products, steps)


def report(args, unset, rows, products, steps):
    med = {b: {p: statistics.median(v) for p, v in parts.items()} for b, parts in rows.items()}
    floor = statistics.median(products)
    print(f"VAE 784-400-20 Bernoulli, 8,000 MNIST images, batch {BATCH} ({steps} steps), float32,"
          f" Adam | median of {args.rounds} rounds after one warm-up")
    print(machine_line())
    print(f"BLAS pins removed from this process's environment: {sorted(unset) or 'none were set'}")
    header = (f"{'backend':8} {'gather s':>9} {'loss s':>8} {'optim s':>8} {'epoch s':>8} "
              f"{'products s':>11} {'the rest s':>11} {'fixed s':>8}")
    print(header)
    print("-" * len(header))
    for backend, m in med.items():
        epoch = m["gather"] + m["loss"] + m["optimizer"]
        print(f"{backend:8} {m['gather']:9.4f} {m['loss']:8.4f} {m['optimizer']:8.4f} "
              f"{epoch:8.4f} {floor:11.4f} {epoch - m['gather'] - floor:11.4f} "
              f"{m['fixed']:8.4f}")
    epochs = {b: m["gather"] + m["loss"] + m["optimizer"] for b, m in med.items()}
    print("products: the epoch's matrix products alone (same BLAS for both backends); the rest: "
          "epoch - gather - products;\nfixed: the same loop on a 16-8-4 VAE over the same number "
          "of steps (cost per step whatever the sizes)")
    ceiling = epochs["numpy"] / (med["numba"]["gather"] + floor)
    print(f"numpy / numba epoch = {epochs['numpy'] / epochs['numba']:.2f}; the largest it could "
          f"be with BLAS products (numba = gather + products only): {ceiling:.2f}")
    print("numba's work outside the products, of its epoch: "
          f"{(epochs['numba'] - med['numba']['gather'] - floor) / epochs['numba']:.0%}")


if __name__ == "__main__":
    main()
