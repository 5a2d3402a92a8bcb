"""Pure forward/backward pairs: the dense layer, the activations, and the two composed.

Every op is a pair ``name_forward(...) -> (out, cache)`` and ``name_backward(dout, cache)``
returning the gradients with respect to the forward's inputs, in order. ``dout`` is the
gradient of the loss with respect to ``out``. Caches are small NamedTuples. Inputs may be
float32 or float64; outputs have the same dtype.

These functions are the NumPy backend: a model on ``backend="numpy"`` runs them themselves
(:mod:`scratchvae.kernels.reference` is only a table of them), and the Numba kernels in
:mod:`scratchvae.kernels.jit` are drop-in twins with the same names, arguments and caches.
Public ops check dtypes and shapes always, and the values (NaN, inf) when ``check_finite`` is
True, the default for a direct call; a model's training step passes ``check_finite=False``
because it checked its data where the data came in.

Convolutions (conv2d, conv_transpose2d, im2col) live in :mod:`scratchvae.conv`; the old
``functional.conv2d_forward``-style names still work for one release and warn.
"""

from typing import NamedTuple

import numpy as np

from scratchvae.deprecation import renamed_attributes
from scratchvae.validation import check_array, check_choice

LEAKY_SLOPE = 0.01
"""Slope of leaky_relu for x < 0 (the default everywhere: layers, kernels, models)."""

# ---------------------------------------------------------------------------------------------
# dense: out = x @ W + b
# ---------------------------------------------------------------------------------------------


class DenseCache(NamedTuple):
    x: np.ndarray
    W: np.ndarray


def check_dense_args(x, W, b, check_finite=True):
    """(x, W, b) as float arrays of matching shapes: x (batch, n_in), W (n_in, n_out),
    b (n_out,); NaN and inf refused when ``check_finite``. Integers are refused (they would
    overflow silently in the product)."""
    x, W, b = (check_array(name, a, finite=check_finite)
               for name, a in (("x", x), ("W", W), ("b", b)))
    if x.ndim != 2 or W.ndim != 2 or b.ndim != 1:
        raise ValueError(
            f"dense_forward expects x (batch, n_in), W (n_in, n_out), b (n_out,); got x {x.shape}, "
            f"W {W.shape}, b {b.shape}"
        )
    if x.shape[1] != W.shape[0] or W.shape[1] != b.shape[0]:
        raise ValueError(
            f"dense_forward shapes do not match: x {x.shape} @ W {W.shape} + b {b.shape} "
            "(need x.shape[1] == W.shape[0] and W.shape[1] == b.shape[0])"
        )
    return x, W, b


def dense_forward(x, W, b, *, check_finite=True):
    """Affine map ``out = x @ W + b``.

    x: (batch, n_in), W: (n_in, n_out), b: (n_out,) -> out: (batch, n_out). float32 or float64
    arrays only.
    """
    x, W, b = check_dense_args(x, W, b, check_finite)
    out = x @ W + b
    return out, DenseCache(x, W)


def dense_backward(dout, cache, need_dx=True):
    """Gradients of ``out = x @ W + b``.

    dx = dout @ W.T  (batch, n_in);  dW = x.T @ dout  (n_in, n_out);  db = sum_batch dout  (n_out,)
    Returns (dx, dW, db); dx is None when ``need_dx`` is False (the first layer of a network,
    whose input is the data, skips that product).
    """
    x, W = cache
    dx = dout @ W.T if need_dx else None
    dW = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dW, db


# ---------------------------------------------------------------------------------------------
# activations (elementwise; any shape)
# ---------------------------------------------------------------------------------------------


class ActivationCache(NamedTuple):
    x: np.ndarray
    out: np.ndarray


def relu_forward(x):
    """``out = max(x, 0)``."""
    out = np.maximum(x, 0)
    return out, ActivationCache(x, out)


def relu_backward(dout, cache):
    """``dx = dout * [x > 0]``: the gradient is taken at the input x (0 at x = 0)."""
    return dout * (cache.x > 0)


class LeakyReluCache(NamedTuple):
    x: np.ndarray
    slope: float


def leaky_relu_forward(x, slope=LEAKY_SLOPE):
    """``out = x if x > 0 else slope * x``."""
    out = np.where(x > 0, x, x * x.dtype.type(slope))
    return out, LeakyReluCache(x, slope)


def leaky_relu_backward(dout, cache):
    """``dx = dout * (1 if x > 0 else slope)``."""
    x, slope = cache
    return dout * np.where(x > 0, x.dtype.type(1), x.dtype.type(slope))


