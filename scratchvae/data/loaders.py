"""``load(name, split)``: every dataset as ``(x, y)``, float32 pixels in [0, 1] and int labels.

=============  ==========  ============  ===============  ====================================
name           x (n, d)    image_shape   labels           splits (n)
=============  ==========  ============  ===============  ====================================
mnist          784         (28, 28)      digit 0-9        train 60,000, test 10,000
fashion-mnist  784         (28, 28)      class 0-9        train 60,000, test 10,000
kmnist         784         (28, 28)      class 0-9        train 60,000, test 10,000
mnist10k       784         (28, 28)      digit 0-9        train 8,000 = first 8,000 MNIST test
                                                          images, test 2,000 = the last 2,000
cifar10        3072        (3, 32, 32)   class 0-9        train 50,000, test 10,000 (CHW order)
frey-face      560         (28, 20)      None             train 1,765 = first frames,
                                                          test 200 = last frames (all: 1,965)
sprites        size*size   (32, 32)      shape 0-3        train sprites(20000, rng=0),
                                                          test sprites(2000, rng=1)
=============  ==========  ============  ===============  ====================================

split="all" (or None) concatenates train then test (Frey Face: all 1,965 frames in order).

Binarization, for Bernoulli likelihoods, treats each pixel value as a probability:
    "dynamic": x_bin = (u < x), u ~ U(0, 1) drawn from ``rng`` on every call; call it again
               (or call :func:`binarize` on each minibatch) to get a fresh sample per epoch.
    "static":  the same draw every time: u comes from
               ``numpy.random.default_rng([STATIC_BINARIZE_SEED, zlib.crc32(b"<name>/<split>")])``
               with STATIC_BINARIZE_SEED = 20140, per split, so the binarized train and test sets
               are fixed.
"""

import zlib
from dataclasses import dataclass

import numpy as np

from scratchvae.data import cifar, frey
from scratchvae.data.download import fetch, fetch_file
from scratchvae.data.errors import DataError
from scratchvae.data.idx import read_idx
from scratchvae.data.registry import SPRITES_SEEDS, get_info
from scratchvae.data.sprites import sprites
from scratchvae.validation import as_generator, check_array, check_choice, check_positive_int

SPLITS = ("train", "test", "all")
BINARIZE = (None, "dynamic", "static")
STATIC_BINARIZE_SEED = 20140


def binarize(x, rng):
    """Sample binary pixels: ``(u < x)`` with ``u ~ U(0, 1)`` from ``rng``; float32 of 0s and 1s.

    x: array with values in [0, 1] (any shape). rng: int seed or Generator.
    E[binarize(x, rng)] = x, so a Bernoulli likelihood on binarized data is well defined.
    """
    x = check_array("x", x, low=0.0, high=1.0)
    return _bernoulli(x, as_generator(rng))


def _bernoulli(x, rng):
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def _to_unit_float(images):
    x = images.reshape(len(images), -1).astype(np.float32)
    np.divide(x, np.float32(255), out=x)  # correctly rounded: 255 -> exactly 1.0
    return x


def _check_idx_pair(images, labels, image_path, label_path):
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{image_path}: expected uint8 images (n, 28, 28), got {images.dtype} "
                        f"{images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{label_path}: expected uint8 labels (n,), got {labels.dtype} "
                        f"{labels.shape}")
    if len(labels) != len(images):
        raise DataError(f"{label_path}: {len(labels)} labels for {len(images)} images in "
                        f"{image_path}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{label_path}: labels must be 0..9, found {labels.max()}")


def _load_idx(name, split, root, download):
    prefix = "train" if split == "train" else "t10k"
    image_path = fetch_file(name, f"{prefix}-images-idx3-ubyte.gz", root, download)
    label_path = fetch_file(name, f"{prefix}-labels-idx1-ubyte.gz", root, download)
    images, labels = read_idx(image_path), read_idx(label_path)
    _check_idx_pair(images, labels, image_path, label_path)
    return _to_unit_float(images), labels.astype(np.int64)


def _load_mnist10k(split, root, download):
    x, y = _load_idx("mnist10k", "test", root, download)
    n_train = get_info("mnist10k").splits["train"]
    return (x[:n_train], y[:n_train]) if split == "train" else (x[n_train:], y[n_train:])


