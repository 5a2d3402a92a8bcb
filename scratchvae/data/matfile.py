"""A small reader for numeric matrices in MATLAB .mat files (level 4 and level 5).

Only what real-valued numeric data needs, written from the MathWorks "MAT-File Format" document.
It replaces ``scipy.io.loadmat`` (not a dependency) for the Frey Face file.

Level 5 (MATLAB 5 to 7.x, "MATLAB 5.0 MAT-file" header):
    128-byte header: 116 bytes of text, 8 bytes subsystem offset, 2 bytes version (0x0100),
    2 bytes endian indicator: the characters "IM" as read means little-endian, "MI" big-endian.
    Then data elements, each an 8-byte tag (uint32 type, uint32 byte count) and its data padded
    to a multiple of 8 bytes; a "small" element packs type and count (< 5 bytes) into 4 bytes
    and its data into the next 4. A variable is a miMATRIX element (type 14) holding, in order:
    array flags (miUINT32: class in the low byte, complex/logical flags), dimensions (miINT32),
    name (miINT8), and the real part, stored column-major (Fortran order) in any numeric
    storage type (MATLAB may store a double matrix as miUINT8 to save space); the values are
    converted to the matrix's class. miCOMPRESSED (type 15, MATLAB 7) is a zlib stream holding
    one miMATRIX element.
Level 4 (MATLAB 4): per matrix a 20-byte header of five int32 (type MOPT, rows, cols, imagf,
    name length), the NUL-terminated name, then rows*cols values column-major. MOPT = M*1000 +
    O*100 + P*10 + T: M 0 little-/1 big-endian, P 0 double, 1 single, 2 int32, 3 int16,
    4 uint16, 5 uint8; T 0 numeric full matrix.

Not supported (skipped when reading, an error when asked for by name): complex, sparse,
char, logical-as-bool, cell and struct variables, and v7.3 files (HDF5).
"""

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from scratchvae.data.errors import DataError
from scratchvae.data.limits import MAX_DECLARED_BYTES, declared_bytes

# level 5 storage types (miXXX) -> numpy dtype
_MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8",
             12: "i8", 13: "u8"}
_MI_MATRIX, _MI_COMPRESSED = 14, 15
# level 5 array classes (mxXXX_CLASS) -> numpy dtype of the values
_MX_CLASSES = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4",
               14: "i8", 15: "u8"}
_MX_NAMES = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse"}
# level 4 precision digit P -> numpy dtype
_V4_TYPES = {0: "f8", 1: "f4", 2: "i4", 3: "i2", 4: "u2", 5: "u1"}


class _Unsupported:
    """Marker for a variable that exists but is not a real numeric matrix."""

    def __init__(self, reason):
        self.reason = reason


def read_mat(path):
    """Read the real numeric matrices of a level-4 or level-5 .mat file.

    Returns ``{name: ndarray}`` with each matrix in its MATLAB shape and class (e.g. a MATLAB
    ``uint8`` 560x1965 matrix comes back as a uint8 array of shape (560, 1965)). Variables of
    other kinds are left out. A truncated or malformed file raises :class:`DataError` naming
    the file.
    """
    return {k: v for k, v in _read_all(path).items() if not isinstance(v, _Unsupported)}


def read_mat_variable(path, name):
    """Read one real numeric matrix by name; :class:`DataError` when it is missing or not numeric."""
    variables = _read_all(path)
    if name not in variables:
        found = ", ".join(sorted(variables)) or "none"
        raise DataError(f"{path}: no variable {name!r} in the .mat file (variables: {found})")
    value = variables[name]
    if isinstance(value, _Unsupported):
        raise DataError(f"{path}: variable {name!r} is {value.reason}; expected a real numeric "
                        "matrix")
    return value


def _read_all(path):
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read the file ({err})") from err
    try:
        if _looks_like_v5(data):
            return _read_v5(data)
        return _read_v4(data)
    except _FormatError as err:
        raise DataError(f"{path}: {err}") from None


class _FormatError(Exception):
    pass


def _looks_like_v5(data):
    return len(data) >= 128 and data[126:128] in (b"IM", b"MI") and data[:4] != b"\0\0\0\0"


# ---------------------------------------------------------------- level 5


