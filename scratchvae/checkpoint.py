"""Checkpoints: a model, optionally its optimizer, and metadata in one ``.npz`` file, no pickle.

    sv.save(model, "runs/vae.npz", optimizer=opt, metadata={"epoch": 10})
    model = sv.load("runs/vae.npz")                      # the model only
    ckpt = sv.checkpoint.load_checkpoint("runs/vae.npz") # ckpt.model, ckpt.optimizer, ckpt.metadata

File format (version 1): a NumPy ``.npz`` archive written with ``np.savez`` holding

    "param/<key>"   every array of ``model.params`` under its dotted key ("param/encoder.0.W")
    "optim/<key>"   the optimizer's ``state_dict()`` ("optim/step", "optim/m.encoder.0.W", ...)
    "model_optim/<group>/<key>"   the state of optimizers the model owns, if any
                    (``model.owned_optimizers()``: the adversarial autoencoder's three Adams, one
                    per ``param_group``; given back by ``model.set_owned_optimizers`` at load)
    "config.json"   a uint8 array: UTF-8 JSON {"format": "scratchvae-checkpoint", "version": 1,
                    "scratchvae_version", "model_class", "model_config", "optimizer_class",
                    "optimizer_config", "metadata"} and, for a model that owns optimizers,
                    "model_optimizers": {group: {"class", "config"}}

The model is rebuilt as ``getattr(scratchvae, model_class)(**model_config)`` (any public model
class) and its parameters are overwritten with the saved ones, so the round trip is exact: same
bytes, same dtype, same backend. No object arrays are ever written, and files are always read
with ``np.load(..., allow_pickle=False)``: a checkpoint cannot run code when it is loaded.
Writes are atomic (a temporary file in the same folder, fsync, ``os.replace``), so a crash in
the middle of a save leaves the previous checkpoint intact; the temporary files a killed save
leaves behind (``.<name>.<pid>.<random>.tmp``) are removed by the next save to the same path once
their process is gone (a concurrent writer's file is left alone). A target that exists and is
not a regular file (a folder, a symlink, a FIFO, a device node) is refused, never replaced.
A corrupt, truncated, foreign or pickle-bearing file raises ``ValueError`` naming the file and
what is wrong with it, and so does one whose parameters or optimizer state hold NaN or inf.
Loading never allocates more than the file declares: every member's .npy header must match its
size in the zip directory, a compressed member may not expand more than
``MAX_DEFLATE_RATIO`` times, and the model is rebuilt within the number of parameter values
the file holds (:func:`scratchvae.layer_base.parameter_budget`), and a model whose one-image
forward pass would need more than ``MAX_FORWARD_BYTES`` (1 GiB) is refused, naming the file.
"""

import contextlib
import json
import math
import os
import secrets
import stat
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from scratchvae import __version__
from scratchvae.layer_base import parameter_budget
from scratchvae.models import model_class

FORMAT = "scratchvae-checkpoint"
VERSION = 1
CONFIG_KEY = "config.json"
PARAM_PREFIX = "param/"
OPTIM_PREFIX = "optim/"
MODEL_OPTIM_PREFIX = "model_optim/"
MAX_DEFLATE_RATIO = 100
"""A compressed member may declare at most this many bytes per compressed byte (+ 1 MiB);
float weights compress by far less, a zip bomb by ~1000. (scratchvae writes no compression.)"""
MAX_FORWARD_BYTES = 2**30
"""1 GiB: the most memory a loaded model's one-image forward pass may need (activations,
pre-activations and im2col buffers, estimated from the layer shapes by
:func:`forward_bytes_per_image`). A small file can declare a huge image (a ConvVAE whose
image_shape is 65536 x 65536 has few parameters but needs 16 GiB to sample one image); such a
checkpoint is refused at load, naming the file. Every model of the course needs under 10 MB."""
MAX_HEADER_BYTES = 64 * 1024 * 1024
"""The largest config.json read (metadata included)."""
HEADER_KEYS = ("format", "version", "scratchvae_version", "model_class", "model_config",
               "optimizer_class", "optimizer_config", "metadata")


class Checkpoint(NamedTuple):
    """What :func:`load_checkpoint` returns."""

    model: object
    """the rebuilt model, parameters restored exactly"""
    optimizer: object
    """the rebuilt optimizer bound to ``model.params``, state restored; None if none was saved"""
    metadata: dict
    """the ``metadata`` dict given to :func:`save` ({} if none)"""


