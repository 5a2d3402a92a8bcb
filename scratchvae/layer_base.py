"""The interface every layer shares (dense, activation, conv, reshape), in one small base class.

A layer holds its parameters in ``params`` and, after ``backward``, their gradients in ``grads``
(dicts with the same keys, e.g. "W" and "b"). ``forward(x)`` stores one cache (a NamedTuple)
in its single slot, overwriting the last one; ``backward(dout, need_dx=True)`` reads it, sets
``grads`` and returns dx (or None when ``need_dx`` is False: the input needs no gradient).
Calling backward twice gives the same gradients: nothing accumulates.
"""


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