def _read_v5(data):
    if data[:19] == b"MATLAB 7.3 MAT-file":
        raise _FormatError("MATLAB v7.3 (HDF5) .mat files are not supported; save with -v7 or -v6")
    endian = "<" if data[126:128] == b"IM" else ">"
    version = struct.unpack(endian + "H", data[124:126])[0]
    if version != 0x0100:
        raise _FormatError(f"unsupported level-5 MAT version 0x{version:04X} (expected 0x0100)")
    variables = {}
    pos = 128
    while pos < len(data):
        mi_type, nbytes, body, pos = _element(data, pos, endian)
        if mi_type == _MI_COMPRESSED:
            mi_type, nbytes, body = _inflate_element(body, endian)
        if mi_type != _MI_MATRIX:
            continue  # other top-level elements carry no variables
        name, value = _matrix(body, endian)
        variables[name] = value
    return variables


def _inflate_element(compressed, endian):
    """The one data element inside a miCOMPRESSED element, inflated only as far as its own tag
    declares (a zlib bomb never expands beyond what its tag says). Returns (type, count, body)."""
    inflate = zlib.decompressobj()
    try:
        tag = inflate.decompress(compressed, 8)
        if len(tag) < 8:
            raise _FormatError("compressed variable: truncated data element tag")
        mi_type, nbytes = struct.unpack(endian + "II", tag)
        if mi_type >> 16:  # a small element: nothing more to inflate
            return _element(tag, 0, endian)[:3]
        if mi_type != _MI_MATRIX:
            raise _FormatError(f"compressed variable holds a data element of type {mi_type}, "
                               "expected a matrix (14)")
        _check_declared(f"a compressed variable's tag ({nbytes:,} bytes)", nbytes)
        body = inflate.decompress(inflate.unconsumed_tail, nbytes + 1)
    except zlib.error as err:
        raise _FormatError(f"corrupt compressed variable ({err})") from None
    if len(body) != nbytes:
        problem = "more" if len(body) > nbytes else "fewer"
        raise _FormatError(f"compressed variable: its tag declares {nbytes} bytes, the stream "
                           f"holds {problem}")
    return mi_type, nbytes, body


def _check_declared(what, nbytes):
    """Refuse, before inflating or converting, more than ``MAX_DECLARED_BYTES``."""
    if nbytes > MAX_DECLARED_BYTES:
        raise _FormatError(f"{what} declares {nbytes:,} bytes, more than the "
                           f"{MAX_DECLARED_BYTES:,}-byte limit of scratchvae's readers "
                           "(scratchvae.data.limits.MAX_DECLARED_BYTES)")


def _integers(values, what):
    """Array flags and dimensions as Python ints; stored as floats they must be whole and
    finite (NaN or 1e300 dimensions are a malformed file, not an OverflowError)."""
    if np.issubdtype(values.dtype, np.floating):
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)) or np.any(
                np.abs(values) > 2**62):
            raise _FormatError(f"{what} must be whole numbers, got {values[:8].tolist()}")
    return [int(v) for v in values]


def _element(data, pos, endian):
    """Parse the data element at ``pos``: (type, byte count, body bytes, next position)."""
    if pos + 8 > len(data):
        raise _FormatError(f"truncated data element tag at byte {pos}")
    word0, word1 = struct.unpack(endian + "II", data[pos:pos + 8])
    if word0 >> 16:  # small data element: count in the upper 16 bits, data in the next 4 bytes
        mi_type, nbytes = word0 & 0xFFFF, word0 >> 16
        if nbytes > 4:
            raise _FormatError(f"malformed small data element at byte {pos} ({nbytes} bytes > 4)")
        return mi_type, nbytes, data[pos + 4:pos + 4 + nbytes], pos + 8
    mi_type, nbytes = word0, word1
    start, end = pos + 8, pos + 8 + nbytes
    if end > len(data):
        raise _FormatError(f"truncated data element at byte {pos}: it declares {nbytes} bytes, "
                           f"{len(data) - start} remain")
    if mi_type == _MI_COMPRESSED:
        return mi_type, nbytes, data[start:end], end  # compressed elements are not padded
    return mi_type, nbytes, data[start:end], end + (-nbytes % 8)


