"""MAT-file reader and Frey Face, on .mat files these tests write byte by byte from the spec."""

import json
import struct
import zlib

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.data import DataError, read_mat, read_mat_variable

MI_INT8, MI_UINT8, MI_INT16, MI_INT32, MI_UINT32, MI_DOUBLE = 1, 2, 3, 5, 6, 9
MI_MATRIX, MI_COMPRESSED = 14, 15
MX_CELL, MX_CHAR, MX_DOUBLE, MX_UINT8, MX_INT16 = 1, 4, 6, 9, 10


# ---------------------------------------------------------- a level-5 writer, from the spec


def element(mi_type, payload, e="<", small=True):
    """One data element: small format (<= 4 bytes) or tag + data padded to 8 bytes."""
    if small and len(payload) <= 4:
        return struct.pack(e + "I", mi_type | (len(payload) << 16)) + payload.ljust(4, b"\0")
    pad = b"\0" * (-len(payload) % 8)
    return struct.pack(e + "II", mi_type, len(payload)) + payload + pad


def matrix(name, values, mx_class, mi_type, dtype, e="<", flags=0):
    values = np.asarray(values)
    body = element(MI_UINT32, struct.pack(e + "II", mx_class | flags, 0), e)
    body += element(MI_INT32, struct.pack(e + f"{values.ndim}i", *values.shape), e)
    body += element(MI_INT8, name.encode(), e)
    data = np.asarray(values, dtype=np.dtype(dtype).newbyteorder(e)).tobytes(order="F")
    body += element(mi_type, data, e)
    return element(MI_MATRIX, body, e, small=False)


def mat5(*elements, e="<"):
    text = b"MATLAB 5.0 MAT-file, Platform: test, Created by: scratchvae tests"
    header = text.ljust(116, b" ") + b"\0" * 8 + struct.pack(e + "H", 0x0100)
    header += b"IM" if e == "<" else b"MI"  # the characters "MI" as a 16-bit value
    return header + b"".join(elements)


def compressed(elem, e="<"):
    packed = zlib.compress(elem)
    return struct.pack(e + "II", MI_COMPRESSED, len(packed)) + packed


def mat4(name, values, precision, dtype):
    """A level-4 matrix: MOPT (little-endian, numeric full), rows, cols, imagf, name length."""
    values = np.asarray(values)
    rows, cols = values.shape
    header = struct.pack("<5i", precision * 10, rows, cols, 0, len(name) + 1)
    return header + name.encode() + b"\0" + values.astype(dtype).tobytes(order="F")


# ---------------------------------------------------------- the reader


def test_read_mat_reads_a_uint8_matrix_in_column_major_order(tmp_path):
    values = np.arange(6, dtype=np.uint8).reshape(2, 3)
    path = tmp_path / "a.mat"
    path.write_bytes(mat5(matrix("ff", values, MX_UINT8, MI_UINT8, "u1")))
    out = read_mat(path)
    assert list(out) == ["ff"]
    assert out["ff"].dtype == np.uint8 and out["ff"].shape == (2, 3)
    np.testing.assert_array_equal(out["ff"], values)
    # column-major on disk: the bytes after the data tag are 0, 3, 1, 4, 2, 5
    assert bytes([0, 3, 1, 4, 2, 5]) in path.read_bytes()


@pytest.mark.parametrize("e", ["<", ">"])
def test_read_mat_handles_both_byte_orders_classes_and_storage_types(tmp_path, e):
    doubles = np.array([[1.5, -2.0], [np.pi, 1e10], [0.0, 7.0]])
    small_ints = np.array([[1, 2, 3, 250]])  # a double matrix stored as miUINT8, as MATLAB does
    int16 = np.array([[-300, 2], [5, 30000]])
    path = tmp_path / "b.mat"
    path.write_bytes(mat5(
        matrix("a_long_variable_name", doubles, MX_DOUBLE, MI_DOUBLE, "f8", e),
        matrix("s", small_ints, MX_DOUBLE, MI_UINT8, "u1", e),
        matrix("i", int16, MX_INT16, MI_INT16, "i2", e),
        e=e))
    out = read_mat(path)
    np.testing.assert_array_equal(out["a_long_variable_name"], doubles)
    assert out["s"].dtype == np.float64
    np.testing.assert_array_equal(out["s"], small_ints)
    assert out["i"].dtype == np.int16 and out["i"].dtype.isnative
    np.testing.assert_array_equal(out["i"], int16)


def test_read_mat_reads_compressed_variables(tmp_path):
    values = np.random.default_rng(0).integers(0, 256, (7, 5)).astype(np.uint8)
    path = tmp_path / "c.mat"
    path.write_bytes(mat5(compressed(matrix("ff", values, MX_UINT8, MI_UINT8, "u1"))))
    np.testing.assert_array_equal(read_mat_variable(path, "ff"), values)


def test_read_mat_reads_level_4_files(tmp_path):
    values = np.arange(12).reshape(3, 4)
    path = tmp_path / "v4.mat"
    path.write_bytes(mat4("ff", values, 5, np.uint8) + mat4("d", values * 0.5, 0, np.float64))
    out = read_mat(path)
    assert out["ff"].dtype == np.uint8
    np.testing.assert_array_equal(out["ff"], values)
    np.testing.assert_array_equal(out["d"], values * 0.5)


