"""The speed policy: which fast path a training run takes, decided once and stated, never probed.

Two choices change how fast a step runs, never what it computes (the results agree up to the
order in which floats are added):

    zero_skipping  the first dense layer's two products work on the nonzeros of x only when
                   x is sparse (images: mostly 0), in the Numba backend's kernels
    threads        data parallelism (:mod:`scratchvae.parallel`): each of ``threads`` threads
                   computes the loss and gradients of a slice of every batch (1: off)

:func:`decide` makes both choices once, from its arguments, or where an argument is None from
the documented default that reads BLAS's thread count once:

    zero_skipping = blas_threads() <= 1     (the zero-skipping kernels run on one thread; with
                                             BLAS on several threads its dense product wins)
    threads       = blas_threads() if the model's registry entry says data parallelism pays
                    off (``parallel_by_default``) and BLAS runs on two or more threads, else 1

``sv.fit`` calls :func:`decide` once per call and runs every step inside :func:`applied`,
which sets the policy the kernels read and restores the previous one afterwards. Outside
:func:`applied` (a direct call of a model or a kernel) :func:`zero_skipping_chosen` is None and
the kernels use the documented default. BLAS's thread count itself is read and limited with threadpoolctl:
:func:`blas_threads`, :func:`blas_threads_limited` (moved here from ``scratchvae.kernels``,
which still serves both names).
"""

import functools
from contextlib import contextmanager
from dataclasses import dataclass

from scratchvae.validation import check_positive_int

__all__ = ["SpeedPolicy", "decide", "applied", "zero_skipping_chosen", "default_zero_skipping",
           "ZERO_SKIPPING_MAX_BLAS_THREADS", "blas_threads", "blas_threads_limited"]

ZERO_SKIPPING_MAX_BLAS_THREADS = 1
"""The documented default skips the zeros of x when BLAS runs on at most this many threads (the
zero-skipping kernels run on one thread; ``kernels.jit.SPARSE_MAX_BLAS_THREADS`` is this
value)."""


@dataclass(frozen=True)
class SpeedPolicy:
    """The fast paths one run takes: ``zero_skipping`` (bool) and ``threads`` (int >= 1)."""

    zero_skipping: bool
    threads: int = 1


_active = None  # the policy of the running ``applied`` block (None: the documented default)


def decide(threads=None, zero_skipping=None, *, parallel_by_default=False):
    """The :class:`SpeedPolicy` for one run: the arguments as given, the default for None.

    threads: data-parallel threads (1: off; None: BLAS's thread count when
    ``parallel_by_default`` and BLAS runs on two or more, else 1). zero_skipping: True/False,
    or None for ``blas_threads() <= 1``. BLAS's thread count is read at most once.
    """
    if zero_skipping is not None and not isinstance(zero_skipping, bool):
        raise ValueError(f"zero_skipping must be True, False or None, got {zero_skipping!r}")
    if threads is not None:
        threads = check_positive_int("threads", threads)
    blas = blas_threads() if threads is None or zero_skipping is None else None
    if threads is None:
        threads = blas if parallel_by_default and blas >= 2 else 1
    if zero_skipping is None:
        zero_skipping = default_zero_skipping(blas)
    return SpeedPolicy(zero_skipping=zero_skipping, threads=threads)


@contextmanager
def applied(policy):
    """Inside the block the kernels follow ``policy``; the previous policy is restored after."""
    global _active
    previous, _active = _active, policy
    try:
        yield policy
    finally:
        _active = previous


def default_zero_skipping(blas=None):
    """The documented default of ``zero_skipping``: BLAS runs on at most
    ZERO_SKIPPING_MAX_BLAS_THREADS threads (``blas``: BLAS's thread count, read if None)."""
    return (blas_threads() if blas is None else blas) <= ZERO_SKIPPING_MAX_BLAS_THREADS


def zero_skipping_chosen():
    """The ``zero_skipping`` of the running :func:`applied` block, or None outside one (the
    kernels then apply the documented default, ``blas_threads() <= 1``)."""
    return None if _active is None else _active.zero_skipping


# ---------------------------------------------------------------------------------------------
# BLAS's thread count (threadpoolctl)
# ---------------------------------------------------------------------------------------------


@functools.cache
def _blas_controller():
    """threadpoolctl's handle on the loaded BLAS libraries, found on first use (not at import)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def blas_threads():
    """How many threads BLAS uses right now (as set by ``OMP_NUM_THREADS``, threadpoolctl's
    ``threadpool_limits`` or ``sv.notebook.setup``; 1 if threadpoolctl finds no BLAS)."""
    return max((lib.num_threads for lib in _blas_controller().lib_controllers), default=1)


@contextmanager
def blas_threads_limited(n):
    """Inside the block BLAS uses at most ``n`` threads (None: unchanged); restored after."""
    if n is None:
        yield
        return
    with _blas_controller().limit(limits=n):
        yield
