"""Readable NumPy im2col / col2im: the reference the Numba twins in ``conv_jit`` are tested against.

Layout (shared by both backends and by :mod:`scratchvae.conv`):

    x     (N, C, H, W)
    cols  (C * kh * kw, N * H_out * W_out),  row (c, i, j), column (n, oh, ow)
    cols[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh * stride + i, ow * stride + j]

The loops run over the kh * kw kernel offsets only; each offset moves a whole strided slice of
the padded input at once, so both functions are short and still fast.

The conv layers call the ``*_act_forward`` / ``*_act_backward`` pairs at the end: a convolution
followed by its activation, composed here from :mod:`scratchvae.conv` and
:mod:`scratchvae.functional`, fused in the Numba twin.
"""

from typing import NamedTuple

import numpy as np

from scratchvae import conv
from scratchvae import functional as F


def im2col(x, kh, kw, stride, padding):
    """Patches as columns: x (N, C, H, W) -> cols (C * kh * kw, N * H_out * W_out).

    ``H_out = (H + 2 * padding - kh) // stride + 1`` (likewise W_out). The caller validates.
    """
    N, C, H, W = x.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((C, kh, kw, N, H_out, W_out), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # the input pixels that kernel entry (i, j) multiplies, at every output position
            window = x_pad[:, :, i: i + stride * H_out: stride, j: j + stride * W_out: stride]
            cols[:, i, j] = window.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * H_out * W_out)


def col2im(cols, x_shape, kh, kw, stride, padding):
    """Adjoint of :func:`im2col`: cols (C * kh * kw, N * H_out * W_out) -> x (N, C, H, W).

    Each column is added back onto the patch it was copied from; where patches overlap the
    values add up; the padding border is cropped off at the end.
    """
    N, C, H, W = x_shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    cols = cols.reshape(C, kh, kw, N, H_out, W_out)
    x_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            # within one offset (i, j) no two output positions hit the same pixel: += is safe
            x_pad[:, :, i: i + stride * H_out: stride, j: j + stride * W_out: stride] += (
                cols[:, i, j].transpose(1, 0, 2, 3)
            )
    return x_pad[:, :, padding: padding + H, padding: padding + W].copy()


# ---------------------------------------------------------------------------------------------
# conv layers with their activation: out = act(conv(x, W) + b), the twins of conv_jit's
# ---------------------------------------------------------------------------------------------


class ConvActCache(NamedTuple):
    conv_cache: tuple  # the cache of conv.conv2d_forward / conv.conv_transpose2d_forward
    act_cache: tuple  # the cache of the activation's forward
    activation: str


def conv2d_act_forward(x, W, b, stride, padding, activation):
    """``out = act(conv2d(x, W) + b)``: :func:`scratchvae.conv.conv2d_forward`, then the
    activation from ``functional.ACTIVATIONS``. Returns (out, cache)."""
    pre, conv_cache = conv.conv2d_forward(x, W, b, stride, padding, backend="numpy")
    act_forward, _ = F.ACTIVATIONS[activation]
    out, act_cache = act_forward(pre)
    return out, ConvActCache(conv_cache, act_cache, activation)


def conv2d_act_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv2d_act_forward`: (dx or None, dW, db)."""
    _, act_backward = F.ACTIVATIONS[cache.activation]
    return conv.conv2d_backward(act_backward(dout, cache.act_cache), cache.conv_cache, need_dx)


def conv_transpose2d_act_forward(x, W, b, stride, padding, output_padding, activation):
    """``out = act(conv_transpose2d(x, W) + b)``: :func:`scratchvae.conv.conv_transpose2d_forward`,
    then the activation. Returns (out, cache)."""
    pre, conv_cache = conv.conv_transpose2d_forward(x, W, b, stride, padding, output_padding,
                                                    backend="numpy")
    act_forward, _ = F.ACTIVATIONS[activation]
    out, act_cache = act_forward(pre)
    return out, ConvActCache(conv_cache, act_cache, activation)


def conv_transpose2d_act_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv_transpose2d_act_forward`: (dx or None, dW, db)."""
    _, act_backward = F.ACTIVATIONS[cache.activation]
    return conv.conv_transpose2d_backward(act_backward(dout, cache.act_cache), cache.conv_cache,
                                          need_dx)
