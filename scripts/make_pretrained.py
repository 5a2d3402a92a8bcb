"""Train the small models shipped in ``scratchvae/pretrained/`` (see its docstring).

Data: mnist10k (the MNIST test file split 8,000 train / 2,000 test), read from ``--root`` or the
data directory rule of the CLI (``$SCRATCHVAE_DATA``, else the user cache; docs/guide/data.md).
Each model is written with ``sv.save`` (npz, no pickle, no optimizer state) and its recipe and
per-epoch test losses (-ELBO for a VAE) go into the checkpoint's metadata. Takes a few minutes on two cores.

    python scripts/make_pretrained.py                 # both models
    python scripts/make_pretrained.py vae-mnist-5d    # one of them
"""

import argparse
import sys
from pathlib import Path

RECIPES = {
    "vae-mnist-5d": dict(model="vae", hidden=[256], n_latent=5, likelihood="bernoulli", epochs=60),
    # the pair of notebook 06b: same networks, same data and epochs; only the objective differs
    "ae-mnist-2d": dict(model="ae", hidden=[128], n_latent=2, likelihood="bernoulli", epochs=30),
    "vae-mnist-2d": dict(model="vae", hidden=[128], n_latent=2, likelihood="bernoulli", epochs=30),
}
COMMON = dict(dataset="mnist10k", batch_size=100, lr=1e-3, seed=0)


def make(name, root=None):
    import scratchvae as sv

    recipe = dict(COMMON, **RECIPES[name])
    x_train, _ = sv.data.load(recipe["dataset"], split="train", root=root)
    x_test, _ = sv.data.load(recipe["dataset"], split="test", root=root)
    options = dict(hidden=tuple(recipe["hidden"]), latent=recipe["n_latent"],
                   likelihood=recipe["likelihood"], seed=recipe["seed"])
    model = sv.registry.build_model(recipe["model"], x_train.shape[1], options=options)
    history = sv.fit(model, x_train, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                     lr=recipe["lr"], x_val=x_test, rng=recipe["seed"], progress=False)
    out = Path(sv.pretrained.__file__).with_name(f"{name}.npz")
    sv.save(model, out, metadata=dict(recipe=recipe, val_loss=history["val_loss"],
                                      made_by="scripts/make_pretrained.py"))
    print(f"{name}: test loss {history['val_loss'][-1]:.1f} ({sum(history['seconds']):.0f} s) "
          f"-> {out} ({out.stat().st_size / 1e6:.1f} MB)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"models to make, of {', '.join(RECIPES)} (default: all)")
    parser.add_argument("--root", default=None, help="data directory holding mnist/")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(RECIPES))
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from {', '.join(RECIPES)}")
    for name in args.names or RECIPES:
        make(name, args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