def _numeric(mi_type, body, endian, what):
    if mi_type not in _MI_TYPES:
        raise _FormatError(f"{what}: unknown storage type {mi_type}")
    dtype = np.dtype(endian + _MI_TYPES[mi_type])
    if len(body) % dtype.itemsize:
        raise _FormatError(f"{what}: {len(body)} bytes is not a whole number of {dtype} values")
    return np.frombuffer(body, dtype=dtype)


def _matrix(body, endian):
    """Parse the contents of a miMATRIX element: (name, ndarray or _Unsupported)."""
    t, _, flags_body, pos = _element(body, 0, endian)
    flags = _integers(_numeric(t, flags_body, endian, "array flags"), "array flags")
    if len(flags) < 1:
        raise _FormatError("array flags element is empty")
    mx_class = flags[0] & 0xFF
    is_complex = bool(flags[0] & 0x0800)
    t, _, dims_body, pos = _element(body, pos, endian)
    dims = tuple(_integers(_numeric(t, dims_body, endian, "dimensions"), "dimensions"))
    t, _, name_body, pos = _element(body, pos, endian)
    name = name_body.decode("ascii", errors="replace")
    if mx_class not in _MX_CLASSES:
        kind = _MX_NAMES.get(mx_class, f"of array class {mx_class}")
        return name, _Unsupported(f"a {kind} array" if mx_class in _MX_NAMES else f"an array {kind}")
    if is_complex:
        return name, _Unsupported("complex")
    if not 2 <= len(dims) <= 32 or any(d < 0 for d in dims):
        raise _FormatError(f"variable {name!r}: bad dimensions {dims}")
    _check_declared(f"variable {name!r} ({'x'.join(map(str, dims))})",
                    declared_bytes(dims, np.dtype(_MX_CLASSES[mx_class]).itemsize))
    t, _, real_body, pos = _element(body, pos, endian)
    values = _numeric(t, real_body, endian, f"variable {name!r}")
    count = math.prod(dims)  # Python ints: no int64 wrap-around
    if values.size != count:
        raise _FormatError(f"variable {name!r}: dimensions {'x'.join(map(str, dims))} need "
                           f"{count} values, the file has {values.size}")
    array = values.astype(_MX_CLASSES[mx_class]).reshape(dims, order="F")
    return name, np.ascontiguousarray(array)


# ---------------------------------------------------------------- level 4


def _read_v4(data):
    variables = {}
    pos = 0
    while pos < len(data):
        if pos + 20 > len(data):
            raise _FormatError(f"not a MAT file or truncated level-4 header at byte {pos}")
        mopt_le = struct.unpack("<i", data[pos:pos + 4])[0]
        endian = "<" if 0 <= mopt_le < 5000 and mopt_le // 1000 == 0 else ">"
        mopt, rows, cols, imagf, namlen = struct.unpack(endian + "5i", data[pos:pos + 20])
        m, o, p, t = mopt // 1000, (mopt // 100) % 10, (mopt // 10) % 10, mopt % 10
        if not (0 <= mopt < 5000 and m in (0, 1) and o == 0 and p in _V4_TYPES and t in (0, 1, 2)
                and rows >= 0 and cols >= 0 and imagf in (0, 1) and 0 < namlen < 4096):
            raise _FormatError("not a MAT file: neither a level-5 header nor a valid level-4 "
                               f"matrix header at byte {pos}")
        pos += 20
        name = data[pos:pos + namlen].split(b"\0", 1)[0].decode("ascii", errors="replace")
        pos += namlen
        dtype = np.dtype(endian + _V4_TYPES[p])
        count = rows * cols * (2 if imagf else 1)
        _check_declared(f"level-4 variable {name!r} ({rows}x{cols})",
                        declared_bytes((rows, cols, 2 if imagf else 1), dtype.itemsize))
        end = pos + count * dtype.itemsize
        if end > len(data):
            raise _FormatError(f"truncated level-4 variable {name!r}: {rows}x{cols} needs "
                               f"{count * dtype.itemsize} bytes, {len(data) - pos} remain")
        if t != 0 or imagf:
            variables[name] = _Unsupported("text or sparse" if t else "complex")
        else:
            values = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
            variables[name] = np.ascontiguousarray(
                values.astype(dtype.newbyteorder("=")).reshape((rows, cols), order="F"))
        pos = end
    return variables
