"""CIFAR-10 readers on tiny tarballs in the official layouts, written by these tests."""

import dataclasses
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.data import DataError, read_cifar10

N_PER_BATCH = 3


def tiny_cifar(seed=0):
    """Per batch name: (uint8 data (n, 3072), labels (n,))."""
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: (rng.integers(0, 256, (N_PER_BATCH, 3072), dtype=np.uint8),
                   rng.integers(0, 10, N_PER_BATCH)) for name in names}


def add_member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def binary_tarball(path, batches, drop=None):
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, "cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\n")
        for name, (data, labels) in batches.items():
            if name == drop:
                continue
            records = np.concatenate([labels[:, None].astype(np.uint8), data], axis=1)
            add_member(tar, f"cifar-10-batches-bin/{name}.bin", records.tobytes())
    return path


class Python2Pickler(pickle._Pickler):
    """Writes bytes the way Python 2 wrote str (BINSTRING), as in the official CIFAR batches."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def py2_pickle(obj):
    buf = io.BytesIO()
    Python2Pickler(buf, protocol=2).dump(obj)
    raw = buf.getvalue()
    # NumPy 1.x (and the official files) name the reconstructor numpy.core.multiarray
    return raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def python_tarball(path, batches, payload=None):
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, "cifar-10-batches-py/batches.meta",
                   py2_pickle({b"label_names": [b"airplane"]}))
        for name, (data, labels) in batches.items():
            batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
                     b"data": data, b"filenames": [b"x.png"] * len(labels)}
            raw = payload if (payload is not None and name == "test_batch") else py2_pickle(batch)
            add_member(tar, f"cifar-10-batches-py/{name}", raw)
    return path


@pytest.fixture
def cifar_root(tmp_path):
    (tmp_path / "cifar10").mkdir()
    return tmp_path


def expected(batches, split):
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    return (np.concatenate([batches[n][0] for n in names]),
            np.concatenate([batches[n][1] for n in names]))


def test_the_test_pickle_looks_like_a_python2_batch():
    import pickletools

    raw = py2_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": [1]})
    ops = [op.name for op, _, _ in pickletools.genops(raw)]
    assert "SHORT_BINSTRING" in ops and "BINSTRING" in ops and "BINBYTES" not in ops
    assert b"numpy.core.multiarray\n_reconstruct" in raw and b"_codecs" not in raw


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("fmt", ["binary", "python"])
def test_read_cifar10_returns_the_records_in_order(tmp_path, split, fmt):
    batches = tiny_cifar()
    if fmt == "binary":
        path = binary_tarball(tmp_path / "cifar-10-binary.tar.gz", batches)
    else:
        path = python_tarball(tmp_path / "cifar-10-python.tar.gz", batches)
    images, labels = read_cifar10(path, split)
    want_images, want_labels = expected(batches, split)
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    np.testing.assert_array_equal(images, want_images)
    np.testing.assert_array_equal(labels, want_labels)


def test_pixels_stay_channel_major_as_in_the_files(cifar_root, monkeypatch):
    batches = tiny_cifar()
    data = batches["test_batch"][0]
    data[0, :1024], data[0, 1024:2048], data[0, 2048:] = 255, 0, 51  # R, G, B planes
    path = binary_tarball(cifar_root / "cifar10" / "cifar-10-binary.tar.gz", batches)
    use_tiny_checksums(monkeypatch, path)
    x, y = sv.data.load("cifar10", split="test", root=cifar_root, download=False)
    img = x[0].reshape(3, 32, 32)  # CHW
    assert (img[0] == 1.0).all() and (img[1] == 0.0).all() and np.allclose(img[2], 0.2)
    assert x.dtype == np.float32 and x.shape == (N_PER_BATCH, 3072)
    np.testing.assert_array_equal(y, batches["test_batch"][1])


def use_tiny_checksums(monkeypatch, path):
    """Point the registry's md5 for this tarball at the tiny file (a test seam, no network)."""
    info = sv.data.DATASETS["cifar10"]
    files = tuple(dataclasses.replace(f, md5=sv.data.file_md5(path)) if f.name == path.name
                  else f for f in info.files)
    monkeypatch.setitem(sv.data.DATASETS, "cifar10", dataclasses.replace(info, files=files))


