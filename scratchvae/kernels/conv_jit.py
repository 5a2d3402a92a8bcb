"""Numba twins of :mod:`scratchvae.kernels.conv_reference` (same signatures, same numbers).

Instead of padding the input and copying strided slices, each kernel walks the index map

    cols[(c, i, j), (n, oh, ow)] = x[n, c, oh * stride + i - padding, ow * stride + j - padding]

directly (zero outside the image). Large arrays run in parallel threads: im2col over rows of
cols, col2im over (n, c) images (different images never write the same pixel, so the additions
need no locks). Small arrays (gradient checks, tiny batches) run the same loops serially, where
starting threads would cost more than the work. Compiled on first call and cached on disk
(``cache=True``); nothing compiles at import.
"""

import numpy as np
from numba import njit, prange

PARALLEL_MIN_SIZE = 1 << 16
"""Arrays with at least this many entries use the multi-threaded kernels."""


def _im2col_loops(x, kh, kw, stride, padding):
    N, C, H, W = x.shape
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    L = H_out * W_out
    cols = np.empty((C * kh * kw, N * L), dtype=x.dtype)
    for r in prange(C * kh * kw):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        for n in range(N):
            for oh in range(H_out):
                h = oh * stride + i - padding
                base = n * L + oh * W_out
                if h < 0 or h >= H:
                    for ow in range(W_out):
                        cols[r, base + ow] = 0.0
                    continue
                for ow in range(W_out):
                    w = ow * stride + j - padding
                    if 0 <= w < W:
                        cols[r, base + ow] = x[n, c, h, w]
                    else:
                        cols[r, base + ow] = 0.0
    return cols


def _col2im_loops(cols, N, C, H, W, kh, kw, stride, padding):
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (W + 2 * padding - kw) // stride + 1
    L = H_out * W_out
    x = np.zeros((N, C, H, W), dtype=cols.dtype)
    for nc in prange(N * C):
        n = nc // C
        c = nc % C
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                for oh in range(H_out):
                    h = oh * stride + i - padding
                    if h < 0 or h >= H:
                        continue
                    base = n * L + oh * W_out
                    for ow in range(W_out):
                        w = ow * stride + j - padding
                        if 0 <= w < W:
                            x[n, c, h, w] += cols[r, base + ow]
    return x


# prange is a plain range in the serial versions
_im2col_serial = njit(cache=True)(_im2col_loops)
_im2col_parallel = njit(cache=True, parallel=True)(_im2col_loops)
_col2im_serial = njit(cache=True)(_col2im_loops)
_col2im_parallel = njit(cache=True, parallel=True)(_col2im_loops)


def im2col(x, kh, kw, stride, padding):
    """Patches as columns: x (N, C, H, W) -> cols (C * kh * kw, N * H_out * W_out)."""
    x = np.ascontiguousarray(x)
    big = x.size * kh * kw >= PARALLEL_MIN_SIZE
    return (_im2col_parallel if big else _im2col_serial)(x, kh, kw, stride, padding)


def col2im(cols, x_shape, kh, kw, stride, padding):
    """Adjoint of :func:`im2col`: cols (C * kh * kw, N * H_out * W_out) -> x (N, C, H, W)."""
    N, C, H, W = x_shape
    cols = np.ascontiguousarray(cols)
    big = cols.size >= PARALLEL_MIN_SIZE
    return (_col2im_parallel if big else _col2im_serial)(cols, N, C, H, W, kh, kw, stride, padding)