def sigmoid(x):
    """Numerically stable logistic ``1 / (1 + exp(-x))``, finite for any finite x.

    Uses exp(-|x|) <= 1, so nothing overflows: for x >= 0, 1/(1+e^-x); for x < 0, e^x/(1+e^x).
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_forward(x):
    """``out = sigmoid(x)`` (stable for |x| up to and beyond 1e4)."""
    out = sigmoid(x)
    return out, ActivationCache(x, out)


def sigmoid_backward(dout, cache):
    """``dx = dout * out * (1 - out)``."""
    out = cache.out
    return dout * out * (1 - out)


def tanh_forward(x):
    """``out = tanh(x)``."""
    out = np.tanh(x)
    return out, ActivationCache(x, out)


def tanh_backward(dout, cache):
    """``dx = dout * (1 - out^2)``."""
    out = cache.out
    return dout * (1 - out * out)


def softplus(x):
    """Numerically stable ``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def softplus_forward(x):
    """``out = log(1 + exp(x))`` (stable for |x| up to and beyond 1e4)."""
    out = softplus(x)
    return out, ActivationCache(x, out)


def softplus_backward(dout, cache):
    """``dx = dout * sigmoid(x)``."""
    return dout * sigmoid(cache.x)


def identity_forward(x):
    """``out = x`` (the output layer of a network that returns logits or means)."""
    return x, ActivationCache(x, x)


def identity_backward(dout, cache):
    """``dx = dout``."""
    return dout


class Activation(NamedTuple):
    """One entry of the activation table: its forward and backward op."""

    forward: object   # x -> (out, cache)
    backward: object  # (dout, cache) -> dx


ACTIVATIONS = {
    "identity": Activation(identity_forward, identity_backward),
    "relu": Activation(relu_forward, relu_backward),
    "leaky_relu": Activation(leaky_relu_forward, leaky_relu_backward),
    "sigmoid": Activation(sigmoid_forward, sigmoid_backward),
    "tanh": Activation(tanh_forward, tanh_backward),
    "softplus": Activation(softplus_forward, softplus_backward),
}
"""The one activation table: name -> (forward, backward). Layers, models and the Numba twins
(whose scalar versions ``jit._act`` / ``jit._act_grad`` are tested against it, name by name)
all take their activations from here."""


def check_activation(activation):
    """``activation`` if it names an entry of :data:`ACTIVATIONS`, else a ValueError listing them."""
    return check_choice("activation", activation, ACTIVATIONS)


# ---------------------------------------------------------------------------------------------
# dense layer with its activation: out = act(x @ W + b), the op every Dense layer runs
# ---------------------------------------------------------------------------------------------


class DenseActCache(NamedTuple):
    """The cache of :func:`dense_act_forward`, shared by its Numba twin: the dense op's cache,
    the activation's cache, the activation's name and the ``sparse_x`` hint."""

    dense_cache: DenseCache  # (x, W), from dense_forward
    act_cache: tuple  # the activation's cache: (pre, out), or (pre, slope) for leaky_relu
    activation: str
    sparse_x: bool  # the speed hint the forward was given (the backward's dW uses it too)


def dense_act_forward(x, W, b, activation, *, check_finite=True, sparse_x=False,
                      batch_innermost=False):
    """``pre = x @ W + b``; ``out = act(pre)``: :func:`dense_forward`, then the activation's
    forward from :data:`ACTIVATIONS`.

    x: (batch, n_in), W: (n_in, n_out), b: (n_out,) -> out: (batch, n_out), cache.
    ``sparse_x`` (x is mostly zeros: the Numba twin skips them) and ``batch_innermost`` (the
    Numba twin stores out with the batch index varying fastest, the memory order a convolution
    after it reads without a copy) are speed hints: they never change the values.
    """
    act_forward, _ = ACTIVATIONS[check_activation(activation)]
    pre, dense_cache = dense_forward(x, W, b, check_finite=check_finite)
    out, act_cache = act_forward(pre)
    return out, DenseActCache(dense_cache, act_cache, activation, bool(sparse_x))


def dense_act_backward(dout, cache, need_dx=True):
    """Gradients of :func:`dense_act_forward`, in reverse order:

        dpre = act_backward(dout)  = dout * act'(pre)
        dx, dW, db = dense_backward(dpre)

    Returns (dx, dW, db); dx is None when ``need_dx`` is False.
    """
    _, act_backward = ACTIVATIONS[cache.activation]
    dpre = act_backward(dout, cache.act_cache)
    return dense_backward(dpre, cache.dense_cache, need_dx)


# ---------------------------------------------------------------------------------------------
# broadcasting, backwards
# ---------------------------------------------------------------------------------------------


def sum_to_shape(grad, shape):
    """Sum a broadcast gradient back to the ``shape`` of the input it came from.

    If ``out = f(a)`` broadcast ``a`` of shape ``shape`` up to ``grad.shape``, then
    ``da = sum of grad over the broadcast axes`` (leading axes added, and axes of size 1).
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


__getattr__ = renamed_attributes(__name__, {
    name: f"scratchvae.conv:{name}"
    for name in ("conv2d_forward", "conv2d_backward", "conv_transpose2d_forward",
                 "conv_transpose2d_backward", "conv2d_output_size",
                 "conv_transpose2d_output_size", "im2col", "col2im", "Conv2dCache",
                 "ConvTranspose2dCache")
})
