"""Convolutions from scratch: conv2d and conv_transpose2d as forward/backward pairs.

Shapes follow PyTorch (NCHW):

    conv2d            x (N, C_in, H, W), W (C_out, C_in, kh, kw), b (C_out,) -> (N, C_out, Ho, Wo)
    conv_transpose2d  x (N, C_in, H, W), W (C_in, C_out, kh, kw), b (C_out,) -> (N, C_out, Ho, Wo)

Both are written as one matrix product plus a rearrangement of pixels:

- ``im2col`` copies every (kh x kw) patch the kernel sees into one column, so a convolution is
  ``out = W_mat @ cols`` with ``W_mat = W.reshape(C_out, C_in * kh * kw)``.
- ``col2im`` is its adjoint: it adds every column back onto the patch it came from (overlapping
  patches add up).

Because ``col2im`` is the transpose of ``im2col``, the gradient of a convolution with respect to
its input is ``col2im(W_mat.T @ dout)``: a *transposed convolution* of ``dout`` with the same
kernel. ``conv_transpose2d_forward`` is exactly that map, used as a layer in its own right (it
upsamples: every input pixel stamps a scaled copy of the kernel onto the output, the copies
``stride`` pixels apart, overlaps summed). Its backward is therefore an ordinary convolution.

Memory order: ``cols`` has one column per (output position, example), the example index
varying fastest, ``(oh, ow, n)``; a matrix product then gives ``(C_out, H_out * W_out * N)``,
which is the layer's output with the batch innermost in memory, seen as NCHW through a
transposed view (no copy). The Numba twins in :mod:`scratchvae.kernels.conv_jit` use the same
layout and the same caches, so either backend's cache feeds either backward.

These functions are the NumPy backend of the conv layers; ``conv2d_act_forward`` and
``conv_transpose2d_act_forward`` (a convolution, then its activation) are the ops the layers call.
"""

from typing import NamedTuple

import numpy as np

from scratchvae.deprecation import warn_renamed
from scratchvae.functional import ACTIVATIONS, check_activation
from scratchvae.validation import check_array, check_nonnegative_int, check_positive_int

# ---------------------------------------------------------------------------------------------
# output sizes
# ---------------------------------------------------------------------------------------------


def conv2d_output_size(size, kernel, stride=1, padding=0):
    """Output length of a convolution along one axis:

        ``(size + 2 * padding - kernel) // stride + 1``

    The kernel fits at positions 0, stride, 2 * stride, ... of the padded input of length
    ``size + 2 * padding``; input rows past the last position are not used. Raises ValueError
    when the kernel does not fit even once.
    """
    size = check_positive_int("size", size)
    kernel = check_positive_int("kernel", kernel)
    stride = check_positive_int("stride", stride)
    padding = check_nonnegative_int("padding", padding)
    if size + 2 * padding < kernel:
        raise ValueError(
            f"kernel {kernel} is larger than the padded input {size} + 2*{padding} = "
            f"{size + 2 * padding}: the convolution has no output"
        )
    return (size + 2 * padding - kernel) // stride + 1


def conv_transpose2d_output_size(size, kernel, stride=1, padding=0, output_padding=0):
    """Output length of a transposed convolution along one axis:

        ``(size - 1) * stride - 2 * padding + kernel + output_padding``

    Input pixel i stamps the kernel at output rows ``i * stride - padding ... + kernel - 1``; the
    last stamp ends at ``(size - 1) * stride - padding + kernel - 1``, and ``padding`` rows are
    cropped from each side. A convolution with the same (kernel, stride, padding) maps this size
    back to ``size``. Several input sizes give the same conv2d output when stride > 1;
    ``output_padding`` (0 <= output_padding < stride) picks which one, adding rows at the end.
    """
    size = check_positive_int("size", size)
    kernel = check_positive_int("kernel", kernel)
    stride = check_positive_int("stride", stride)
    padding = check_nonnegative_int("padding", padding)
    output_padding = check_nonnegative_int("output_padding", output_padding)
    if output_padding >= stride:
        raise ValueError(
            f"output_padding must be smaller than stride ({stride}), got {output_padding}"
        )
    out = (size - 1) * stride - 2 * padding + kernel + output_padding
    if out < 1:
        raise ValueError(
            f"padding {padding} crops away the whole output: (size - 1) * stride - 2 * padding + "
            f"kernel + output_padding = ({size} - 1)*{stride} - 2*{padding} + {kernel} + "
            f"{output_padding} = {out}"
        )
    return out


