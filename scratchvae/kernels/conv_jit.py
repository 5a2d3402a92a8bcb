"""Numba twins of :mod:`scratchvae.kernels.conv_reference` (same signatures, same numbers).

Two levels, both tested equal to the NumPy twins:

- ``im2col`` / ``col2im``: the index maps of :mod:`scratchvae.conv`, walked directly
  (``cols[(c, i, j), (n, oh, ow)] = x[n, c, oh * stride + i - padding, ow * stride + j - padding]``,
  zero outside the image) instead of padding the input and copying strided slices.
- The conv *layers* with their activation, ``conv2d_act_forward`` / ``conv_transpose2d_act_forward``
  and their backwards: one BLAS product per matrix (forward, dW, dx) and, around it, one fused
  Numba pass each for the rearrangement of pixels, the bias and the activation.

Where the speed comes from (measured in ``benchmarks/bench_convvae.py``):

- **No transposes.** A matrix product gives channels first, ``(C, N * H * W)``, but layers speak
  NCHW. Instead of copying, a layer returns its output as an NCHW *view* of channel-major memory
  ``(C, N, H, W)`` (:func:`cnhw_empty`); the next conv layer reads the same memory as its
  ``(C, N * H * W)`` matrix without a copy (:func:`images_as_matrix`), and the kernels index
  pixels through the view's strides, so either memory order works.
- **Bias and activation ride along.** ``col2im`` starts every image plane at its bias and
  applies the activation to the plane while it is still in cache; the backward pass computes
  ``dpre = dout * act'(pre)`` and the bias gradient in the same pass.
- **Each value written once.** ``col2im`` gathers, for every output pixel, the runs of the
  kernel offsets that reach it into a small buffer and writes the pixel once, activation
  included, instead of adding each offset's runs into the whole image in turn.
- **Serial loops; the threads belong to BLAS.** These passes move memory once and take about a
  millisecond. OpenBLAS's threads keep spinning for a while after each product, so Numba
  threads started right after it fight them for the cores: on the busy 2-core benchmark machine
  a parallel version of such a loop took 30-60 ms instead of 0.3 ms. All threads go to the
  matrix products.

Compiled on first call and cached on disk (``cache=True``); nothing compiles at import.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from scratchvae.conv import (
    check_conv_args,
    conv2d_output_size,
    conv_transpose2d_output_shape,
)
from scratchvae.kernels.jit import (
    _act,
    _activation_code,
    _float_dtype,
    _row_act_grad_bias_kernel,
    _row_bias_act_kernel,
)

# ---------------------------------------------------------------------------------------------
# the loops, on batch-innermost memory: images (C, H, W, N), matrices (C, H * W * N).
# fastmath "reassoc": the bias-gradient sums may be added in any order (vectorised).
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _im2col_kernel(x, kh, kw, stride, padding, cols):
    """cols[(c, i, j), (oh, ow, n)] = x[c, oh*stride + i - padding, ow*stride + j - padding, n]
    (0 outside the image). x: (C, H, W, N); cols: (C * kh * kw, H_out * W_out * N).

    Every (row, oh, ow) is one contiguous run of N values: a vectorised copy."""
    C, H, W, N = x.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    for r in range(C * kh * kw):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        row = cols[r]
        for oh in range(H_out):
            h = oh * stride + i - padding
            for ow in range(W_out):
                w = ow * stride + j - padding
                start = (oh * W_out + ow) * N
                dst = row[start: start + N]
                if 0 <= h < H and 0 <= w < W:
                    src = x[c, h, w]
                    for n in range(N):
                        dst[n] = src[n]
                else:
                    for n in range(N):
                        dst[n] = 0.0


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _col2im_kernel(cols, kh, kw, stride, padding, b, code, pre, out):
    """The adjoint of im2col, plus bias and activation, one output pixel at a time:

        pre[c, h, w] = b[c] + the sum over the kernel offsets (i, j) that reach pixel (h, w)
                       of cols[(c, i, j), (oh, ow)],   h = oh*stride + i - padding (same for w)
        out[c, h, w] = act(pre[c, h, w])          (not written for code 0: out is pre)

    pre, out: (C, H, W, N); cols: (C * kh * kw, H_out * W_out * N). Each pixel gathers its
    N-long runs into ``acc`` (in cache) and is written once, activation included: no pass
    over the image per kernel offset. The terms are added in the order b, then (i, j)
    row-major, as a scatter over the offsets would add them."""
    C, H, W, N = pre.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    acc = np.empty(N, dtype=pre.dtype)
    for c in range(C):
        bc = b[c]
        for h in range(H):
            for w in range(W):
                for n in range(N):
                    acc[n] = bc
                for i in range(kh):
                    t = h + padding - i  # = oh * stride for the oh this offset comes from
                    if t < 0 or t % stride != 0 or t // stride >= H_out:
                        continue
                    oh = t // stride
                    for j in range(kw):
                        u = w + padding - j
                        if u < 0 or u % stride != 0 or u // stride >= W_out:
                            continue
                        start = (oh * W_out + u // stride) * N
                        src = cols[(c * kh + i) * kw + j, start: start + N]
                        for n in range(N):
                            acc[n] += src[n]
                p_dst = pre[c, h, w]
                for n in range(N):
                    p_dst[n] = acc[n]
                if code == 1:  # ReLU, the common case: a branch-free loop
                    o_dst = out[c, h, w]
                    for n in range(N):
                        o_dst[n] = max(acc[n], 0)
                elif code != 0:
                    o_dst = out[c, h, w]
                    for n in range(N):
                        o_dst[n] = _act(acc[n], code)


# ---------------------------------------------------------------------------------------------
# batch-innermost memory behind NCHW views
# ---------------------------------------------------------------------------------------------


def as_chwn(x):
    """(N, C, H, W) images -> the same values as a C-contiguous (C, H, W, N) array: a view
    when x's memory already is batch-innermost (every conv layer's output here), else a copy."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0))


