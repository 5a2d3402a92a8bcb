"""The ops behind the models, in two interchangeable backends: the op tables.

- ``reference`` (``backend="numpy"``): a table of the readable ops themselves, from
  :mod:`scratchvae.functional`, :mod:`scratchvae.conv`, :mod:`scratchvae.reparam` and
  :mod:`scratchvae.losses` (the single source of truth for the math); nothing is recomputed.
- ``jit`` and ``conv_jit`` (``backend="numba"``): Numba twins registered under the same op
  names, with the same arguments and the same caches (tested equal op by op).

Models pick one with ``backend="numpy"`` or ``backend="numba"``; ``get_backend`` returns the
module whose attributes are the ops (``get_conv_backend`` for the conv layers).
Nothing here compiles at import: Numba compiles a kernel the first time it is called and keeps it
in its on-disk cache (``cache=True``), so later processes start fast.
"""

from importlib import import_module

from scratchvae.validation import check_choice

BACKENDS = ("numpy", "numba")
DEFAULT_BACKEND = "numba"


def get_backend(backend):
    """Return the op module for ``backend`` ("numpy" -> reference, "numba" -> jit).

    Raises a clear ``ImportError`` if Numba is requested but cannot be imported: there is no
    silent fallback to NumPy.
    """
    return backend_module(backend, "scratchvae.kernels.reference", "scratchvae.kernels.jit")


def get_conv_backend(backend):
    """The module with the conv ops for ``backend`` ("numpy" -> reference, whose conv ops are
    :mod:`scratchvae.conv`'s own; "numba" -> conv_jit)."""
    return backend_module(backend, "scratchvae.kernels.reference", "scratchvae.kernels.conv_jit")


def backend_module(backend, numpy_module, numba_module):
    """Import and return ``numpy_module`` or ``numba_module`` (dotted names) for ``backend``.

    For "numba", Numba must import: otherwise an ImportError that says how to fix it.
    """
    check_choice("backend", backend, BACKENDS)
    if backend == "numpy":
        return import_module(numpy_module)
    try:
        import numba  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "backend='numba' needs the numba package, which failed to import "
            f"({err}). Install it (pip install numba) or pass backend='numpy'."
        ) from err
    return import_module(numba_module)


# BLAS's thread count moved to :mod:`scratchvae.speed` (the speed policy); these names stay
# importable from here for the kernels, tests and notebooks that use them
from scratchvae.speed import blas_threads, blas_threads_limited  # noqa: E402

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "get_backend", "backend_module", "blas_threads",
           "blas_threads_limited"]
