"""Quality bar: the pytorch/examples VAE recipe on the mnist10k split, test -ELBO in nats.

Recipe (pytorch/examples, vae/main.py): 784-400-20 MLP, ReLU, Bernoulli decoder on grey-level
pixels in [0, 1], Adam(lr=1e-3), batch 128, shuffled, 10 epochs, float32, torch.nn.Linear's
initialisation. Data: mnist10k = the MNIST test set split 8,000 (train) / 2,000 (test), read from
``../shared/data/mnist`` beside the repository (or ``--root``); never downloaded.

Reported: the mean test -ELBO per example in nats with z sampled from q(z|x) (one z per example,
never z = mu), reconstruction term summed over pixels, KL summed over latents. On that split the
PyTorch example reaches 124.8 +- 0.5 (across seeds) after 10 epochs; the bar is 126.3 or lower.

    python benchmarks/vae_mnist10k.py                  # numba backend, seed 0
    python benchmarks/vae_mnist10k.py --backend numpy --seed 1 --json
"""

import argparse
import json
import sys
import time
from pathlib import Path

BAR = 126.3
PYTORCH_REFERENCE = 124.8


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=None,
                        help="data directory holding mnist/ (default: ../shared/data beside "
                             "the repository)")
    parser.add_argument("--seed", type=int, default=0, help="weights, shuffling and noise")
    parser.add_argument("--backend", default="numba", choices=("numba", "numpy"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--is-k", type=int, default=0,
                        help="also report the importance-sampled -log p(x) with k samples")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    import numpy as np

    import scratchvae as sv
    from scratchvae.evaluate import evaluate_elbo, importance_sampled_nll

    root = Path(args.root) if args.root else Path(__file__).resolve().parents[1].parent / \
        "shared" / "data"
    x_train, _ = sv.data.load("mnist10k", split="train", root=root, download=False)
    x_test, _ = sv.data.load("mnist10k", split="test", root=root, download=False)

    started = time.perf_counter()
    vae = sv.VAE(n_in=784, hidden=(400,), n_latent=20, likelihood="bernoulli",
                 activation="relu", dtype=np.float32, backend=args.backend, rng=args.seed)
    optimizer = sv.optim.Adam(vae.params, lr=1e-3, backend=args.backend)
    history = sv.fit(vae, x_train, optimizer=optimizer, epochs=args.epochs, batch_size=128,
                     x_val=x_test, rng=args.seed, progress=args.progress)
    train_seconds = time.perf_counter() - started
    result = evaluate_elbo(vae, x_test, rng=args.seed + 1000)
    out = {
        "benchmark": "vae_mnist10k", "backend": args.backend, "seed": args.seed,
        "epochs": args.epochs, "n_train": int(len(x_train)), "n_test": int(len(x_test)),
        "test_neg_elbo": result["neg_elbo"], "test_reconstruction": result["reconstruction"],
        "test_kl": result["kl"], "val_loss_per_epoch": history["val_loss"],
        "train_loss_per_epoch": history["train_loss"], "train_seconds": train_seconds,
        "seconds_per_epoch": history["seconds"], "bar": BAR,
        "pytorch_reference": PYTORCH_REFERENCE, "passes": bool(result["neg_elbo"] <= BAR),
    }
    if args.is_k:
        nll = importance_sampled_nll(vae, x_test, k=args.is_k, rng=args.seed + 2000,
                                     progress=args.progress)
        out["test_is_nll"] = float(nll.mean())
        out["is_k"] = args.is_k
    out["total_seconds"] = time.perf_counter() - started

    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"VAE 784-400-20, Bernoulli, Adam 1e-3, batch 128, {args.epochs} epochs, float32, "
              f"backend {args.backend}, seed {args.seed}")
        print(f"mnist10k: {len(x_train)} train / {len(x_test)} test images from {root}")
        for epoch, (tr, va, s) in enumerate(zip(history["train_loss"], history["val_loss"],
                                                history["seconds"]), start=1):
            print(f"  epoch {epoch:2d}  train {tr:8.3f}  test {va:8.3f}  ({s:.1f} s)")
        print(f"test -ELBO (sampled z): {result['neg_elbo']:.2f} nats per example "
              f"(reconstruction {result['reconstruction']:.2f} + KL {result['kl']:.2f})")
        if args.is_k:
            print(f"test -log p(x), importance sampled k={args.is_k}: {out['test_is_nll']:.2f}")
        print(f"bar: <= {BAR} (pytorch/examples: {PYTORCH_REFERENCE} +- 0.5): "
              f"{'PASS' if out['passes'] else 'FAIL'}")
        print(f"training {train_seconds:.1f} s, total {out['total_seconds']:.1f} s")
    return 0 if out["passes"] else 1


if __name__ == "__main__":
    sys.exit(main())
