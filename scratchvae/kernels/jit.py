"""Numba twins of the ops in :data:`scratchvae.kernels.reference.OPS`: same names, same
arguments, same caches (registered in :data:`OPS`, tested op by op against the NumPy ops).

How each twin gets its speed (each idea is one kernel below):

- The matrix products go to BLAS (``x @ W``); everything *around* them is fused into one pass
  over the data: bias + activation in place on the product, the activation's derivative
  together with the bias gradient's column sum, the per-example likelihood with its gradient,
  the reparameterization with its KL term and both their gradients, and Adam.
- The NumPy ops make a temporary array for almost every operator; a kernel makes only its
  outputs.
- Same dtype in as out: float32 stays float32. Sums are accumulated in float64.
- The first layer of a network on images can skip the zeros of x in both its products
  (``sparse_x``: :func:`sparse_x_matmul`, :func:`sparse_x_weight_grad`).
- :func:`matmul` is the *teaching* kernel: a blocked, row-parallel product accumulated in a
  local tile (i-k-j order, the inner j loop contiguous so LLVM vectorises it). The benchmark
  compares it with BLAS; the models use BLAS.

Every kernel is ``@njit(cache=True, nogil=True, error_model="numpy")``. The NumPy error model
drops Python's zero-division checks, which would otherwise stop LLVM from vectorising the loops.
Nothing compiles at import: each kernel compiles the first time it is called with new argument
types and is then cached on disk, so a second process starts fast. The wrappers pass
C-contiguous arrays and plain floats, so each kernel compiles once per dtype. With
``NUMBA_DISABLE_JIT=1`` the very same code runs as plain Python (slowly). The kernels around the
products run on one thread: OpenBLAS's worker threads keep spinning for a while after each
product, and a parallel loop started between two products competes with them for the cores
(``benchmarks/`` has the measurements). BLAS and the teaching matmul use the thread count chosen
with ``OMP_NUM_THREADS`` / ``numba.set_num_threads(n)``.
"""

import math

import numpy as np
from numba import njit, prange

from scratchvae import functional as F
from scratchvae.functional import LEAKY_SLOPE, sum_to_shape
from scratchvae.losses import LOG_2PI
from scratchvae.speed import (
    ZERO_SKIPPING_MAX_BLAS_THREADS,
    blas_threads,
    default_zero_skipping,
    zero_skipping_chosen,
)
from scratchvae.validation import check_array, check_same_shape

ACTIVATION_CODES = {name: code for code, name in enumerate(F.ACTIVATIONS)}
"""activation name -> the int code the kernels switch on, in the order of the one activation
table, ``functional.ACTIVATIONS`` (identity 0, relu 1, leaky_relu 2, sigmoid 3, tanh 4,
softplus 5; :func:`_act` and :func:`_act_grad` are its scalar twins)."""


def _activation_code(activation):
    return ACTIVATION_CODES[F.check_activation(activation)]


def _act_cache(activation, pre, out):
    """The cache the activation's NumPy forward would return for ``pre`` (and ``out``)."""
    if activation == "leaky_relu":
        return F.LeakyReluCache(pre, LEAKY_SLOPE)
    return F.ActivationCache(pre, out)


def _pre_and_out(act_cache):
    """(pre, out) from an activation cache (out is pre for leaky_relu: its derivative needs
    pre only)."""
    if isinstance(act_cache, F.LeakyReluCache):
        return act_cache.x, act_cache.x
    return act_cache.x, act_cache.out


def _check_finite(**arrays):
    """What a public op checks on a direct call (``check_finite=True``): no NaN or inf."""
    for name, a in arrays.items():
        check_array(name, a, finite=True)


def _float_dtype(*arrays):
    """The common float dtype of the arguments (float32 only if every array is float32)."""
    dtype = np.result_type(*arrays)
    if dtype not in (np.float32, np.float64):
        dtype = np.dtype(np.float64)
    return dtype


