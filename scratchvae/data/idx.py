"""Read and write IDX files, the format of MNIST, Fashion-MNIST and KMNIST.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the values in
C order, big-endian::

    magic = 0x00 0x00 <dtype code> <ndim>        e.g. 0x00000803 = 2051: ubyte, 3-D (images)
    dims  = ndim x uint32 big-endian              e.g. 10000, 28, 28
    data  = prod(dims) values of the dtype, big-endian

dtype codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
MNIST images have magic 2051 (uint8, 3-D) and labels 2049 (uint8, 1-D).
Files are often gzipped; a gzip stream is recognised by its own magic bytes, not by the name.
"""

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from scratchvae.data.errors import DataError
from scratchvae.data.limits import check_declared_bytes, declared_bytes

IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
MAX_NDIM = 32
"""The most dimensions an IDX file may declare (NumPy arrays have at most 64; MNIST has 3)."""


def _read_bytes(path):
    """The file's bytes, gunzipped when the file is a gzip stream.

    The gzip stream is inflated only as far as the IDX header says the data goes (plus one
    byte, to notice trailing data), and not at all when the header declares more than
    :data:`~scratchvae.data.limits.MAX_DECLARED_BYTES`: a small file claiming gigabytes, or a
    zlib bomb whose header declares a few bytes, never expands in memory.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read the file ({err})") from err
    if raw[:2] != _GZIP_MAGIC:
        return raw
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    try:
        head = inflate.decompress(raw, 4)
        if len(head) == 4 and head[:2] == b"\0\0" and head[3]:
            head += inflate.decompress(inflate.unconsumed_tail, 4 * head[3])
        total = len(head) + _declared_data_bytes(head, path) + 1
        body = inflate.decompress(inflate.unconsumed_tail, total - len(head))
    except zlib.error as err:
        raise DataError(f"{path}: the gzip stream is truncated or corrupt ({err})") from err
    data = head + body
    if len(data) < total and not inflate.eof:  # input used up before the gzip trailer
        raise DataError(f"{path}: the gzip stream is truncated or corrupt (it ends early)")
    return data


def _declared_data_bytes(head, name):
    """Data bytes the IDX header in ``head`` declares (0 if the header is not complete yet:
    parse_idx then reports what is wrong with it)."""
    if len(head) < 4 or head[2] not in IDX_DTYPES or not head[3] or len(head) < 4 + 4 * head[3]:
        return 0
    if head[3] > MAX_NDIM:
        raise DataError(f"{name}: IDX header declares {head[3]} dimensions, more than "
                        f"{MAX_NDIM}")
    dims = struct.unpack(f">{head[3]}I", head[4:4 + 4 * head[3]])
    itemsize = IDX_DTYPES[head[2]].itemsize
    check_declared_bytes(name, f"its IDX header ({'x'.join(map(str, dims))})",
                         declared_bytes(dims, itemsize))
    return math.prod(dims) * itemsize


def parse_idx(data, name="<bytes>"):
    """Parse IDX bytes (not gzipped) into a native-endian ndarray; ``name`` is used in errors."""
    if len(data) < 4:
        raise DataError(f"{name}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise DataError(
            f"{name}: bad IDX magic number {data[:4].hex()}: the first two bytes must be 00 00"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{name}: bad IDX magic number {data[:4].hex()}: unknown dtype code "
                        f"0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DataError(f"{name}: bad IDX magic number {data[:4].hex()}: 0 dimensions")
    if ndim > MAX_NDIM:
        raise DataError(f"{name}: bad IDX magic number {data[:4].hex()}: {ndim} dimensions, "
                        f"more than {MAX_NDIM}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, "
                        f"the file has {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_DTYPES[code]
    check_declared_bytes(name, f"its IDX header ({'x'.join(map(str, dims))})",
                         declared_bytes(dims, dtype.itemsize))
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no int64 wrap-around
    found = len(data) - header
    shape = "x".join(str(d) for d in dims)
    if found < expected:
        raise DataError(f"{name}: truncated IDX file: the header says {shape} values of "
                        f"{dtype.newbyteorder('=')} = {expected} data bytes, the file has {found}")
    if found > expected:
        raise DataError(f"{name}: malformed IDX file: the header says {shape} values of "
                        f"{dtype.newbyteorder('=')} = {expected} data bytes, the file has {found} "
                        "(trailing bytes: wrong dimensions in the header?)")
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return array.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def read_idx(path):
    """Read an IDX file, gzipped or not, into a (writable, native-endian) ndarray.

    Returns the array with the shape in the header, e.g. uint8 ``(10000, 28, 28)`` for the MNIST
    test images and uint8 ``(10000,)`` for the labels; other IDX dtypes come back as int8, int16,
    int32, float32 or float64. The magic number, the header and the data length are checked: a
    truncated, malformed or foreign file raises :class:`DataError` naming the file.
    """
    return parse_idx(_read_bytes(path), name=str(path))


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file (gzipped when ``compress`` is true or the name ends in .gz).

    The inverse of :func:`read_idx`; dtype must be one IDX supports (uint8, int8, int16, int32,
    float32, float64).
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise ValueError(f"array dtype must be one of uint8, int8, int16, int32, float32, "
                         f"float64 for IDX, got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array must have 1 to 255 dimensions for IDX, got {array.ndim}")
    code = _CODES[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