def chwn_as_nchw(a):
    """A (C, H, W, N) array seen as (N, C, H, W) images: a view, no copy."""
    return a.transpose(3, 0, 1, 2)


def im2col(x, kh, kw, stride, padding):
    """Patches as columns: x (N, C, H, W) -> cols (C * kh * kw, N * H_out * W_out), columns in
    (n, oh, ow) order like the NumPy twin (the layers below use (oh, ow, n) internally)."""
    N, C, H, W = x.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    cols = np.empty((C * kh * kw, H_out * W_out * N), dtype=x.dtype)
    _im2col_kernel(as_chwn(x), kh, kw, stride, padding, cols)
    K, L = C * kh * kw, H_out * W_out
    return np.ascontiguousarray(cols.reshape(K, L, N).transpose(0, 2, 1)).reshape(K, N * L)


def col2im(cols, x_shape, kh, kw, stride, padding):
    """Adjoint of :func:`im2col`: cols (C * kh * kw, N * H_out * W_out) -> x (N, C, H, W)."""
    N, C, H, W = x_shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    K, L = cols.shape[0], H_out * W_out
    cols_lmajor = np.ascontiguousarray(cols.reshape(K, N, L).transpose(0, 2, 1)).reshape(K, -1)
    x = np.empty((C, H, W, N), dtype=cols.dtype)
    _col2im_kernel(cols_lmajor, kh, kw, stride, padding, np.zeros(C, cols.dtype), 0, x, x)
    return np.ascontiguousarray(chwn_as_nchw(x))


# ---------------------------------------------------------------------------------------------
# conv layers with their activation: out = act(conv(x, W) + b)
# ---------------------------------------------------------------------------------------------


class ConvActCache(NamedTuple):
    cols_or_x: np.ndarray  # conv2d: im2col(x); conv_transpose2d: x as its (C_in, H*W*N) matrix
    pre_mat: np.ndarray  # pre-activation as a (C_out, H_out * W_out * N) matrix
    out_shape: tuple  # (N, C_out, H_out, W_out)
    x_shape: tuple
    W: np.ndarray
    stride: int
    padding: int
    code: int  # activation code


def _layer_args(x, W, b, stride, padding, transposed):
    x, W, b, stride, padding = check_conv_args(x, W, b, stride, padding, transposed,
                                                contiguous=False)
    dtype = _float_dtype(x, W, b)
    return (x.astype(dtype, copy=False), W.astype(dtype, copy=False),
            np.ascontiguousarray(b, dtype=dtype), stride, padding, dtype)


def _act_grad_bias(dout, cache):
    """(dpre_mat, db): dpre = dout * act'(pre) as a (C_out, H_out * W_out * N) matrix."""
    pre_mat = cache.pre_mat
    if dout.shape != cache.out_shape:
        raise ValueError(f"dout must have the output's shape {cache.out_shape}, got {dout.shape}")
    dout = dout.astype(pre_mat.dtype, copy=False)
    dpre_mat = np.empty_like(pre_mat)
    db = np.empty(pre_mat.shape[0], dtype=pre_mat.dtype)
    _row_act_grad_bias_kernel(as_chwn(dout).reshape(pre_mat.shape), pre_mat, cache.code,
                              dpre_mat, db)
    return dpre_mat, db


def _chwn_shape(nchw_shape):
    N, C, H, W = nchw_shape
    return C, H, W, N