def _c(array, dtype):
    """``array`` as a C-contiguous array of ``dtype`` (no copy when it already is one)."""
    return np.ascontiguousarray(array, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# scalar helpers (inlined into the kernels)
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _sigmoid(x):
    """Stable logistic: exp(-|x|) <= 1 never overflows."""
    e = math.exp(-abs(x))
    if x >= 0:
        return 1.0 / (1.0 + e)
    return e / (1.0 + e)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _softplus(x):
    """Stable log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _act(p, code):
    """act(p) for the activation with int ``code`` (see ``jit.ACTIVATION_CODES``)."""
    if code == 1:
        return p if p > 0 else 0.0 * p
    if code == 2:
        return p if p > 0 else p * LEAKY_SLOPE
    if code == 3:
        return _sigmoid(p)
    if code == 4:
        return math.tanh(p)
    if code == 5:
        return _softplus(p)
    return p


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _act_grad(p, o, code):
    """act'(p) given the pre-activation p and o = act(p), as the NumPy backwards take it:
    relu and leaky_relu at the input, sigmoid o (1 - o), tanh 1 - o^2, softplus sigmoid(p)."""
    if code == 1:
        return 1.0 if p > 0 else 0.0
    if code == 2:
        return 1.0 if p > 0 else LEAKY_SLOPE
    if code == 3:
        return o * (1.0 - o)
    if code == 4:
        return 1.0 - o * o
    if code == 5:
        return _sigmoid(p)
    return 1.0


# ---------------------------------------------------------------------------------------------
# dense layer with its activation:  pre = x @ W + b,  out = act(pre)
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _bias_act_kernel(pre, b, out, code):
    """In place: pre += b (row-wise); out = act(pre). pre, out: (batch, n); b: (n,).
    ReLU, the common case, has its own branch-free loop."""
    batch, n = pre.shape
    for i in range(batch):
        p_row, o_row = pre[i], out[i]
        if code == 0:
            for j in range(n):
                p_row[j] += b[j]
        elif code == 1:
            for j in range(n):
                p = p_row[j] + b[j]
                p_row[j] = p
                o_row[j] = p if p > 0 else 0.0
        else:
            for j in range(n):
                p = p_row[j] + b[j]
                p_row[j] = p
                o_row[j] = _act(p, code)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _row_bias_act_kernel(pre, b, code, out):
    """In place: pre[c, k] += b[c]; out = act(pre) (not written for code 0: out is pre).
    pre, out: (C, M) matrices, one bias per ROW: a conv layer's (channels, pixels) matrix, or a
    dense layer's output stored batch-innermost, (n_out, batch). ReLU, the common case, has its
    own branch-free loop."""
    C, M = pre.shape
    for c in range(C):
        bc = b[c]
        p_row, o_row = pre[c], out[c]
        if code == 0:
            for k in range(M):
                p_row[k] += bc
        elif code == 1:
            for k in range(M):
                p = p_row[k] + bc
                p_row[k] = p
                o_row[k] = max(p, 0)
        else:
            for k in range(M):
                p = p_row[k] + bc
                p_row[k] = p
                o_row[k] = _act(p, code)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _row_act_grad_bias_kernel(dout, pre, out, code, dpre, db):
    """dpre = dout * act'(pre) and db[c] = the sum of row c of dpre (accumulated in float64).
    dout, pre, out, dpre: (C, M) matrices, one bias per ROW, as in :func:`_row_bias_act_kernel`.
    ReLU has its own branch-free loop."""
    C, M = pre.shape
    for c in range(C):
        acc = 0.0
        g_row, p_row, o_row, d_row = dout[c], pre[c], out[c], dpre[c]
        if code == 0:
            for k in range(M):
                g = g_row[k]
                d_row[k] = g
                acc += g
        elif code == 1:
            for k in range(M):
                g = g_row[k] if p_row[k] > 0 else 0
                d_row[k] = g
                acc += g
        else:
            for k in range(M):
                g = g_row[k] * _act_grad(p_row[k], o_row[k], code)
                d_row[k] = g
                acc += g
        db[c] = acc


def dense_act_forward(x, W, b, activation, *, check_finite=True, sparse_x=False,
                      batch_innermost=False):
    """Twin of :func:`scratchvae.functional.dense_act_forward`: ``out = act(x @ W + b)``,
    returning (out, the same ``DenseActCache``).

    The product is BLAS (or, with ``sparse_x``, :func:`sparse_x_matmul` on the nonzeros of x;
    ``sparse_x=None`` decides from x and BLAS's thread count, see :func:`_use_sparse`); bias and
    activation are one fused pass over ``pre``. For "identity", ``out`` is ``pre`` itself.
    ``batch_innermost``: out and pre are the transposes of (n_out, batch) arrays, the memory
    order of the conv layers, so a convolution after this layer reads them without a copy.
    """
    code = _activation_code(activation)
    x, W, b = F.check_dense_args(x, W, b, check_finite)
    dtype = _float_dtype(x, W, b)
    x, W = x.astype(dtype, copy=False), W.astype(dtype, copy=False)
    if sparse_x is None:
        sparse_x = _use_sparse(x)
    if batch_innermost:
        pre_t = _c(W.T @ x.T, dtype)  # (n_out, batch): pre.T
        out_t = pre_t if code == 0 else np.empty_like(pre_t)
        _row_bias_act_kernel(pre_t, _c(b, dtype), code, out_t)
        pre, out = pre_t.T, out_t.T
    else:
        # most of x is 0 (images): work on its nonzeros only; else BLAS (any layout)
        pre = sparse_x_matmul(x, W) if sparse_x else _c(x @ W, dtype)
        out = pre if code == 0 else np.empty_like(pre)
        _bias_act_kernel(pre, _c(b, dtype), out, code)
    cache = F.DenseActCache(F.DenseCache(x, W), _act_cache(activation, pre, out), activation,
                            bool(sparse_x))
    return out, cache


@njit(cache=True, nogil=True, error_model="numpy")
def _act_grad_bias_kernel(dout, pre, out, code, dpre, db):
    """dpre = dout * act'(pre) and db = sum over the batch of dpre, in one pass.

    dout, pre, out, dpre: (batch, n). db is accumulated in float64 (``acc``) and cast once at
    the end. Identity (dpre is dout, not written) and ReLU have their own branch-free loops.
    """
    batch, n = dout.shape
    acc = np.zeros(n, dtype=np.float64)
    for i in range(batch):
        if code == 0:
            for j in range(n):
                acc[j] += dout[i, j]
        elif code == 1:
            for j in range(n):
                g = dout[i, j] if pre[i, j] > 0 else 0.0
                dpre[i, j] = g
                acc[j] += g
        else:
            for j in range(n):
                g = dout[i, j] * _act_grad(pre[i, j], out[i, j], code)
                dpre[i, j] = g
                acc[j] += g
    for j in range(n):
        db[j] = acc[j]


def dense_act_backward(dout, cache, need_dx=True):
    """Twin of :func:`scratchvae.functional.dense_act_backward`: (dx or None, dW, db).

    dpre = dout * act'(pre) and db = sum_batch dpre in one fused pass; dW = x.T @ dpre and
    dx = dpre @ W.T by BLAS, dx in x's memory order. dx is skipped when ``need_dx`` is False
    (the first layer); there, if the forward took the zero-skipping path (``cache.sparse_x``),
    dW is :func:`sparse_x_weight_grad` on the nonzeros of x.
    """
    (x, W), act_cache, activation, sparse_x = cache
    code = _activation_code(activation)
    pre, out = _pre_and_out(act_cache)
    dtype = pre.dtype
    if _is_transposed(pre):  # dense_act_forward(..., batch_innermost=True): work on transposes
        pre_t, out_t, dout_t = pre.T, out.T, _c(np.asarray(dout).T, dtype)
        dpre_t = dout_t if code == 0 else np.empty_like(dout_t)
        db = np.empty(dout_t.shape[0], dtype=dtype)
        _row_act_grad_bias_kernel(dout_t, _c(pre_t, dtype), _c(out_t, dtype), code, dpre_t, db)
        dpre = dpre_t.T
    else:
        dout = _c(dout, dtype)
        db = np.empty(dout.shape[1], dtype=dtype)
        dpre = dout if code == 0 else np.empty_like(dout)  # identity: dpre is dout (not written)
        _act_grad_bias_kernel(dout, _c(pre, dtype), _c(out, dtype), code, dpre, db)
    dW = sparse_x_weight_grad(x, dpre) if sparse_x and not need_dx else x.T @ dpre
    dx = None
    if need_dx and _is_transposed(x):
        # x is a transposed view (a conv layer's batch-innermost output, flattened): give dx
        # the same memory order, so the conv layer's backward reads it without a copy
        dx = (W @ dpre.T).T
    elif need_dx:
        dx = dpre @ W.T
    return dx, dW, db


# ---------------------------------------------------------------------------------------------
# sparse inputs: a first layer that works on the nonzeros of x only
# ---------------------------------------------------------------------------------------------

SPARSE_MAX_DENSITY = 0.3
"""``dense_act_forward`` computes x @ W, and ``dense_act_backward`` of a first layer (no dx)
computes dW = x.T @ dpre, on the nonzeros of x when at most this fraction of x is nonzero
(MNIST-like images: about 0.19) and BLAS runs on at most ``SPARSE_MAX_BLAS_THREADS`` threads.
Above this density BLAS's dense product is faster (``benchmarks/bench_matmul.py`` times both at
densities 0.05-0.5)."""

SPARSE_MAX_BLAS_THREADS = ZERO_SKIPPING_MAX_BLAS_THREADS
"""The zero-skipping kernels run on one thread. Against one BLAS thread (the notebooks' setting)
they make a training epoch faster; against two BLAS threads on two cores, BLAS's dense product is
faster, and a parallel zero-skipping kernel fights BLAS's waiting threads for the cores
(``benchmarks/bench_vae.py`` has both rows; benchmarks/README.md the figures)."""

SPARSE_CHECK_ROWS = 16
"""How many rows of x :func:`_is_sparse` counts to estimate x's density (counting every row of
every layer's input, every step, would be a pass over all of x). Either path is exact: the
estimate only chooses the faster one."""


def _use_sparse(x):
    """The automatic choice of ``sparse_x=None``: whether x @ W (and x.T @ dpre) should skip
    the zeros of x: x is sparse and the running fit's speed policy says so
    (:mod:`scratchvae.speed`); outside a fit, BLAS runs on at most SPARSE_MAX_BLAS_THREADS
    threads."""
    chosen = zero_skipping_chosen()
    if chosen is None:
        chosen = default_zero_skipping(blas_threads())
    return chosen and _is_sparse(x)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _sparse_rows_times_dense_kernel(a, B, out):
    """out = a @ B, skipping the zeros of a: out[i] = sum over k with a[i, k] != 0 of
    a[i, k] * B[k].

    For each row of ``a``, two steps:

    1. compress: the positions and values of its nonzeros into two small buffers (branch-free:
       every value is written, and the count only advances past a nonzero);
    2. accumulate eight nonzeros at a time: each pass over out[i] (in cache) adds eight rows
       of B, so out[i] is loaded and stored once per eight multiply-adds instead of once per
       one.
    """
    n_rows, n_inner = a.shape
    n_out = B.shape[1]
    cols = np.empty(n_inner, dtype=np.int32)
    vals = np.empty(n_inner, dtype=a.dtype)
    for i in range(n_rows):
        a_row = a[i]
        count = 0
        for k in range(n_inner):  # 1. compress row i
            v = a_row[k]
            cols[count] = k
            vals[count] = v
            count += v != 0
        row = out[i]  # 2. accumulate
        for j in range(n_out):
            row[j] = 0.0
        c = 0
        while c + 8 <= count:
            v0, v1, v2, v3 = vals[c], vals[c + 1], vals[c + 2], vals[c + 3]
            v4, v5, v6, v7 = vals[c + 4], vals[c + 5], vals[c + 6], vals[c + 7]
            b0, b1, b2, b3 = B[cols[c]], B[cols[c + 1]], B[cols[c + 2]], B[cols[c + 3]]
            b4, b5, b6, b7 = B[cols[c + 4]], B[cols[c + 5]], B[cols[c + 6]], B[cols[c + 7]]
            for j in range(n_out):
                row[j] += ((v0 * b0[j] + v1 * b1[j] + v2 * b2[j] + v3 * b3[j])
                           + (v4 * b4[j] + v5 * b5[j] + v6 * b6[j] + v7 * b7[j]))
            c += 8
        while c < count:  # the 0-7 nonzeros left over
            v, b_row = vals[c], B[cols[c]]
            for j in range(n_out):
                row[j] += v * b_row[j]
            c += 1


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _sparse_row_pairs_times_dense_kernel(a, B, out):
    """out = a @ B like :func:`_sparse_rows_times_dense_kernel`, two rows of ``a`` at a time.

    For rows i and i + 1: compress the columns k where either is nonzero (the union), with
    both rows' values there (one of them may be 0), then add four rows of B per pass to BOTH
    result rows: each B[k][j] loaded feeds two multiply-adds. It pays when neighbouring rows
    are nonzero in mostly the same places: the rows of x.T (one pixel over the batch; two
    adjacent pixels are nonzero in about 30 images of an MNIST batch of 128 where one alone is
    in 25). Two images' pixels overlap less (a union of 238 where one has 155), so x @ W
    keeps the one-row kernel. An odd last row goes to the one-row kernel.
    """
    n_rows, n_inner = a.shape
    n_out = B.shape[1]
    cols = np.empty(n_inner, dtype=np.int32)
    vals_first = np.empty(n_inner, dtype=a.dtype)
    vals_second = np.empty(n_inner, dtype=a.dtype)
    for i in range(0, n_rows - 1, 2):  # rows i and i + 1
        first, second = a[i], a[i + 1]
        count = 0
        for k in range(n_inner):  # 1. compress the union of the two rows' nonzeros
            u, w = first[k], second[k]
            cols[count] = k
            vals_first[count] = u
            vals_second[count] = w
            count += (u != 0) | (w != 0)
        row0, row1 = out[i], out[i + 1]  # 2. accumulate into both rows
        for j in range(n_out):
            row0[j] = 0.0
            row1[j] = 0.0
        c = 0
        while c + 4 <= count:
            u0, u1, u2, u3 = vals_first[c], vals_first[c + 1], vals_first[c + 2], vals_first[c + 3]
            w0, w1, w2, w3 = (vals_second[c], vals_second[c + 1], vals_second[c + 2],
                              vals_second[c + 3])
            b0, b1, b2, b3 = B[cols[c]], B[cols[c + 1]], B[cols[c + 2]], B[cols[c + 3]]
            for j in range(n_out):
                p0, p1, p2, p3 = b0[j], b1[j], b2[j], b3[j]
                row0[j] += (u0 * p0 + u1 * p1) + (u2 * p2 + u3 * p3)
                row1[j] += (w0 * p0 + w1 * p1) + (w2 * p2 + w3 * p3)
            c += 4
        while c < count:  # the 0-3 union entries left over
            u, w, b_row = vals_first[c], vals_second[c], B[cols[c]]
            for j in range(n_out):
                row0[j] += u * b_row[j]
                row1[j] += w * b_row[j]
            c += 1
    if n_rows % 2:
        _sparse_rows_times_dense_kernel(a[n_rows - 1:], B, out[n_rows - 1:])


def _sparse_rows_times_dense(a, B, kernel=_sparse_rows_times_dense_kernel):
    """``a @ B`` over the nonzeros of a (both 2-D, same float dtype), by ``kernel`` (one of
    the two above)."""
    out = np.empty((a.shape[0], B.shape[1]), dtype=B.dtype)
    kernel(a, B, out)
    return out


def sparse_x_matmul(x, W):
    """``x @ W`` over the nonzeros of x only (exact: the skipped terms are 0 * W[k]).

    x: (batch, n_in), W: (n_in, n_out) -> (batch, n_out). Each nonzero x[i, k] adds
    x[i, k] * W[k] to row i: for MNIST (about 19% nonzero) a fifth of the dense work.
    """
    dtype = _float_dtype(x, W)
    x, W = _c(x, dtype), _c(W, dtype)
    _check_matmul_shapes(x, W)
    return _sparse_rows_times_dense(x, W)


def sparse_x_weight_grad(x, dpre):
    """``x.T @ dpre`` over the nonzeros of x only: the weight gradient of a layer fed x.

    x: (batch, n_in), dpre: (batch, n_out) -> dW: (n_in, n_out). Row k of dW adds
    x[i, k] * dpre[i] over the examples i where pixel k is nonzero: the rows of x.T (one
    contiguous copy), two at a time (:func:`_sparse_row_pairs_times_dense_kernel`:
    neighbouring pixels are nonzero in mostly the same images, so each row of dpre loaded
    serves both).
    """
    dtype = _float_dtype(x, dpre)
    x, dpre = np.asarray(x, dtype=dtype), _c(dpre, dtype)
    if x.ndim != 2 or dpre.ndim != 2 or x.shape[0] != dpre.shape[0]:
        raise ValueError(f"x (batch, n_in) and dpre (batch, n_out) must share the batch; got "
                         f"x {x.shape} and dpre {dpre.shape}")
    return _sparse_rows_times_dense(_c(x.T, dtype), dpre, _sparse_row_pairs_times_dense_kernel)


def _is_transposed(a):
    """Whether the 2-D array a is the transpose of a C-contiguous array (and is not one itself)."""
    return a.flags.f_contiguous and not a.flags.c_contiguous and a.dtype.kind == "f"


def _check_matmul_shapes(x, W):
    if x.ndim != 2 or W.ndim != 2 or x.shape[1] != W.shape[0]:
        raise ValueError(f"x must be (batch, n_in) and W (n_in, n_out); got x {x.shape} and "
                         f"W {W.shape}")


def _is_sparse(x):
    """Whether at most SPARSE_MAX_DENSITY of x is nonzero, judged on its first
    SPARSE_CHECK_ROWS rows."""
    head = x[:SPARSE_CHECK_ROWS]
    return np.count_nonzero(head) <= SPARSE_MAX_DENSITY * head.size


# ---------------------------------------------------------------------------------------------
# reparameterization + KL
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _reparam_kl_forward_kernel(mu, logvar, eps, z, std, kl):
    """std = exp(logvar/2); z = mu + std*eps; kl = 1/2 sum_j (exp(logvar) + mu^2 - 1 - logvar)."""
    batch, n = mu.shape
    for i in range(batch):
        acc = 0.0
        for j in range(n):
            lv = logvar[i, j]
            m = mu[i, j]
            s = math.exp(0.5 * lv)
            std[i, j] = s
            z[i, j] = m + s * eps[i, j]
            acc += s * s + m * m - 1.0 - lv
        kl[i] = 0.5 * acc


def reparam_kl_forward(mu, logvar, eps, *, check_finite=True):
    """Twin of :func:`scratchvae.reparam.reparam_kl_forward`: ``std = exp(logvar / 2)``,
    ``z = mu + std * eps`` and the KL per example, in one pass.

    mu, logvar, eps: (batch, n_latent). Returns (z, std, kl) with kl: (batch,).
    """
    dtype = _float_dtype(mu, logvar, eps)
    mu, logvar, eps = _c(mu, dtype), _c(logvar, dtype), _c(eps, dtype)
    check_same_shape(mu=mu, logvar=logvar, eps=eps)
    if check_finite:
        _check_finite(mu=mu, logvar=logvar, eps=eps)
    z = np.empty_like(mu)
    std = np.empty_like(mu)
    kl = np.empty(mu.shape[0], dtype=dtype)
    _reparam_kl_forward_kernel(mu, logvar, eps, z, std, kl)
    return z, std, kl


@njit(cache=True, nogil=True, error_model="numpy")
def _reparam_kl_backward_kernel(dz, mu, logvar, eps, std, kl_weight, dmu, dlogvar):
    """dmu = dz + w mu;  dlogvar = dz eps std / 2 + w (exp(logvar) - 1) / 2."""
    batch, n = mu.shape
    for i in range(batch):
        for j in range(n):
            g = dz[i, j]
            # mu and logvar each feed z and the KL: the two contributions add here
            dmu[i, j] = g + kl_weight * mu[i, j]
            dlogvar[i, j] = g * eps[i, j] * std[i, j] * 0.5 + kl_weight * (
                0.5 * (math.exp(logvar[i, j]) - 1.0)
            )


def reparam_kl_backward(dz, mu, logvar, eps, std, kl_weight):
    """Twin of :func:`scratchvae.reparam.reparam_kl_backward`: the gradients into mu and logvar
    from both z and ``kl_weight`` * KL, in one pass. ``kl_weight``: a number here (the NumPy op
    also takes an array). Returns (dmu, dlogvar)."""
    if np.ndim(kl_weight) != 0:
        raise ValueError(f"kl_weight must be a number for the Numba kernel, got shape "
                         f"{np.shape(kl_weight)}")
    dtype = _float_dtype(dz, mu, logvar, eps, std)
    dz, mu, logvar = _c(dz, dtype), _c(mu, dtype), _c(logvar, dtype)
    eps, std = _c(eps, dtype), _c(std, dtype)
    check_same_shape(dz=dz, mu=mu, logvar=logvar, eps=eps, std=std)
    dmu = np.empty_like(mu)
    dlogvar = np.empty_like(mu)
    _reparam_kl_backward_kernel(dz, mu, logvar, eps, std, float(kl_weight), dmu, dlogvar)
    return dmu, dlogvar


# ---------------------------------------------------------------------------------------------
# likelihood terms with their gradients
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _bernoulli_kernel(logits, x, e_neg_abs, scale, nll, dlogits):
    """nll_i = sum_j softplus(l) - x l;  dlogits = scale (sigmoid(l) - x).

    With e = exp(-|l|) in (0, 1] (``e_neg_abs``, computed by NumPy's SIMD exp beforehand:
    without Intel's SVML, a call to exp inside a Numba loop is not vectorised):
        softplus(l) = max(l, 0) + log1p(e),    sigmoid(l) = 1/(1+e) if l >= 0 else e/(1+e).
    A logarithm costs more than everything else here, so the log1p terms of a row are summed
    with ONE log:  sum_j log1p(e_j) = log(prod_j (1 + e_j)),  accumulated in float64 over
    segments of 512 pixels (each factor is in [1, 2], so a segment's product stays below 2^512).
    ``fastmath`` allows reordering the sums and the product so LLVM can vectorise them (the
    only change is the rounding order; each 1 + e_j rounds in float64, an absolute error of at
    most 1e-16 per pixel).
    """
    batch, n = logits.shape
    for i in range(batch):
        lin = 0.0  # sum_j max(l, 0) - x l
        logs = 0.0
        for j0 in range(0, n, 512):
            j1 = min(n, j0 + 512)
            # 1-D slices indexed from 0: Numba then knows no index is negative (vectorisable)
            l_row, x_row = logits[i, j0:j1], x[i, j0:j1]
            e_row, d_row = e_neg_abs[i, j0:j1], dlogits[i, j0:j1]
            prod = 1.0
            for j in range(l_row.shape[0]):
                lg = l_row[j]
                xv = x_row[j]
                e = e_row[j]
                r = 1.0 / (1.0 + e)
                sig = r if lg >= 0 else e * r
                lin += max(lg, 0.0) - xv * lg
                prod *= 1.0 + e
                d_row[j] = scale * (sig - xv)
            logs += math.log(prod)
        nll[i] = lin + logs


def bernoulli_nll_and_grad(logits, x, scale, *, check_finite=True):
    """Twin of :func:`scratchvae.losses.bernoulli_nll_and_grad`: the per-example Bernoulli NLL
    (batch,) and ``scale * (sigmoid(logits) - x)``, in one pass.

    Stable for any finite logits (|logits| up to 1e4 and beyond): no overflow, finite results.
    """
    dtype = _float_dtype(logits, x)
    logits, x = _c(logits, dtype), _c(x, dtype)
    check_same_shape(logits=logits, x=x)
    if check_finite:
        _check_finite(logits=logits)
        check_array("x", x, low=0.0, high=1.0)
    logits2, x2 = logits.reshape(-1, logits.shape[-1]), x.reshape(-1, x.shape[-1])
    nll = np.empty(logits2.shape[0], dtype=dtype)
    dlogits = np.empty_like(logits2)
    e_neg_abs = np.abs(logits2)  # exp(-|logits|) in three fast SIMD passes, one buffer
    np.negative(e_neg_abs, out=e_neg_abs)
    with np.errstate(under="ignore"):  # exp(-1e4) = 0 is the right answer, not a problem
        np.exp(e_neg_abs, out=e_neg_abs)
    _bernoulli_kernel(logits2, x2, e_neg_abs, float(scale), nll, dlogits)
    return nll.reshape(logits.shape[:-1]), dlogits.reshape(logits.shape)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _squared_error_over_variance(diff, lv, inv):
    """diff^2 / exp(lv) with inv = exp(-lv), exact wherever the result is finite (as
    ``losses.squared_error_over_variance``): 0 where diff == 0; where diff^2 inv overflows or
    underflows to 0 (|lv| beyond the dtype's exp range), (diff exp(-lv / 2))^2 instead."""
    if diff == 0:
        return 0.0
    d2 = diff * diff * inv
    if d2 == 0 or not math.isfinite(d2):
        s = diff * math.exp(-0.5 * lv)
        d2 = s * s
    return d2


@njit(cache=True, nogil=True, error_model="numpy")
def _gaussian_kernel(x, mean, logvar, scale, nll, dmean, dlogvar):
    """Per pixel: inv = exp(-logvar); diff = x - mean; d2 = diff^2 inv;
    nll += (log 2pi + logvar + d2)/2;  dmean = -scale diff inv (0 where diff == 0);
    dlogvar = scale (1 - d2) / 2."""
    batch, n = x.shape
    for i in range(batch):
        acc = 0.0
        for j in range(n):
            lv = logvar[i, j]
            inv = math.exp(-lv)
            diff = x[i, j] - mean[i, j]
            d2 = _squared_error_over_variance(diff, lv, inv)
            acc += LOG_2PI + lv + d2
            dmean[i, j] = 0.0 if diff == 0 else -scale * (diff * inv)
            dlogvar[i, j] = scale * (0.5 * (1.0 - d2))
        nll[i] = 0.5 * acc


def gaussian_nll_and_grad(x, mean, logvar, scale, *, check_finite=True):
    """Twin of :func:`scratchvae.losses.gaussian_nll_and_grad`: the per-example Gaussian NLL
    (batch,) and ``scale`` times its gradients in mean and logvar, in one pass.

    x, mean: (batch, d); logvar: (batch, d) or anything broadcasting to it (the gradient is
    summed back to logvar's shape, as in the NumPy op). Finite wherever the NumPy op is, for
    any logvar (e.g. -1000 in float64, -100 in float32).
    """
    dtype = _float_dtype(x, mean, logvar)
    x, mean = _c(x, dtype), _c(mean, dtype)
    check_same_shape(x=x, mean=mean)
    if check_finite:
        _check_finite(x=x, mean=mean, logvar=logvar)
    logvar_shape = np.shape(logvar)
    full_logvar = _c(np.broadcast_to(np.asarray(logvar, dtype=dtype), x.shape), dtype)
    d = x.shape[-1]
    x2, mean2, lv2 = x.reshape(-1, d), mean.reshape(-1, d), full_logvar.reshape(-1, d)
    nll = np.empty(x2.shape[0], dtype=dtype)
    dmean = np.empty_like(x2)
    dlogvar = np.empty_like(x2)
    _gaussian_kernel(x2, mean2, lv2, float(scale), nll, dmean, dlogvar)
    dlogvar = sum_to_shape(dlogvar.reshape(x.shape), logvar_shape)
    return nll.reshape(x.shape[:-1]), dmean.reshape(x.shape), dlogvar


# ---------------------------------------------------------------------------------------------
# optimizer update
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, error_model="numpy")
def _adam_kernel(param, grad, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, step_size,
                 inv_sqrt_c2, eps):
    """One pass over flat param, grad, m, v. The scalars arrive in the arrays' dtype, so a
    float32 update is float32 arithmetic (8 SIMD lanes), as in the reference."""
    for i in range(param.size):
        g = grad[i]
        mi = beta1 * m[i] + one_minus_beta1 * g
        vi = beta2 * v[i] + one_minus_beta2 * (g * g)
        m[i] = mi
        v[i] = vi
        param[i] -= step_size * mi / (math.sqrt(vi) * inv_sqrt_c2 + eps)


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step):
    """One Adam step in place on param, m and v, fused into one pass (no temporaries).

        m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
        param -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
    """
    arrays = {"param": param, "m": m, "v": v}
    flat, copied = {}, []
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray):
            raise ValueError(f"{name} must be a numpy array updated in place, got {type(array)}")
        if array.flags.c_contiguous and array.dtype == param.dtype:
            flat[name] = array.reshape(-1)  # a view: the kernel writes straight into it
        else:
            flat[name] = _c(array, param.dtype).reshape(-1)
            copied.append(name)
    g = _c(grad, param.dtype).reshape(-1)
    if g.size != flat["param"].size:
        raise ValueError(f"grad has shape {np.shape(grad)}, expected {param.shape}")
    # the bias corrections folded into two scalars, as torch.optim.Adam does:
    #   lr * (m / c1) / (sqrt(v / c2) + eps) = (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps)
    c1 = 1.0 - beta1**step
    c2 = 1.0 - beta2**step
    t = param.dtype.type
    _adam_kernel(flat["param"], g, flat["m"], flat["v"], t(beta1), t(1.0 - beta1), t(beta2),
                 t(1.0 - beta2), t(lr / c1), t(1.0 / math.sqrt(c2)), t(eps))
    for name in copied:  # non-contiguous inputs were updated in a copy: write it back
        arrays[name][...] = flat[name].reshape(arrays[name].shape)


@njit(cache=True, nogil=True, error_model="numpy")
def _scaled_sum_kernel(target, source, target_scale, source_scale):
    for i in range(target.size):
        target[i] = target_scale * target[i] + source_scale * source[i]


def scaled_sum_into(target, source, target_scale, source_scale):
    """In place: ``target = target_scale * target + source_scale * source``, one pass (no
    temporary). target: a C-contiguous float array; source: the same shape."""
    if not (isinstance(target, np.ndarray) and target.flags.c_contiguous
            and target.dtype in (np.float32, np.float64)):
        raise ValueError("target must be a C-contiguous float32 or float64 array updated in place")
    check_same_shape(target=target, source=source)
    t = target.dtype.type
    _scaled_sum_kernel(target.reshape(-1), _c(source, target.dtype).reshape(-1),
                       t(target_scale), t(source_scale))


# ---------------------------------------------------------------------------------------------
# the teaching matmul
# ---------------------------------------------------------------------------------------------

ROW_BLOCK = 16
COL_BLOCK = 512
K_BLOCK = 128


@njit(cache=True, nogil=True, parallel=True, fastmath={"contract"}, error_model="numpy")
def _matmul_kernel(a, b, c):
    """Blocked c = a @ b, parallel over blocks of ROW_BLOCK rows.

    For each (row block, column block) the result is accumulated in a local ``tile``
    (ROW_BLOCK x COL_BLOCK, 32 KiB in float32: it stays in the L1/L2 cache), sweeping k in
    blocks of K_BLOCK so the rows of b it reads stay in cache. The innermost loop runs along a
    contiguous row (j), which LLVM turns into SIMD fused multiply-adds.

    The speed comes from reusing every value loaded from memory several times. The inner loop
    updates four rows of the tile from four rows of b at once (a 4 x 4 block of a): per column j
    it loads 4 numbers of b and 4 of the tile, does 16 multiply-adds, and stores 4. A plain
    one-row, one-k loop would load 2 numbers and store 1 per multiply-add, and memory, not
    arithmetic, would set its speed. Rows left over (fewer than 4) take the plain loop.

    Rows are taken as 1-D slices (``tile[ii]``, ``b[k, j0:j1]``) indexed from 0: that lets Numba
    see the index is never negative, which vectorisation needs.
    """
    n, kk = a.shape
    m = b.shape[1]
    n_row_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for rb in prange(n_row_blocks):
        i0 = rb * ROW_BLOCK
        i1 = min(n, i0 + ROW_BLOCK)
        for j0 in range(0, m, COL_BLOCK):
            j1 = min(m, j0 + COL_BLOCK)
            tile = np.zeros((i1 - i0, j1 - j0), dtype=c.dtype)
            for k0 in range(0, kk, K_BLOCK):
                k1 = min(kk, k0 + K_BLOCK)
                ii = 0
                while ii + 4 <= i1 - i0:  # four tile rows at a time
                    t0, t1, t2, t3 = tile[ii], tile[ii + 1], tile[ii + 2], tile[ii + 3]
                    a0, a1, a2, a3 = a[i0 + ii], a[i0 + ii + 1], a[i0 + ii + 2], a[i0 + ii + 3]
                    k = k0
                    while k + 4 <= k1:  # ... times four rows of b
                        b0, b1 = b[k, j0:j1], b[k + 1, j0:j1]
                        b2, b3 = b[k + 2, j0:j1], b[k + 3, j0:j1]
                        a00, a01, a02, a03 = a0[k], a0[k + 1], a0[k + 2], a0[k + 3]
                        a10, a11, a12, a13 = a1[k], a1[k + 1], a1[k + 2], a1[k + 3]
                        a20, a21, a22, a23 = a2[k], a2[k + 1], a2[k + 2], a2[k + 3]
                        a30, a31, a32, a33 = a3[k], a3[k + 1], a3[k + 2], a3[k + 3]
                        for j in range(t0.shape[0]):
                            v0, v1, v2, v3 = b0[j], b1[j], b2[j], b3[j]
                            t0[j] += a00 * v0 + a01 * v1 + a02 * v2 + a03 * v3
                            t1[j] += a10 * v0 + a11 * v1 + a12 * v2 + a13 * v3
                            t2[j] += a20 * v0 + a21 * v1 + a22 * v2 + a23 * v3
                            t3[j] += a30 * v0 + a31 * v1 + a32 * v2 + a33 * v3
                        k += 4
                    while k < k1:  # the 0-3 rows of b left over
                        bk = b[k, j0:j1]
                        a0k, a1k, a2k, a3k = a0[k], a1[k], a2[k], a3[k]
                        for j in range(t0.shape[0]):
                            t0[j] += a0k * bk[j]
                            t1[j] += a1k * bk[j]
                            t2[j] += a2k * bk[j]
                            t3[j] += a3k * bk[j]
                        k += 1
                    ii += 4
                while ii < i1 - i0:  # the 0-3 tile rows left over: one row, one k at a time
                    row, a_row = tile[ii], a[i0 + ii]
                    for k in range(k0, k1):
                        aik, bk = a_row[k], b[k, j0:j1]
                        for j in range(row.shape[0]):
                            row[j] += aik * bk[j]
                    ii += 1
            c[i0:i1, j0:j1] = tile


def matmul(a, b):
    """``c[i, j] = sum_k a[i, k] * b[k, j]``; a: (n, k), b: (k, m) -> (n, m).

    A hand-written blocked kernel, for teaching (see the benchmark for its speed next to BLAS).
    """
    dtype = _float_dtype(a, b)
    a, b = _c(a, dtype), _c(b, dtype)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs a (n, k) and b (k, m), got a {a.shape} and b {b.shape}")
    c = np.empty((a.shape[0], b.shape[1]), dtype=dtype)
    _matmul_kernel(a, b, c)
    return c



OPS = {
    "dense_act_forward": dense_act_forward,
    "dense_act_backward": dense_act_backward,
    "reparam_kl_forward": reparam_kl_forward,
    "reparam_kl_backward": reparam_kl_backward,
    "bernoulli_nll_and_grad": bernoulli_nll_and_grad,
    "gaussian_nll_and_grad": gaussian_nll_and_grad,
}
"""op name -> its Numba twin (the conv twins are in :data:`scratchvae.kernels.conv_jit.OPS`)."""

KERNELS = {
    "sparse_x_matmul": sparse_x_matmul,
    "sparse_x_weight_grad": sparse_x_weight_grad,
    "adam_update": adam_update,
    "scaled_sum_into": scaled_sum_into,
    "matmul": matmul,
}
"""kernel name -> a Numba kernel with no op of its own; each replaces the NumPy expression of
the same name in :data:`scratchvae.kernels.reference.EXPRESSIONS`."""
