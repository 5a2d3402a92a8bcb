"""What the subcommands share: the datasets they know, loading a split, finding a run's files,
and the argument types of their options.

Used by every ``scratchvae`` command (one home, so no command imports another).

Argument types turn the text of one option into a value or raise
``argparse.ArgumentTypeError`` with a one-line message saying what was expected, e.g.
``parser.add_argument("--lr", type=positive_float)``: argparse prefixes the option's name
("argument --lr: must be a number > 0, got '-1'"), so a mistyped value is reported before
anything is loaded or written.
"""

import argparse
import contextlib
import logging
import math
import sys

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


MAX_SPRITES = 200_000
"""The most sprites one split generates (200,000 x 1,024 float32 pixels = 0.8 GB)."""


@contextlib.contextmanager
def _download_notices_on_stdout():
    """pooch announces each download ("Downloading data from <url>") on stderr; the command
    line keeps stderr for its one-line errors, so the notice goes to stdout instead."""
    import pooch  # lazy: only when a dataset is read from disk

    logger = pooch.get_logger()
    saved = list(logger.handlers)
    to_stdout = logging.StreamHandler(sys.stdout)
    for handler in saved:
        logger.removeHandler(handler)
    logger.addHandler(to_stdout)
    try:
        yield
    finally:
        logger.removeHandler(to_stdout)
        for handler in saved:
            logger.addHandler(handler)


def load_dataset(name, split, root=None, n=None):
    """(x, y, image_shape) of one split; sprites are generated (train seed 0, test seed 1,
    upright: ``SPRITES_FIXED``)."""
    from scratchvae import data

    defaults = DATASET_DEFAULTS[name]
    if name == "sprites":
        n = n or defaults[f"n_{split}"]
        if n > MAX_SPRITES:
            raise SystemExit(f"error: --n-{split} {n} sprites would need "
                             f"{n * 1024 * 4 / 2**30:.1f} GiB; at most {MAX_SPRITES} are made")
        ds = data.sprites(n, rng=SPRITES_SEEDS[split], size=32, fixed=SPRITES_FIXED)
        return ds.x, ds.labels, tuple(ds.image_shape)
    with _download_notices_on_stdout():
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


# ---------------------------------------------------------------------------------------------
# argument types
# ---------------------------------------------------------------------------------------------


def _number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def dataset_name(text):
    """A dataset name in any case (``MNIST`` is ``mnist``); argparse then checks the choices."""
    return text.strip().lower()


def positive_int(text):
    """An integer >= 1 (epochs, batch size, sizes, sample counts)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def nonnegative_int(text):
    """An integer >= 0 (seeds, warm-up epochs, k where 0 means 'skip')."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def positive_float(text):
    """A finite number > 0 (learning rates, tolerances)."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def nonnegative_float(text):
    """A finite number >= 0 (beta)."""
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def int_list(text):
    """Comma-separated positive integers such as ``512,256``; at least one."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"must be comma-separated positive integers such as 512,256, got {text!r}")
    return values


def at_most(limit, kind=positive_int):
    """``kind`` with an upper bound, e.g. ``at_most(10000)`` for a number of samples."""

    def parse(text):
        value = kind(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit}, got {text!r}")
        return value

    parse.__name__ = f"{kind.__name__}_at_most_{limit}"
    return parse


PROGRESS = {"auto": True, "always": "always", "never": False}
"""--progress choices -> the ``progress`` argument of fit and importance_sampled_nll."""


def add_progress_argument(parser):
    """``--progress {auto,always,never}``: tqdm bars on a terminal or in a notebook (auto), also
    into logs and pipes (always), or none."""
    parser.add_argument("--progress", default="auto", choices=tuple(PROGRESS),
                        help="progress bars: auto shows them on a terminal (not in logs, pipes "
                             "or CI), always shows them anyway, never hides them")


def check_root(root):
    """``--root DIR`` must be an existing folder: a mistyped path would otherwise become a new,
    empty data directory (and a download) instead of an error."""
    from pathlib import Path

    if root is not None and not Path(root).is_dir():
        raise SystemExit(f"error: --root {root} is not an existing folder (create it first, or "
                         "leave --root out to use $SCRATCHVAE_DATA or the user cache)")
