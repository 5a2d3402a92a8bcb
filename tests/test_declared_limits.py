"""Readers and checkpoints are bounded by what they declare (issue 28, item 4): a declared size
over the documented limit is refused before anything is inflated, every malformed header is a
DataError, a pickle of shared references cannot blow up, a checkpoint whose one-image forward
pass needs more than the budget is refused naming the file, and importance sampling refuses a
huge k at once."""

import io
import pickle
import struct
import tarfile
import time
import zlib

import numpy as np
import pytest
from test_bounded_memory import refused_with_peak
from test_data_frey import MI_INT8, MI_INT32, MI_UINT32, MX_DOUBLE, element, mat5

import scratchvae as sv
from scratchvae.checkpoint import MAX_FORWARD_BYTES, forward_bytes_per_image, load_checkpoint
from scratchvae.data import DataError, read_cifar10, read_idx, read_mat
from scratchvae.data.limits import MAX_DECLARED_BYTES
from scratchvae.evaluate import MAX_IMPORTANCE_SAMPLES, importance_sampled_nll

PEAK = 8 * 2**20  # bytes a refusal may allocate


def _zeros_stream(head, mebibytes, wbits=zlib.MAX_WBITS):
    """``head`` followed by ``mebibytes`` MiB of zeros, deflated (about 1 KB per MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    packed = packer.compress(head)
    for _ in range(mebibytes):
        packed += packer.compress(bytes(2**20))
    return packed + packer.flush()


def test_the_limit_admits_the_real_datasets():
    cifar_train = 50_000 * 3072
    mnist_train = 60_000 * 784
    assert MAX_DECLARED_BYTES == 2**30 > cifar_train > mnist_train


def test_a_gzip_idx_declaring_2_gib_is_refused_before_inflating(tmp_path):
    path = tmp_path / "claims-idx1-ubyte.gz"
    header = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 2**31)
    path.write_bytes(_zeros_stream(header, 48, wbits=16 + zlib.MAX_WBITS))  # 48 MiB inside
    error, peak = refused_with_peak(read_idx, path, error=DataError)
    assert str(path) in str(error) and "limit" in str(error)
    assert peak < PEAK


@pytest.mark.parametrize("dims", [(0, 2**32 - 1, 2**32 - 1, 2**32 - 1),
                                  (2**32 - 1, 2**32 - 1, 2**32 - 1, 0),
                                  (2**32 - 1,) * 8 + (0,)],
                         ids=["zero-first", "zero-last", "product-over-2**64"])
def test_idx_dimensions_too_big_for_any_array_are_a_data_error(tmp_path, dims):
    path = tmp_path / "dims-idx"
    path.write_bytes(bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims))
    with pytest.raises(DataError, match="dims-idx.*limit"):
        read_idx(path)


def test_a_compressed_mat_element_declaring_2_gib_is_refused_before_inflating(tmp_path):
    tag = struct.pack("<II", 14, 2**31)  # a miMATRIX of 2 GiB, say the first 8 bytes
    packed = _zeros_stream(tag, 48)
    path = tmp_path / "claims.mat"
    path.write_bytes(mat5(struct.pack("<II", 15, len(packed)) + packed))
    error, peak = refused_with_peak(read_mat, path, error=DataError)
    assert str(path) in str(error) and "limit" in str(error)
    assert peak < PEAK


def test_mat_dimensions_too_big_for_any_array_are_a_data_error(tmp_path):
    body = element(MI_UINT32, struct.pack("<II", MX_DOUBLE, 0))
    body += element(MI_INT32, struct.pack("<2i", 0, 2**31 - 1), small=False)
    body += element(MI_INT8, b"x") + element(9, b"", small=False)
    path = tmp_path / "dims.mat"
    path.write_bytes(mat5(element(14, body, small=False)))
    with pytest.raises(DataError, match="dims.mat.*limit"):
        read_mat(path)


def _shared_reference_labels(depth):
    """A list holding the same list 10 times, ``depth`` levels deep: 10**(depth+1) ints."""
    labels = [0] * 10
    for _ in range(depth):
        labels = [labels] * 10
    return labels


def _python_tarball(path, batch):
    raw = pickle.dumps(batch, protocol=4)
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    return len(raw)


def test_a_cifar_pickle_of_shared_references_cannot_blow_up(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    n_bytes = _python_tarball(path, {b"data": np.zeros((2, 3072), np.uint8),
                                     b"labels": _shared_reference_labels(6)})  # 10**7 ints
    assert n_bytes < 7000
    error, peak = refused_with_peak(read_cifar10, path, "test", error=DataError)
    assert "labels" in str(error) and str(path) in str(error)
    assert peak < PEAK


def test_a_checkpoint_declaring_a_huge_image_is_refused_at_load_naming_the_file(tmp_path):
    huge = sv.ConvVAE(image_shape=(1, 65536, 65536), channels=(1,) * 16, n_latent=2,
                      backend="numpy")
    path = sv.save(huge, tmp_path / "huge.npz")
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"huge\.npz.*one-image forward pass.*budget"):
        load_checkpoint(path)


def test_the_forward_budget_admits_the_course_models():
    models = [sv.VAE(), sv.ConvVAE(backend="numpy"),
              sv.ConvVAE(image_shape=(3, 32, 32), channels=(32, 64, 128), backend="numpy")]
    assert all(forward_bytes_per_image(model) < MAX_FORWARD_BYTES / 100 for model in models)


def test_importance_sampling_refuses_a_huge_k_at_once():
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy")
    x = np.full((2, 4), 0.5, dtype=np.float32)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="k must be at most 100,000.*1,000,000,000,000"):
        importance_sampled_nll(vae, x, k=10**12, progress=False)
    assert time.perf_counter() - start < 1.0
    assert MAX_IMPORTANCE_SAMPLES == 100_000
    assert importance_sampled_nll(vae, x, k=3, progress=False).shape == (2,)
