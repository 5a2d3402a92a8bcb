"""Layers: thin stateful wrappers around the pure functions in :mod:`scratchvae.functional`.

A layer holds its parameters in ``params`` and, after ``backward``, their gradients in ``grads``
(dicts with the same keys, e.g. "W" and "b"). It keeps exactly one cache slot: ``forward``
overwrites it and ``backward`` reads it, so calling backward twice gives the same gradients
(nothing accumulates). ``Sequential`` names its layers' parameters with dotted keys ("0.W").
"""

import contextlib
import contextvars
import math

import numpy as np

from scratchvae import functional as F
from scratchvae.kernels import get_backend
from scratchvae.validation import (
    as_generator,
    check_choice,
    check_dtype,
    check_positive_int,
)

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


class Dense(Layer):
    """Fully connected layer with an optional fused activation: ``out = act(x @ W + b)``.

    x: (batch, n_in) -> out: (batch, n_out). W: (n_in, n_out), b: (n_out,), initialised as in
    ``torch.nn.Linear``: W and b ~ U(-1/sqrt(n_in), 1/sqrt(n_in)), drawn from ``rng``.
    ``backend`` chooses the kernels ("numpy" reference or "numba"); both give the same numbers.
    """

    def __init__(self, n_in, n_out, activation="identity", rng=0, dtype=np.float64,
                 backend="numpy"):
        super().__init__()
        self.n_in = check_positive_int("n_in", n_in)
        self.n_out = check_positive_int("n_out", n_out)
        self.activation = check_choice("activation", activation, tuple(F.ACTIVATIONS))
        self.dtype = check_dtype("dtype", dtype)
        self.kernels = get_backend(backend)
        rng = as_generator(rng)
        bound = 1.0 / np.sqrt(n_in)
        claim_parameters((n_in, n_out), (n_out,))
        self.params = {
            "W": rng.uniform(-bound, bound, size=(n_in, n_out)).astype(self.dtype),
            "b": rng.uniform(-bound, bound, size=n_out).astype(self.dtype),
        }

    def forward(self, x):
        W, b = self.params["W"], self.params["b"]
        out, pre = self.kernels.dense_act_forward(x, W, b, self.activation)
        self._cache = (x, pre, out)
        return out

    def backward(self, dout, need_dx=True):
        """Set ``grads["W"]``, ``grads["b"]`` and return dx (None if ``need_dx`` is False)."""
        x, pre, out = self._cached()
        dx, dW, db = self.kernels.dense_act_backward(
            dout, x, self.params["W"], pre, out, self.activation, need_dx
        )
        self.grads = {"W": dW, "b": db}
        return dx

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r})"


class Activation(Layer):
    """An elementwise activation as a layer (no parameters)."""

    name = "identity"

    def forward(self, x):
        forward, _ = F.ACTIVATIONS[self.name]
        out, self._cache = forward(x)
        return out

    def backward(self, dout):
        _, backward = F.ACTIVATIONS[self.name]
        return backward(dout, self._cached())

    def __repr__(self):
        return f"{type(self).__name__}()"


class ReLU(Activation):
    name = "relu"


class LeakyReLU(Activation):
    name = "leaky_relu"


class Sigmoid(Activation):
    name = "sigmoid"


class Tanh(Activation):
    name = "tanh"


class Softplus(Activation):
    name = "softplus"


class Sequential(Layer):
    """Layers applied in order. Parameter keys are "<index>.<name>", e.g. "0.W", "1.b".

    ``params`` maps those keys to the layers' own arrays (no copies), so an optimizer that
    updates ``params`` in place updates the layers.
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)
        self.params = {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in layer.params.items()
        }

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout, need_dx=True):
        """Backpropagate through all layers (last first); set ``grads``; return dx."""
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            first = i == 0
            if isinstance(layer, Dense):
                dout = layer.backward(dout, need_dx=need_dx or not first)
            else:
                dout = layer.backward(dout)
        self.grads = {
            f"{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in layer.grads.items()
        }
        return dout

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


def mlp(sizes, activation="relu", out_activation="identity", rng=0, dtype=np.float64,
        backend="numpy"):
    """A multilayer perceptron ``Sequential(Dense(sizes[0], sizes[1], activation), ...)``.

    Hidden layers use ``activation``; the last layer uses ``out_activation``. sizes: the widths
    (n_in, hidden..., n_out). All layers draw their initial weights from one Generator ``rng``.
    """
    rng = as_generator(rng)
    n_layers = len(sizes) - 1
    layers = [
        Dense(sizes[i], sizes[i + 1],
              activation=activation if i < n_layers - 1 else out_activation,
              rng=rng, dtype=dtype, backend=backend)
        for i in range(n_layers)
    ]
    return Sequential(*layers)


_CONV_LAYERS = ("Conv2d", "ConvTranspose2d", "Flatten", "Reshape")


def __getattr__(name):
    # Conv2d & co. live in scratchvae.conv_layers (which imports Layer from here); re-exported
    # lazily so neither import order makes a cycle.
    if name in _CONV_LAYERS:
        from scratchvae import conv_layers

        return getattr(conv_layers, name)
    raise AttributeError(f"module 'scratchvae.layers' has no attribute {name!r}")
