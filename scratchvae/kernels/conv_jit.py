"""Numba twins of the conv ops of :mod:`scratchvae.conv` (same names, arguments and caches).

Two levels, both tested equal to the NumPy ops, op by op (:data:`OPS`):

- ``im2col`` / ``col2im``: the index maps of :mod:`scratchvae.conv`, walked directly
  (``cols[(c, i, j), (oh, ow, n)] = x[n, c, oh * stride + i - padding, ow * stride + j - padding]``,
  zero outside the image) instead of padding the input and copying strided slices.
- The conv ops with their activation, ``conv2d_act_forward`` / ``conv_transpose2d_act_forward``
  and their backwards: one BLAS product per matrix (forward, dW, dx) and, around it, one fused
  Numba pass each for the rearrangement of pixels, the bias and the activation.

Where the speed comes from (``benchmarks/bench_convvae.py`` measures it):

- **No transposes.** A matrix product gives channels first, ``(C, H * W * N)`` with the example
  innermost, the layout :mod:`scratchvae.conv` uses too: a layer returns its output as an NCHW
  *view* of that memory (``conv.as_images``), and the next layer reads the same memory as its
  matrix without a copy (``conv.as_matrix``). The kernels work on the (C, H, W, N) arrays.
- **Bias and activation ride along.** ``col2im`` starts every image plane at its bias and
  applies the activation to the plane while it is still in cache; the backward pass computes
  ``dpre = dout * act'(pre)`` and the bias gradient in the same pass.
- **Each value written once.** ``col2im`` gathers, for every output pixel, the runs of the
  kernel offsets that reach it into a small buffer and writes the pixel once, activation
  included, instead of adding each offset's runs into the whole image in turn.
- **Serial loops; the threads belong to BLAS.** These passes move memory once. OpenBLAS's
  threads keep spinning for a while after each product, so Numba threads started right after
  it would compete with them for the cores. All threads go to the matrix products.

Compiled on first call and cached on disk (``cache=True``); nothing compiles at import.
"""

import numpy as np
from numba import njit