def test_read_mat_skips_unsupported_variables_and_names_them_when_asked(tmp_path):
    char = matrix("txt", np.array([[104, 105]]), MX_CHAR, MI_UINT8, "u1")
    path = tmp_path / "d.mat"
    path.write_bytes(mat5(char, matrix("ff", [[1]], MX_UINT8, MI_UINT8, "u1")))
    assert list(read_mat(path)) == ["ff"]
    with pytest.raises(DataError, match="'txt' is a char array"):
        read_mat_variable(path, "txt")
    with pytest.raises(DataError, match=r"no variable 'gg'.*variables: ff, txt"):
        read_mat_variable(path, "gg")


@pytest.mark.parametrize("cut", [130, 150, 170])
def test_truncated_mat_file_raises_data_error_naming_it(tmp_path, cut):
    values = np.arange(64, dtype=np.uint8).reshape(8, 8)
    good = mat5(matrix("ff", values, MX_UINT8, MI_UINT8, "u1"))
    path = tmp_path / "cut.mat"
    path.write_bytes(good[:cut])
    with pytest.raises(DataError, match="truncated") as info:
        read_mat(path)
    assert str(path) in str(info.value)


def test_mat_dimensions_that_disagree_with_the_data_are_rejected(tmp_path):
    body = element(MI_UINT32, struct.pack("<II", MX_UINT8, 0))
    body += element(MI_INT32, struct.pack("<2i", 4, 4))  # says 16 values
    body += element(MI_INT8, b"ff")
    body += element(MI_UINT8, bytes(range(12)), small=False)  # has 12
    path = tmp_path / "e.mat"
    path.write_bytes(mat5(element(MI_MATRIX, body, small=False)))
    with pytest.raises(DataError, match="4x4 need 16 values, the file has 12"):
        read_mat(path)


def test_a_file_that_is_not_a_mat_file_is_rejected(tmp_path):
    path = tmp_path / "f.mat"
    path.write_bytes(b"<html>404 Not Found</html>" * 10)
    with pytest.raises(DataError, match="not a MAT file"):
        read_mat(path)


# ---------------------------------------------------------- Frey Face


def frey_frames():
    """1965 synthetic 28x20 frames whose pixels encode (frame, row, column)."""
    k, r, c = np.meshgrid(np.arange(1965), np.arange(28), np.arange(20), indexing="ij")
    return ((k + 7 * r + 3 * c) % 256).astype(np.uint8)


def frey_mat_bytes(frames, **kwargs):
    # as in the real file: uint8 'ff' of shape 560 x 1965, one frame per column, each
    # column holding the frame's 28 rows of 20 pixels one after another
    ff = frames.reshape(len(frames), 560).T
    return mat5(matrix("ff", ff, MX_UINT8, MI_UINT8, "u1"), **kwargs)


@pytest.fixture
def frey_root(tmp_path):
    folder = tmp_path / "frey-face"
    folder.mkdir()
    (folder / "frey_rawface.mat").write_bytes(frey_mat_bytes(frey_frames()))
    return tmp_path


def test_read_frey_returns_one_28x20_frame_per_row(frey_root):
    frames = frey_frames()
    out = sv.data.read_frey(frey_root / "frey-face" / "frey_rawface.mat")
    assert out.shape == (1965, 560) and out.dtype == np.uint8
    np.testing.assert_array_equal(out.reshape(-1, 28, 20), frames)


def test_load_frey_face_splits_and_scales(frey_root):
    frames = frey_frames().reshape(1965, 560).astype(np.float32) / 255
    x_all, y = sv.data.load("frey-face", split=None, root=frey_root, download=False)
    assert y is None and x_all.shape == (1965, 560) and x_all.dtype == np.float32
    np.testing.assert_array_equal(x_all, frames)
    x_train, _ = sv.data.load("frey-face", split="train", root=frey_root, download=False)
    x_test, _ = sv.data.load("frey-face", split="test", root=frey_root, download=False)
    assert x_train.shape == (1765, 560) and x_test.shape == (200, 560)
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), x_all)
    assert sv.data.get_info("frey-face").image_shape == (28, 20)


def test_frey_sha256_is_recorded_then_enforced(frey_root):
    path = frey_root / "frey-face" / "frey_rawface.mat"
    sv.data.load("frey-face", split="all", root=frey_root, download=False)
    record = json.loads((path.parent / "checksums.json").read_text())
    assert record["frey_rawface.mat"]["sha256"] == sv.data.file_sha256(path)
    # a file with the right structure but different bytes no longer matches the record
    frames = frey_frames()
    frames[0, 0, 0] ^= 1
    path.write_bytes(frey_mat_bytes(frames))
    with pytest.raises(DataError, match="sha256") as info:
        sv.data.load("frey-face", split="all", root=frey_root, download=False)
    assert str(path) in str(info.value)


def test_frey_file_with_the_wrong_structure_is_rejected(tmp_path):
    folder = tmp_path / "frey-face"
    folder.mkdir()
    wrong = np.zeros((560, 100), dtype=np.uint8)
    (folder / "frey_rawface.mat").write_bytes(mat5(matrix("ff", wrong, MX_UINT8, MI_UINT8, "u1")))
    with pytest.raises(DataError, match=r"'ff' must be uint8 of shape \(560, 1965\)"):
        sv.data.load("frey-face", split="all", root=tmp_path, download=False)
    assert not (folder / "checksums.json").exists()


def test_frey_missing_without_download_names_the_folder(tmp_path):
    with pytest.raises(DataError) as info:
        sv.data.load("frey-face", root=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "frey-face") in message and "frey_rawface.mat" in message
    assert "no published checksum" in message
