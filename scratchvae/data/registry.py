"""Which datasets exist, which files they need, where those are published, their checksums.

The checksums are the ones the maintainers publish (md5 for MNIST, Fashion-MNIST, KMNIST and
CIFAR-10, as also listed in torchvision's dataset sources). Frey Face has no published checksum:
its structure is checked and its sha256 recorded in ``checksums.json`` beside it the first time
it is seen (see :mod:`scratchvae.data.download`).
"""

from dataclasses import dataclass

from scratchvae.data import cifar, frey, sprites


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: its original name, checksum (or None) and the URLs to try in order."""

    name: str
    md5: str | None
    urls: tuple


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`scratchvae.data.load` needs to know about a dataset.

    directory: sub-folder of the data directory holding the files (``None``: generated).
    files: the files it reads. any_of: the dataset needs only one of ``files`` (CIFAR-10 reads
    the binary tarball, or the python one if only that is present).
    splits: number of examples per split.
    """

    name: str
    title: str
    directory: str | None
    files: tuple
    image_shape: tuple
    splits: dict
    class_names: tuple | None
    homepage: str
    citation: str
    any_of: bool = False

    @property
    def n_features(self):
        n = 1
        for d in self.image_shape:
            n *= d
        return n

    @property
    def n_classes(self):
        return None if self.class_names is None else len(self.class_names)


_MNIST_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _idx_files(md5s, hosts):
    return tuple(RemoteFile(name, md5, tuple(host + name for host in hosts))
                 for name, md5 in zip(_MNIST_NAMES, md5s))


_MNIST_FILES = _idx_files(
    ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
     "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"))

DATASETS = {
    "mnist": DatasetInfo(
        name="mnist", title="MNIST handwritten digits", directory="mnist", files=_MNIST_FILES,
        image_shape=(28, 28), splits={"train": 60000, "test": 10000},
        class_names=tuple(str(d) for d in range(10)),
        homepage="http://yann.lecun.com/exdb/mnist/",
        citation="LeCun, Bottou, Bengio, Haffner (1998). Gradient-based learning applied to "
                 "document recognition. Proc. IEEE 86(11)."),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist", title="Fashion-MNIST (Zalando article images)",
        directory="fashion-mnist",
        files=_idx_files(
            ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
             "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
            ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)),
        image_shape=(28, 28), splits={"train": 60000, "test": 10000},
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                     "Sneaker", "Bag", "Ankle boot"),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        citation="Xiao, Rasul, Vollgraf (2017). Fashion-MNIST: a novel image dataset for "
                 "benchmarking machine learning algorithms. arXiv:1708.07747."),
    "kmnist": DatasetInfo(
        name="kmnist", title="Kuzushiji-MNIST (cursive Japanese hiragana)", directory="kmnist",
        files=_idx_files(
            ("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
             "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"),
            ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)),
        image_shape=(28, 28), splits={"train": 60000, "test": 10000},
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        homepage="http://codh.rois.ac.jp/kmnist/",
        citation="Clanuwat et al. (2018). Deep learning for classical Japanese literature. "
                 "arXiv:1812.01718."),
    "mnist10k": DatasetInfo(
        name="mnist10k", title="MNIST test set split 8,000 / 2,000 (the project's benchmark)",
        directory="mnist", files=_MNIST_FILES[2:],  # the two t10k files, in the mnist folder
        image_shape=(28, 28), splits={"train": 8000, "test": 2000},
        class_names=tuple(str(d) for d in range(10)),
        homepage="http://yann.lecun.com/exdb/mnist/",
        citation="LeCun et al. (1998), the MNIST test set only."),
    "frey-face": DatasetInfo(
        name="frey-face", title="Frey Face (1,965 video frames of Brendan Frey's face)",
        directory="frey-face",
        files=(RemoteFile(frey.FILE, None, ("https://cs.nyu.edu/~roweis/data/" + frey.FILE,)),),
        image_shape=frey.IMAGE_SHAPE,
        splits={"train": frey.N_TRAIN, "test": frey.N_IMAGES - frey.N_TRAIN},
        class_names=None, homepage="https://cs.nyu.edu/~roweis/data.html",
        citation="Frey, Colmenarez, Huang (1998). Mixtures of local linear subspaces for face "
                 "recognition. CVPR; distributed by S. Roweis."),
    "cifar10": DatasetInfo(
        name="cifar10", title="CIFAR-10 (32x32 colour images, 10 classes)", directory="cifar10",
        files=(RemoteFile(cifar.BINARY_FILE, "c32a1d4ab5d03f1284b67883e8d87530",
                          ("https://www.cs.toronto.edu/~kriz/" + cifar.BINARY_FILE,)),
               RemoteFile(cifar.PYTHON_FILE, "c58f30108f718f92721af3b95e74349a",
                          ("https://www.cs.toronto.edu/~kriz/" + cifar.PYTHON_FILE,))),
        any_of=True, image_shape=cifar.IMAGE_SHAPE, splits={"train": 50000, "test": 10000},
        class_names=cifar.CLASS_NAMES, homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        citation="Krizhevsky (2009). Learning multiple layers of features from tiny images. "
                 "Tech. report, University of Toronto."),
    "sprites": DatasetInfo(
        name="sprites", title="Procedural sprites (generated, dSprites-like, 32x32)",
        directory=None, files=(), image_shape=(32, 32), splits={"train": 20000, "test": 2000},
        class_names=sprites.SHAPE_NAMES, homepage="",
        citation="Generated by scratchvae.data.sprites; after Matthey et al. (2017), dSprites."),
}
SPRITES_SEEDS = {"train": 0, "test": 1}  # load("sprites") = sprites(n, rng=seed, size)


def get_info(name):
    """The :class:`DatasetInfo` of ``name``; ``ValueError`` listing the names when unknown."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        names = ", ".join(repr(n) for n in DATASETS)
        raise ValueError(f"name must be one of {names}; got {name!r}") from None
