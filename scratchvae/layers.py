"""Layers: thin stateful wrappers around the pure functions in :mod:`scratchvae.functional`.

Every layer follows :class:`scratchvae.layer_base.Layer`: ``params`` and ``grads`` dicts with
the same keys (e.g. "W" and "b"), one cache slot (a NamedTuple) that ``forward`` overwrites and
``backward(dout, need_dx=True)`` reads, so calling backward twice gives the same gradients
(nothing accumulates). ``Sequential`` names its layers' parameters with dotted keys ("0.W").
The convolutional layers live in :mod:`scratchvae.conv_layers` and are imported here too.
"""

import numpy as np

from scratchvae import functional as F
from scratchvae.conv_layers import Conv2d, ConvTranspose2d, Flatten, Reshape  # noqa: F401
from scratchvae.kernels import get_backend
from scratchvae.layer_base import Layer, claim_parameters
from scratchvae.validation import (
    as_generator,
    check_choice,
    check_dtype,
    check_positive_int,
)


class Dense(Layer):
    """Fully connected layer with an optional fused activation: ``out = act(x @ W + b)``.

    x: (batch, n_in) -> out: (batch, n_out). W: (n_in, n_out), b: (n_out,), initialised as in
    ``torch.nn.Linear``: W and b ~ U(-1/sqrt(n_in), 1/sqrt(n_in)), drawn from ``rng``.
    ``backend`` chooses the kernels ("numpy" reference or "numba"); both give the same numbers.
    ``batch_innermost=True`` stores the output with the batch index varying fastest, the memory
    order of the conv layers: set it when a convolution comes next (same values, no copy there).
    ``sparse_x``: whether the Numba kernels skip the zeros of x (True for a first layer on
    images, False, or None: decided from x and BLAS's thread count on each forward); it never
    changes the values. forward and backward are the op pair
    ``kernels.dense_act_forward`` / ``dense_act_backward`` (:mod:`scratchvae.functional`'s own
    on the NumPy backend); the cache is the op's.
    """

    def __init__(self, n_in, n_out, activation="identity", rng=0, dtype=np.float64,
                 backend="numpy", batch_innermost=False, sparse_x=None):
        super().__init__()
        self.batch_innermost = bool(batch_innermost)
        self.sparse_x = None if sparse_x is None else bool(sparse_x)
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
        """out = act(x @ W + b); x was checked where it entered the model (check_finite=False)."""
        out, self._cache = self.kernels.dense_act_forward(
            x, self.params["W"], self.params["b"], self.activation, check_finite=False,
            sparse_x=self.sparse_x, batch_innermost=self.batch_innermost)
        return out

    def backward(self, dout, need_dx=True):
        """Set ``grads["W"]``, ``grads["b"]`` and return dx (None if ``need_dx`` is False)."""
        dx, dW, db = self.kernels.dense_act_backward(dout, self._cached(), need_dx)
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

    def backward(self, dout, need_dx=True):
        """dx (an activation has no parameters; with need_dx False there is nothing to do)."""
        _, backward = F.ACTIVATIONS[self.name]
        return backward(dout, self._cached()) if need_dx else None

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
        """Backpropagate through all layers (last first); set ``grads``; return dx.

        Layer i is asked for its input gradient only when someone needs it: the caller
        (``need_dx``) or a layer before it that has parameters. So the first layers of an
        encoder, which see the data, skip their dx product (and return None).
        """
        for i in reversed(range(len(self.layers))):
            wanted = need_dx or any(layer.params for layer in self.layers[:i])
            dout = self.layers[i].backward(dout, need_dx=wanted)
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

