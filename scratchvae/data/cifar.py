"""Read CIFAR-10 straight from its official tarballs (nothing is extracted to disk).

Binary version, ``cifar-10-binary.tar.gz`` (preferred): members
``cifar-10-batches-bin/data_batch_1.bin`` .. ``data_batch_5.bin`` (train) and ``test_batch.bin``;
each is 10,000 records of 3,073 bytes: one label byte (0-9), then 3,072 pixel bytes:
the 1,024 red values of the 32x32 image in row order, then the 1,024 green, then the blue.

Python version, ``cifar-10-python.tar.gz``: members ``cifar-10-batches-py/data_batch_1`` ..
``data_batch_5`` and ``test_batch``, each a Python 2 pickle of a dict with ``data`` (uint8
array 10000x3072, same pixel order) and ``labels`` (list of ints). A pickle can run arbitrary
code when loaded, so it is read with :class:`RestrictedUnpickler`, which reconstructs only dicts,
lists, strings, bytes and NumPy arrays and refuses every other global.

Pixel order of the returned rows: channel-major (CHW) as in the files, i.e.
``x.reshape(-1, 3, 32, 32)``; for plotting use ``.transpose(0, 2, 3, 1)`` (HWC).
"""

import io
import pickle
import tarfile
import zlib

import numpy as np

from scratchvae.data.errors import DataError

BINARY_FILE = "cifar-10-binary.tar.gz"
PYTHON_FILE = "cifar-10-python.tar.gz"
IMAGE_SHAPE = (3, 32, 32)
N_PIXELS = 3 * 32 * 32
RECORD_BYTES = 1 + N_PIXELS
MAX_MEMBER_BYTES = 64 * 2**20
"""A batch member is ~31 MB (10,000 records); a member declaring more is refused unread."""
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")
_BATCHES = {
    "train": [f"data_batch_{i}" for i in range(1, 6)],
    "test": ["test_batch"],
}
# the only globals a CIFAR pickle needs: NumPy's array reconstruction
_NDARRAY_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _NDARRAY_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NDARRAY_RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds only dicts, lists, tuples, str/bytes, numbers and ndarrays.

    Any other global (a function or class named in the pickle) raises ``pickle.UnpicklingError``
    before it is imported, so a tampered batch file cannot run code.
    """

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only NumPy arrays, dicts, lists and "
                "strings are allowed in a CIFAR-10 batch") from None


def _parse_binary_batch(raw, where):
    if len(raw) == 0 or len(raw) % RECORD_BYTES:
        raise DataError(f"{where}: {len(raw)} bytes is not a whole number of {RECORD_BYTES}-byte "
                        "CIFAR-10 records (truncated or malformed)")
    records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    return records[:, 1:], records[:, 0].astype(np.int64)


def _parse_python_batch(raw, where):
    try:
        batch = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as err:
        raise DataError(f"{where}: cannot read the pickled batch ({err})") from err
    if not isinstance(batch, dict):
        raise DataError(f"{where}: expected a dict, the pickle holds {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{where}: the batch dict lacks 'data' or 'labels' "
                        f"(keys: {sorted(k if isinstance(k, str) else type(k).__name__ for k in batch)[:8]})")
    data = batch["data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == N_PIXELS):
        raise DataError(f"{where}: 'data' must be a uint8 array (n, {N_PIXELS}), got "
                        f"{getattr(data, 'dtype', type(data).__name__)} "
                        f"{getattr(data, 'shape', '')}")
    return data, _labels(batch["labels"], len(data), where)


def _labels(labels, n, where):
    """``labels`` as int64 (n,): a flat list of n ints or an integer array of shape (n,).

    Checked element by element before any array is built: a pickle of shared references (a list
    holding the same list 10 times, 10 levels deep) is a few hundred bytes that ``np.asarray``
    would expand to 10**10 values."""
    if isinstance(labels, np.ndarray):
        if (labels.shape != (n,) or labels.dtype == np.bool_
                or not np.issubdtype(labels.dtype, np.integer)):
            raise DataError(f"{where}: 'labels' must be {n} integers, got {labels.dtype} "
                            f"{labels.shape}")
        return labels.astype(np.int64)
    if not isinstance(labels, (list, tuple)) or len(labels) != n:
        got = f"{len(labels)} items" if isinstance(labels, (list, tuple)) else type(labels).__name__
        raise DataError(f"{where}: 'labels' must be a flat list of {n} integers, got {got}")
    if not all(type(label) is int for label in labels):
        bad = next(label for label in labels if type(label) is not int)
        raise DataError(f"{where}: 'labels' must be a flat list of integers, found a "
                        f"{type(bad).__name__}")
    return np.array(labels, dtype=np.int64)


def _read_members(path, names):
    """Bytes of the named regular-file members, in one sequential pass over the gzip stream."""
    wanted, found = set(names), {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name in wanted:
                    if not member.isfile():
                        raise DataError(f"{path}: member {member.name} is not a regular file")
                    if member.size > MAX_MEMBER_BYTES:
                        raise DataError(f"{path}: member {member.name} declares {member.size:,} "
                                        f"bytes, more than a CIFAR-10 batch ({MAX_MEMBER_BYTES:,})")
                    found[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read the tarball, truncated or corrupt ({err})") from err
    missing = [name for name in names if name not in found]
    if missing:
        raise DataError(f"{path}: member(s) missing from the tarball: {', '.join(missing)}")
    return [found[name] for name in names]


def read_cifar10(path, split="train", fmt=None):
    """Read one split from a CIFAR-10 tarball.

    fmt: "binary" or "python"; by default told from the official file name
    (``cifar-10-binary.tar.gz`` or ``cifar-10-python.tar.gz``).
    Returns ``(images, labels)``: uint8 ``(n, 3072)`` in CHW order and int64 ``(n,)`` in 0..9
    (n = 50,000 for train, 10,000 for test). Raises :class:`DataError` naming the file when a
    member is missing, truncated or malformed.
    """
    if split not in _BATCHES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = str(path)
    if fmt is None:
        if path.endswith(BINARY_FILE):
            fmt = "binary"
        elif path.endswith(PYTHON_FILE):
            fmt = "python"
        else:
            raise ValueError(f"cannot tell the CIFAR-10 format from the name {path!r}: "
                             "pass fmt='binary' or fmt='python'")
    if fmt not in ("binary", "python"):
        raise ValueError(f"fmt must be 'binary' or 'python', got {fmt!r}")
    if fmt == "binary":
        members = [f"cifar-10-batches-bin/{b}.bin" for b in _BATCHES[split]]
        parse = _parse_binary_batch
    else:
        members = [f"cifar-10-batches-py/{b}" for b in _BATCHES[split]]
        parse = _parse_python_batch
    images, labels = [], []
    for member, raw in zip(members, _read_members(path, members)):
        x, y = parse(raw, f"{path}: {member}")
        images.append(x)
        labels.append(y)
    images, labels = np.concatenate(images), np.concatenate(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataError(f"{path}: labels must be 0..9, found values in "
                        f"[{labels.min()}, {labels.max()}]")
    return images, labels
