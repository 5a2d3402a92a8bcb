"""Where dataset files live, how they are verified, and how missing ones are downloaded.

Data directory, one rule for Python, the command line and the notebooks
(:func:`scratchvae.notebook.setup`), independent of the working directory: the ``root``
argument (``--root``), else ``$SCRATCHVAE_DATA``, else the user cache
``pooch.os_cache("scratchvae")`` (``~/.cache/scratchvae`` on Linux). Each dataset's files live in
``<data directory>/<dataset directory>/`` under their original names, e.g.
``<root>/mnist/t10k-images-idx3-ubyte.gz``. A file found there is verified and used without
touching the network; a missing one is downloaded with pooch (only when ``download=True``) into
that same folder, and only if it may be written: a read-only folder (a course's shared data) is
never written to; the error then says which files to put where. A download that fails leaves no
folder behind that it created.

Verification: files with a published md5 must match it; a mismatch is an error (the file is
never used and never silently replaced). Frey Face has no published checksum: its structure is
checked (uint8 'ff', 560 x 1965) and its sha256 recorded in ``<dir>/checksums.json`` the first
time; later uses must match the recorded sha256.

Nothing here runs at import time; pooch (and requests) are imported only to download.
"""

import contextlib
import hashlib
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from scratchvae.data import frey
from scratchvae.data.errors import DataError
from scratchvae.data.registry import get_info

ENV_VAR = "SCRATCHVAE_DATA"
RECORD_FILE = "checksums.json"


def data_dir(root=None):
    """The data directory: ``root``, else ``$SCRATCHVAE_DATA``, else the user cache."""
    return data_dir_and_source(root)[0]


def data_dir_and_source(root=None):
    """``(path, where it came from)``: "root argument", "$SCRATCHVAE_DATA" or "user cache".

    The working directory plays no part: the same call gives the same folder from a clone, a
    notebook folder or anywhere else."""
    if root is not None:
        return Path(os.fspath(root)).expanduser(), "root argument"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    import pooch  # noqa: PLC0415  (lazy: only to find the user cache directory)

    return Path(pooch.os_cache("scratchvae")), "user cache"


def dataset_dir(name, root=None):
    """The folder holding ``name``'s files (``None`` for generated datasets)."""
    info = get_info(name)
    return None if info.directory is None else data_dir(root) / info.directory


def _digest(path, algorithm):
    h = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_md5(path):
    """Hex md5 of a file (the checksum the dataset maintainers publish)."""
    return _digest(path, "md5")


def file_sha256(path):
    """Hex sha256 of a file."""
    return _digest(path, "sha256")


def _checksum_text(remote):
    return f"md5 {remote.md5}" if remote.md5 else "no published checksum"


def _read_records(folder):
    path = folder / RECORD_FILE
    if not path.exists():
        return {}
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read the recorded checksums ({err}); delete it and the "
                        "file it describes, then run again") from err
    if not isinstance(records, dict):
        raise DataError(f"{path}: malformed checksum record (expected a JSON object)")
    return records


def _record_sha256(folder, remote, sha256):
    """Store ``sha256`` for the file in ``checksums.json``; a read-only folder is left alone."""
    records = _read_records(folder)
    records[remote.name] = {
        "sha256": sha256,
        "note": "recorded by scratchvae the first time the file was seen and its structure "
                "checked; the maintainers publish no checksum",
    }
    try:
        (folder / RECORD_FILE).write_text(json.dumps(records, indent=2, sort_keys=True) + "\n")
    except OSError:
        pass  # read-only data folder: the structure check still ran


@dataclass(frozen=True)
class FileStatus:
    """The state of one dataset file on disk (no network, no writes).

    state: "verified" (matches the published md5 or the recorded sha256), "unrecorded" (no
    published checksum, structure ok, sha256 not yet recorded), "missing" or "corrupt".
    """

    dataset: str
    file: str
    path: Path
    checksum: str
    state: str
    detail: str = ""


def _check_present(info, remote, path):
    """Verify a file that exists; return ``(state, detail)`` without raising or writing."""
    if remote.md5 is not None:
        got = file_md5(path)
        if got != remote.md5:
            return "corrupt", f"md5 is {got}, expected {remote.md5}"
        return "verified", f"md5 {got}"
    recorded = _read_records(path.parent).get(remote.name, {}).get("sha256")
    sha = file_sha256(path)
    if recorded is not None:
        if sha != recorded:
            return "corrupt", f"sha256 is {sha}, recorded {recorded} in {RECORD_FILE}"
        return "verified", f"sha256 {sha} (recorded)"
    try:
        _check_structure(info, path)
    except DataError as err:
        return "corrupt", str(err)
    return "unrecorded", f"structure ok; sha256 {sha} is recorded on first use"


def _check_structure(info, path):
    if info.directory == "frey-face":
        frey.read_frey(path)


def file_status(name, root=None):
    """:class:`FileStatus` of each file of dataset ``name`` (empty for generated datasets)."""
    info = get_info(name)
    if info.directory is None:
        return []
    folder = data_dir(root) / info.directory
    out = []
    for remote in info.files:
        path = folder / remote.name
        if path.is_file():
            state, detail = _check_present(info, remote, path)
        else:
            state, detail = "missing", ""
        out.append(FileStatus(info.name, remote.name, path, _checksum_text(remote), state, detail))
    return out


