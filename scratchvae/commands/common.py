"""What the subcommands share: the datasets they know, loading a split, finding a run's files.

Used by ``scratchvae train``, ``evaluate`` and ``sample`` (one home, so no command imports
another).
"""

DATASETS = ("sprites", "mnist", "fashion-mnist", "kmnist", "mnist10k", "frey-face", "cifar10")

# per-dataset defaults for options the user did not set
DATASET_DEFAULTS = {
    "sprites": dict(hidden=(512,), latent=10, likelihood="bernoulli", n_train=10000, n_test=1000,
                    lr=2e-3),
    "mnist": dict(hidden=(400,), latent=20, likelihood="bernoulli"),
    "fashion-mnist": dict(hidden=(400,), latent=20, likelihood="bernoulli"),
    "kmnist": dict(hidden=(400,), latent=20, likelihood="bernoulli"),
    "mnist10k": dict(hidden=(400,), latent=20, likelihood="bernoulli"),
    "frey-face": dict(hidden=(200,), latent=10, likelihood="gaussian"),
    "cifar10": dict(hidden=(512,), latent=64, likelihood="gaussian_fixed"),
}
SPRITES_SEEDS = {"train": 0, "test": 1}
# The CLI's sprites are upright (rotation 0): shape, scale and position vary. With random
# rotations too, a 10-epoch MLP VAE reconstructs every shape as a round blob (a classifier that
# knows the shape of true sprites recognises it in 28% of those reconstructions, chance 25%).
SPRITES_FIXED = {"rotation": 0.0}


def load_dataset(name, split, root=None, n=None):
    """(x, y, image_shape) of one split; sprites are generated (train seed 0, test seed 1,
    upright: ``SPRITES_FIXED``)."""
    from scratchvae import data

    defaults = DATASET_DEFAULTS[name]
    if name == "sprites":
        n = n or defaults[f"n_{split}"]
        ds = data.sprites(n, rng=SPRITES_SEEDS[split], size=32, fixed=SPRITES_FIXED)
        return ds.x, ds.labels, tuple(ds.image_shape)
    x, y = data.load(name, split=split, root=root)
    if n is not None:
        x, y = x[:n], (None if y is None else y[:n])
    return x, y, tuple(data.get_info(name).image_shape)


def resolve_run(run):
    """RUN (a run folder or a .npz file) -> (run folder, checkpoint path)."""
    from pathlib import Path

    path = Path(run)
    if path.is_dir():
        path = path / "model.npz"
    if not path.is_file():
        raise SystemExit(f"error: RUN must be a run folder holding model.npz or a .npz "
                         f"checkpoint; {run!r} is neither")
    return path.parent, path
