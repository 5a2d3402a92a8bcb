"""The real MNIST test files (../shared/data/mnist, read in place) and damaged copies of them."""

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.data import DataError, read_idx

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"
KNOWN_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist_test(shared_data):
    return sv.data.load("mnist", split="test", root=shared_data, download=False)


def test_mnist_test_split_has_the_published_shapes_and_dtypes(mnist_test):
    x, y = mnist_test
    assert x.shape == (10000, 784) and x.dtype == np.float32
    assert y.shape == (10000,) and np.issubdtype(y.dtype, np.integer)


def test_mnist_pixels_are_scaled_to_the_unit_interval(mnist_test):
    x, _ = mnist_test
    assert x.min() == 0.0 and x.max() == 1.0
    # pixel values are k / 255 for integers k
    k = x * 255
    np.testing.assert_allclose(k, np.round(k), atol=1e-4)
    assert 0.12 < x.mean() < 0.14  # MNIST's mean intensity is about 0.13


def test_mnist_first_labels_and_class_counts_match_the_published_test_set(mnist_test):
    _, y = mnist_test
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y, minlength=10).tolist() == KNOWN_TEST_COUNTS


def test_read_idx_returns_uint8_images_and_labels_from_the_real_files(shared_data):
    images = read_idx(shared_data / "mnist" / IMAGES)
    labels = read_idx(shared_data / "mnist" / LABELS)
    assert images.dtype == np.uint8 and images.shape == (10000, 28, 28)
    assert labels.dtype == np.uint8 and labels.shape == (10000,)
    # a 7 has ink in its top bar and an empty bottom-left corner
    seven = images[0]
    assert seven[:14].sum() > 0 and seven[24:, :8].sum() == 0


def test_mnist10k_is_the_first_8000_and_last_2000_test_images(shared_data, mnist_test):
    x, y = mnist_test
    x_tr, y_tr = sv.data.load("mnist10k", split="train", root=shared_data, download=False)
    x_te, y_te = sv.data.load("mnist10k", split="test", root=shared_data, download=False)
    assert x_tr.shape == (8000, 784) and x_te.shape == (2000, 784)
    np.testing.assert_array_equal(x_tr, x[:8000])
    np.testing.assert_array_equal(x_te, x[8000:])
    np.testing.assert_array_equal(np.concatenate([y_tr, y_te]), y)
    x_all, _ = sv.data.load("mnist10k", split="all", root=shared_data)
    np.testing.assert_array_equal(x_all, x)


def test_load_split_returns_train_and_test_with_image_shape(shared_data):
    d = sv.data.load_split("mnist10k", root=shared_data, download=False)
    assert d.x_train.shape == (8000, 784) and d.y_test.shape == (2000,)
    assert d.image_shape == (28, 28) and d.n_features == 784
    assert d.class_names == tuple("0123456789")