# ---------------------------------------------------------------------------------------------
# save
# ---------------------------------------------------------------------------------------------


def save(model, path, optimizer=None, metadata=None):
    """Write ``model`` (and ``optimizer``'s state, and ``metadata``) to the .npz file ``path``.

    model: any public scratchvae model (``sv.VAE``, ``sv.Autoencoder``, ...); optimizer: an
    optimizer from :mod:`scratchvae.optim` built on ``model.params``, or None; metadata: a dict
    of JSON values (str keys; numbers, strings, bools, None, lists, dicts; NumPy scalars and
    arrays are converted to numbers and lists). The path is used as given (no suffix is added)
    and missing parent folders are created. The write is atomic. Returns the path as a Path.
    Raises ValueError, naming it, when ``path`` exists and is not a regular file.
    """
    path = Path(os.fspath(path))
    model_class = _public_model_class_name(model)
    params = model.params
    header = {
        "format": FORMAT,
        "version": VERSION,
        "scratchvae_version": __version__,
        "model_class": model_class,
        "model_config": model.config(),
        "optimizer_class": None,
        "optimizer_config": None,
        "metadata": {} if metadata is None else metadata,
    }
    if not isinstance(header["metadata"], dict):
        raise ValueError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    arrays = {f"{PARAM_PREFIX}{key}": np.asarray(value) for key, value in params.items()}
    if optimizer is not None:
        _check_optimizer_matches(optimizer, params)
        header["optimizer_class"] = type(optimizer).__name__
        header["optimizer_config"] = optimizer.config()
        for key, value in optimizer.state_dict().items():
            arrays[f"{OPTIM_PREFIX}{key}"] = np.asarray(value)
    owned = model.owned_optimizers()
    if owned:
        header["model_optimizers"] = {}
        for group, owned_optimizer in owned.items():
            _check_optimizer_matches(owned_optimizer, model.param_group(group))
            header["model_optimizers"][group] = {"class": type(owned_optimizer).__name__,
                                                 "config": owned_optimizer.config()}
            for key, value in owned_optimizer.state_dict().items():
                arrays[f"{MODEL_OPTIM_PREFIX}{group}/{key}"] = np.asarray(value)
    for name, value in arrays.items():
        if value.dtype.hasobject:
            raise ValueError(f"cannot save {name!r}: object arrays would need pickle")
    try:
        text = json.dumps(header, default=json_default)
    except (TypeError, ValueError) as err:
        raise ValueError(
            "metadata and the model/optimizer config must be JSON values (dicts with str keys, "
            f"lists, numbers, strings, bools, None): {err}"
        ) from None
    arrays[CONFIG_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _atomic_savez(path, arrays)
    return path


def _atomic_savez(path, arrays):
    """``np.savez`` to a temporary file beside ``path``, fsync it, then ``os.replace`` it over
    ``path``: readers see either the old file or the complete new one, never a partial file.

    The temporary file is ``.<name>.<pid>.<12 hex digits>.tmp``: the writer's process id tells
    a live writer's file (left alone) from a killed one's (removed). When several processes
    save to one path, each replaces the file with a complete one; the last to finish wins."""
    check_save_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        check_save_target(path)  # again: something may have appeared there meanwhile
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def check_save_target(path):
    """Raise ValueError unless ``path`` is missing or a regular file (not a symlink).

    Saving replaces the target: a FIFO, a device node, a symlink (and what it points to) or a
    folder at that path is never something a checkpoint should replace."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise ValueError(f"cannot save to {path}: {err.strerror or err}") from None
    if stat.S_ISREG(mode):
        return
    raise ValueError(f"cannot save to {path}: it exists and is {_file_kind(mode)}, not a regular "
                     "file; a checkpoint replaces only a regular file (remove it or choose "
                     "another path)")


def _file_kind(mode):
    """'a directory', 'a symlink', 'a FIFO (named pipe)', ... for an ``st_mode``."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symlink"),
             (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def _remove_stale_temporaries(path):
    """Delete the temporary files that killed saves to ``path`` left behind (each as big as a
    checkpoint): ``.<name>.<pid>.<12 hex>.tmp`` whose process is no longer running, and
    ``.<name>.<12 hex>.tmp`` written by scratchvae versions before the pid was in the name.
    A temporary file of a writer that is still running is never touched."""
    prefix, suffix = f".{path.name}.", ".tmp"
    for stale in path.parent.glob(f".{_glob_escape(path.name)}.*.tmp"):
        if _is_stale_temporary(stale.name[len(prefix):-len(suffix)]):
            with contextlib.suppress(OSError):
                stale.unlink()


def _is_hex_token(text):
    return len(text) == 12 and all(c in "0123456789abcdef" for c in text)


def _is_stale_temporary(middle):
    """``middle`` is '<pid>.<hex>' (stale if that process is gone) or a legacy '<hex>'."""
    if _is_hex_token(middle):
        return True
    pid, _, token = middle.partition(".")
    if not (pid.isdigit() and _is_hex_token(token)):
        return False  # not one of ours
    return not _process_is_running(int(pid))


def _process_is_running(pid):
    """Whether a process with this id exists (signal 0 checks without sending anything).

    Errs on the side of keeping files: a pid reused by another process counts as running
    (its leftover goes at a later save), and on Windows, where ``os.kill`` would end the
    process, every pid counts as running."""
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # it exists (another user's), or we cannot tell: keep its file
    return True


def _glob_escape(name):
    """``name`` with the glob metacharacters * ? [ escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _fsync_directory(directory):
    """Make the rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def json_default(value):
    """The ``default=`` of ``json.dumps`` for a checkpoint's header and metadata: a NumPy
    scalar as a number, a NumPy array (not of objects) as a list; TypeError for anything else."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return value.tolist()
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serializable")


def _public_model_class_name(model):
    name = type(model).__name__
    if model_class(name) is not type(model):
        raise ValueError(
            f"model must be an instance of a public scratchvae model class (e.g. VAE, "
            f"Autoencoder), so that loading can rebuild it; got {type(model).__module__}.{name}"
        )
    return name


def _check_optimizer_matches(optimizer, params):
    from scratchvae.optim import Optimizer

    if not isinstance(optimizer, Optimizer):
        raise ValueError(
            f"optimizer must be a scratchvae.optim optimizer or None, got {type(optimizer).__name__}"
        )
    if set(optimizer.params) != set(params) or any(
        optimizer.params[key].shape != value.shape for key, value in params.items()
    ):
        raise ValueError(
            "optimizer must be built on this model's params (e.g. Adam(model.params)); its "
            f"parameter keys {sorted(optimizer.params)} do not match the model's {sorted(params)}"
        )


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------


def load(path, backend=None):
    """The model stored in the checkpoint ``path`` (see :func:`load_checkpoint`)."""
    return load_checkpoint(path, backend=backend).model


def load_checkpoint(path, backend=None):
    """Read a checkpoint written by :func:`save` and rebuild what it holds.

    backend: None keeps the saved backend; "numpy" or "numba" overrides it for the model (and
    for an optimizer that has a backend). Returns a :class:`Checkpoint` (model, optimizer,
    metadata). Raises FileNotFoundError if the file is missing and ValueError, naming the file,
    if it is not a valid checkpoint (corrupt, truncated, foreign, pickle-bearing, newer format).
    """
    path = Path(os.fspath(path))
    if backend is not None:
        from scratchvae.kernels import BACKENDS
        from scratchvae.validation import check_choice

        check_choice("backend", backend, BACKENDS)
    arrays = _read_arrays(path)
    header = _read_header(path, arrays)
    model = _rebuild_model(path, header, arrays, backend)
    optimizer = _rebuild_optimizer(path, header, arrays, model, backend)
    _rebuild_model_optimizers(path, header, arrays, model, backend)
    metadata = header["metadata"]
    if not isinstance(metadata, dict):
        raise _bad(path, f"its metadata is a {type(metadata).__name__}, expected a dict")
    return Checkpoint(model, optimizer, metadata)


def _bad(path, problem):
    return ValueError(f"{path} is not a valid scratchvae checkpoint: {problem}")


def _read_arrays(path):
    """All arrays of the .npz at ``path``, CRC-checked, without ever unpickling anything."""
    _check_magic(path)
    _check_archive(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as err:
        raise _bad(path, f"numpy cannot read it ({type(err).__name__}: {err})") from None
    with npz:
        return {name: _read_member(path, npz, name) for name in npz.files}


def _check_magic(path):
    """Refuse a missing, non-regular, empty, pickle, .npy or non-zip file by its first bytes."""
    if not path.is_file():
        if path.exists():
            raise _bad(path, "it is not a regular file (a folder, FIFO or device?)")
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    with open(path, "rb") as f:
        magic = f.read(6)
    if not magic:
        raise _bad(path, "the file is empty")
    if magic.startswith(b"\x80"):
        raise _bad(path, "it is a Python pickle; scratchvae never loads pickles (they can run "
                         "code). Checkpoints are .npz archives written by scratchvae.save")
    if magic == b"\x93NUMPY":
        raise _bad(path, "it is a single-array .npy file, not a .npz archive written by "
                         "scratchvae.save")
    if not magic.startswith(b"PK"):
        raise _bad(path, f"it is not a .npz (zip) archive (it starts with {magic!r})")


def _check_archive(path):
    """Member sizes (before decompressing), CRCs, and every member's .npy header."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():  # before anything is decompressed
                _check_member_sizes(path, info)
            damaged = archive.testzip()  # reads every entry and checks its CRC
            if damaged is None:
                for info in archive.infolist():
                    _check_npy_header(path, archive, info)
    except ValueError:
        raise
    except Exception as err:  # BadZipFile, EOFError, OSError, zlib.error ...
        raise _bad(path, f"the .npz archive is corrupt or truncated ({type(err).__name__}: "
                         f"{err})") from None
    if damaged is not None:
        raise _bad(path, f"entry {damaged!r} of the .npz archive is corrupt (CRC mismatch)")


def _read_member(path, npz, name):
    """One array of the archive; a pickled object array is refused, naming the entry."""
    try:
        value = npz[name]
    except ValueError as err:
        if "pickle" in str(err).lower():
            raise _bad(path, f"entry {name!r} holds a pickled object array; scratchvae "
                             "checkpoints never contain pickles (they can run code "
                             "when loaded), so it is refused") from None
        raise _bad(path, f"entry {name!r} cannot be read ({err})") from None
    except Exception as err:
        raise _bad(path, f"entry {name!r} cannot be read ({type(err).__name__}: "
                         f"{err})") from None
    if not isinstance(value, np.ndarray):
        raise _bad(path, f"entry {name!r} is not a .npy array")
    return value


def _check_member_sizes(path, info):
    """Refuse a member that is not a .npy array, or that declares more bytes than its
    compressed size can honestly hold (checked before anything is decompressed)."""
    name = info.filename
    if not name.endswith(".npy") or info.is_dir():
        raise _bad(path, f"entry {name!r} is not a .npy array (a checkpoint holds only .npy "
                         "entries)")
    if info.compress_type != zipfile.ZIP_STORED and (
            info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 2**20):
        raise _bad(path, f"entry {name!r} declares {info.file_size:,} bytes from "
                         f"{info.compress_size:,} compressed bytes (more than "
                         f"{MAX_DEFLATE_RATIO}x: a zip bomb?)")


def _check_npy_header(path, archive, info):
    """Refuse a member whose .npy header declares another size than the zip directory holds
    (so reading it never allocates more than the file holds), or an object array."""
    name = info.filename
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        except Exception as err:
            raise _bad(path, f"entry {name!r} has no valid .npy header ({type(err).__name__}: "
                             f"{err})") from None
        header_bytes = member.tell()
    declared = math.prod(int(n) for n in shape) * dtype.itemsize  # Python ints: no wrap
    if dtype.hasobject:
        raise _bad(path, f"entry {name[:-4]!r} holds a pickled object array; scratchvae "
                         "checkpoints never contain pickles (they can run code when loaded), "
                         "so it is refused")
    if declared != info.file_size - header_bytes:
        raise _bad(path, f"entry {name!r}: its .npy header declares {dtype} {shape} "
                         f"({declared:,} bytes), the archive holds "
                         f"{info.file_size - header_bytes:,} bytes of data")


def _read_header(path, arrays):
    if CONFIG_KEY not in arrays:
        entries = ", ".join(sorted(arrays)[:8]) or "none"
        raise _bad(path, f"it has no {CONFIG_KEY!r} entry (a .npz from elsewhere? entries: "
                         f"{entries})")
    raw = arrays[CONFIG_KEY]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _bad(path, f"{CONFIG_KEY!r} must be a 1-D uint8 array, got {raw.dtype} {raw.shape}")
    if raw.size > MAX_HEADER_BYTES:
        raise _bad(path, f"{CONFIG_KEY!r} is {raw.size:,} bytes, more than {MAX_HEADER_BYTES:,}")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _bad(path, f"{CONFIG_KEY!r} is not valid UTF-8 JSON ({err})") from None
    except RecursionError:
        raise _bad(path, f"{CONFIG_KEY!r} is nested too deeply to read") from None
    except ValueError as err:  # e.g. an integer with more digits than Python converts
        raise _bad(path, f"{CONFIG_KEY!r} cannot be read ({err})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise _bad(path, f"{CONFIG_KEY!r} does not declare format {FORMAT!r} (found {found!r})")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _bad(path, f"unknown format version {version!r}")
    if version > VERSION:
        raise _bad(path, f"it has format version {version}, written by a newer scratchvae "
                         f"({header.get('scratchvae_version')}); this one reads version "
                         f"{VERSION}. Upgrade scratchvae")
    missing = [key for key in HEADER_KEYS if key not in header]
    if missing:
        raise _bad(path, f"{CONFIG_KEY!r} lacks the fields {missing}")
    unknown = sorted(name for name in arrays if name != CONFIG_KEY
                     and not name.startswith((PARAM_PREFIX, OPTIM_PREFIX, MODEL_OPTIM_PREFIX)))
    if unknown:
        raise _bad(path, f"it has entries that are neither {PARAM_PREFIX!r}, {OPTIM_PREFIX!r} "
                         f"nor {MODEL_OPTIM_PREFIX!r}: {unknown[:8]}")
    return header


def _rebuild_model(path, header, arrays, backend):
    from scratchvae.models.base import Model

    name = header["model_class"]
    cls = model_class(name) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise _bad(path, f"model_class {name!r} is not a scratchvae model class")
    config = header["model_config"]
    if not isinstance(config, dict):
        raise _bad(path, f"model_config must be a dict, got {type(config).__name__}")
    config = dict(config)
    if backend is not None:
        config["backend"] = backend
    saved = {key[len(PARAM_PREFIX):]: value for key, value in arrays.items()
             if key.startswith(PARAM_PREFIX)}
    n_saved = sum(value.size for value in saved.values())
    try:
        # a config declaring far more parameters than the file holds is refused before the
        # model allocates them (slack: a slightly wrong config gets the precise message below)
        with parameter_budget(2 * n_saved + 2**20, f"model_config of {name}"):
            model = cls(**config)
    except (TypeError, ValueError, OverflowError) as err:
        raise _bad(path, f"cannot rebuild {name} from its saved config "
                         f"{_shorten(config)}: {err}") from None
    needed = forward_bytes_per_image(model)
    if needed > MAX_FORWARD_BYTES:
        raise _bad(path, f"its {name} (config {_shorten(config)}) would need about "
                         f"{needed:,} bytes for a one-image forward pass, more than the "
                         f"{MAX_FORWARD_BYTES:,}-byte budget (scratchvae.checkpoint."
                         "MAX_FORWARD_BYTES)")
    params = model.params
    _check_same_arrays(path, "parameter", saved, params)
    _check_finite(path, "parameter", saved)
    for key, value in saved.items():
        params[key][...] = value  # in place: the layers hold these very arrays
    return model


def forward_bytes_per_image(model):
    """Estimated bytes a one-image forward pass of ``model`` holds: for every layer of every
    sub-network its output and pre-activation, and for a conv layer its im2col buffer
    (in_channels * k * k values per output position), times the model's itemsize.

    Shapes are followed through each network (``Reshape`` sets (C, H, W), convs call
    ``output_shape``, ``Dense`` gives (n_out,), ``Flatten`` keeps the count)."""
    from scratchvae.layers import Sequential

    values = model.n_in
    for network in model.networks.values():
        values += _network_values(network.layers if isinstance(network, Sequential)
                                  else [network])
    return values * np.dtype(model.dtype).itemsize


def _network_values(layers):
    """Values held by one image passing through ``layers`` (see forward_bytes_per_image)."""
    from scratchvae.conv_layers import Reshape, _ConvBase
    from scratchvae.layers import Dense

    shape, total = None, 0
    for layer in layers:
        if isinstance(layer, Reshape):
            shape = tuple(layer.shape)
        elif isinstance(layer, Dense):
            shape = (layer.n_out,)
            total += 2 * layer.n_out
        elif isinstance(layer, _ConvBase) and shape is not None and len(shape) == 3:
            out = tuple(layer.output_shape(*shape[1:]))  # (C_out, H_out, W_out)
            positions = max(math.prod(out[1:]), math.prod(shape[1:]))
            total += 2 * math.prod(out) + max(layer.in_channels, layer.out_channels) * (
                layer.kernel_size ** 2) * positions
            shape = out
    return total


def _rebuild_optimizer(path, header, arrays, model, backend):
    name = header["optimizer_class"]
    saved = {key[len(OPTIM_PREFIX):]: value for key, value in arrays.items()
             if key.startswith(OPTIM_PREFIX)}
    if name is None:
        if saved:
            raise _bad(path, "it holds optimizer state but no optimizer_class")
        return None
    return _build_optimizer(path, name, header["optimizer_config"], saved, model.params, backend)


def _rebuild_model_optimizers(path, header, arrays, model, backend):
    """Rebuild the optimizers a model owns, bound to its parameter groups, and give them to it
    (``model.set_owned_optimizers``)."""
    described = header.get("model_optimizers")
    saved = [key for key in arrays if key.startswith(MODEL_OPTIM_PREFIX)]
    if described is None:
        if saved:
            raise _bad(path, "it holds model optimizer state but no model_optimizers entry")
        return
    if not isinstance(described, dict) or not model.param_groups:
        raise _bad(path, f"model_optimizers must be a dict, for a model with param groups; "
                         f"got {type(described).__name__} for {type(model).__name__}")
    owned = {}
    for group, entry in described.items():
        if not isinstance(entry, dict) or set(entry) != {"class", "config"}:
            raise _bad(path, f"model_optimizers[{group!r}] must be {{'class', 'config'}}")
        prefix = f"{MODEL_OPTIM_PREFIX}{group}/"
        state = {key[len(prefix):]: value for key, value in arrays.items()
                 if key.startswith(prefix)}
        try:
            params = model.param_group(group)
        except ValueError as err:
            raise _bad(path, f"model_optimizers names an unknown group: {err}") from None
        owned[group] = _build_optimizer(path, entry["class"], entry["config"], state, params,
                                        backend)
    try:
        model.set_owned_optimizers(owned)
    except ValueError as err:
        raise _bad(path, f"its model_optimizers do not fit the model: {err}") from None


def _build_optimizer(path, name, config, saved, params, backend):
    """``getattr(scratchvae.optim, name)(params, **config)`` with its state set to ``saved``."""
    from scratchvae import optim

    cls = getattr(optim, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, optim.Optimizer)):
        raise _bad(path, f"optimizer_class {name!r} is not an optimizer in scratchvae.optim")
    if not isinstance(config, dict):
        raise _bad(path, f"optimizer_config must be a dict, got {type(config).__name__}")
    config = dict(config)
    if backend is not None and "backend" in config:
        config["backend"] = backend
    try:
        optimizer = cls(params, **config)
    except (TypeError, ValueError) as err:
        raise _bad(path, f"cannot rebuild {name} from its saved config "
                         f"{_shorten(config)}: {err}") from None
    _check_same_arrays(path, "optimizer state", saved, optimizer.state_dict(), check_dtype=False)
    try:
        optimizer.load_state_dict(saved)
    except ValueError as err:  # a negative step, strings or NaN in the moment buffers ...
        raise _bad(path, str(err)) from None
    return optimizer


def _check_finite(path, what, arrays):
    """Refuse float arrays holding NaN or inf: such a model would only produce NaN."""
    for key, value in arrays.items():
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            raise _bad(path, f"{what} {key!r} holds NaN or inf (a diverged run?); scratchvae "
                             "never saves such a file, so it was written elsewhere or damaged")


def _shorten(value, limit=300):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def _check_same_arrays(path, what, saved, expected, check_dtype=True):
    """The saved arrays must match the rebuilt object's: same keys, shapes and dtypes."""
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    if missing or unexpected:
        raise _bad(path, f"its {what} keys do not match the rebuilt object: missing {missing}, "
                         f"unexpected {unexpected}")
    for key, value in saved.items():
        want = np.asarray(expected[key])
        if value.shape != want.shape or (check_dtype and value.dtype != want.dtype):
            raise _bad(path, f"{what} {key!r} is {value.dtype} {value.shape}, expected "
                             f"{want.dtype} {want.shape}")

