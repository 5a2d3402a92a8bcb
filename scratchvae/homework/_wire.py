"""The messages between the grader and the student's process: a JSON tree plus .npy arrays.

Nothing here unpickles. A message is one frame: an 8-byte length, a JSON header, then the
arrays it refers to, each in NumPy's ``.npy`` format written and read with
``allow_pickle=False``. A value tree is encoded as JSON with tagged nodes:

- ``None``, bools, ints, floats (``nan``/``inf`` included), strings: as they are (tagged);
- NumPy arrays and NumPy scalars: an index into the frame's arrays (object arrays are refused);
- tuples, lists, dicts with string keys, NamedTuples (by field names and class name);
- a ``numpy.random.Generator``: its bit generator's state (plain numbers);
- anything else: the type's name only (the grader sees an opaque stand-in of that type name,
  so a checker can say "expected an array, got Foo").

Callables and models are handled by the two ends (``encode`` takes a ``custom`` hook).
"""

import io
import json
import os
import select
import struct
import time

import numpy as np

MAX_FRAME = 1 << 31
"""The largest message accepted (2 GiB): a bigger length is a corrupt or hostile stream."""


class WireError(RuntimeError):
    """The other end sent something that is not a valid message, closed, or timed out."""


def encode(value, custom=None, arrays=None):
    """(JSON-able tree, list of arrays) for ``value``. ``custom(value)`` may return a node for
    values this module does not know (or None to fall back to an opaque stand-in); ``arrays``:
    a list to append the arrays to (the nodes index into it), else a new one."""
    arrays = [] if arrays is None else arrays

    def enc(v):
        node = _scalar_node(v, arrays)
        if node is None and isinstance(v, np.ndarray):
            node = _ndarray_node(v, arrays)
        if node is None:
            node = _container_node(v, enc)
        if node is None and custom is not None:
            node = custom(v)
        return node if node is not None else {"t": "o", "name": type(v).__name__,
                                              "text": _short_repr(v)}

    return enc(value), arrays


def _scalar_node(v, arrays):
    """The node of None, a bool, str, int or float, or a NumPy scalar (its value appended to
    ``arrays``); None if ``v`` is none of these."""
    if v is None or isinstance(v, (bool, str)):
        return {"t": "v", "v": v}
    if isinstance(v, (np.integer, np.floating, np.complexfloating, np.bool_)):
        arrays.append(np.asarray(v))
        return {"t": "s", "i": len(arrays) - 1}
    if isinstance(v, int):
        return {"t": "v", "v": v}
    if isinstance(v, float):
        return {"t": "f", "v": float.__repr__(v)}
    return None


def _ndarray_node(v, arrays):
    """The node of an ndarray (appended to ``arrays``); object and structured arrays are
    opaque."""
    if v.dtype.hasobject or v.dtype.names is not None:
        return {"t": "o", "name": "ndarray", "text": f"array of dtype {v.dtype}"}
    arrays.append(np.ascontiguousarray(v))
    return {"t": "a", "i": len(arrays) - 1}


def _container_node(v, enc):
    """The node of a NamedTuple, tuple, list, str-keyed dict (items encoded by ``enc``) or
    Generator; None if ``v`` is none of these."""
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return {"t": "nt", "name": type(v).__name__, "module": type(v).__module__,
                "fields": list(v._fields), "items": [enc(x) for x in v]}
    if isinstance(v, tuple):
        return {"t": "tuple", "items": [enc(x) for x in v]}
    if isinstance(v, list):
        return {"t": "list", "items": [enc(x) for x in v]}
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {"t": "dict", "items": [[k, enc(x)] for k, x in v.items()]}
    if isinstance(v, np.random.Generator):
        return {"t": "rng", "state": _jsonable(v.bit_generator.state)}
    return None


