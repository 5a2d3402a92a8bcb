"""Small trained models shipped with the package, for the notebooks' sample grids.

    vae = sv.pretrained.load("vae-mnist-5d")        # an sv.VAE, ready to sample and decode

Each model is an ``sv.save`` checkpoint (.npz, no pickle) in this folder, produced by
``scripts/make_pretrained.py`` in the repository, which also writes the recipe into the
checkpoint's metadata (``sv.pretrained.metadata(name)``). A notebook loads them by name, so a
notebook copied out of the repository still finds them in the installed package.

==================  ============================================================================
name                model and recipe
==================  ============================================================================
vae-mnist-5d        784-256-5 Bernoulli VAE, mnist10k train (8,000 images), 60 epochs
ae-mnist-2d         784-128-2 autoencoder (cross-entropy loss), mnist10k train, 30 epochs
vae-mnist-2d        784-128-2 Bernoulli VAE, the same networks, data and epochs as ae-mnist-2d
==================  ============================================================================
"""

from pathlib import Path

NAMES = ("vae-mnist-5d", "ae-mnist-2d", "vae-mnist-2d")


def path(name):
    """The checkpoint file of the shipped model ``name`` (one of :data:`NAMES`)."""
    if name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(map(repr, NAMES))}; got {name!r}")
    file = Path(__file__).with_name(f"{name}.npz")
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing: run `python scripts/make_pretrained.py` in "
                                "the repository to make it")
    return file


def load(name, backend=None):
    """The shipped model ``name`` (``sv.load`` of :func:`path`)."""
    from scratchvae.checkpoint import load as load_checkpoint  # noqa: PLC0415

    return load_checkpoint(path(name), backend=backend)


def metadata(name):
    """The metadata saved with ``name``: its recipe (data, epochs, seed) and final losses."""
    from scratchvae.checkpoint import load_checkpoint  # noqa: PLC0415

    return load_checkpoint(path(name)).metadata
