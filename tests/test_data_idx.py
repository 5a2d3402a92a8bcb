"""IDX reader: every dtype, gzip or not, and every kind of damage raises DataError naming the file."""

import gzip
import struct

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.data import DataError, read_idx, write_idx


def test_read_idx_decodes_big_endian_values_written_by_hand(tmp_path):
    # header 00 00 0B 01 (int16, 1-D), one dimension 3, then big-endian int16 values
    raw = bytes([0, 0, 0x0B, 1]) + struct.pack(">I", 3) + struct.pack(">3h", 1, -2, 300)
    path = tmp_path / "short.idx"
    path.write_bytes(raw)
    out = read_idx(path)
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, [1, -2, 300])


def test_read_idx_decodes_float64_matrix_written_by_hand(tmp_path):
    values = [[0.5, -1.25], [3.0, 1e-300], [np.pi, -0.0]]
    raw = bytes([0, 0, 0x0E, 2]) + struct.pack(">2I", 3, 2)
    raw += struct.pack(">6d", *np.ravel(values))
    path = tmp_path / "double.idx.gz"
    path.write_bytes(gzip.compress(raw))
    out = read_idx(path)
    assert out.dtype == np.float64 and out.shape == (3, 2)
    np.testing.assert_array_equal(out, values)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_then_read_idx_round_trips_every_dtype(tmp_path, dtype, name):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(4, 3, 2)) * 100).astype(dtype)
    path = write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(path)
    assert out.dtype == dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)
    out[0] = 0  # the result is a writable array, not a view of the file buffer


def test_read_idx_detects_gzip_by_content_not_by_name(tmp_path):
    array = np.arange(6, dtype=np.uint8)
    path = tmp_path / "plain-name.idx"
    path.write_bytes(gzip.compress(b"\0\0\x08\x01" + struct.pack(">I", 6) + array.tobytes()))
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "shorter than the 4-byte magic"),
        (b"\x00\x00\x08", "shorter than the 4-byte magic"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "first two bytes must be 00 00"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown dtype code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "truncated IDX header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"1234", "truncated IDX file"),
        (b"\x00\x00\x0b\x01" + struct.pack(">I", 2) + b"123", "truncated IDX file"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"123", "trailing bytes"),
    ],
)
def test_read_idx_rejects_malformed_files_naming_them(tmp_path, raw, message):
    path = tmp_path / "bad-file.idx"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_idx_missing_file_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="nope.idx"):
        read_idx(tmp_path / "nope.idx")


def test_public_names_are_reachable_from_the_package_root():
    assert sv.data.read_idx is read_idx
    assert issubclass(sv.data.DataError, ValueError)