def test_load_cifar10_uses_the_python_tarball_when_only_it_is_present(cifar_root, monkeypatch):
    batches = tiny_cifar(1)
    path = python_tarball(cifar_root / "cifar10" / "cifar-10-python.tar.gz", batches)
    use_tiny_checksums(monkeypatch, path)
    x, y = sv.data.load("cifar10", split="train", root=cifar_root, download=False)
    want_images, want_labels = expected(batches, "train")
    assert x.shape == (5 * N_PER_BATCH, 3072) and x.min() >= 0 and x.max() <= 1
    np.testing.assert_array_equal(x, want_images.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, want_labels)


def test_load_cifar10_prefers_the_binary_tarball(cifar_root, monkeypatch):
    binary = binary_tarball(cifar_root / "cifar10" / "cifar-10-binary.tar.gz", tiny_cifar(2))
    python = python_tarball(cifar_root / "cifar10" / "cifar-10-python.tar.gz", tiny_cifar(3))
    use_tiny_checksums(monkeypatch, binary)
    use_tiny_checksums(monkeypatch, python)
    _, y = sv.data.load("cifar10", split="test", root=cifar_root, download=False)
    np.testing.assert_array_equal(y, tiny_cifar(2)["test_batch"][1])


def test_a_pickle_that_names_any_other_global_is_refused(cifar_root, tmp_path):
    canary = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(canary),))

    path = python_tarball(cifar_root / "cifar10" / "cifar-10-python.tar.gz", tiny_cifar(),
                          payload=pickle.dumps(Evil(), protocol=2))
    with pytest.raises(DataError, match=r"refusing to load global (posix|nt)\.mkdir") as info:
        read_cifar10(path, "test")
    assert str(path) in str(info.value) and "test_batch" in str(info.value)
    assert not canary.exists()


def test_a_missing_batch_is_named(tmp_path):
    path = binary_tarball(tmp_path / "cifar-10-binary.tar.gz", tiny_cifar(), drop="data_batch_3")
    with pytest.raises(DataError, match="cifar-10-batches-bin/data_batch_3.bin") as info:
        read_cifar10(path, "train")
    assert str(path) in str(info.value)
    read_cifar10(path, "test")  # the test split does not need it


def test_a_truncated_binary_batch_is_rejected(tmp_path):
    batches = tiny_cifar()
    path = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data, labels = batches["test_batch"]
        records = np.concatenate([labels[:, None].astype(np.uint8), data], axis=1).tobytes()
        add_member(tar, "cifar-10-batches-bin/test_batch.bin", records[:-100])
    with pytest.raises(DataError, match="not a whole number of 3073-byte"):
        read_cifar10(path, "test")


def test_a_truncated_tarball_is_rejected(tmp_path):
    path = binary_tarball(tmp_path / "cifar-10-binary.tar.gz", tiny_cifar())
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError, match="cannot read the tarball") as info:
        read_cifar10(path, "test")
    assert str(path) in str(info.value)


def test_labels_out_of_range_are_rejected(tmp_path):
    batches = tiny_cifar()
    batches["test_batch"][1][0] = 10
    path = binary_tarball(tmp_path / "cifar-10-binary.tar.gz", batches)
    with pytest.raises(DataError, match="labels must be 0..9"):
        read_cifar10(path, "test")


def test_missing_cifar_without_download_lists_both_files_and_the_folder(tmp_path):
    with pytest.raises(DataError) as info:
        sv.data.load("cifar10", split="test", root=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "cifar10") in message
    assert "cifar-10-binary.tar.gz (md5 c32a1d4ab5d03f1284b67883e8d87530" in message
    assert "cifar-10-python.tar.gz (md5 c58f30108f718f92721af3b95e74349a" in message
