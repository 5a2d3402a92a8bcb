"""Loading never allocates what a file only claims (issue 18, item 5): checkpoint configs,
deflated checkpoint members, IDX and MAT zlib bombs are refused before or while inflating, with
a small peak; stale temporary files of killed saves are removed by the next save."""

import gzip
import json
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from test_data_frey import MI_INT8, MI_INT32, MI_UINT32, MX_DOUBLE, element, mat5

import scratchvae as sv
from scratchvae.checkpoint import CONFIG_KEY, load_checkpoint
from scratchvae.data import DataError, read_idx, read_mat

LIMIT = 32 * 2**20  # bytes of peak allocation allowed while refusing a 64 MiB claim


def refused_with_peak(function, *args, error=ValueError):
    """Run ``function(*args)`` expecting ``error``; return (the error, peak bytes allocated)."""
    tracemalloc.start()
    try:
        with pytest.raises(error) as info:
            function(*args)
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def small_checkpoint(tmp_path):
    return sv.save(sv.VAE(n_in=10, hidden=(4,), n_latent=2, backend="numpy"),
                   tmp_path / "small.npz")


def _entries(path):
    with np.load(path) as npz:
        return {name: npz[name] for name in npz.files}


def test_a_config_declaring_a_huge_layer_is_refused_before_allocating(small_checkpoint, tmp_path):
    entries = _entries(small_checkpoint)
    header = json.loads(entries[CONFIG_KEY].tobytes())
    header["model_config"]["hidden"] = [100_000_000]
    entries[CONFIG_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    bad = tmp_path / "huge.npz"
    np.savez(bad, **entries)
    assert bad.stat().st_size < 20_000
    error, peak = refused_with_peak(load_checkpoint, bad)
    assert "huge.npz" in str(error) and "parameter values" in str(error)
    assert peak < LIMIT


def _bomb_member(archive, name, n_bytes):
    """A deflated .npy member of n_bytes zeros, written in chunks (compresses ~1000x)."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (n_bytes // 8,)}
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as raw:
        np.lib.format.write_array_header_1_0(raw, header)
        chunk = bytes(2**20)
        for _ in range(n_bytes // len(chunk)):
            raw.write(chunk)


def test_a_deflated_checkpoint_member_bomb_is_refused_before_inflating(small_checkpoint,
                                                                       tmp_path):
    bad = tmp_path / "bomb.npz"
    with zipfile.ZipFile(small_checkpoint) as good, zipfile.ZipFile(
            bad, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info in good.infolist():
            out.writestr(info.filename, good.read(info), compress_type=zipfile.ZIP_STORED)
        _bomb_member(out, "param/extra.npy", 64 * 2**20)
    assert bad.stat().st_size < 200_000
    error, peak = refused_with_peak(load_checkpoint, bad)
    assert "bomb.npz" in str(error) and "zip bomb" in str(error)
    assert peak < LIMIT


def test_a_npy_header_claiming_more_than_the_member_holds_is_refused(small_checkpoint,
                                                                     tmp_path):
    bad = tmp_path / "claims.npz"
    with zipfile.ZipFile(small_checkpoint) as good, zipfile.ZipFile(bad, "w") as out:
        for info in good.infolist():
            data = good.read(info)
            if info.filename == "param/mu.b.npy":
                data = data.replace(b"(2,)", b"(2000000000,)")
            out.writestr(info.filename, data)
    error, peak = refused_with_peak(load_checkpoint, bad)
    assert "claims.npz" in str(error) and "declares" in str(error)
    assert peak < LIMIT


def test_an_idx_gzip_bomb_is_not_inflated_past_its_header(tmp_path):
    path = tmp_path / "bomb-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 10, 28, 28))
        chunk = bytes(2**20)
        for _ in range(64):
            f.write(chunk)                       # 64 MiB where the header says 7840 bytes
    assert path.stat().st_size < 200_000
    error, peak = refused_with_peak(read_idx, path)
    assert isinstance(error, DataError) and str(path) in str(error)
    assert peak < LIMIT


def test_an_idx_header_claiming_gigabytes_is_refused_without_allocating(tmp_path):
    path = tmp_path / "claims-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 60000, 60000, 60000) + bytes(10))
    error, peak = refused_with_peak(read_idx, path)
    assert isinstance(error, DataError) and "more than the 1,073,741,824-byte limit" in str(error)
    assert peak < LIMIT


def _double_matrix_body(n_values):
    body = element(MI_UINT32, struct.pack("<II", MX_DOUBLE, 0))
    body += element(MI_INT32, struct.pack("<2i", 1, n_values))
    body += element(MI_INT8, b"x")
    return body


def test_a_mat_zlib_bomb_is_not_inflated_past_its_tag(tmp_path):
    # the compressed element's inner tag declares a 1x1 double matrix; the stream goes on for
    # 64 MiB of zeros
    inner = element(14, _double_matrix_body(1) + element(9, bytes(8)), small=False)
    packer = zlib.compressobj()
    packed = packer.compress(inner)
    chunk = bytes(2**20)
    for _ in range(64):
        packed += packer.compress(chunk)
    packed += packer.flush()
    path = tmp_path / "bomb.mat"
    path.write_bytes(mat5(struct.pack("<II", 15, len(packed)) + packed))
    error, peak = refused_with_peak(read_mat, path)
    assert isinstance(error, DataError) and str(path) in str(error)
    assert peak < LIMIT


def test_a_compressed_mat_element_that_is_no_matrix_is_an_error_not_an_empty_file(tmp_path):
    packed = zlib.compress(element(9, bytes(64), small=False))
    path = tmp_path / "nomatrix.mat"
    path.write_bytes(mat5(struct.pack("<II", 15, len(packed)) + packed))
    with pytest.raises(DataError, match="nomatrix.mat.*expected a matrix"):
        read_mat(path)


def test_the_next_save_removes_stale_temporaries_of_killed_saves(small_checkpoint):
    folder = small_checkpoint.parent
    stale = [folder / f".small.npz.{token}.tmp" for token in ("0123456789ab", "a1b2c3d4e5f6")]
    others = [folder / ".other.npz.0123456789ab.tmp", folder / ".small.npz.notmine.tmp",
              folder / "small.npz.0123456789ab.tmp"]
    for path in stale + others:
        path.write_bytes(b"partial checkpoint")
    sv.save(sv.VAE(n_in=10, hidden=(4,), n_latent=2, backend="numpy"), small_checkpoint)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others)
    assert load_checkpoint(small_checkpoint).model.n_in == 10
