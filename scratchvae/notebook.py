"""One setup for every lecture notebook: BLAS threads, figure defaults, data and a seed offset.

Each notebook starts with

    import scratchvae as sv
    nb = sv.notebook.setup()
    x_train, y_train = sv.notebook.load("mnist10k", split="train")

and runs at the one size its text talks about (there is no small/full switch).

Data: the same rule as the command line (:func:`scratchvae.data.data_dir`): ``$SCRATCHVAE_DATA``,
else the user cache, where a missing file is downloaded and checked against its published
checksum (never into a read-only folder). When a file can be
neither found nor downloaded, :func:`load` stops the notebook with one sentence that says where
to put it, or falls back to another dataset when the notebook offers one. What setup prints names
the rule that chose the data folder, never the folder's absolute path (stored outputs are read on
the course website).

Seeds: when ``$SCRATCHVAE_SEED`` holds an int N > 0, setup makes every int seed of the run draw
another stream: ``np.random.default_rng(s)`` and ``np.random.SeedSequence(s)`` (which the
notebooks and the package call with their seeds) use the entropy ``[s, N]`` instead of ``s``.
``scripts/check_claims.py`` runs a notebook so for N = 1, 2, 3 and reports the asserts that fail;
unset (the stored run), nothing changes. ``nb.seed`` is N (0 when unset).

Restoring: :func:`setup` changes process-wide state (the BLAS thread limit and matplotlib's rc
parameters). :func:`restore` undoes it; ``with sv.notebook.setup(): ...`` does the same at the
end of the block.

Nothing here runs at import time.
"""

import numbers
import os
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

SEED_ENV = "SCRATCHVAE_SEED"
RC_KEYS = ("figure.dpi", "savefig.dpi", "figure.figsize")

# what setup changed, so restore() can put it back: "limiter" (threadpoolctl), "rc" (matplotlib's
# values before), "seeds" (the function that puts numpy's seeding functions back)
_saved = {}


class NotebookSetup(NamedTuple):
    """What :func:`setup` decided. ``data_root``: the data directory, ``data_source``: which
    rule chose it; ``threads``: BLAS threads; ``seed``: the seed offset ($SCRATCHVAE_SEED, 0).

    Also a context manager: ``with sv.notebook.setup(): ...`` calls :func:`restore` on exit."""

    data_root: Path
    data_source: str
    threads: int
    seed: int = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        restore()
        return False


class NotebookDataError(RuntimeError):
    """A dataset a notebook needs is missing. Shown in Jupyter as its one-line message."""

    def _render_traceback_(self):  # IPython shows this list of lines instead of a traceback
        return [f"{type(self).__name__}: {self}"]


def seed_offset():
    """The int in ``$SCRATCHVAE_SEED`` (0 when unset); a ValueError names a value that is not
    a non-negative int."""
    text = os.environ.get(SEED_ENV, "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise ValueError(f"${SEED_ENV} must be a non-negative int, got {text!r}")
    return int(text)


def setup(threads=1, dpi=100, figsize=(6, 3.5), quiet=False):
    """Prepare a notebook and say what was chosen, in one printed line.

    threads: BLAS threads (threadpoolctl). One is fastest for the notebooks' small matrices on a
    laptop: several threads contend for the same cores.
    dpi, figsize: matplotlib defaults for figures made with pyplot (``savefig.dpi`` too).
    Returns a :class:`NotebookSetup`. :func:`restore` (or leaving ``with setup():``) puts the
    BLAS threads, the rc parameters and numpy's seeding (``$SCRATCHVAE_SEED``, module docstring)
    back as they were before the first setup.
    """
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    from scratchvae.data.download import data_dir_and_source  # noqa: PLC0415

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    seed = seed_offset()
    limiter = threadpool_limits(limits=threads, user_api="blas")
    rc = None
    try:
        import matplotlib  # noqa: PLC0415

        rc = {key: matplotlib.rcParams[key] for key in RC_KEYS}
        matplotlib.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "figure.figsize": figsize})
    except ImportError:
        pass
    if not _saved:                      # a second setup keeps what the first one found
        _saved.update(limiter=limiter, rc=rc, seeds=_offset_seeds(seed) if seed else None)
    root, source = data_dir_and_source()
    result = NotebookSetup(root, source, threads, seed)
    if not quiet:
        seeds = f"; seeds offset by {seed} (${SEED_ENV})" if seed else ""
        print(f"scratchvae notebook: data from {source}; "
              f"{threads} BLAS thread{'s' if threads > 1 else ''}{seeds}")
    return result


