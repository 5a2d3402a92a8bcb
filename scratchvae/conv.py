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

The hot loops (im2col, col2im) come in two backends with identical signatures:
:mod:`scratchvae.kernels.conv_reference` (readable NumPy) and
:mod:`scratchvae.kernels.conv_jit` (Numba); ``backend="numpy" | "numba"`` chooses.
"""

from typing import NamedTuple

import numpy as np

from scratchvae.kernels import backend_module
from scratchvae.validation import check_array, check_nonnegative_int, check_positive_int


def get_conv_backend(backend):
    """The module with ``im2col``/``col2im`` for ``backend`` ("numpy" or "numba")."""
    return backend_module(backend, "scratchvae.kernels.conv_reference",
                          "scratchvae.kernels.conv_jit")


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
# im2col / col2im (dispatch to the backend; the NumPy twin has the readable loops)
# ---------------------------------------------------------------------------------------------


def im2col(x, kh, kw, stride=1, padding=0, backend="numpy"):
    """Patches of x as columns: (N, C, H, W) -> cols (C * kh * kw, N * H_out * W_out).

    ``cols[(c, i, j), (n, oh, ow)] = x_padded[n, c, oh * stride + i, ow * stride + j]`` where
    ``x_padded`` is x with ``padding`` zeros around H and W. Row order (c, i, j) matches
    ``W.reshape(C_out, C * kh * kw)``; column order (n, oh, ow).
    """
    x = _check_images("x", x)
    _, _, H, W = x.shape
    conv2d_output_size(H, kh, stride, padding), conv2d_output_size(W, kw, stride, padding)
    return get_conv_backend(backend).im2col(x, int(kh), int(kw), int(stride), int(padding))


def col2im(cols, x_shape, kh, kw, stride=1, padding=0, backend="numpy"):
    """Adjoint of :func:`im2col`: add every column back onto its patch; -> (N, C, H, W).

    ``x[n, c, h, w] = sum of cols[(c, i, j), (n, oh, ow)] over oh * stride + i - padding = h and
    ow * stride + j - padding = w``. For every x and cols:
    ``<im2col(x), cols> = <x, col2im(cols)>``.
    """
    N, C, H, W = (int(s) for s in x_shape)
    H_out = conv2d_output_size(H, kh, stride, padding)
    W_out = conv2d_output_size(W, kw, stride, padding)
    want = (C * kh * kw, N * H_out * W_out)
    if cols.ndim != 2 or cols.shape != want:
        raise ValueError(
            f"cols must have shape {want} for x_shape {tuple(x_shape)}, got {cols.shape}"
        )
    return get_conv_backend(backend).col2im(
        np.ascontiguousarray(cols), (N, C, H, W), int(kh), int(kw), int(stride), int(padding)
    )


# ---------------------------------------------------------------------------------------------
# conv2d
# ---------------------------------------------------------------------------------------------


class Conv2dCache(NamedTuple):
    cols: np.ndarray  # im2col(x): (C_in * kh * kw, N * H_out * W_out)
    x_shape: tuple
    W: np.ndarray
    stride: int
    padding: int
    backend: str


def check_conv_args(x, W, b, stride, padding, transposed, contiguous=True):
    """Validated (x, W, b, stride, padding) of a conv2d (W: (C_out, C_in, kh, kw)) or, with
    ``transposed``, of a conv_transpose2d (W: (C_in, C_out, kh, kw)); x must have C_in channels.
    x is made C-contiguous unless ``contiguous`` is False (the Numba kernels read any layout)."""
    x = _check_images("x", x, contiguous)
    W = _check_kernel("W", W)
    in_axis, out_axis = (0, 1) if transposed else (1, 0)
    b = _check_bias(b, W.shape[out_axis], f"W.shape[{out_axis}] (C_out)")
    stride = check_positive_int("stride", stride)
    padding = check_nonnegative_int("padding", padding)
    C, C_in = x.shape[1], W.shape[in_axis]
    if C != C_in:
        layout = (f"({C}, C_out, kh, kw) for a transposed convolution" if transposed
                  else f"(C_out, {C}, kh, kw)")
        raise ValueError(f"x has {C} channels but W expects C_in = {C_in}: W must have shape "
                         f"{layout}, got {W.shape}")
    return x, W, b, stride, padding


def conv2d_forward(x, W, b, stride=1, padding=0, backend="numpy"):
    """2-D convolution (cross-correlation, as in PyTorch):

        out[n, o, oh, ow] = b[o] + sum_{c,i,j} W[o, c, i, j] * x_pad[n, c, oh*stride+i, ow*stride+j]

    computed as ``out = W_mat @ im2col(x) + b`` with ``W_mat = W.reshape(C_out, C_in * kh * kw)``.
    x: (N, C_in, H, W), W: (C_out, C_in, kh, kw), b: (C_out,) -> out: (N, C_out, H_out, W_out)
    with ``H_out = (H + 2 * padding - kh) // stride + 1`` (:func:`conv2d_output_size`).
    """
    x, W, b, stride, padding = check_conv_args(x, W, b, stride, padding, transposed=False)
    N, C, H, Wd = x.shape
    C_out, C_in, kh, kw = W.shape
    H_out = conv2d_output_size(H, kh, stride, padding)
    W_out = conv2d_output_size(Wd, kw, stride, padding)
    cols = get_conv_backend(backend).im2col(x, kh, kw, stride, padding)
    out = W.reshape(C_out, -1) @ cols  # (C_out, N * H_out * W_out)
    out = np.ascontiguousarray(out.reshape(C_out, N, H_out, W_out).transpose(1, 0, 2, 3))
    out = out + b.reshape(1, -1, 1, 1)  # not +=: int x with float b gives float out
    return out, Conv2dCache(cols, x.shape, W, stride, padding, backend)


def conv2d_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv2d_forward`. With ``dout_mat = dout`` as (C_out, N * H_out * W_out):

        dW = (dout_mat @ cols.T).reshape(W.shape)        every weight saw every patch
        db = dout summed over n, oh, ow                  (C_out,)
        dx = col2im(W_mat.T @ dout_mat)                  a transposed convolution of dout

    Returns (dx, dW, db); dx is None when ``need_dx`` is False (the first layer of an encoder,
    whose input is the data).
    """
    cols, x_shape, W, stride, padding, backend = cache
    C_out, _, kh, kw = W.shape
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(C_out, -1)
    dW = (dout_mat @ cols.T).reshape(W.shape)
    db = dout.sum(axis=(0, 2, 3))
    dx = None
    if need_dx:
        dcols = W.reshape(C_out, -1).T @ dout_mat
        dx = get_conv_backend(backend).col2im(dcols, x_shape, kh, kw, stride, padding)
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
    backend: str


