"""Time one training epoch of a convolutional VAE: scratchvae (NumPy, Numba) vs PyTorch CPU.

    python benchmarks/bench_convvae.py                      # MNIST test set (10,000 images)
    python benchmarks/bench_convvae.py --torch-python /tmp/venv-torch/bin/python

The model is ``sv.ConvVAE(image_shape=(1, 28, 28), n_latent=20, channels=(32, 64))``:
two stride-2 4x4 convs (28 -> 14 -> 7), dense heads for mu and logvar, a dense layer and two
stride-2 transposed convs back to 28 x 28, Bernoulli likelihood, float32, Adam (lr 1e-3),
batch size 128. PyTorch runs the same architecture and loss; if ``torch`` does not import in
this interpreter, ``--torch-python`` (or $SCRATCHVAE_TORCH_PYTHON) names a Python that has it,
and this script runs itself there for the PyTorch row. One warm-up step (Numba compilation) is
timed separately and not counted in the epoch.

Timings depend on the machine and on what else runs on it: the table prints the CPU, the BLAS
kernel (threadpoolctl) and the load average so numbers from a busy machine are recognisable as
such. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from this script's own environment so
OpenBLAS picks the kernel the CPU supports, as on a user's machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threads import machine_line, set_thread_env  # benchmarks/threads.py, beside this script

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10000, help="images in the epoch (default 10000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--channels", type=int, nargs="+", default=[32, 64])
    p.add_argument("--backends", nargs="+", default=["numpy", "numba", "torch"],
                   choices=["numpy", "numba", "torch"])
    p.add_argument("--root", default=str(REPO.parent / "shared" / "data"),
                   help="data folder with mnist/ (default ../shared/data)")
    p.add_argument("--threads", type=int, default=None,
                   help="limit BLAS, Numba and PyTorch threads (default: library defaults)")
    p.add_argument("--torch-python", default=os.environ.get("SCRATCHVAE_TORCH_PYTHON"),
                   help="a Python with torch, used when torch does not import here")
    p.add_argument("--data-file", help=argparse.SUPPRESS)  # internal: child process input
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


def time_scratchvae(x, backend, args):
    import numpy as np

    import scratchvae as sv

    model = sv.ConvVAE(image_shape=(1, 28, 28), n_latent=args.latent,
                       channels=tuple(args.channels), dtype=np.float32, backend=backend, rng=0)
    opt = sv.optim.Adam(model.params, lr=1e-3)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    _, grads = model.loss_and_grads(x[: args.batch_size], rng=rng)  # warm-up: compiles Numba
    opt.step(grads)
    warmup = time.perf_counter() - start
    order = rng.permutation(len(x))
    losses = []
    start = time.perf_counter()
    for i in range(0, len(x), args.batch_size):
        loss, grads = model.loss_and_grads(x[order[i: i + args.batch_size]], rng=rng)
        opt.step(grads)
        losses.append(loss)
    seconds = time.perf_counter() - start
    return dict(seconds=seconds, warmup=warmup, loss=float(np.mean(losses)),
                n_params=model.n_params)


# ---------------------------------------------------------------------------------------------
# PyTorch (same architecture, same loss)
# ---------------------------------------------------------------------------------------------


def time_torch(x, args):
    import numpy as np
    import torch
    from torch import nn

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    c1, c2 = args.channels
    encoder = nn.Sequential(nn.Conv2d(1, c1, 4, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 4, 2, 1),
                            nn.ReLU(), nn.Flatten())
    heads = nn.Linear(c2 * 49, 2 * args.latent)  # mu and logvar side by side
    decoder = nn.Sequential(nn.Linear(args.latent, c2 * 49), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),
                            nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU(),
                            nn.ConvTranspose2d(c1, 1, 4, 2, 1), nn.Flatten())
    params = [*encoder.parameters(), *heads.parameters(), *decoder.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    data = torch.from_numpy(x)

    def step(xb):
        mu, logvar = heads(encoder(xb.view(-1, 1, 28, 28))).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = decoder(z)
        recon = nn.functional.binary_cross_entropy_with_logits(logits, xb, reduction="none")
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        loss = (recon.sum(1) + kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss)

    start = time.perf_counter()
    step(data[: args.batch_size])
    warmup = time.perf_counter() - start
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(x)))
    losses = []
    start = time.perf_counter()
    for i in range(0, len(x), args.batch_size):
        losses.append(step(data[order[i: i + args.batch_size]]))
    seconds = time.perf_counter() - start
    return dict(seconds=seconds, warmup=warmup, loss=float(np.mean(losses)),
                n_params=sum(p.numel() for p in params), version=torch.__version__,
                threads=torch.get_num_threads())


def torch_row(x, args):
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    else:
        return time_torch(x, args)
    if not args.torch_python:
        return None
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.npy")
        np.save(path, x)
        cmd = [args.torch_python, __file__, "--data-file", path, "--backends", "torch",
               "--batch-size", str(args.batch_size), "--latent", str(args.latent),
               "--channels", *map(str, args.channels)]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"PyTorch run failed:\n{done.stderr[-2000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    unpinned = set_thread_env(args.threads)
    if args.data_file:  # child process: PyTorch row only, JSON on stdout
        import numpy as np

        print(json.dumps(time_torch(np.load(args.data_file), args)))
        return

    sys.path.insert(0, str(REPO))
    import numba
    import numpy as np

    x, data_name = load_images(args.root, args.n)
    rows = {}
    for backend in args.backends:
        if backend == "torch":
            result = torch_row(x, args)
            if result is None:
                print("PyTorch: torch does not import here and no --torch-python was given; "
                      "row skipped")
                continue
            rows[f"pytorch {result['version']} (cpu)"] = result
        else:
            rows[f"scratchvae {backend}"] = time_scratchvae(x, backend, args)

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"\nConvVAE epoch: {len(x)} {data_name} images 28x28, batch {args.batch_size}, "
          f"channels {tuple(args.channels)}, latent {args.latent}, float32, Adam")
    print(f"{machine_line()}; load average {load[0]:.1f}; threads: "
          f"{args.threads or 'library defaults'}; numpy {np.__version__}, numba {numba.__version__}")
    print("BLAS pins removed for this run (the CPU picks its kernel): "
          + (", ".join(f"{k}={v}" for k, v in unpinned.items()) or "none were set"))
    header = f"{'backend':<28} {'epoch s':>9} {'images/s':>10} {'warm-up s':>10} {'mean loss':>10}"
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        print(f"{name:<28} {r['seconds']:>9.2f} {len(x) / r['seconds']:>10.0f} "
              f"{r['warmup']:>10.2f} {r['loss']:>10.2f}")
    if rows:
        n_params = {r["n_params"] for r in rows.values()}
        print(f"parameters: {', '.join(map(str, sorted(n_params)))} (equal rows: same model)")
    seconds = {name.split()[0] if name.startswith("pytorch") else name.split()[1]: r["seconds"]
               for name, r in rows.items()}
    if "numba" in seconds and "pytorch" in seconds:
        print(f"numba / pytorch time = {seconds['numba'] / seconds['pytorch']:.2f}   "
              "(target <= 0.80)")
    if "numba" in seconds and "numpy" in seconds:
        print(f"numpy / numba time = {seconds['numpy'] / seconds['numba']:.2f}   "
              "(target >= 1.50: numba 1.5x faster)")


if __name__ == "__main__":
    main()