def restore():
    """Undo :func:`setup`: the BLAS thread limits, matplotlib's ``figure.dpi``,
    ``savefig.dpi`` and ``figure.figsize``, and numpy's seeding functions as they were before the
    first setup. Returns True when there was something to restore."""
    if not _saved:
        return False
    _saved["limiter"].restore_original_limits()
    if _saved["rc"] is not None:
        import matplotlib  # noqa: PLC0415

        matplotlib.rcParams.update(_saved["rc"])
    if _saved["seeds"] is not None:
        _saved["seeds"]()
    _saved.clear()
    return True


def _offset_seeds(offset):
    """Make ``np.random.default_rng(s)`` and ``np.random.SeedSequence(s)`` use the entropy
    ``[s, offset]`` for an int seed ``s`` (other arguments pass through). Returns the function
    that undoes it."""
    import numpy as np  # noqa: PLC0415

    default_rng, seed_sequence = np.random.default_rng, np.random.SeedSequence

    def shifted(seed):
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
            return [int(seed), offset]
        return seed

    def offset_default_rng(seed=None):
        return default_rng(shifted(seed))

    def offset_seed_sequence(entropy=None, *, spawn_key=(), pool_size=4):
        return seed_sequence(shifted(entropy), spawn_key=spawn_key, pool_size=pool_size)

    np.random.default_rng, np.random.SeedSequence = offset_default_rng, offset_seed_sequence

    def undo():
        np.random.default_rng, np.random.SeedSequence = default_rng, seed_sequence

    return undo


@contextmanager
def download_log_held_back():
    """Hold back pooch's "Downloading data from <url>" line while a notebook loads data: on a
    machine without network it would sit above the one sentence :func:`load` prints about the
    failed download, and a stored notebook must not show a failed download."""
    import pooch  # noqa: PLC0415  (lazy: pooch is imported only to load data)

    logger = pooch.get_logger()
    was_disabled = logger.disabled      # (pooch's logger is not in logging's registry, so a
    logger.disabled = True              #  setLevel would not reset its cached level checks)
    try:
        yield
    finally:
        logger.disabled = was_disabled


def load(name, split="train", fallback=None, **options):
    """``sv.data.load(name, split, **options)`` from the data directory of :func:`setup`.

    A file that is missing is downloaded (checksummed) into the user cache. When that fails
    (no network), ``fallback`` decides: ``None`` stops the notebook with a
    :class:`NotebookDataError` naming the folder and the command that fetches the files;
    a ``(label, function)`` pair prints one sentence and returns ``function()`` instead.
    Returns ``(x, y)`` as :func:`scratchvae.data.load`.
    """
    from scratchvae.data import DataError, get_info  # noqa: PLC0415
    from scratchvae.data import load as load_data  # noqa: PLC0415
    from scratchvae.data.download import ENV_VAR, data_dir  # noqa: PLC0415

    try:
        with download_log_held_back():
            return load_data(name, split=split, **options)
    except DataError as err:
        info = get_info(name)
        folder = data_dir() / (info.directory or "")
        fetch = f"`scratchvae data --download {info.name}`"
        if fallback is None:
            raise NotebookDataError(
                f"{info.title} is not in {folder} and could not be downloaded; run {fetch} on a "
                f"machine with internet (or copy the files there, or point ${ENV_VAR} at a folder "
                "that holds them), then rerun this notebook") from err
        label, make = fallback
        print(f"{info.title} is not in the data folder (fetch it with {fetch}); this run uses "
              f"{label} instead.")
        return make()

