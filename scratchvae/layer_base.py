"""The interface every layer shares (dense, activation, conv, reshape), in one small base class.

A layer holds its parameters in ``params`` and, after ``backward``, their gradients in ``grads``
(dicts with the same keys, e.g. "W" and "b"). ``forward(x)`` stores one cache (a NamedTuple)
in its single slot, overwriting the last one; ``backward(dout, need_dx=True)`` reads it, sets
``grads`` and returns dx (or None when ``need_dx`` is False: the input needs no gradient).
Calling backward twice gives the same gradients: nothing accumulates.

Layers that own parameters call :func:`claim_parameters` before allocating them, so that
:func:`parameter_budget` can refuse an absurd model (from a damaged checkpoint) up front.
"""

import contextlib
import contextvars
import math


class Layer:
    """Base class: ``params``/``grads`` dicts and the one-slot cache."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self._cache = None

    def _cached(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def __call__(self, x):
        return self.forward(x)


# ---------------------------------------------------------------------------------------------
# a limit on how many parameter values layers may allocate (used when loading a checkpoint)
# ---------------------------------------------------------------------------------------------

_PARAMETER_BUDGET = contextvars.ContextVar("parameter_budget", default=None)


@contextlib.contextmanager
def parameter_budget(n_values, what="the model"):
    """Inside this block, layers whose parameters add up to more than ``n_values`` numbers are
    refused with ValueError *before* they allocate anything.

    Loading a checkpoint rebuilds the model from its config and then copies the saved arrays
    in; the file says how many values it holds, so a config declaring ``hidden=[100000000]``
    is refused instead of allocating gigabytes first.
    """
    token = _PARAMETER_BUDGET.set({"left": int(n_values), "total": int(n_values), "what": what})
    try:
        yield
    finally:
        _PARAMETER_BUDGET.reset(token)


def claim_parameters(*shapes):
    """Count the values of parameter arrays of ``shapes`` against :func:`parameter_budget`
    (a no-op outside it). Call it before allocating them."""
    budget = _PARAMETER_BUDGET.get()
    if budget is None:
        return
    budget["left"] -= sum(math.prod(int(n) for n in shape) for shape in shapes)
    if budget["left"] < 0:
        raise ValueError(f"{budget['what']} would need more than {budget['total']:,} "
                         "parameter values (refused before allocating them)")