def conv_transpose2d_output_shape(x_shape, W_shape, stride, padding, output_padding):
    """(N, C_out, H_out, W_out) of a transposed convolution of x (N, C_in, H, W) with
    W (C_in, C_out, kh, kw); ``output_padding`` an int or an (h, w) pair."""
    N, _, H, Wd = x_shape
    _, C_out, kh, kw = W_shape
    if isinstance(output_padding, (tuple, list)) and len(output_padding) == 2:
        op_h, op_w = output_padding
    else:
        op_h = op_w = output_padding
    return (N, C_out, conv_transpose2d_output_size(H, kh, stride, padding, op_h),
            conv_transpose2d_output_size(Wd, kw, stride, padding, op_w))


# ---------------------------------------------------------------------------------------------
# im2col / col2im: the rearrangement of pixels around the matrix product
# ---------------------------------------------------------------------------------------------


def _ignored_backend(backend, where):
    """The old ``backend=`` argument of the conv functions: they are the NumPy ops now; the
    Numba twins live in :mod:`scratchvae.kernels.conv_jit`."""
    if backend is not None:
        warn_renamed(f"scratchvae.conv.{where}(..., backend=...)",
                     f"scratchvae.conv.{where} (NumPy) or scratchvae.kernels.conv_jit (Numba)",
                     stacklevel=4)


