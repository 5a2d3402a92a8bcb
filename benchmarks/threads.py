"""Shared by the benchmark scripts: thread counts, set before NumPy, Numba or torch start their
thread pools (they read these variables once, when they load)."""

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")


def set_thread_env(threads):
    """Set every thread-count variable to ``threads`` (do nothing if it is None or 0)."""
    if threads:
        for var in THREAD_VARIABLES:
            os.environ[var] = str(threads)