from scratchvae import conv
from scratchvae.conv import (
    Conv2dCache,
    ConvActCache,
    ConvTranspose2dCache,
    as_images,
    as_matrix,
    check_cols,
    check_conv_args,
    conv2d_output_size,
    conv_transpose2d_output_shape,
)
from scratchvae.kernels.jit import (
    _act,
    _act_cache,
    _activation_code,
    _float_dtype,
    _pre_and_out,
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


def _as_chwn(x):
    """(N, C, H, W) images -> the same values as a C-contiguous (C, H, W, N) array: a view
    when x's memory already is batch-innermost (every conv layer's output here), else a copy."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0))


def _chwn_as_nchw(a):
    """A (C, H, W, N) array seen as (N, C, H, W) images: a view, no copy."""
    return a.transpose(3, 0, 1, 2)


def _chwn_shape(nchw_shape):
    N, C, H, W = nchw_shape
    return C, H, W, N


def im2col(x, kh, kw, stride=1, padding=0):
    """Twin of :func:`scratchvae.conv.im2col`: x (N, C, H, W) -> cols
    (C * kh * kw, H_out * W_out * N), columns in (oh, ow, n) order."""
    x = conv.check_images("x", x, contiguous=False)
    N, C, H, W = x.shape
    H_out = conv2d_output_size(H, kh, stride, padding)
    W_out = conv2d_output_size(W, kw, stride, padding)
    cols = np.empty((C * kh * kw, H_out * W_out * N), dtype=x.dtype)
    _im2col_kernel(_as_chwn(x), kh, kw, stride, padding, cols)
    return cols


def col2im(cols, x_shape, kh, kw, stride=1, padding=0):
    """Twin of :func:`scratchvae.conv.col2im`: cols (C * kh * kw, H_out * W_out * N) ->
    x (N, C, H, W), an NCHW view of batch-innermost memory."""
    N, C, H, W, _, _ = check_cols(cols, x_shape, kh, kw, stride, padding)
    x = np.empty((C, H, W, N), dtype=cols.dtype)
    _col2im_kernel(np.ascontiguousarray(cols), kh, kw, stride, padding,
                   np.zeros(C, cols.dtype), 0, x, x)
    return _chwn_as_nchw(x)


# ---------------------------------------------------------------------------------------------
# conv ops with their activation: out = act(conv(x, W) + b)
# ---------------------------------------------------------------------------------------------


def _layer_args(x, W, b, stride, padding, transposed, check_finite):
    x, W, b, stride, padding = check_conv_args(x, W, b, stride, padding, transposed,
                                                check_finite=check_finite)
    dtype = _float_dtype(x, W, b)
    return (x.astype(dtype, copy=False), W.astype(dtype, copy=False),
            np.ascontiguousarray(b, dtype=dtype), stride, padding, dtype)


def _act_grad_bias(dout, act_cache, activation):
    """(dpre_mat, db): dpre = dout * act'(pre) as a (C_out, H_out * W_out * N) matrix, and
    the bias gradient, in one pass."""
    pre, out = _pre_and_out(act_cache)
    if dout.shape != pre.shape:
        raise ValueError(f"dout must have the output's shape {pre.shape}, got {dout.shape}")
    # views, no copies: the forward stored pre and out batch-innermost
    pre_mat = np.ascontiguousarray(as_matrix(pre))
    out_mat = np.ascontiguousarray(as_matrix(out))
    dout_mat = np.ascontiguousarray(as_matrix(dout), dtype=pre.dtype)
    dpre_mat = np.empty_like(pre_mat)
    db = np.empty(pre_mat.shape[0], dtype=pre.dtype)
    _row_act_grad_bias_kernel(dout_mat, pre_mat, out_mat, _activation_code(activation),
                              dpre_mat, db)
    return dpre_mat, db


def conv2d_act_forward(x, W, b, stride, padding, activation, *, check_finite=True):
    """Twin of :func:`scratchvae.conv.conv2d_act_forward`: ``out = act(conv2d(x, W) + b)`` by
    one im2col pass, one BLAS product, one bias+act pass. Returns (out, the same
    ``ConvActCache``); out (N, C_out, H_out, W_out) is a view of batch-innermost memory."""
    code = _activation_code(activation)
    x, W, b, stride, padding, _ = _layer_args(x, W, b, stride, padding, False, check_finite)
    N, _, H, Wd = x.shape
    C_out, _, kh, kw = W.shape
    out_shape = (N, C_out, conv2d_output_size(H, kh, stride, padding),
                 conv2d_output_size(Wd, kw, stride, padding))
    cols = im2col(x, kh, kw, stride, padding)  # (C_in * kh * kw, H_out * W_out * N)
    pre_mat = W.reshape(C_out, -1) @ cols  # (C_out, H_out * W_out * N)
    out_mat = pre_mat if code == 0 else np.empty_like(pre_mat)
    _row_bias_act_kernel(pre_mat, b, code, out_mat)
    pre, out = as_images(pre_mat, out_shape), as_images(out_mat, out_shape)
    cache = ConvActCache(Conv2dCache(cols, x.shape, W, stride, padding),
                         _act_cache(activation, pre, out), activation)
    return out, cache


def conv2d_act_backward(dout, cache, need_dx=True):
    """Twin of :func:`scratchvae.conv.conv2d_act_backward`: (dx or None, dW, db).

    dpre = dout * act'(pre) and db in one pass, written as the (C_out, H_out * W_out * N)
    matrix; dW = dpre_mat @ cols.T; dx = col2im(W_mat.T @ dpre_mat)."""
    (cols, x_shape, W, stride, padding), act_cache, activation = cache
    C_out, _, kh, kw = W.shape
    dpre_mat, db = _act_grad_bias(dout, act_cache, activation)
    dW = (dpre_mat @ cols.T).reshape(W.shape)
    dx = None
    if need_dx:
        dx = col2im(W.reshape(C_out, -1).T @ dpre_mat, x_shape, kh, kw, stride, padding)
    return dx, dW, db


def conv_transpose2d_act_forward(x, W, b, stride, padding, output_padding, activation, *,
                                 check_finite=True):
    """Twin of :func:`scratchvae.conv.conv_transpose2d_act_forward`: one BLAS product, then
    col2im with the bias and the activation fused in. Returns (out, the same
    ``ConvActCache``); out (N, C_out, H_out, W_out) is a view of batch-innermost memory."""
    code = _activation_code(activation)
    x, W, b, stride, padding, dtype = _layer_args(x, W, b, stride, padding, True, check_finite)
    C_in, C_out, kh, kw = W.shape
    out_shape = conv_transpose2d_output_shape(x.shape, W.shape, stride, padding, output_padding)
    x_mat = np.ascontiguousarray(as_matrix(x))  # no copy when x came from a conv layer
    cols = W.reshape(C_in, -1).T @ x_mat  # (C_out * kh * kw, H * W * N)
    pre = np.empty(_chwn_shape(out_shape), dtype=dtype)
    out = pre if code == 0 else np.empty_like(pre)
    _col2im_kernel(cols, kh, kw, stride, padding, b, code, pre, out)
    pre, out = _chwn_as_nchw(pre), _chwn_as_nchw(out)
    cache = ConvActCache(ConvTranspose2dCache(as_images(x_mat, x.shape), W, out_shape, stride,
                                              padding),
                         _act_cache(activation, pre, out), activation)
    return out, cache


def conv_transpose2d_act_backward(dout, cache, need_dx=True):
    """Twin of :func:`scratchvae.conv.conv_transpose2d_act_backward`: (dx or None, dW, db).

    dpre = dout * act'(pre) and db in one pass; dcols = im2col(dpre);
    dW = x_mat @ dcols.T; dx = W_mat @ dcols (a conv2d of dpre)."""
    (x, W, out_shape, stride, padding), act_cache, activation = cache
    C_in, C_out, kh, kw = W.shape
    dpre_mat, db = _act_grad_bias(dout, act_cache, activation)
    x_mat = as_matrix(x)  # a view: the forward stored x batch-innermost
    dcols = im2col(as_images(dpre_mat, out_shape), kh, kw, stride, padding)  # no copy of dpre
    dW = (x_mat @ dcols.T).reshape(W.shape)
    dx = None
    if need_dx:
        dx = as_images(W.reshape(C_in, -1) @ dcols, x.shape)
    return dx, dW, db


OPS = {
    "im2col": im2col,
    "col2im": col2im,
    "conv2d_act_forward": conv2d_act_forward,
    "conv2d_act_backward": conv2d_act_backward,
    "conv_transpose2d_act_forward": conv_transpose2d_act_forward,
    "conv_transpose2d_act_backward": conv_transpose2d_act_backward,
}
"""op name -> its Numba twin (the dense and loss twins are in :data:`scratchvae.kernels.jit.OPS`)."""