def im2col(x, kh, kw, stride=1, padding=0, backend=None):
    """Patches of x as columns: (N, C, H, W) -> cols (C * kh * kw, H_out * W_out * N).

        cols[(c, i, j), (oh, ow, n)] = x_padded[n, c, oh * stride + i, ow * stride + j]

    where ``x_padded`` is x with ``padding`` zeros around H and W and
    ``H_out = (H + 2 * padding - kh) // stride + 1`` (likewise W_out). Row order (c, i, j)
    matches ``W.reshape(C_out, C * kh * kw)``; column order (oh, ow, n), the example innermost.
    The loop runs over the kh * kw kernel offsets only; each moves a whole strided slice.
    """
    _ignored_backend(backend, "im2col")
    x = check_images("x", x, contiguous=False)
    N, C, H, W = x.shape
    H_out = conv2d_output_size(H, kh, stride, padding)
    W_out = conv2d_output_size(W, kw, stride, padding)
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((C, kh, kw, H_out, W_out, N), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # the input pixels that kernel entry (i, j) multiplies, at every output position
            window = x_pad[:, :, i: i + stride * H_out: stride, j: j + stride * W_out: stride]
            cols[:, i, j] = window.transpose(1, 2, 3, 0)  # (C, H_out, W_out, N)
    return cols.reshape(C * kh * kw, H_out * W_out * N)


def col2im(cols, x_shape, kh, kw, stride=1, padding=0, backend=None):
    """Adjoint of :func:`im2col`: add every column back onto its patch; -> (N, C, H, W).

    ``x[n, c, h, w] = sum of cols[(c, i, j), (oh, ow, n)] over oh * stride + i - padding = h and
    ow * stride + j - padding = w``. For every x and cols:
    ``<im2col(x), cols> = <x, col2im(cols)>``. Within one offset (i, j) no two output positions
    hit the same pixel, so each offset adds a whole strided slice at once; the padding border
    is cropped off at the end. The result is batch-innermost in memory (an NCHW view).
    """
    _ignored_backend(backend, "col2im")
    N, C, H, W, H_out, W_out = check_cols(cols, x_shape, kh, kw, stride, padding)
    cols = cols.reshape(C, kh, kw, H_out, W_out, N)
    x_pad = np.zeros((C, H + 2 * padding, W + 2 * padding, N), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            x_pad[:, i: i + stride * H_out: stride, j: j + stride * W_out: stride] += cols[:, i, j]
    return x_pad[:, padding: padding + H, padding: padding + W].transpose(3, 0, 1, 2)


def as_matrix(images):
    """(N, C, H, W) images -> their (C, H * W * N) matrix, the example innermost (the layout of
    a product's output; a view, no copy, when the images are batch-innermost in memory)."""
    C = images.shape[1]
    return images.transpose(1, 2, 3, 0).reshape(C, -1)


def as_images(matrix, shape):
    """The inverse of :func:`as_matrix`: a (C, H * W * N) matrix -> (N, C, H, W) images
    (a view)."""
    N, C, H, W = shape
    return matrix.reshape(C, H, W, N).transpose(3, 0, 1, 2)


# ---------------------------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------------------------


class Conv2dCache(NamedTuple):
    cols: np.ndarray  # im2col(x): (C_in * kh * kw, H_out * W_out * N)
    x_shape: tuple
    W: np.ndarray
    stride: int
    padding: int


def check_conv_args(x, W, b, stride, padding, transposed, contiguous=False, check_finite=True):
    """Validated (x, W, b, stride, padding) of a conv2d (W: (C_out, C_in, kh, kw)) or, with
    ``transposed``, of a conv_transpose2d (W: (C_in, C_out, kh, kw)); x must have C_in channels.
    x is made C-contiguous if ``contiguous``. NaN and inf refused when ``check_finite``."""
    x = check_images("x", x, contiguous, check_finite)
    W = _check_kernel("W", W, check_finite)
    in_axis, out_axis = (0, 1) if transposed else (1, 0)
    b = _check_bias(b, W.shape[out_axis], f"W.shape[{out_axis}] (C_out)", check_finite)
    stride = check_positive_int("stride", stride)
    padding = check_nonnegative_int("padding", padding)
    C, C_in = x.shape[1], W.shape[in_axis]
    if C != C_in:
        layout = (f"({C}, C_out, kh, kw) for a transposed convolution" if transposed
                  else f"(C_out, {C}, kh, kw)")
        raise ValueError(f"x has {C} channels but W expects C_in = {C_in}: W must have shape "
                         f"{layout}, got {W.shape}")
    return x, W, b, stride, padding


def conv2d_forward(x, W, b, stride=1, padding=0, backend=None, *, check_finite=True):
    """2-D convolution (cross-correlation, as in PyTorch):

        out[n, o, oh, ow] = b[o] + sum_{c,i,j} W[o, c, i, j] * x_pad[n, c, oh*stride+i, ow*stride+j]

    computed as ``out = W_mat @ im2col(x) + b`` with ``W_mat = W.reshape(C_out, C_in * kh * kw)``.
    x: (N, C_in, H, W), W: (C_out, C_in, kh, kw), b: (C_out,) -> out: (N, C_out, H_out, W_out)
    with ``H_out = (H + 2 * padding - kh) // stride + 1`` (:func:`conv2d_output_size`).
    """
    _ignored_backend(backend, "conv2d_forward")
    x, W, b, stride, padding = check_conv_args(x, W, b, stride, padding, transposed=False,
                                               check_finite=check_finite)
    N, _, H, Wd = x.shape
    C_out, _, kh, kw = W.shape
    out_shape = (N, C_out, conv2d_output_size(H, kh, stride, padding),
                 conv2d_output_size(Wd, kw, stride, padding))
    cols = im2col(x, kh, kw, stride, padding)
    out_mat = W.reshape(C_out, -1) @ cols + b[:, None]  # (C_out, H_out * W_out * N)
    return as_images(out_mat, out_shape), Conv2dCache(cols, x.shape, W, stride, padding)


def conv2d_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv2d_forward`. With ``dout_mat = as_matrix(dout)``
    (C_out, H_out * W_out * N):

        dW = (dout_mat @ cols.T).reshape(W.shape)        every weight saw every patch
        db = dout summed over n, oh, ow                  (C_out,)
        dx = col2im(W_mat.T @ dout_mat)                  a transposed convolution of dout

    Returns (dx, dW, db); dx is None when ``need_dx`` is False (the first layer of an encoder,
    whose input is the data).
    """
    cols, x_shape, W, stride, padding = cache
    C_out, _, kh, kw = W.shape
    dout_mat = as_matrix(dout)
    dW = (dout_mat @ cols.T).reshape(W.shape)
    db = dout_mat.sum(axis=1)
    dx = None
    if need_dx:
        dx = col2im(W.reshape(C_out, -1).T @ dout_mat, x_shape, kh, kw, stride, padding)
    return dx, dW, db


# ---------------------------------------------------------------------------------------------
# conv_transpose2d: the adjoint of conv2d with respect to its input, plus a bias
# ---------------------------------------------------------------------------------------------


class ConvTranspose2dCache(NamedTuple):
    x: np.ndarray
    W: np.ndarray
    out_shape: tuple
    stride: int
    padding: int


def conv_transpose2d_forward(x, W, b, stride=1, padding=0, output_padding=0, backend=None, *,
                             check_finite=True):
    """Transposed convolution ("fractionally strided", "deconvolution"), as in PyTorch:

        out_pad[n, o, h*stride + i, w*stride + j] += sum_c x[n, c, h, w] * W[c, o, i, j]
        out = out_pad cropped by ``padding`` on each side, + b[o]

    Every input pixel stamps its kernel, scaled by the pixel, onto the output; stamps sit
    ``stride`` apart and overlapping stamps add. Computed as ``col2im(W_mat.T @ x_mat)`` with
    ``W_mat = W.reshape(C_in, C_out * kh * kw)`` and ``x_mat = as_matrix(x)``: the
    input-gradient of a conv2d with the same kernel, stride and padding.
    x: (N, C_in, H, W), W: (C_in, C_out, kh, kw), b: (C_out,) -> out: (N, C_out, H_out, W_out)
    with ``H_out = (H - 1) * stride - 2 * padding + kh + output_padding``
    (:func:`conv_transpose2d_output_size`). ``output_padding``: an int, or an (h, w) pair when
    the two axes need different values (a decoder reaching 28 x 21 from 7 x 5).
    """
    _ignored_backend(backend, "conv_transpose2d_forward")
    x, W, b, stride, padding = check_conv_args(x, W, b, stride, padding, transposed=True,
                                               check_finite=check_finite)
    C_in, C_out, kh, kw = W.shape
    out_shape = conv_transpose2d_output_shape(x.shape, W.shape, stride, padding, output_padding)
    cols = W.reshape(C_in, -1).T @ as_matrix(x)  # (C_out * kh * kw, H * W * N)
    out = col2im(cols, out_shape, kh, kw, stride, padding) + b.reshape(1, -1, 1, 1)
    return out, ConvTranspose2dCache(x, W, out_shape, stride, padding)


def conv_transpose2d_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv_transpose2d_forward`. The adjoint of col2im is im2col, so

        dcols = im2col(dout)                         (C_out * kh * kw, H * W * N)
        dx    = W_mat @ dcols                        a conv2d of dout with the same kernel
        dW    = (x_mat @ dcols.T).reshape(W.shape)
        db    = dout summed over n, oh, ow

    Returns (dx, dW, db); dx is None when ``need_dx`` is False.
    """
    x, W, _, stride, padding = cache
    C_in, _, kh, kw = W.shape
    dcols = im2col(dout, kh, kw, stride, padding)
    dW = (as_matrix(x) @ dcols.T).reshape(W.shape)
    db = dout.sum(axis=(0, 2, 3))
    dx = as_images(W.reshape(C_in, -1) @ dcols, x.shape) if need_dx else None
    return dx, dW, db


# ---------------------------------------------------------------------------------------------
# a convolution with its activation: out = act(conv(x, W) + b), the ops the conv layers run
# ---------------------------------------------------------------------------------------------


class ConvActCache(NamedTuple):
    """The cache of :func:`conv2d_act_forward` / :func:`conv_transpose2d_act_forward`, shared
    by their Numba twins: the convolution's cache, the activation's cache and its name."""

    conv_cache: tuple  # Conv2dCache or ConvTranspose2dCache
    act_cache: tuple  # the activation's cache: (pre, out), or (pre, slope) for leaky_relu
    activation: str


def conv2d_act_forward(x, W, b, stride, padding, activation, *, check_finite=True):
    """``out = act(conv2d(x, W) + b)``: :func:`conv2d_forward`, then the activation from
    ``functional.ACTIVATIONS``. Returns (out, cache)."""
    act_forward, _ = ACTIVATIONS[check_activation(activation)]
    pre, conv_cache = conv2d_forward(x, W, b, stride, padding, check_finite=check_finite)
    out, act_cache = act_forward(pre)
    return out, ConvActCache(conv_cache, act_cache, activation)


def conv2d_act_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv2d_act_forward`: dpre = act_backward(dout), then
    :func:`conv2d_backward`. Returns (dx or None, dW, db)."""
    _, act_backward = ACTIVATIONS[cache.activation]
    dpre = act_backward(dout, cache.act_cache)
    return conv2d_backward(dpre, cache.conv_cache, need_dx)


def conv_transpose2d_act_forward(x, W, b, stride, padding, output_padding, activation, *,
                                 check_finite=True):
    """``out = act(conv_transpose2d(x, W) + b)``: :func:`conv_transpose2d_forward`, then the
    activation. Returns (out, cache)."""
    act_forward, _ = ACTIVATIONS[check_activation(activation)]
    pre, conv_cache = conv_transpose2d_forward(x, W, b, stride, padding, output_padding,
                                               check_finite=check_finite)
    out, act_cache = act_forward(pre)
    return out, ConvActCache(conv_cache, act_cache, activation)


def conv_transpose2d_act_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv_transpose2d_act_forward`: dpre = act_backward(dout), then
    :func:`conv_transpose2d_backward`. Returns (dx or None, dW, db)."""
    _, act_backward = ACTIVATIONS[cache.activation]
    dpre = act_backward(dout, cache.act_cache)
    return conv_transpose2d_backward(dpre, cache.conv_cache, need_dx)


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _check_float(name, a, check_finite=False):
    """The dtype rule of every public entry point: float32 or float64 (validation.check_array);
    integer images would wrap around (uint8: 200 * 2 = 144), so they are refused."""
    return check_array(name, a, finite=check_finite)


def _check_4d(name, a, axes, check_finite=False):
    """``a`` as a float 4-D array with no empty axis; ``axes`` names them in messages."""
    a = _check_float(name, a, check_finite)
    if a.ndim != 4:
        raise ValueError(f"{name} must be a 4-D array {axes}, got shape {a.shape}")
    if min(a.shape) == 0:
        raise ValueError(f"{name} must have no empty axis {axes}, got shape {a.shape}")
    return a


def check_images(name, x, contiguous=True, check_finite=False):
    """``x`` as a float (N, C, H, W) array with no empty axis (C-contiguous if ``contiguous``;
    NaN and inf refused when ``check_finite``), else a ValueError naming ``name``."""
    x = _check_4d(name, x, "(N, C, H, W)", check_finite)
    return np.ascontiguousarray(x) if contiguous else x


def _check_kernel(name, W, check_finite=False):
    return _check_4d(name, W, "of kernels (4 axes, kh and kw last)", check_finite)


def _check_bias(b, n, what, check_finite=False):
    b = _check_float("b", b, check_finite)
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},) to match {what}, got {b.shape}")
    return b


def check_cols(cols, x_shape, kh, kw, stride, padding):
    """The sizes (N, C, H, W, H_out, W_out) of a col2im of ``cols`` onto images of ``x_shape``,
    after checking that cols is the (C * kh * kw, H_out * W_out * N) matrix of im2col; else a
    ValueError naming cols (shared with the Numba twin)."""
    N, C, H, W = (int(s) for s in x_shape)
    H_out = conv2d_output_size(H, kh, stride, padding)
    W_out = conv2d_output_size(W, kw, stride, padding)
    want = (C * kh * kw, H_out * W_out * N)
    if cols.ndim != 2 or cols.shape != want:
        raise ValueError(
            f"cols must have shape {want} for x_shape {tuple(x_shape)}, got {cols.shape}"
        )
    return N, C, H, W, H_out, W_out
