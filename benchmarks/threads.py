"""Shared by the benchmark scripts: thread counts and the BLAS kernel, set before NumPy, Numba or
torch start their thread pools (they read these variables once, when they load)."""

import os
import platform

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")

#: variables that pin OpenBLAS to one kernel and cache size. Some machines set them (e.g.
#: OPENBLAS_CORETYPE=Haswell); a user's machine does not. The benchmarks remove them from their
#: OWN environment (and their workers'), so BLAS picks the kernel this CPU supports. Tests and
#: CI never do this.
BLAS_PIN_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def set_thread_env(threads):
    """Set every thread-count variable to ``threads`` (do nothing if it is None or 0), and let
    OpenBLAS choose its kernel for this CPU (drop ``BLAS_PIN_VARIABLES``; returns what was set)."""
    if threads:
        for var in THREAD_VARIABLES:
            os.environ[var] = str(threads)
    return {var: os.environ.pop(var) for var in BLAS_PIN_VARIABLES if var in os.environ}


def machine_line():
    """One line naming the machine: CPU model, CPU count, BLAS library, version and kernel as
    threadpoolctl reports them (call after NumPy is imported)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"machine: {cpu}, {os.cpu_count()} CPUs; BLAS: {blas_kernel()}"


def blas_kernel():
    """'openblas 0.3.x, kernel SkylakeX, 2 threads' for the BLAS NumPy uses (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "unknown (threadpoolctl found no BLAS)"
    info = blas[0]
    return (f"{info.get('internal_api')} {info.get('version')}, kernel "
            f"{info.get('architecture', '?')}, {info.get('num_threads')} threads")