def test_acceptance_command_prints_the_test_set_shape():
    code = ("import scratchvae as sv; x, y = sv.data.load('mnist', split='test', "
            "root='../shared/data'); print(x.shape)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "(10000, 784)"


# ------------------------------------------------------------------ damaged copies


@pytest.fixture
def mnist_copy(tmp_path, shared_data):
    """A data root in tmp_path holding copies of the two test files (tests damage them)."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in (IMAGES, LABELS):
        shutil.copyfile(shared_data / "mnist" / name, folder / name)
    return tmp_path


def test_one_flipped_byte_in_the_gz_is_caught_by_the_md5(mnist_copy):
    path = mnist_copy / "mnist" / IMAGES
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="md5") as info:
        sv.data.load("mnist", split="test", root=mnist_copy, download=False)
    assert str(path) in str(info.value)
    assert "9fb629c4189551a2d022fa330f9573f3" in str(info.value)


def test_a_corrupt_file_is_an_error_even_when_download_is_allowed(mnist_copy, monkeypatch):
    import pooch

    def no_network(*args, **kwargs):
        raise AssertionError("a corrupt local file must not trigger a download")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    path = mnist_copy / "mnist" / LABELS
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=LABELS):
        sv.data.load("mnist", split="test", root=mnist_copy, download=True)
    assert path.exists()  # never deleted behind the user's back


def test_truncated_gz_is_rejected_by_checksum_and_by_the_reader(mnist_copy):
    path = mnist_copy / "mnist" / IMAGES
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="md5") as info:
        sv.data.load("mnist", split="test", root=mnist_copy, download=False)
    assert IMAGES in str(info.value)
    with pytest.raises(DataError, match="gzip stream is truncated or corrupt") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_flipped_byte_in_gz_data_fails_the_gzip_crc_in_read_idx(mnist_copy):
    path = mnist_copy / "mnist" / LABELS
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.fixture
def raw_idx(tmp_path, shared_data):
    """Uncompressed copies: the real label file and the first 50 real images (a valid IDX)."""
    labels = gzip.decompress((shared_data / "mnist" / LABELS).read_bytes())
    images = read_idx(shared_data / "mnist" / IMAGES)[:50]
    image_path = sv.data.write_idx(tmp_path / "images.idx", images)
    label_path = tmp_path / "labels.idx"
    label_path.write_bytes(labels)
    return image_path, label_path


def test_raw_copies_of_the_real_files_read_back_exactly(raw_idx, shared_data):
    image_path, label_path = raw_idx
    assert image_path.read_bytes()[:4] == b"\x00\x00\x08\x03"  # magic 2051
    assert label_path.read_bytes()[:4] == b"\x00\x00\x08\x01"  # magic 2049
    np.testing.assert_array_equal(read_idx(label_path),
                                  read_idx(shared_data / "mnist" / LABELS))


@pytest.mark.parametrize("which", ["images", "labels"])
def test_any_flipped_byte_in_a_raw_idx_header_is_caught_by_validation(raw_idx, which):
    path = raw_idx[0] if which == "images" else raw_idx[1]
    good = path.read_bytes()
    header = 16 if which == "images" else 8
    for i in range(header):
        bad = bytearray(good)
        bad[i] ^= 0xFF
        path.write_bytes(bytes(bad))
        with pytest.raises(DataError) as info:
            read_idx(path)
        assert str(path) in str(info.value), f"byte {i}"


def test_wrong_magic_number_is_rejected(raw_idx):
    _, path = raw_idx
    raw = bytearray(path.read_bytes())
    raw[0:4] = b"\x00\x00\x08\x03"  # an image magic on a label file: 3 dims do not fit
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="labels.idx"):
        read_idx(path)
    raw[0:4] = b"PK\x03\x04"  # a zip file, not IDX
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="magic"):
        read_idx(path)


def test_truncated_raw_idx_says_how_many_bytes_are_missing(raw_idx):
    image_path, _ = raw_idx
    image_path.write_bytes(image_path.read_bytes()[:-1])
    with pytest.raises(DataError, match=r"truncated IDX file.*50x28x28.*39200.*39199"):
        read_idx(image_path)


def test_missing_file_without_download_names_the_directory_to_use(tmp_path):
    with pytest.raises(DataError) as info:
        sv.data.load("mnist", split="test", root=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "mnist") in message
    assert IMAGES in message and "9fb629c4189551a2d022fa330f9573f3" in message
    assert "download=False" in message


def test_images_and_labels_that_disagree_in_length_are_rejected(mnist_copy, monkeypatch):
    # valid IDX files whose counts disagree (checksums patched: this tests the pair check)
    import dataclasses

    folder = mnist_copy / "mnist"
    labels = read_idx(folder / LABELS)[:9999]
    sv.data.write_idx(folder / LABELS, labels)
    info = sv.data.DATASETS["mnist"]
    files = tuple(dataclasses.replace(f, md5=sv.data.file_md5(folder / f.name))
                  if f.name == LABELS else f for f in info.files)
    monkeypatch.setitem(sv.data.DATASETS, "mnist", dataclasses.replace(info, files=files))
    with pytest.raises(DataError, match="9999 labels for 10000 images"):
        sv.data.load("mnist", split="test", root=mnist_copy, download=False)