def _jsonable(state):
    """A bit generator state with its arrays and NumPy integers made JSON-able."""
    if isinstance(state, dict):
        return {k: _jsonable(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"__array__": state.tolist(), "dtype": str(state.dtype)}
    if isinstance(state, np.integer):
        return int(state)
    return state


def _from_jsonable(state):
    """The inverse of :func:`_jsonable`."""
    if isinstance(state, dict):
        if "__array__" in state:
            return np.array(state["__array__"], dtype=state["dtype"])
        return {k: _from_jsonable(v) for k, v in state.items()}
    return state


def generator_from_state(state):
    """A new Generator whose bit generator has ``state`` (as encoded)."""
    state = _from_jsonable(state)
    name = state.get("bit_generator")
    bit_generator_class = getattr(np.random, str(name), None)
    if not (isinstance(bit_generator_class, type)
            and issubclass(bit_generator_class, np.random.BitGenerator)):
        raise WireError(f"unknown bit generator {name!r}")
    bit_generator = bit_generator_class()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def set_generator_state(rng, node):
    """Give the Generator ``rng`` the state of an "rng" node."""
    rng.bit_generator.state = _from_jsonable(node["state"])


def _short_repr(v):
    """``repr(v)`` cut to 200 characters (a stand-in if ``repr`` fails)."""
    try:
        text = repr(v)
    except Exception:  # a broken __repr__ of a student's object
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


class Opaque:
    """Stands for a value the student's process returned that is not data (an object)."""

    def __init__(self, text):
        self._text = text

    def __repr__(self):
        return self._text


def opaque(name, text):
    """An instance of a new class named ``name`` (checkers print ``type(got).__name__``)."""
    cls = type(str(name) if str(name).isidentifier() else "object", (Opaque,), {})
    return cls(str(text))


_NAMEDTUPLES = {}


def _decode_namedtuple(n, arrays, dec):
    """The NamedTuple of an "nt" node (see :func:`namedtuple_class`)."""
    cls = namedtuple_class(n["module"], n["name"], tuple(n["fields"]))
    return cls(*(dec(x) for x in n["items"]))


_DECODERS = {  # tag -> (node, arrays, dec) -> value
    "v": lambda n, arrays, dec: n["v"],
    "f": lambda n, arrays, dec: float(n["v"]),
    "a": lambda n, arrays, dec: arrays[n["i"]],
    "s": lambda n, arrays, dec: arrays[n["i"]][()],
    "tuple": lambda n, arrays, dec: tuple(dec(x) for x in n["items"]),
    "list": lambda n, arrays, dec: [dec(x) for x in n["items"]],
    "dict": lambda n, arrays, dec: {k: dec(x) for k, x in n["items"]},
    "nt": _decode_namedtuple,
    "rng": lambda n, arrays, dec: generator_from_state(n["state"]),
    "o": lambda n, arrays, dec: opaque(n.get("name", "object"), n.get("text", "")),
}


def decode(node, arrays, custom=None):
    """The value of an encoded tree. ``custom(node)`` decodes the tags this module leaves to
    the caller (callables, models); NamedTuples are rebuilt as scratchvae's own class when one
    of that name exists in the named scratchvae module, else as a new namedtuple class."""

    def dec(n):
        t = n.get("t")
        decoder = _DECODERS.get(t) if isinstance(t, str) else None
        if decoder is not None:
            return decoder(n, arrays, dec)
        if custom is not None:
            return custom(n)
        raise WireError(f"unknown value tag {t!r}")

    return dec(node)


def namedtuple_class(module, name, fields):
    """scratchvae's NamedTuple ``module.name`` if it has these fields, else a look-alike."""
    import collections
    import importlib

    if isinstance(module, str) and (module == "scratchvae" or module.startswith("scratchvae.")):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            cls = None
        if isinstance(cls, type) and getattr(cls, "_fields", None) == fields:
            return cls
    key = (name, fields)
    if key not in _NAMEDTUPLES:
        safe = name if str(name).isidentifier() else "Result"
        _NAMEDTUPLES[key] = collections.namedtuple(safe, fields, rename=True)
    return _NAMEDTUPLES[key]


# -- frames ----------------------------------------------------------------------------------


def pack(message, arrays):
    """Bytes of one frame: the JSON ``message`` and its arrays."""
    blobs = []
    for array in arrays:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, array, allow_pickle=False)
        blobs.append(buffer.getvalue())
    header = json.dumps({"m": message, "n": [len(b) for b in blobs]},
                        allow_nan=False).encode()
    body = struct.pack("<Q", len(header)) + header + b"".join(blobs)
    return struct.pack("<Q", len(body)) + body


def unpack(body):
    """(message, arrays) of a frame body (without its length)."""
    try:
        (header_len,) = struct.unpack("<Q", body[:8])
        header = json.loads(body[8:8 + header_len])
        arrays, offset = [], 8 + header_len
        for size in header["n"]:
            buffer = io.BytesIO(body[offset:offset + size])
            arrays.append(np.lib.format.read_array(buffer, allow_pickle=False))
            offset += size
        return header["m"], arrays
    except (ValueError, KeyError, TypeError, struct.error) as err:
        raise WireError(f"malformed message ({err})") from None


def send(fd, message, arrays=()):
    """Write the frame of (message, arrays) to ``fd``."""
    data = memoryview(pack(message, list(arrays)))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def receive(fd, deadline=None):
    """(message, arrays) of the next frame on ``fd``; WireError at end of stream or when
    ``deadline`` (a time.monotonic() value) passes."""
    (length,) = struct.unpack("<Q", _read_exactly(fd, 8, deadline))
    if length > MAX_FRAME:
        raise WireError(f"message of {length} bytes refused")
    return unpack(_read_exactly(fd, length, deadline))


def _read_exactly(fd, n, deadline):
    """``n`` bytes from ``fd``; WireError at end of stream or when ``deadline`` passes."""
    chunks, missing = [], n
    while missing:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WireError("timed out")
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise WireError("the student's process ended")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