def conv_transpose2d_forward(x, W, b, stride=1, padding=0, output_padding=0, backend="numpy"):
    """Transposed convolution ("fractionally strided", "deconvolution"), as in PyTorch:

        out_pad[n, o, h*stride + i, w*stride + j] += sum_c x[n, c, h, w] * W[c, o, i, j]
        out = out_pad cropped by ``padding`` on each side, + b[o]

    Every input pixel stamps its kernel, scaled by the pixel, onto the output; stamps sit
    ``stride`` apart and overlapping stamps add. Computed as ``col2im(W_mat.T @ x_mat)`` with
    ``W_mat = W.reshape(C_in, C_out * kh * kw)``: the input-gradient of a conv2d with the same
    kernel, stride and padding.
    x: (N, C_in, H, W), W: (C_in, C_out, kh, kw), b: (C_out,) -> out: (N, C_out, H_out, W_out)
    with ``H_out = (H - 1) * stride - 2 * padding + kh + output_padding``
    (:func:`conv_transpose2d_output_size`). ``output_padding``: an int, or an (h, w) pair when
    the two axes need different values (a decoder reaching 28 x 21 from 7 x 5).
    """
    x, W, b, stride, padding = check_conv_args(x, W, b, stride, padding, transposed=True)
    C_in, C_out, kh, kw = W.shape
    N, _, H_out, W_out = conv_transpose2d_output_shape(x.shape, W.shape, stride, padding,
                                                       output_padding)
    x_mat = x.transpose(1, 0, 2, 3).reshape(C_in, -1)  # (C_in, N * H * W)
    cols = W.reshape(C_in, -1).T @ x_mat  # (C_out * kh * kw, N * H * W)
    out_shape = (N, C_out, H_out, W_out)
    out = get_conv_backend(backend).col2im(cols, out_shape, kh, kw, stride, padding)
    out = out + b.reshape(1, -1, 1, 1)
    return out, ConvTranspose2dCache(x, W, out_shape, stride, padding, backend)


def conv_transpose2d_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv_transpose2d_forward`. The adjoint of col2im is im2col, so

        dcols = im2col(dout)                         (C_out * kh * kw, N * H * W)
        dx    = W_mat @ dcols                        a conv2d of dout with the same kernel
        dW    = (x_mat @ dcols.T).reshape(W.shape)
        db    = dout summed over n, oh, ow

    Returns (dx, dW, db); dx is None when ``need_dx`` is False.
    """
    x, W, _, stride, padding, backend = cache
    C_in, _, kh, kw = W.shape
    N, _, H, Wd = x.shape
    dcols = get_conv_backend(backend).im2col(np.ascontiguousarray(dout), kh, kw, stride, padding)
    x_mat = x.transpose(1, 0, 2, 3).reshape(C_in, -1)
    dW = (x_mat @ dcols.T).reshape(W.shape)
    db = dout.sum(axis=(0, 2, 3))
    dx = None
    if need_dx:
        dx = (W.reshape(C_in, -1) @ dcols).reshape(C_in, N, H, Wd).transpose(1, 0, 2, 3)
        dx = np.ascontiguousarray(dx)
    return dx, dW, db


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _check_float(name, a):
    """The dtype rule of every public entry point: float32 or float64 (validation.check_array);
    integer images would wrap around (uint8: 200 * 2 = 144), so they are refused."""
    return check_array(name, a, finite=False)


def _check_4d(name, a, axes):
    """``a`` as a numeric 4-D array with no empty axis; ``axes`` names them in messages."""
    a = _check_float(name, a)
    if a.ndim != 4:
        raise ValueError(f"{name} must be a 4-D array {axes}, got shape {a.shape}")
    if min(a.shape) == 0:
        raise ValueError(f"{name} must have no empty axis {axes}, got shape {a.shape}")
    return a


def _check_images(name, x, contiguous=True):
    x = _check_4d(name, x, "(N, C, H, W)")
    return np.ascontiguousarray(x) if contiguous else x


def _check_kernel(name, W):
    return _check_4d(name, W, "of kernels (4 axes, kh and kw last)")


def _check_bias(b, n, what):
    b = _check_float("b", b)
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},) to match {what}, got {b.shape}")
    return b
