"""Seconds per epoch of the MNIST VAE: NumPy backend vs Numba backend vs PyTorch CPU.

    python benchmarks/bench_vae.py                      # 10 epochs, 2 threads
    python benchmarks/bench_vae.py --epochs 10 --threads 2 --json bench_vae.json

Data: "mnist10k", the MNIST test file split 8,000 train / 2,000 test (pixels / 255, float32),
read from ../shared/data/mnist beside the repository (or --root). Model: 784-400-20 Bernoulli
VAE, ReLU, batch 128, Adam 1e-3, float32. PyTorch (optional, not a dependency) runs the
pytorch/examples VAE with the same sizes, started from the same initial weights, fed the same
batches and the same noise eps.

The "numpy" and "numba" rows time what a user runs: one ``sv.fit`` epoch per round (no
x_val), read from ``history["seconds"]`` (the pure NumPy path is the NumPy model with the NumPy
optimizer). In the same worker, on the same batches and noise (``sv.train.epoch_generator``,
``sv.train.minibatch_indices``: the batches ``fit`` draws), a second model started from the
same weights runs the bare step loop, ``loss, grads = vae.loss_and_grads(x[idx], rng=rng);
opt.step(grads)``, and nothing else; the two models stay bit-identical (checked every round),
so the per-round ratio fit / bare is what ``fit``'s machinery costs. Four more rows, each in
its own worker too, time the bare loop only. The Numba backend's first layer skips the zeros of
x when the speed policy says so (``sv.speed``: by default when BLAS runs on one thread) and
multiplies them by BLAS otherwise; "numba, sparse x" and "numba, dense x" force one way or the
other (``zero_skipping=``), so both are measured at every thread count.
"numba, parallel" is ``sv.parallel.DataParallel(vae, threads)``: each thread a slice of the
batch, BLAS on one thread per slice (``sv.fit`` does not choose it for this model: measured
slower). "GEMM floor" runs the epoch's matrix products alone (forward,
dW and dx of every layer, same shapes, nothing else): the time an implementation that calls BLAS
for every product cannot go below.

BLAS: the benchmark removes OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE from its workers' environment
only, so OpenBLAS picks the kernel this CPU supports (as on a user's machine); the table names
the kernel threadpoolctl reports in each worker.

Each backend trains in its own worker process (benchmarks/workers.py); the workers take turns,
one epoch each (so a busy machine slows them alike), only the one whose turn it is runs, and
between turns the script waits ``--pause`` seconds (default 0.3) so the last worker's BLAS
threads stop spinning.
Separate processes, because thread pools of different runtimes in one process compete for the
cores: with Numba's OpenMP threads in the same process, we measured PyTorch's epoch 3.5x slower
(1.8 s instead of 0.5 s) and the NumPy backend's 1.2x slower. Epoch 1 is a warm-up (Numba
compiles or loads its cache there); the table shows the median of the remaining epochs. Nothing
runs at import: thread counts must be set in the environment before NumPy loads, so ``main``
and ``worker`` set them and only then import NumPy.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from threads import (  # benchmarks/threads.py
    BLAS_PIN_VARIABLES,
    THREAD_VARIABLES,
    blas_kernel,
    machine_line,
    set_thread_env,
)
from workers import Worker, ratio_line, take_turns  # benchmarks/workers.py

REPO_ROOT = Path(__file__).resolve().parents[1]
SIZES = (784, 400, 20)
BATCH = 128
LR = 1e-3
N_TRAIN = 8000
#: the rows timed through sv.fit (and, in the same worker, by the bare step loop)
FIT_ROWS = ("numpy", "numba")
BACKENDS = ("numpy", "numba", "numba-sparse", "numba-dense", "numba-parallel", "gemm", "torch")
LABELS = {"numpy": "numpy", "numba": "numba", "numba-sparse": "numba, sparse x",
          "numba-dense": "numba, dense x", "numba-parallel": "numba, parallel",
          "gemm": "GEMM floor", "torch": "torch"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10,
                        help="epochs trained per backend, the first one a warm-up (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS/Numba/torch threads (2)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT.parent / "shared" / "data",
                        help="data folder holding mnist/t10k-images-idx3-ubyte.gz")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help=f"comma-separated subset of {','.join(BACKENDS)}")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--pause", type=float, default=0.3,
                        help="seconds between two workers' turns (default 0.3)")
    parser.add_argument("--torch-python", default=os.environ.get("SCRATCHVAE_TORCH_PYTHON"),
                        help="a Python with torch (and numpy) for the torch worker, when torch "
                             "is not installed here")
    parser.add_argument("--n-train", type=int, default=N_TRAIN,
                        help=f"training examples per epoch (default {N_TRAIN}; fewer only for "
                             "a quick check of the script, not for the goals)")
    parser.add_argument("--no-compile-time", action="store_true",
                        help="skip measuring Numba's compile time in fresh processes")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args(argv)
    if args.epochs < 6:
        parser.error("--epochs must be at least 6 (one warm-up + a median of >= 5)")
    return args


def gemm_flops_per_epoch(n_examples):
    """Multiply-adds x 2 of every matrix product in forward + backward, per epoch.

    Forward: x@W for the 5 layers (fc1, fc21, fc22, fc3, fc4). Backward: dW = x.T@dpre for all
    5, dx = dpre@W.T for all but fc1 (its input is the data).
    """
    n_in, hidden, latent = SIZES
    layers = [(n_in, hidden), (hidden, latent), (hidden, latent), (latent, hidden),
              (hidden, n_in)]
    per_example = sum(2 * a * b for a, b in layers)  # forward
    per_example += sum(2 * a * b for a, b in layers)  # dW
    per_example += sum(2 * a * b for a, b in layers[1:])  # dx
    return per_example * n_examples


def load_mnist10k(root, n_train=N_TRAIN):
    import numpy as np

    path = Path(root) / "mnist" / "t10k-images-idx3-ubyte.gz"
    try:
        from scratchvae.data import read_idx
    except ImportError:  # the package's reader is the one to use; this is a fallback
        import gzip

        def read_idx(p):
            with gzip.open(p, "rb") as f:
                data = f.read()
            ndim = data[3]
            dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
            return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)

    images = read_idx(path).reshape(-1, 784).astype(np.float32) / np.float32(255)
    return images[:n_train], images[N_TRAIN:]


# ---------------------------------------------------------------------------------------------
# the trainers: one object per backend with .epoch(perm) and .test_neg_elbo(x, eps)
# ---------------------------------------------------------------------------------------------


class ScratchTrainer:
    """The scratchvae VAE with Adam, trained by the bare step loop on ``sv.fit``'s batches
    (``epoch_generator(seed, e)``: its permutation, then its noise), or by ``sv.fit`` itself
    (``fit_epoch``). ``threads``/``zero_skipping``: the speed policy, as ``sv.fit`` takes it."""

    def __init__(self, backend, x_train, seed, threads=None, zero_skipping=None):
        import numpy as np

        import scratchvae as sv

        self.np, self.sv = np, sv
        self.name = backend
        self.x = x_train
        self.seed = seed
        self.vae = sv.VAE(n_in=SIZES[0], hidden=(SIZES[1],), n_latent=SIZES[2],
                          likelihood="bernoulli", dtype=np.float32, backend=backend, rng=seed)
        self.opt = sv.optim.Adam(self.vae.params, lr=LR, backend=backend)
        self.policy = sv.speed.decide(threads, zero_skipping)
        self.stepper = sv.parallel.for_training(self.vae, self.policy.threads)

    def initial_weights(self):
        return {k: v.copy() for k, v in self.vae.params.items()}

    def batches(self, epoch):
        """fit's batches and noise stream of ``epoch``: (index arrays, Generator)."""
        rng = self.sv.train.epoch_generator(self.seed, epoch)
        return self.sv.train.minibatch_indices(len(self.x), BATCH, rng), rng

    def epoch(self, epoch):
        """The bare step loop over fit's batches of ``epoch``; returns its seconds."""
        batches, rng = self.batches(epoch)
        start = time.perf_counter()
        with self.sv.speed.applied(self.policy):
            for idx in batches:
                _, grads = self.stepper.loss_and_grads(self.x[idx], rng=rng)
                self.opt.step(grads)
        return time.perf_counter() - start

    def fit_epoch(self, epoch):
        """One ``sv.fit`` epoch (epochs done: ``epoch``); returns its ``history["seconds"]``."""
        history = self.sv.fit(self.vae, self.x, optimizer=self.opt, epochs=epoch + 1,
                              initial_epoch=epoch, batch_size=BATCH, rng=self.seed,
                              progress=False, threads=self.policy.threads,
                              zero_skipping=self.policy.zero_skipping)
        return history["seconds"][-1]

    def test_neg_elbo(self, x, eps):
        return float(-self.np.mean(self.vae.elbo(x, eps=eps)))


