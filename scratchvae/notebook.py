"""One setup for every lecture notebook: run size, BLAS threads, figure defaults, and data.

Each notebook starts with

    import scratchvae as sv
    nb = sv.notebook.setup()
    N_TRAIN = nb.size(small=1000, full=8000)       # small by default, full with SCRATCHVAE_FULL=1
    x_train, y_train = sv.notebook.load("mnist10k", split="train")

Run size: notebooks run small by default (seconds per notebook, the size the tests run). Setting
the environment variable ``SCRATCHVAE_FULL=1`` before starting Jupyter asks for the sizes the
text talks about (minutes per notebook).

Data: the same rule as the command line (:func:`scratchvae.data.data_dir`): ``$SCRATCHVAE_DATA``,
else the user cache, where a missing file is downloaded and checked against its published
checksum (never into a read-only folder). When a file can be
neither found nor downloaded, :func:`load` stops the notebook with one sentence that says where
to put it, or falls back to another dataset when the notebook offers one.

Nothing here runs at import time.
"""

import os
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

FULL_ENV = "SCRATCHVAE_FULL"
TRUE_VALUES = ("1", "true", "yes")


class NotebookSetup(NamedTuple):
    """What :func:`setup` decided. ``full``: the full-size run was asked for;
    ``data_root``: the data directory and ``data_source``: which rule chose it."""

    full: bool
    data_root: Path
    data_source: str
    threads: int

    def size(self, small, full):
        """``full`` in a full-size run, else ``small``: ``EPOCHS = nb.size(small=2, full=20)``."""
        return full if self.full else small


class NotebookDataError(RuntimeError):
    """A dataset a notebook needs is missing. Shown in Jupyter as its one-line message."""

    def _render_traceback_(self):  # IPython shows this list of lines instead of a traceback
        return [f"{type(self).__name__}: {self}"]


def full_run_requested():
    """True when ``$SCRATCHVAE_FULL`` is 1/true/yes (case-insensitive)."""
    return os.environ.get(FULL_ENV, "").strip().lower() in TRUE_VALUES


def setup(threads=1, dpi=72, figsize=(6, 3.5), quiet=False):
    """Prepare a notebook and say what was chosen, in one printed line.

    threads: BLAS threads (threadpoolctl). One is fastest for the notebooks' small matrices on a
    laptop: several threads contend for the same cores (up to 10x slower on 2 cores).
    dpi, figsize: matplotlib defaults, small enough for a page of figures.
    Returns a :class:`NotebookSetup`.
    """
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    from scratchvae.data.download import data_dir_and_source  # noqa: PLC0415

    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    threadpool_limits(limits=threads, user_api="blas")
    try:
        import matplotlib.pyplot as plt  # noqa: PLC0415

        plt.rcParams.update({"figure.dpi": dpi, "savefig.dpi": dpi, "figure.figsize": figsize})
    except ImportError:
        pass
    root, source = data_dir_and_source()
    result = NotebookSetup(full_run_requested(), root, source, threads)
    if not quiet:
        size = ("full-size run" if result.full
                else f"small run (set {FULL_ENV}=1 before starting Jupyter for the full size)")
        print(f"scratchvae notebook: {size}; data from {root} ({source}); "
              f"{threads} BLAS thread{'s' if threads > 1 else ''}")
    return result


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
        print(f"{info.title} is not in {folder} (fetch it with {fetch}); this run uses {label} "
              "instead.")
        return make()

