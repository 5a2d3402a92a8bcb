"""Time one training epoch of a convolutional VAE: scratchvae (NumPy, Numba) vs PyTorch CPU.

    python benchmarks/bench_convvae.py                      # MNIST test set (10,000 images)
    python benchmarks/bench_convvae.py --threads 2 --epochs 3 --json convvae.json
    python benchmarks/bench_convvae.py --torch-python /tmp/venv-torch/bin/python

The model is ``sv.ConvVAE(image_shape=(1, 28, 28), n_latent=20, channels=(32, 64))``:
two stride-2 4x4 convs (28 -> 14 -> 7), dense heads for mu and logvar, a dense layer and two
stride-2 transposed convs back to 28 x 28, Bernoulli likelihood, float32, Adam (lr 1e-3),
batch size 128. The "numpy" and "numba" rows time what a user runs: ``sv.fit`` epochs (no
x_val, seconds from ``history["seconds"]``), whose speed policy makes the Numba backend with
two or more BLAS threads data parallel (each thread runs a copy of the model on a slice of the
batch, :mod:`scratchvae.parallel`); in the same worker a second model from the same weights
runs the bare step loop on the same batches, and the ratio fit / bare is printed.
The row "numba, whole batch" runs the model itself on the whole batch (BLAS on every thread),
to show what data parallelism adds. PyTorch runs the same architecture and loss; if ``torch``
does not import in this interpreter, ``--torch-python`` (or $SCRATCHVAE_TORCH_PYTHON) names a
Python that has it, and this script runs itself there for the PyTorch row.

Each backend trains in its own worker process (benchmarks/workers.py). The workers take turns,
one epoch each, for ``--epochs`` rounds (default 3), with a pause between turns so the last
worker's BLAS threads stop spinning; the table shows each backend's median epoch. One warm-up
step (Numba compilation) is timed separately and not counted.

Timings depend on the machine and on what else runs on it: the table prints the CPU, the BLAS
kernel (threadpoolctl) and the load average so numbers from a busy machine are recognisable as
such. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the workers' environment (only)
so OpenBLAS picks the kernel the CPU supports, as on a user's machine.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from threads import (  # benchmarks/threads.py, beside this script
    BLAS_PIN_VARIABLES,
    THREAD_VARIABLES,
    machine_line,
    set_thread_env,
)
from workers import Worker, ratio_line, take_turns  # benchmarks/workers.py

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("numpy", "numba", "numba-whole-batch", "torch")
LABELS = {"numpy": "scratchvae numpy", "numba": "scratchvae numba",
          "numba-whole-batch": "scratchvae numba, whole batch", "torch": "pytorch"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10000, help="images in the epoch (default 10000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--root", default=str(REPO.parent / "shared" / "data"),
                   help="data folder with mnist/ (default ../shared/data)")
    p.add_argument("--threads", type=int, default=None,
                   help="limit BLAS, Numba and PyTorch threads (default: library defaults)")
    p.add_argument("--torch-python", default=os.environ.get("SCRATCHVAE_TORCH_PYTHON"),
                   help="a Python with torch, used when torch does not import here")
    p.add_argument("--epochs", type=int, default=3,
                   help="epochs per backend, taking turns; the median is shown (default 3)")
    p.add_argument("--pause", type=float, default=0.3,
                   help="seconds between two backends' turns (default 0.3)")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one backend
    p.add_argument("--data-file", help=argparse.SUPPRESS)  # internal: the worker's images
    return p.parse_args(argv)


# ---------------------------------------------------------------------------------------------
# scratchvae
# ---------------------------------------------------------------------------------------------


def load_images(root, n):
    import numpy as np

    import scratchvae as sv

    try:
        x, _ = sv.data.load("mnist", split="test", root=root, download=False)
        name = "MNIST test"
    except sv.data.DataError as err:
        print(f"MNIST not found ({err}); using procedural sprites resized to 28 x 28 instead")
        ds = sv.data.sprites(n=n, rng=0, size=28)
        x, name = ds.x, "sprites 28x28"
    x = np.ascontiguousarray(x[:n], dtype=np.float32)
    return x, name


class ScratchTrainer:
    """scratchvae's ConvVAE with Adam; ``epoch()`` trains one epoch, returns (seconds, loss).

    ``fit=True``: the epoch is one ``sv.fit`` epoch (no x_val; seconds from
    ``history["seconds"]``), with the speed policy ``sv.fit`` decides (data parallel for the
    Numba backend with two or more BLAS threads). ``fit=False``: the bare step loop on the
    batches and noise ``sv.fit`` draws for that epoch, computed as ``sv.fit`` computes each step
    (``sv.parallel.for_training``), or by the model itself on the whole batch when
    ``whole_batch``."""

    def __init__(self, x, backend, args, whole_batch=False, fit=False):
        import numpy as np

        import scratchvae as sv

        self.np, self.sv, self.x, self.batch = np, sv, x, args.batch_size
        self.model = sv.ConvVAE(image_shape=(1, 28, 28), n_latent=args.latent,
                                channels=tuple(args.channels), dtype=np.float32,
                                backend=backend, rng=0)
        self.fit = fit
        self.stepper = self.model if whole_batch else sv.parallel.for_training(self.model)
        self.threads = 1 if self.stepper is self.model else self.stepper.threads
        self.opt = sv.optim.Adam(self.model.params, lr=1e-3, backend=backend)
        self.n_params = self.model.n_params
        self.epochs_done = 0
        start = time.perf_counter()  # warm-up: compiles (or loads) the Numba kernels
        self.model.loss_and_grads(x[: self.batch], rng=0)
        self.warmup = time.perf_counter() - start

    def epoch(self):
        epoch, self.epochs_done = self.epochs_done, self.epochs_done + 1
        if self.fit:
            history = self.sv.fit(self.model, self.x, optimizer=self.opt, epochs=epoch + 1,
                                  initial_epoch=epoch, batch_size=self.batch, rng=0,
                                  progress=False, threads=self.threads)
            return history["seconds"][-1], history["train_loss"][-1]
        rng = self.sv.train.epoch_generator(0, epoch)
        batches = self.sv.train.minibatch_indices(len(self.x), self.batch, rng)
        start = time.perf_counter()
        losses = []
        for idx in batches:
            loss, grads = self.stepper.loss_and_grads(self.x[idx], rng=rng)
            self.opt.step(grads)
            losses.append(loss)
        return time.perf_counter() - start, float(self.np.mean(losses))


class FitAndBare:
    """The "numpy" and "numba" rows: an ``sv.fit`` epoch and, on a second model from the same
    weights, the bare loop on the same batches (alternating which goes first); ``epoch()``
    returns (fit seconds, fit loss, bare seconds, models still bit-identical)."""

    def __init__(self, x, backend, args):
        self.fitted = ScratchTrainer(x, backend, args, fit=True)
        self.bare = ScratchTrainer(x, backend, args)
        self.warmup, self.n_params = self.fitted.warmup, self.fitted.n_params
        self.stepper, self.model = self.fitted.stepper, self.fitted.model

    def epoch(self):
        if self.fitted.epochs_done % 2 == 0:
            (seconds, loss), (bare, _) = self.fitted.epoch(), self.bare.epoch()
        else:
            (bare, _), (seconds, loss) = self.bare.epoch(), self.fitted.epoch()
        same = all((self.bare.model.params[k] == v).all()
                   for k, v in self.fitted.model.params.items())
        return seconds, loss, bare, bool(same)


# ---------------------------------------------------------------------------------------------
# PyTorch (same architecture, same loss)
# ---------------------------------------------------------------------------------------------


class TorchTrainer:
    """The same architecture and loss in PyTorch; ``epoch()`` returns (seconds, loss)."""

    def __init__(self, x, args):
        import numpy as np
        import torch
        from torch import nn

        if args.threads:
            torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        self.np, self.torch, self.batch = np, torch, args.batch_size
        c1, c2 = args.channels
        self.encoder = nn.Sequential(nn.Conv2d(1, c1, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(), nn.Flatten())
        self.heads = nn.Linear(c2 * 49, 2 * args.latent)  # mu and logvar side by side
        self.decoder = nn.Sequential(nn.Linear(args.latent, c2 * 49), nn.ReLU(),
                                     nn.Unflatten(1, (c2, 7, 7)),
                                     nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU(),
                                     nn.ConvTranspose2d(c1, 1, 4, 2, 1), nn.Flatten())
        params = [*self.encoder.parameters(), *self.heads.parameters(),
                  *self.decoder.parameters()]
        self.n_params = sum(p.numel() for p in params)
        self.opt = torch.optim.Adam(params, lr=1e-3)
        self.data = torch.from_numpy(x)
        self.order_rng = np.random.default_rng(0)
        start = time.perf_counter()
        self._step(self.data[: self.batch])
        self.warmup = time.perf_counter() - start

    def _step(self, xb):
        torch, nn = self.torch, self.torch.nn
        mu, logvar = self.heads(self.encoder(xb.view(-1, 1, 28, 28))).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.decoder(z)
        recon = nn.functional.binary_cross_entropy_with_logits(logits, xb, reduction="none")
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        loss = (recon.sum(1) + kl).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def epoch(self):
        order = self.torch.from_numpy(self.order_rng.permutation(len(self.data)))
        start = time.perf_counter()
        losses = [self._step(self.data[order[i: i + self.batch]])
                  for i in range(0, len(self.data), self.batch)]
        return time.perf_counter() - start, float(self.np.mean(losses))


def worker(args):
    """One backend in this process: reads the images from --data-file, prints a hello line, then
    answers "epoch" with [seconds, mean loss] until "quit"."""
    import numpy as np

    x = np.load(args.data_file)
    if args.worker == "torch":
        import torch

        trainer = TorchTrainer(x, args)
        version = f"pytorch {torch.__version__} (cpu)"
    else:
        sys.path.insert(0, str(REPO))
        backend = args.worker.split("-")[0]
        if backend == "numba":
            import numba

            if args.threads:
                numba.set_num_threads(args.threads)
        if args.worker.endswith("batch"):
            trainer = ScratchTrainer(x, backend, args, whole_batch=True)
        else:
            trainer = FitAndBare(x, backend, args)
        version = LABELS[args.worker]
        if trainer.stepper is not trainer.model:
            version += f" ({trainer.stepper.threads} threads)"
    print(json.dumps({"name": version, "warmup": trainer.warmup, "n_params": trainer.n_params,
                      "machine": machine_line()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "epoch":
            break
        print(json.dumps(trainer.epoch()), flush=True)


def torch_here():
    """Whether torch imports in this Python (the import is only a probe)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def worker_command(backend, args, data_file):
    use_torch_python = backend == "torch" and args.torch_python and not torch_here()
    python = args.torch_python if use_torch_python else sys.executable
    cmd = [python, str(Path(__file__).resolve()), "--worker", backend, "--data-file", data_file,
           "--batch-size", str(args.batch_size), "--latent", str(args.latent),
           "--channels", *map(str, args.channels)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        set_thread_env(args.threads)
        return worker(args)
    env = dict(os.environ)  # the workers' environment: thread counts set, BLAS pins removed
    unpinned = {var: env.pop(var) for var in BLAS_PIN_VARIABLES if var in env}
    if args.threads:
        env.update({var: str(args.threads) for var in THREAD_VARIABLES})

    sys.path.insert(0, str(REPO))
    import numba
    import numpy as np

    x, data_name = load_images(args.root, args.n)
    backends = list(args.backends)
    if "torch" in backends and not (torch_here() or args.torch_python):
        print("PyTorch: torch does not import here and no --torch-python was given; row skipped")
        backends.remove("torch")
    with tempfile.TemporaryDirectory() as tmp:
        data_file = os.path.join(tmp, "x.npy")
        np.save(data_file, x)
        workers = [Worker(b, worker_command(b, args, data_file), env=env) for b in backends]
        answers = take_turns(workers, args.epochs, args.pause)
        for w in workers:
            w.close()
    rows = {}
    for w in workers:
        seconds = [a[0] for a in answers[w.name]]
        rows[w.hello["name"]] = dict(seconds=statistics.median(seconds), all_seconds=seconds,
                                     loss=answers[w.name][-1][1], warmup=w.hello["warmup"],
                                     n_params=w.hello["n_params"])

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"\nConvVAE epoch: {len(x)} {data_name} images 28x28, batch {args.batch_size}, "
          f"channels {tuple(args.channels)}, latent {args.latent}, float32, Adam; median of "
          f"{args.epochs} epochs, backends taking turns")
    worker_machine = workers[0].hello["machine"] if workers else machine_line()
    print(f"{worker_machine}; load average {load[0]:.1f}; threads: "
          f"{args.threads or 'library defaults'}; numpy {np.__version__}, numba {numba.__version__}")
    print("BLAS pins removed from the workers' environment (the CPU picks its kernel): "
          + (", ".join(f"{k}={v}" for k, v in unpinned.items()) or "none were set"))
    header = (f"{'backend':<28} {'epoch s':>9} {'images/s':>10} {'warm-up s':>10} "
              f"{'last loss':>10}  every epoch (s)")
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        every = " ".join(f"{t:.2f}" for t in r["all_seconds"])
        print(f"{name:<28} {r['seconds']:>9.2f} {len(x) / r['seconds']:>10.0f} "
              f"{r['warmup']:>10.2f} {r['loss']:>10.2f}  {every}")
    if rows:
        n_params = {r["n_params"] for r in rows.values()}
        print(f"parameters: {', '.join(map(str, sorted(n_params)))} (equal rows: same model)")
    print_ratios(answers, [w.name for w in workers])
    if args.json:
        info = {"rows": rows, "machine": machine_line(), "threads": args.threads,
                "epochs": args.epochs, "pause_between_turns": args.pause,
                "unset_for_the_workers": unpinned, "load_average_after": load[0],
                "images": len(x), "data": data_name}
        Path(args.json).write_text(json.dumps(info, indent=2))
    return rows



def print_ratios(answers, names):
    """The goals' ratios, each the median of per-round ratios (benchmarks/workers.py)."""
    print("numpy and numba rows: sv.fit epochs (history['seconds'], no x_val)")
    every = {name: [a[0] for a in answers[name]] for name in names}
    for name in ("numpy", "numba"):
        if name in every:
            same = all(a[3] for a in answers[name])
            print(ratio_line(f"{name}: sv.fit / bare step loop time", every[name],
                             [a[2] for a in answers[name]], "target <= 1.03")
                  + ("" if same else "  (MODELS DIFFER)"))
    if "numba" in every and "torch" in every:
        print(ratio_line("numba (sv.fit) / pytorch time", every["numba"], every["torch"],
                         "target <= 0.80"))
    if "numba" in every and "numpy" in every:
        print(ratio_line("numpy / numba time", every["numpy"], every["numba"],
                         "target >= 1.50: numba 1.5x faster"))
    if "numba" in every and "numba-whole-batch" in every:
        print(ratio_line("numba / numba whole batch time", every["numba"],
                         every["numba-whole-batch"], "data parallelism's gain"))


if __name__ == "__main__":
    main()