def conv2d_act_forward(x, W, b, stride, padding, activation):
    """``out = act(conv2d(x, W) + b)``: one im2col pass, one BLAS product, one bias+act pass.

    x: (N, C_in, H, W), W: (C_out, C_in, kh, kw), b: (C_out,) -> (out, cache); out is
    (N, C_out, H_out, W_out), a view of batch-innermost memory."""
    code = _activation_code(activation)
    x, W, b, stride, padding, dtype = _layer_args(x, W, b, stride, padding, transposed=False)
    N, C_in, H, Wd = x.shape
    C_out, _, kh, kw = W.shape
    out_shape = (N, C_out, conv2d_output_size(H, kh, stride, padding),
                 conv2d_output_size(Wd, kw, stride, padding))
    cols = np.empty((C_in * kh * kw, out_shape[2] * out_shape[3] * N), dtype=dtype)
    _im2col_kernel(as_chwn(x), kh, kw, stride, padding, cols)
    pre_mat = W.reshape(C_out, -1) @ cols  # (C_out, H_out * W_out * N)
    out_mat = pre_mat if code == 0 else np.empty_like(pre_mat)
    _row_bias_act_kernel(pre_mat, b, code, out_mat)
    cache = ConvActCache(cols, pre_mat, out_shape, x.shape, W, stride, padding, code)
    return chwn_as_nchw(out_mat.reshape(_chwn_shape(out_shape))), cache


def conv2d_act_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv2d_act_forward`: (dx or None, dW, db).

    dpre = dout * act'(pre) and db in one pass, written as the (C_out, H_out * W_out * N)
    matrix; dW = dpre_mat @ cols.T; dx = col2im(W_mat.T @ dpre_mat)."""
    cols, _, _, x_shape, W, stride, padding, _ = cache
    C_out, C_in, kh, kw = W.shape
    dpre_mat, db = _act_grad_bias(dout, cache)
    dW = (dpre_mat @ cols.T).reshape(W.shape)
    dx = None
    if need_dx:
        dcols = W.reshape(C_out, -1).T @ dpre_mat
        dx = np.empty(_chwn_shape(x_shape), dtype=dcols.dtype)
        _col2im_kernel(dcols, kh, kw, stride, padding, np.zeros(C_in, dcols.dtype), 0, dx, dx)
        dx = chwn_as_nchw(dx)
    return dx, dW, db


def conv_transpose2d_act_forward(x, W, b, stride, padding, output_padding, activation):
    """``out = act(conv_transpose2d(x, W) + b)``: one BLAS product, then col2im with the bias
    and the activation fused in.

    x: (N, C_in, H, W), W: (C_in, C_out, kh, kw), b: (C_out,); output_padding an int or an
    (h, w) pair -> (out, cache); out (N, C_out, H_out, W_out), a view of batch-innermost memory."""
    code = _activation_code(activation)
    x, W, b, stride, padding, dtype = _layer_args(x, W, b, stride, padding, transposed=True)
    C_in, C_out, kh, kw = W.shape
    out_shape = conv_transpose2d_output_shape(x.shape, W.shape, stride, padding, output_padding)
    x_mat = as_chwn(x).reshape(C_in, -1)  # no copy when x came from a conv layer
    cols = W.reshape(C_in, -1).T @ x_mat  # (C_out * kh * kw, H * W * N)
    pre = np.empty(_chwn_shape(out_shape), dtype=dtype)
    out = pre if code == 0 else np.empty_like(pre)
    _col2im_kernel(cols, kh, kw, stride, padding, b, code, pre, out)
    cache = ConvActCache(x_mat, pre.reshape(C_out, -1), out_shape, x.shape, W, stride, padding,
                         code)
    return chwn_as_nchw(out), cache


def conv_transpose2d_act_backward(dout, cache, need_dx=True):
    """Gradients of :func:`conv_transpose2d_act_forward`: (dx or None, dW, db).

    dpre = dout * act'(pre) and db in one pass; dcols = im2col(dpre);
    dW = x_mat @ dcols.T; dx = W_mat @ dcols (a conv2d of dpre)."""
    x_mat, _, out_shape, x_shape, W, stride, padding, _ = cache
    C_in, C_out, kh, kw = W.shape
    dpre_mat, db = _act_grad_bias(dout, cache)
    dcols = np.empty((C_out * kh * kw, x_mat.shape[1]), dtype=dpre_mat.dtype)
    _im2col_kernel(dpre_mat.reshape(_chwn_shape(out_shape)), kh, kw, stride, padding, dcols)
    dW = (x_mat @ dcols.T).reshape(W.shape)
    dx = None
    if need_dx:
        dx = chwn_as_nchw((W.reshape(C_in, -1) @ dcols).reshape(_chwn_shape(x_shape)))
    return dx, dW, db
