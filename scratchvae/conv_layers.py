"""Convolutional layers: thin stateful wrappers around :mod:`scratchvae.conv`, like ``Dense``.

Each layer has ``params``/``grads`` dicts ("W", "b"), ``forward(x)``, ``backward(dout)`` and one
cache slot, so ``Sequential`` chains them with Dense and activation layers. ``Flatten`` and
``Reshape`` move between images (N, C, H, W) and the flat rows (N, C * H * W) the models use.
"""

from typing import NamedTuple

import numpy as np

from scratchvae import conv
from scratchvae import functional as F
from scratchvae.kernels import get_conv_backend
from scratchvae.layer_base import Layer, claim_parameters
from scratchvae.validation import (
    as_generator,
    check_choice,
    check_dtype,
    check_nonnegative_int,
    check_positive_int,
    check_sizes,
)


class ShapeCache(NamedTuple):
    input_shape: tuple  # the shape of x, to reshape the gradient back


class _ConvBase(Layer):
    """What Conv2d and ConvTranspose2d share: init, the fused activation, the cache."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, activation, rng,
                 dtype, backend, input_grad, weight_shape, fan_in):
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.stride = check_positive_int("stride", stride)
        self.padding = check_nonnegative_int("padding", padding)
        self.activation = check_choice("activation", activation, tuple(F.ACTIVATIONS))
        self.dtype = check_dtype("dtype", dtype)
        # conv + bias + activation as one op: composed in NumPy, fused in Numba
        self.kernels = get_conv_backend(backend)  # fails now, not at the first forward
        self.backend = backend
        self.input_grad = bool(input_grad)
        rng = as_generator(rng)
        bound = 1.0 / np.sqrt(fan_in)  # as torch.nn.Conv2d / ConvTranspose2d
        claim_parameters(weight_shape, (self.out_channels,))
        self.params = {
            "W": rng.uniform(-bound, bound, size=weight_shape).astype(self.dtype),
            "b": rng.uniform(-bound, bound, size=self.out_channels).astype(self.dtype),
        }

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (N, {self.in_channels}, H, W) for {self!r}, got {x.shape}"
            )

    def forward(self, x):
        self._check_input(x)
        out, self._cache = self._op_forward(x)
        return out

    def backward(self, dout, need_dx=True):
        """Set ``grads["W"]``, ``grads["b"]``; return dx, or None when ``need_dx`` is False
        or the layer was built with ``input_grad=False``."""
        dx, dW, db = self._op_backward(dout, self._cached(), need_dx=need_dx and self.input_grad)
        self.grads = {"W": dW, "b": db}
        return dx


class Conv2d(_ConvBase):
    """2-D convolution with an optional fused activation: ``out = act(conv2d(x, W) + b)``.

    x: (N, in_channels, H, W) -> out: (N, out_channels, H_out, W_out),
    ``H_out = (H + 2 * padding - kernel_size) // stride + 1``.
    W: (out_channels, in_channels, k, k), b: (out_channels,), both ~ U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = in_channels * k * k, as in ``torch.nn.Conv2d``.
    ``input_grad=False`` skips dx (the first layer of an encoder; backward then returns None).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 activation="identity", rng=0, dtype=np.float64, backend="numpy", input_grad=True):
        k = check_positive_int("kernel_size", kernel_size)
        c_in = check_positive_int("in_channels", in_channels)
        c_out = check_positive_int("out_channels", out_channels)
        super().__init__(c_in, c_out, k, stride, padding, activation, rng, dtype, backend,
                         input_grad, weight_shape=(c_out, c_in, k, k), fan_in=c_in * k * k)

    def output_shape(self, H, W):
        """(out_channels, H_out, W_out) for an (H, W) input."""
        k, s, p = self.kernel_size, self.stride, self.padding
        return (self.out_channels, conv.conv2d_output_size(H, k, s, p),
                conv.conv2d_output_size(W, k, s, p))

    def _op_forward(self, x):
        return self.kernels.conv2d_act_forward(x, self.params["W"], self.params["b"], self.stride,
                                               self.padding, self.activation, check_finite=False)

    def _op_backward(self, dout, cache, need_dx):
        return self.kernels.conv2d_act_backward(dout, cache, need_dx=need_dx)

    def __repr__(self):
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, activation={self.activation!r})")


