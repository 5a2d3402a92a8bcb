"""Data parallelism on the CPU's cores: each thread runs the model on its own slice of the batch.

The batch is cut into one slice per thread, x = [x_1; x_2; ...] with n_i examples each
(n = sum_i n_i). Every thread runs ``loss_and_grads`` on its slice with its own copy of the
model (the copies share the parameter arrays, so an optimizer step updates all of them), and
the results are combined with the slices' sizes as weights:

    loss  = sum_i (n_i / n) loss_i          loss_i: the mean over slice i
    grads = sum_i (n_i / n) grads_i

This is exact (up to the order in which floats are added): a VAE's loss is a mean over
examples, so the batch mean is the size-weighted mean of the slice means, and the gradient of
a weighted sum is the weighted sum of the gradients. The noise eps is drawn for the whole
batch before it is cut, so the result does not depend on the number of threads. It is how
several GPUs train one model (PyTorch's DistributedDataParallel), here with threads on one CPU.

Why threads help: BLAS already runs each matrix product on every core, but the passes around
the products (im2col, col2im, bias, activations, the loss) run on one core, and a parallel loop
started between two products fights BLAS's spinning threads for the cores. Here BLAS runs on
one thread per slice, and everything, the products and the passes around them, runs on every
core. The Numba kernels release Python's lock (``nogil=True``), as NumPy's products do, so the
threads run at the same time. Whether it pays off depends on the model and the machine
(benchmarks/README.md has the measurements): ``sv.fit`` uses it by default only for the models
whose registry entry says so (``parallel_by_default``: the convolutional VAE on the "numba"
backend), decided once per call by :func:`scratchvae.speed.decide`.

Supported: the models whose registry entry has ``data_parallel`` (:data:`SUPPORTED_MODELS`:
the VAE and the ConvVAE, exactly these classes: the extensions draw their noise differently or
weight examples unequally).
"""

import copy
import functools
import sys
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from scratchvae.models import MODELS, entry_of
from scratchvae.speed import blas_threads, blas_threads_limited, decide  # noqa: F401
from scratchvae.validation import as_generator, check_array, check_positive_int

#: the classes DataParallel supports, from the models' registry entries (``data_parallel``)
SUPPORTED_MODELS = tuple(entry.cls for entry in MODELS.values() if entry.data_parallel)
_KERNEL_MODULES = ("scratchvae.kernels.reference", "scratchvae.kernels.jit",
                  "scratchvae.kernels.conv_reference", "scratchvae.kernels.conv_jit")  # shared