def _missing_error(info, remote, folder, reason):
    """DataError for a missing file: the reason, then every file of the dataset still missing
    from ``folder`` (name, checksum, where to download it) and the exact folder to put it in."""
    if info.any_of:
        missing = list(info.files)
    else:
        missing = [r for r in info.files if not (folder / r.name).is_file()] or [remote]
    wanted = (" or " if info.any_of else ", ").join(
        f"{r.name} ({_checksum_text(r)}; from {' or '.join(r.urls)})" for r in missing)
    which = "one of these files" if info.any_of else (
        "these files" if len(missing) > 1 else "this file")
    return DataError(
        f"{info.title}: file {remote.name} ({_checksum_text(remote)}) is not in {folder}; "
        f"{reason}. Put {which} in {folder}{os.sep} under that exact name: {wanted} (or use "
        f"another data directory: the root argument, ${ENV_VAR}, or `scratchvae data --root "
        "DIR`).")


def _missing_folders(folder):
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for candidate in [folder, *folder.parents]:
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def _may_write(folder):
    """Whether files may be created in ``folder`` (or, if it is missing, in its nearest
    existing parent, where it would be created): we have the right, and the folder is not
    marked read-only (no write bit for anyone: a shared folder, even for root, who may write
    anywhere)."""
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if existing is None or not existing.is_dir():
        return False
    marked_writable = stat.S_IMODE(existing.stat().st_mode) & 0o222
    return bool(marked_writable) and os.access(existing, os.W_OK | os.X_OK)


def _download(info, remote, folder):
    """Download one file into ``folder`` with pooch, trying each URL; DataError when all fail.

    A read-only folder is refused before any network access; folders created for a download
    that failed are removed again (an empty folder would look like a data directory)."""
    if not _may_write(folder):
        raise _missing_error(info, remote, folder, "that folder is read-only, so scratchvae does "
                                                   "not download into it")
    import pooch  # noqa: PLC0415  (lazy: no network machinery at import time)

    created = _missing_folders(folder)
    known_hash = f"md5:{remote.md5}" if remote.md5 else None
    errors = []
    for url in remote.urls:
        try:
            pooch.retrieve(url, known_hash=known_hash, fname=remote.name, path=folder,
                           progressbar=sys.stderr.isatty())
            return folder / remote.name
        except Exception as err:  # network, HTTP, checksum (ValueError), permission errors
            errors.append(f"{url}: {type(err).__name__}: {err}")
    for empty in created:  # deepest first; a folder that is not empty stays
        with contextlib.suppress(OSError):
            empty.rmdir()
    raise _missing_error(info, remote, folder,
                         "the download failed (" + "; ".join(errors) + ")") from None


def fetch_file(name, filename, root=None, download=True):
    """Path of one verified file of dataset ``name``, downloading it first if needed and allowed.

    Raises :class:`DataError` when the file is missing and ``download`` is false, when the
    download fails, or when the file fails its checksum or structure check.
    """
    info = get_info(name)
    remote = next((f for f in info.files if f.name == filename), None)
    if remote is None:
        names = ", ".join(f.name for f in info.files) or "none"
        raise ValueError(f"filename must be one of the files of {name!r} ({names}); "
                         f"got {filename!r}")
    folder = data_dir(root) / info.directory
    path = folder / remote.name
    downloaded = False
    if not path.is_file():
        if not download:
            raise _missing_error(info, remote, folder, "download=False")
        path = _download(info, remote, folder)
        downloaded = True
    state, detail = _check_present(info, remote, path)
    if state == "corrupt":
        if downloaded and remote.md5 is None:
            path.unlink(missing_ok=True)  # our own download failed the structure check
            raise DataError(f"{path}: the downloaded file is not the expected data and was "
                            f"deleted: {detail}")
        raise DataError(f"{path}: checksum or structure check failed: {detail}. The file is "
                        "corrupt or a different version: delete it and run again with "
                        f"download=True to fetch it ({' or '.join(remote.urls)}), or replace "
                        "it with a good copy.")
    if state == "unrecorded":
        _record_sha256(folder, remote, file_sha256(path))
    return path


def fetch(name, root=None, download=True):
    """Make sure the files of dataset ``name`` are present and verified: ``{filename: Path}``.

    For CIFAR-10 (any one of its files will do) the binary tarball is preferred: a present,
    verified python tarball is used as it is; when neither is present the binary one is
    downloaded.
    """
    info = get_info(name)
    if info.any_of:
        folder = data_dir(root) / info.directory
        for remote in info.files:
            if (folder / remote.name).is_file():
                return {remote.name: fetch_file(name, remote.name, root, download)}
        if not download:
            files = " or ".join(f"{r.name} ({_checksum_text(r)}, from {' or '.join(r.urls)})"
                                for r in info.files)
            raise DataError(f"{info.title}: none of its files is in {folder}; download=False. "
                            f"Put {files} in {folder}{os.sep} under that exact name.")
        first = info.files[0].name
        return {first: fetch_file(name, first, root, download)}
    return {remote.name: fetch_file(name, remote.name, root, download) for remote in info.files}