class GemmFloor:
    """The matrix products of a training epoch and nothing else: per batch, the forward x @ W of
    the five layers (784-400, 400-20 twice, 20-400, 400-784), their five weight gradients
    a.T @ dpre and the four input gradients dpre @ W.T (not the first layer's), float32, on
    fixed batches (no gather, no activation, no loss, no optimizer)."""

    def __init__(self, x_train, seed):
        import numpy as np

        rng = np.random.default_rng(seed)
        n_in, hidden, latent = SIZES
        shapes = {"W1": (n_in, hidden), "W21": (hidden, latent), "W22": (hidden, latent),
                  "W3": (latent, hidden), "W4": (hidden, n_in)}
        self.W = {k: (0.05 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
        self.x = x_train
        self.name = "gemm"

    def epoch(self, perm):
        W = self.W
        for start in range(0, len(perm), BATCH):
            x = self.x[start:start + BATCH]
            h = x @ W["W1"]  # forward
            mu, logvar = h @ W["W21"], h @ W["W22"]
            h3 = mu @ W["W3"]
            logits = h3 @ W["W4"]
            dlogits = logits  # backward (any values of the right shape)
            _ = h3.T @ dlogits
            dh3 = dlogits @ W["W4"].T
            _ = mu.T @ dh3
            dz = dh3 @ W["W3"].T
            _ = h.T @ dz, h.T @ logvar
            dh = dz @ W["W21"].T + logvar @ W["W22"].T
            _ = x.T @ dh

    def test_neg_elbo(self, x, eps):
        return None


class TorchTrainer:
    """The VAE of pytorch/examples (vae/main.py), same sizes, Adam 1e-3, summed BCE + KL."""

    def __init__(self, x_train, seed, weights, threads):
        import numpy as np
        import torch
        from torch import nn
        from torch.nn import functional as F

        torch.set_num_threads(threads)
        self.np, self.torch, self.F = np, torch, F
        self.name = "torch"

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(784, 400)
                self.fc21 = nn.Linear(400, 20)
                self.fc22 = nn.Linear(400, 20)
                self.fc3 = nn.Linear(20, 400)
                self.fc4 = nn.Linear(400, 784)

            def encode(self, x):
                h1 = F.relu(self.fc1(x))
                return self.fc21(h1), self.fc22(h1)

            def reparameterize(self, mu, logvar, eps):
                std = torch.exp(0.5 * logvar)
                return mu + eps * std  # eps passed in (the example draws randn_like(std))

            def decode(self, z):
                h3 = F.relu(self.fc3(z))
                return torch.sigmoid(self.fc4(h3))

            def forward(self, x, eps):
                mu, logvar = self.encode(x.view(-1, 784))
                z = self.reparameterize(mu, logvar, eps)
                return self.decode(z), mu, logvar

        self.model = VAE()
        names = {"fc1": "encoder.0", "fc21": "mu", "fc22": "logvar", "fc3": "decoder.0",
                 "fc4": "decoder.1"}
        with torch.no_grad():  # start from the scratchvae model's initial weights
            for torch_name, key in names.items():
                layer = getattr(self.model, torch_name)
                layer.weight.copy_(torch.from_numpy(weights[f"{key}.W"].T.copy()))
                layer.bias.copy_(torch.from_numpy(weights[f"{key}.b"]))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
        self.x = torch.from_numpy(x_train)
        self.noise = np.random.default_rng(seed + 1)

    def loss_function(self, recon_x, x, mu, logvar):
        bce = self.F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
        kld = -0.5 * self.torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

    def epoch(self, perm):
        torch = self.torch
        self.model.train()
        perm = torch.from_numpy(perm)
        for start in range(0, len(perm), BATCH):
            data = self.x[perm[start:start + BATCH]]
            eps = torch.from_numpy(
                self.noise.standard_normal((len(data), SIZES[2])).astype(self.np.float32))
            self.opt.zero_grad()
            recon, mu, logvar = self.model(data, eps)
            loss = self.loss_function(recon, data, mu, logvar)
            loss.backward()
            self.opt.step()

    def test_neg_elbo(self, x, eps):
        torch = self.torch
        with torch.no_grad():
            x = torch.from_numpy(x)
            mu, logvar = self.model.encode(x)
            z = self.model.reparameterize(mu, logvar, torch.from_numpy(eps))
            logits = self.model.fc4(self.F.relu(self.model.fc3(z)))  # exact BCE from logits
            bce = self.F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
            return float((bce + kld).mean())


# ---------------------------------------------------------------------------------------------
# JIT compile time, measured in fresh processes with an empty Numba cache
# ---------------------------------------------------------------------------------------------

_COMPILE_PROBE = """
import time, numpy as np, scratchvae as sv
vae = sv.VAE(784, (400,), 20, dtype=np.float32, backend="numba", rng=0)
opt = sv.optim.Adam(vae.params, lr=1e-3, backend="numba")
x = np.random.default_rng(0).uniform(size=(128, 784)).astype(np.float32)
times = []
for _ in range(6):
    t = time.perf_counter(); _, g = vae.loss_and_grads(x, rng=0); opt.step(g)
    times.append(time.perf_counter() - t)
print(times[0] - sorted(times[1:])[2])
"""


def jit_compile_seconds(worker_env):
    """(cold, cached): first-step time minus a steady step, with an empty then a warm cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**worker_env, "NUMBA_CACHE_DIR": cache}
        out = []
        for _ in range(2):  # first run compiles and writes the cache, second loads it
            result = subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env=env,
                                    capture_output=True, text=True, check=True)
            out.append(float(result.stdout.strip().splitlines()[-1]))
    return tuple(out)


# ---------------------------------------------------------------------------------------------


def peak_step_mib(backend, x_train, seed):
    """tracemalloc peak of one training step above what was allocated before it (MiB)."""
    tracemalloc.start()
    trainer = ScratchTrainer(backend, x_train[:2 * BATCH], seed)
    trainer.epoch(0)
    baseline = tracemalloc.get_traced_memory()[0]  # params, Adam state, data
    tracemalloc.reset_peak()
    trainer.x = x_train[:BATCH]
    trainer.epoch(1)
    peak = (tracemalloc.get_traced_memory()[1] - baseline) / 2**20
    tracemalloc.stop()
    return peak


def make_trainer(backend, args, x_train):
    """The trainer of one worker's row."""
    if backend == "torch":
        weights = ScratchTrainer("numpy", x_train, args.seed).initial_weights()
        return TorchTrainer(x_train, args.seed, weights, args.threads)
    if backend == "gemm":
        return GemmFloor(x_train, args.seed)
    if backend == "numba-dense":
        from scratchvae.kernels import jit

        jit.SPARSE_MAX_DENSITY = -1.0  # never the sparse path: every product by BLAS
        return ScratchTrainer("numba", x_train, args.seed, zero_skipping=False)
    if backend == "numba-sparse":
        return ScratchTrainer("numba", x_train, args.seed, zero_skipping=True)
    if backend == "numba-parallel":
        return ScratchTrainer("numba", x_train, args.seed, threads=args.threads)
    return ScratchTrainer(backend, x_train, args.seed)


def fit_permutation(seed, epoch, n):
    """The order in which ``sv.fit`` visits the examples in ``epoch`` (its batches, joined)."""
    import numpy as np

    from scratchvae.train import epoch_generator, minibatch_indices

    return np.concatenate(minibatch_indices(n, BATCH, epoch_generator(seed, epoch)))


def run_epoch(backend, trainers, epoch, args):
    """One round of this worker: for "numpy" and "numba" an ``sv.fit`` epoch and the bare loop
    on the same batches (alternating which goes first) -> {"fit", "bare", "same"}; for the other
    rows the bare loop's (or torch's, or the GEMM floor's) seconds."""
    if backend in FIT_ROWS:
        fitted, bare = trainers
        order = ("fit", "bare") if epoch % 2 == 0 else ("bare", "fit")
        seconds = {name: (fitted.fit_epoch(epoch) if name == "fit" else bare.epoch(epoch))
                   for name in order}
        same = all((fitted.vae.params[k] == bare.vae.params[k]).all() for k in bare.vae.params)
        return {**seconds, "same": bool(same)}
    trainer = trainers[0]
    if isinstance(trainer, ScratchTrainer):
        return trainer.epoch(epoch)
    perm = fit_permutation(args.seed, epoch, len(trainer.x))
    start = time.perf_counter()
    trainer.epoch(perm)
    return time.perf_counter() - start


def worker(args):
    """One backend in its own process. Reads commands from stdin, one per line, and answers
    each with one line of JSON on stdout: "epoch" (train the next epoch; its seconds), "elbo"
    (test -ELBO), "peak" (peak MiB of a step), "quit"."""
    set_thread_env(args.threads)
    import numpy as np

    backend = args.worker
    if backend.startswith("numba"):
        import numba

        numba.set_num_threads(args.threads)
    x_train, x_test = load_mnist10k(args.root, min(args.n_train, N_TRAIN))
    trainers = [make_trainer(backend, args, x_train)]
    if backend in FIT_ROWS:  # a second model for the bare loop, from the same weights
        trainers.append(make_trainer(backend, args, x_train))
    eps_test = np.random.default_rng(args.seed + 2).standard_normal(
        (len(x_test), SIZES[2])).astype(np.float32)
    answer = {"ready": True, "blas": blas_kernel(), "machine": machine_line()}
    if backend == "torch":
        import torch

        answer["version"] = torch.__version__
    print(json.dumps(answer), flush=True)
    epoch = 0
    for line in sys.stdin:
        command = line.strip()
        if command == "epoch":
            answer = run_epoch(backend, trainers, epoch, args)
            epoch += 1
        elif command == "elbo":
            answer = trainers[0].test_neg_elbo(x_test, eps_test)
        elif command == "peak":
            answer = peak_step_mib(backend, x_train, args.seed) if backend in FIT_ROWS else None
        else:
            break
        print(json.dumps(answer), flush=True)


def worker_command(backend, args):
    python = args.torch_python if backend == "torch" and args.torch_python else sys.executable
    return [python, str(Path(__file__).resolve()), "--worker", backend, "--threads",
            str(args.threads), "--root", str(args.root), "--seed", str(args.seed),
            "--n-train", str(args.n_train)]


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    args.load_before = os.getloadavg()[0]
    env = dict(os.environ)  # the workers' environment: thread counts set, BLAS pins removed
    args.unpinned = {var: env.pop(var) for var in BLAS_PIN_VARIABLES if var in env}
    env.update({var: str(args.threads) for var in THREAD_VARIABLES})
    import numpy as np

    wanted = args.backends.split(",")
    compile_cold = compile_cached = None
    if "numba" in wanted and not args.no_compile_time:
        compile_cold, compile_cached = jit_compile_seconds(env)

    torch_version = "not installed"
    if "torch" in wanted and not args.torch_python:
        try:
            import torch  # noqa: F401  (only to know whether it is there; it trains in a worker)
        except ImportError:
            wanted.remove("torch")
    workers = [Worker(name, worker_command(name, args), env=env)
               for name in BACKENDS if name in wanted]
    for w in workers:
        if w.name == "torch":
            torch_version = w.hello["version"]
    args.blas = {w.name: w.hello["blas"] for w in workers if w.name != "torch"}
    args.machine = workers[0].hello["machine"] if workers else ""
    peak = {w.name: w.ask("peak") for w in workers}

    times = take_turns(workers, args.epochs, args.pause)

    flops = gemm_flops_per_epoch(args.n_train)
    results = {}
    for w in workers:
        answers = times[w.name]
        if w.name in FIT_ROWS:  # sv.fit's epochs (what users run), and the bare loop's
            epoch_seconds = [a["fit"] for a in answers]
            extra = {"bare_epoch_seconds": [a["bare"] for a in answers],
                     "fit_and_bare_bit_identical": all(a["same"] for a in answers)}
        else:
            epoch_seconds, extra = answers, {}
        seconds = statistics.median(epoch_seconds[1:])
        results[w.name] = {
            "seconds_per_epoch": seconds,
            "epoch_seconds": epoch_seconds,
            **extra,
            "first_epoch_seconds": epoch_seconds[0],
            "gflops": flops / seconds / 1e9,
            "peak_mib_tracemalloc": peak[w.name],
            "test_neg_elbo": w.ask("elbo"),
            "blas": w.hello["blas"],
        }
        w.close()
    if "numba" in results:
        results["numba"]["jit_compile_seconds_cold"] = compile_cold
        results["numba"]["jit_compile_seconds_cached"] = compile_cached

    print_table(results, args, torch_version)
    if args.json:
        info = {"epochs": args.epochs, "threads": args.threads, "batch": BATCH,
                "machine": args.machine, "unset_for_the_workers": args.unpinned,
                "gemm_flops_per_epoch": flops, "torch": torch_version,
                "numpy": np.__version__, "load_average_before": args.load_before,
                "pause_between_turns": args.pause,
                "results": results}
        args.json.write_text(json.dumps(info, indent=2))
    return results


def print_table(results, args, torch_version):
    print(f"VAE 784-400-20 Bernoulli | mnist10k: {args.n_train} train / 2000 test | batch {BATCH} | "
          f"Adam {LR:g} | float32 | {args.threads} threads | median of {args.epochs - 1} epochs "
          "after 1 warm-up")
    print(f"{args.machine}; load average before the run {args.load_before:.2f}")
    unpinned = ", ".join(f"{k}={v}" for k, v in args.unpinned.items()) or "none were set"
    print(f"BLAS pins removed from the workers' environment (the CPU picks its kernel): "
          f"{unpinned}")
    for name, kernel in args.blas.items():
        print(f"  {LABELS[name]}: BLAS {kernel}")
    print("each backend in its own process, taking turns")
    header = (f"{'backend':<16}{'s/epoch':>9}{'GFLOP/s':>9}{'/ numba':>9}"
              f"{'JIT compile s':>15}{'peak MiB':>10}{'test -ELBO':>12}")
    print(header)
    print("-" * len(header))
    numba_s = results.get("numba", {}).get("seconds_per_epoch")
    for name in BACKENDS:
        label = f"torch {torch_version}" if name == "torch" else LABELS[name]
        if name not in results:
            if name == "torch":
                print(f"{'torch':<16}  {torch_version}")
            continue
        r = results[name]
        speedup = f"{r['seconds_per_epoch'] / numba_s:.2f}x" if numba_s else "-"
        if name == "numba" and r["jit_compile_seconds_cold"] is not None:
            compile_s = f"{r['jit_compile_seconds_cold']:.1f} ({r['jit_compile_seconds_cached']:.2f})"
        else:
            compile_s = "-"
        mem = f"{r['peak_mib_tracemalloc']:.1f}" if r["peak_mib_tracemalloc"] else "n/a"
        elbo = f"{r['test_neg_elbo']:.2f}" if r["test_neg_elbo"] is not None else "-"
        print(f"{label:<16}{r['seconds_per_epoch']:>9.3f}{r['gflops']:>9.1f}"
              f"{speedup:>9}{compile_s:>15}{mem:>10}{elbo:>12}")
    print("GFLOP/s: GEMM flops of forward + backward per epoch "
          f"({gemm_flops_per_epoch(args.n_train) / 1e9:.1f} GFLOP) / s per epoch (a row that skips "
          "the zeros of x does fewer).")
    print("/ numba: this row's s/epoch / numba's.  JIT compile: first step minus a steady "
          "step in a fresh process, empty cache (cached).")
    print("peak MiB: tracemalloc peak of one training step above what was allocated before it "
          "(n/a for torch, whose allocator tracemalloc cannot see).")
    print_ratios(results)
    elbos = [r["test_neg_elbo"] for n, r in results.items() if n in ("numpy", "numba")]
    if len(elbos) == 2:
        print(f"test -ELBO |numba - numpy| = {abs(elbos[0] - elbos[1]):.4f} nats "
              "(target <= 0.5)")



def print_ratios(results):
    """The goals' ratios, each the median of per-round ratios (benchmarks/workers.py)."""
    numba_s = results.get("numba", {}).get("seconds_per_epoch")
    every = {name: r["epoch_seconds"][1:] for name, r in results.items()}  # after the warm-up
    print("numpy and numba rows: sv.fit epochs (history['seconds'], no x_val); the other rows: "
          "the bare step loop")
    for name in FIT_ROWS:
        if name in results:
            r = results[name]
            print(ratio_line(f"{name}: sv.fit / bare step loop time", every[name],
                             r["bare_epoch_seconds"][1:], "target <= 1.03")
                  + ("" if r["fit_and_bare_bit_identical"] else "  (MODELS DIFFER)"))
    if numba_s and "torch" in results:
        print(ratio_line("numba (sv.fit) / torch time", every["numba"], every["torch"],
                         "target <= 0.70"))
    if numba_s and "gemm" in results:
        print(ratio_line("numba / GEMM floor time", every["numba"], every["gemm"],
                         "target <= 1.40"))
    if numba_s and "numpy" in results:
        print(ratio_line("numpy / numba time (both sv.fit)", every["numpy"], every["numba"],
                         "target >= 1.50: numba 1.5x faster"))
    for name in ("numba-sparse", "numba-dense", "numba-parallel"):
        if numba_s and name in results:
            ratio = results[name]["seconds_per_epoch"] / numba_s
            print(f"{LABELS[name]} / numba = {ratio:.2f}")


if __name__ == "__main__":
    main()