class ConvTranspose2d(_ConvBase):
    """Transposed convolution with an optional fused activation (upsamples by ``stride``).

    x: (N, in_channels, H, W) -> out: (N, out_channels, H_out, W_out),
    ``H_out = (H - 1) * stride - 2 * padding + kernel_size + output_padding``.
    W: (in_channels, out_channels, k, k) (PyTorch's layout), b: (out_channels,), both
    ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = out_channels * k * k as in PyTorch.
    ``output_padding`` may be one int or an (h, w) pair (0 <= each < stride); a decoder uses
    it to reach odd sizes exactly (7 -> 14 -> 28, or 3 -> 7).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, activation="identity", rng=0, dtype=np.float64,
                 backend="numpy", input_grad=True):
        k = check_positive_int("kernel_size", kernel_size)
        c_in = check_positive_int("in_channels", in_channels)
        c_out = check_positive_int("out_channels", out_channels)
        if isinstance(output_padding, (int, np.integer)) and not isinstance(output_padding, bool):
            output_padding = (int(output_padding), int(output_padding))
        output_padding = tuple(output_padding)
        if len(output_padding) != 2 or any(
                isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < stride
                for v in output_padding):
            raise ValueError(
                f"output_padding must be an int or an (h, w) pair of ints in [0, stride={stride}), "
                f"got {output_padding!r}"
            )
        self.output_padding = tuple(int(v) for v in output_padding)
        super().__init__(c_in, c_out, k, stride, padding, activation, rng, dtype, backend,
                         input_grad, weight_shape=(c_in, c_out, k, k), fan_in=c_out * k * k)

    def output_shape(self, H, W):
        """(out_channels, H_out, W_out) for an (H, W) input."""
        k, s, p = self.kernel_size, self.stride, self.padding
        oph, opw = self.output_padding
        return (self.out_channels, conv.conv_transpose2d_output_size(H, k, s, p, oph),
                conv.conv_transpose2d_output_size(W, k, s, p, opw))

    def _op_forward(self, x):
        return self.kernels.conv_transpose2d_act_forward(
            x, self.params["W"], self.params["b"], self.stride, self.padding,
            self.output_padding, self.activation, check_finite=False)

    def _op_backward(self, dout, cache, need_dx):
        return self.kernels.conv_transpose2d_act_backward(dout, cache, need_dx=need_dx)

    def __repr__(self):
        return (f"ConvTranspose2d({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"output_padding={self.output_padding}, activation={self.activation!r})")


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...), in C order; backward reshapes back."""

    def forward(self, x):
        self._cache = ShapeCache(x.shape)
        return x.reshape(x.shape[0], -1)

    def backward(self, dout, need_dx=True):
        return None if dout is None or not need_dx else dout.reshape(self._cached().input_shape)

    def __repr__(self):
        return "Flatten()"


class Reshape(Layer):
    """(N, ...) -> (N, *shape), e.g. flat rows (N, C * H * W) to images (N, C, H, W).

    ``backward`` passes ``None`` through (when the layer after it skipped its input gradient).
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = check_sizes("shape", shape)

    def forward(self, x):
        if int(np.prod(x.shape[1:])) != int(np.prod(self.shape)):
            raise ValueError(
                f"x must have {int(np.prod(self.shape))} values per example to reshape to "
                f"{self.shape}, got shape {x.shape}"
            )
        self._cache = ShapeCache(x.shape)
        return x.reshape((x.shape[0], *self.shape))

    def backward(self, dout, need_dx=True):
        return None if dout is None or not need_dx else dout.reshape(self._cached().input_shape)

    def __repr__(self):
        return f"Reshape({self.shape})"