class DataParallel:
    """``model``'s ``loss_and_grads`` computed by ``threads`` threads, each on a slice of the
    batch (see the module docstring for the equations). Same signature and results as
    ``model.loss_and_grads``; ``params`` and ``last_loss_terms`` are the model's.

    model: a VAE or ConvVAE (exactly these classes); threads: how many (1 runs the model
    alone). The copies are made here: settle the model's options (likelihood, sigma, ...)
    before, not after (``beta`` is the exception: every step uses the model's current one).
    While a step runs, BLAS is set to one thread (each thread has its own core) and set back
    afterwards. ``close()`` (or a ``with`` block) stops the worker threads.
    """

    def __init__(self, model, threads=2):
        if type(model) not in SUPPORTED_MODELS:
            names = " or ".join(cls.__name__ for cls in SUPPORTED_MODELS)
            raise ValueError(f"DataParallel supports {names} models (their loss is a plain mean "
                             f"over examples), got {type(model).__name__}")
        self.model = model
        self.threads = check_positive_int("threads", threads)
        self.replicas = [model] + [_replica(model) for _ in range(self.threads - 1)]
        self._pool = None

    @property
    def params(self):
        return self.model.params

    @property
    def last_loss_terms(self):
        return self.model.last_loss_terms

    def loss_and_grads(self, x, eps=None, rng=None, beta=None):
        """Like ``model.loss_and_grads(x, eps, rng, beta)``, computed slice by slice in
        parallel. x: (batch, n_in); eps: (batch, n_latent) or None to draw it from ``rng``."""
        model = self.model
        x = check_array("x", x, ndim=2, shape=(None, model.n_in), finite=False)  # values: below
        beta = model.beta if beta is None else beta  # the model's current beta, for every copy
        n = x.shape[0]
        if eps is None:  # the whole batch's noise, as the model itself would draw it
            eps = as_generator(rng).standard_normal((n, model.n_latent)).astype(model.dtype)
        else:
            eps = check_array("eps", eps, ndim=2, shape=(n, model.n_latent))
        # each replica checks its slice's values (finite, in range) as the model does
        bounds = np.linspace(0, n, min(self.threads, n) + 1).round().astype(int)
        slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        with blas_threads_limited(1 if len(slices) > 1 else None):
            results = self._run_in_threads(
                [functools.partial(replica.loss_and_grads, x[s], eps[s], None, beta)
                 for replica, s in zip(self.replicas, slices)])
        weights = [(s.stop - s.start) / n for s in slices]
        loss = sum(w * loss_i for w, (loss_i, _) in zip(weights, results))
        grads = results[0][1]  # the model's own gradient arrays, overwritten with the mean
        self._average(grads, [grads_i for _, grads_i in results[1:]], weights)
        terms = [self.replicas[i].last_loss_terms for i in range(len(slices))]
        model.last_loss_terms = {key: sum(w * t[key] for w, t in zip(weights, terms))
                                 for key in terms[0]}
        return loss, grads

    def _average(self, grads, others, weights):
        """In place: grads[key] = w_0 grads[key] + sum_i w_i others[i][key], for every key; the
        keys are shared out among the threads (one pass over memory each, no temporaries)."""
        scaled_sum_into = self.model.kernels.scaled_sum_into

        def average(keys):
            for key in keys:
                total, scale = grads[key], weights[0]
                for w, other in zip(weights[1:], others):
                    scaled_sum_into(total, other[key], scale, w)
                    scale = 1.0

        keys = sorted(grads, key=lambda k: grads[k].size, reverse=True)
        shares = [keys[i::len(weights)] for i in range(len(weights))]  # biggest arrays first
        self._run_in_threads([functools.partial(average, share) for share in shares])

    def _run_in_threads(self, tasks):
        """Call every task (no arguments) at the same time: the first in the calling thread,
        the others in the worker threads; return their results in order. After an error no
        thread is left working; a worker's error is raised here."""
        futures = [self._worker_pool().submit(task) for task in tasks[1:]]
        try:
            first = tasks[0]()
        finally:
            wait(futures)
        return [first] + [future.result() for future in futures]

    def _worker_pool(self):
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, self.threads - 1),
                                            thread_name_prefix="scratchvae-data-parallel")
        return self._pool

    def close(self):
        """Stop the worker threads (they start again if loss_and_grads is called later)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"DataParallel({type(self.model).__name__}, threads={self.threads})"


def for_training(model, threads=None):
    """What ``sv.fit`` calls ``loss_and_grads`` on: ``DataParallel(model, threads)`` or the
    model itself.

    threads=None: the documented default of :func:`scratchvae.speed.decide` (data parallel
    with one thread per BLAS thread for a model whose registry entry has
    ``parallel_by_default``, on the "numba" backend, when BLAS runs on two or more threads;
    the model itself otherwise). threads=1: the model itself. threads >= 2: DataParallel
    (ValueError for a model it does not support).
    """
    if threads is None:
        threads = decide(None, False, parallel_by_default=parallel_by_default(model)).threads
    threads = check_positive_int("threads", threads)
    return model if threads == 1 else DataParallel(model, threads)


def parallel_by_default(model):
    """Whether ``model`` trains data parallel by default (when BLAS runs on two or more
    threads): its registry entry has ``parallel_by_default`` and it runs on the "numba"
    backend. The one rule :func:`for_training` and ``sv.fit`` (:func:`scratchvae.speed.decide`)
    apply."""
    entry = entry_of(type(model))
    # a registry entry means a package model, which declares its backend
    return entry is not None and entry.parallel_by_default and model.backend == "numba"


# ---------------------------------------------------------------------------------------------
# helper: the model's copies
# ---------------------------------------------------------------------------------------------


def _replica(model):
    """A deep copy of ``model`` that shares its parameter arrays (and the kernel modules): the
    layers' caches and gradients are its own, the weights are the model's."""
    memo = {id(array): array for array in model.params.values()}
    for name in _KERNEL_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            memo[id(module)] = module
    return copy.deepcopy(model, memo)


