"""Malformed data files raise DataError naming the file (issue 18, item 8), never
OverflowError, a bare ValueError from NumPy or zlib.error."""

import struct
import tarfile

import numpy as np
import pytest
from test_data_cifar import add_member, binary_tarball, py2_pickle, tiny_cifar
from test_data_frey import MI_INT8, MI_INT32, MI_UINT32, MX_DOUBLE, element, mat5

from scratchvae.data import DataError, read_cifar10, read_idx, read_mat


def _mat_with(flags_element, dims_element, values=(0.0, 0.0, 0.0, 0.0)):
    body = flags_element + dims_element + element(MI_INT8, b"x")
    body += element(9, np.asarray(values, "<f8").tobytes())
    return mat5(element(14, body, small=False))


FLAGS_OK = element(MI_UINT32, struct.pack("<II", MX_DOUBLE, 0))
DIMS_OK = element(MI_INT32, struct.pack("<2i", 2, 2))


@pytest.mark.parametrize("flags, dims, problem", [
    (element(9, struct.pack("<d", np.nan), small=False), DIMS_OK, "array flags must be whole"),
    (element(9, struct.pack("<d", np.inf), small=False), DIMS_OK, "array flags must be whole"),
    (FLAGS_OK, element(9, struct.pack("<2d", np.nan, 2.0), small=False), "dimensions must be"),
    (FLAGS_OK, element(9, struct.pack("<2d", 1e300, 2.0), small=False), "dimensions must be"),
    (FLAGS_OK, element(MI_INT32, struct.pack("<4i", *[65536] * 4)), "limit"),  # 2**64 values
    (FLAGS_OK, element(MI_INT32, struct.pack("<40i", *[1] * 40)), "bad dimensions"),
])
def test_malformed_mat_headers_are_data_errors_naming_the_file(tmp_path, flags, dims, problem):
    path = tmp_path / "bad.mat"
    path.write_bytes(_mat_with(flags, dims))
    with pytest.raises(DataError, match="bad.mat") as info:
        read_mat(path)
    assert problem in str(info.value)


def test_the_same_mat_file_with_sound_headers_reads(tmp_path):
    path = tmp_path / "good.mat"
    path.write_bytes(_mat_with(FLAGS_OK, DIMS_OK, [1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(read_mat(path)["x"], [[1.0, 3.0], [2.0, 4.0]])


@pytest.mark.parametrize("header, problem", [
    # 65536^4 = 2**64 values: the int64 product wraps to 0 and an empty body "fit"; refused
    # as a declared size over scratchvae.data.limits.MAX_DECLARED_BYTES
    (bytes([0, 0, 0x08, 4]) + struct.pack(">4I", *[65536] * 4), "limit"),
    (bytes([0, 0, 0x08, 100]) + bytes(400), "100 dimensions"),
    (bytes([0, 0, 0x08, 255]) + bytes(4 * 255), "255 dimensions"),
])
def test_idx_headers_that_overflow_are_data_errors_naming_the_file(tmp_path, header, problem):
    path = tmp_path / "bad-idx-ubyte"
    path.write_bytes(header)
    with pytest.raises(DataError, match="bad-idx-ubyte") as info:
        read_idx(path)
    assert problem in str(info.value)


def test_a_truncated_zlib_stream_in_a_cifar_archive_is_a_data_error(tmp_path):
    good = binary_tarball(tmp_path / "cifar-10-binary.tar.gz", tiny_cifar())
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(range(64))          # damage the deflate stream
    bad = tmp_path / "damaged" / "cifar-10-binary.tar.gz"
    bad.parent.mkdir()
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError, match="damaged/cifar-10-binary.tar.gz"):
        read_cifar10(bad, "train")
    cut = tmp_path / "cut" / "cifar-10-binary.tar.gz"
    cut.parent.mkdir()
    cut.write_bytes(good.read_bytes()[: middle])
    with pytest.raises(DataError, match="cut/cifar-10-binary.tar.gz"):
        read_cifar10(cut, "train")


@pytest.mark.parametrize("labels", [[[1, 2], [3]], [[1, 2]] * 3 + [[4]], ["a", "b"]])
def test_ragged_or_non_integer_cifar_labels_are_data_errors(tmp_path, labels):
    path = tmp_path / "cifar-10-python.tar.gz"
    batch = {b"labels": labels, b"data": np.zeros((len(labels), 3072), np.uint8)}
    with tarfile.open(path, "w:gz") as tar:
        add_member(tar, "cifar-10-batches-py/test_batch", py2_pickle(batch))
    with pytest.raises(DataError, match="cifar-10-python.tar.gz.*labels"):
        read_cifar10(path, "test")