def _load_frey(split, root, download):
    paths = fetch("frey-face", root=root, download=download)
    x = _to_unit_float(frey.read_frey(paths[frey.FILE]))
    return (x[:frey.N_TRAIN], None) if split == "train" else (x[frey.N_TRAIN:], None)


def _load_cifar10(split, root, download):
    ((filename, path),) = fetch("cifar10", root=root, download=download).items()
    images, labels = cifar.read_cifar10(path, split)
    return _to_unit_float(images), labels


def _load_sprites(split, n=None, size=32):
    n = get_info("sprites").splits[split] if n is None else check_positive_int("n", n)
    ds = sprites(n, rng=SPRITES_SEEDS[split], size=size)
    return ds.x, ds.labels


def _load_one(name, split, root, download, options):
    if name == "sprites":
        unknown = set(options) - {"n", "size"}
    else:
        unknown = set(options)
    if unknown:
        allowed = "n, size" if name == "sprites" else "none"
        raise ValueError(f"unknown option(s) {sorted(unknown)} for dataset {name!r} "
                         f"(allowed: {allowed})")
    if name == "sprites":
        return _load_sprites(split, **options)
    if name == "mnist10k":
        return _load_mnist10k(split, root, download)
    if name == "frey-face":
        return _load_frey(split, root, download)
    if name == "cifar10":
        return _load_cifar10(split, root, download)
    return _load_idx(name, split, root, download)


def _static_rng(name, split):
    return np.random.default_rng([STATIC_BINARIZE_SEED, zlib.crc32(f"{name}/{split}".encode())])


def load(name, split="train", root=None, download=True, binarize=None, rng=None, **options):
    """Load a dataset split as ``(x, y)``.

    name: "mnist", "fashion-mnist", "kmnist", "mnist10k", "cifar10", "frey-face" or "sprites".
    split: "train", "test", or "all"/None (train followed by test).
    root: data directory (default ``$SCRATCHVAE_DATA``, else the platform cache); files are read
    from ``<root>/<dataset>/`` (mnist10k reads ``<root>/mnist/``), verified, and downloaded only
    if missing and ``download`` is true.
    binarize: None, "dynamic" (fresh Bernoulli sample from ``rng``) or "static" (a fixed sample).
    rng: int seed or Generator, used only by ``binarize="dynamic"``.
    options: for "sprites" only, ``n`` (examples in the split) and ``size`` (image side, 32).

    Returns x: float32 (n, d) in [0, 1] (binary 0/1 when binarized), y: int64 (n,) labels,
    or None for Frey Face. Raises :class:`DataError` for missing or corrupt files.
    """
    info = get_info(name)
    split = "all" if split is None else split
    check_choice("split", split, SPLITS)
    check_choice("binarize", binarize, BINARIZE)
    parts = ("train", "test") if split == "all" else (split,)
    xs, ys = [], []
    for part in parts:
        x, y = _load_one(info.name, part, root, download, options)
        if binarize == "static":
            x = _bernoulli(x, _static_rng(info.name, part))
        xs.append(x)
        ys.append(y)
    x = xs[0] if len(xs) == 1 else np.concatenate(xs)
    y = ys[0] if len(ys) == 1 or ys[0] is None else np.concatenate(ys)
    if binarize == "dynamic":
        x = _bernoulli(x, as_generator(rng))
    return x, y


@dataclass(frozen=True, eq=False)
class DataSplit:
    """Train and test arrays of one dataset, with what a plot or a model needs to know."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    image_shape: tuple
    class_names: tuple | None

    @property
    def n_features(self):
        return self.x_train.shape[1]


def load_split(name, root=None, download=True, binarize=None, rng=None, **options):
    """Load train and test together: a :class:`DataSplit` with x_train, y_train, x_test, y_test,
    image_shape and class_names. Arguments as in :func:`load`; with ``binarize="dynamic"`` one
    ``rng`` draws the train set first, then the test set.
    """
    info = get_info(name)
    rng = as_generator(rng) if binarize == "dynamic" else rng
    x_train, y_train = load(name, "train", root, download, binarize, rng, **options)
    x_test, y_test = load(name, "test", root, download, binarize, rng, **options)
    image_shape = info.image_shape
    if name == "sprites" and "size" in options:
        image_shape = (options["size"], options["size"])
    return DataSplit(info.name, x_train, y_train, x_test, y_test, image_shape, info.class_names)
