"""What ``sv.fit``'s machinery costs: one ``sv.fit`` epoch against the bare step loop on the same
batches, in one process, alternating (which goes first alternates every round).

    python benchmarks/bench_fit_overhead.py --rounds 25 --threads 1 --cpu-clock

Model: 784-400-20 Bernoulli VAE, numba backend, float32, batch 128, Adam 1e-3, on the first
8,000 rows of the MNIST test file (../shared/data beside the repository, or --root). "fit" is
``history["seconds"]`` of ``sv.fit(..., progress=False)`` without x_val; "bare" is
``loss, grads = model.loss_and_grads(x[idx], rng=rng); opt.step(grads)`` over fit's own batches
and noise (``sv.train.epoch_generator``, ``sv.train.minibatch_indices``) on a second model
started from the same weights (the two stay bit-identical: checked every round). Round 0 is a
warm-up. ``--cpu-clock`` times both with the process's CPU time instead of wall time (fit's
own clock included): on a loaded machine wall-clock epochs vary several-fold, CPU time of one
thread much less. The figure is the median of the per-round ratios fit / bare.
"""

import argparse
import os
import statistics
import time
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--cpu-clock", action="store_true")
    parser.add_argument("--root", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    import numpy as np  # after the thread counts are set

    import scratchvae as sv
    import scratchvae.train.loop as fit_loop

    clock = time.process_time if args.cpu_clock else time.perf_counter
    fit_loop.time = types.SimpleNamespace(perf_counter=clock)  # fit's epoch clock too
    x, _ = sv.data.load("mnist", split="test", root=str(args.root))
    x = np.ascontiguousarray(np.asarray(x[:args.n_train], np.float32).reshape(args.n_train, -1))

    def make():
        vae = sv.VAE(n_in=784, hidden=(400,), n_latent=20, likelihood="bernoulli",
                     dtype=np.float32, backend="numba", rng=0)
        return vae, sv.optim.Adam(vae.params, lr=1e-3, backend="numba")

    (fit_vae, fit_opt), (bare_vae, bare_opt) = make(), make()
    policy = sv.speed.decide(None, None)
    stepper = sv.parallel.for_training(bare_vae, policy.threads)

    def fit_epoch(epoch):
        history = sv.fit(fit_vae, x, optimizer=fit_opt, epochs=epoch + 1, initial_epoch=epoch,
                         batch_size=128, rng=0, progress=False, threads=policy.threads,
                         zero_skipping=policy.zero_skipping)
        return history["seconds"][-1]

    def bare_epoch(epoch):
        rng = sv.train.epoch_generator(0, epoch)
        batches = sv.train.minibatch_indices(len(x), 128, rng)
        start = clock()
        with sv.speed.applied(policy):
            for idx in batches:
                _, grads = stepper.loss_and_grads(x[idx], rng=rng)
                bare_opt.step(grads)
        return clock() - start

    ratios, fits, bares = [], [], []
    for epoch in range(args.rounds + 1):
        if epoch % 2 == 0:
            fit_s, bare_s = fit_epoch(epoch), bare_epoch(epoch)
        else:
            bare_s = bare_epoch(epoch)
            fit_s = fit_epoch(epoch)
        same = all((fit_vae.params[k] == bare_vae.params[k]).all() for k in fit_vae.params)
        if not same:
            raise SystemExit(f"round {epoch}: sv.fit and the bare loop trained different models")
        if epoch == 0:
            continue  # warm-up: Numba compiles or loads its cache
        fits.append(fit_s)
        bares.append(bare_s)
        ratios.append(fit_s / bare_s)
    clock_name = "CPU" if args.cpu_clock else "wall"
    print(f"{sv.__file__}: {args.threads} thread(s), {policy}, {clock_name} clock, "
          f"{args.rounds} rounds: median fit {statistics.median(fits):.3f} s, median bare "
          f"{statistics.median(bares):.3f} s; per-round ratios fit / bare: "
          + " ".join(f"{r:.3f}" for r in ratios)
          + f" -> median {statistics.median(ratios):.3f} (target <= 1.03)")


if __name__ == "__main__":
    main()
