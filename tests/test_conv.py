"""conv2d / conv_transpose2d: values against direct loops, gradients against finite differences,
the transpose identity, output sizes, and the Numba kernels against their NumPy twins."""

import itertools

import numpy as np
import pytest

from scratchvae import conv
from scratchvae import functional as F
from scratchvae.gradcheck import check_op, numerical_grad, rel_error
from scratchvae.kernels import conv_jit, conv_reference, get_conv_backend

BACKENDS = ("numpy", "numba")


def conv2d_op(backend):
    """conv2d forward/backward of ``backend``'s op table: the conv op with the identity
    activation (on "numpy" that is scratchvae.conv's own conv2d_forward, composed)."""
    ops = get_conv_backend(backend)

    def forward(x, W, b, stride, padding):
        return ops.conv2d_act_forward(x, W, b, stride, padding, "identity")

    return forward, ops.conv2d_act_backward


def conv_transpose2d_op(backend):
    ops = get_conv_backend(backend)

    def forward(x, W, b, stride, padding, output_padding=0):
        return ops.conv_transpose2d_act_forward(x, W, b, stride, padding, output_padding,
                                                "identity")

    return forward, ops.conv_transpose2d_act_backward


# ---------------------------------------------------------------------------------------------
# independent oracles: the definitions written as plain loops
# ---------------------------------------------------------------------------------------------


def direct_conv2d(x, W, b, stride, padding):
    """out[n, o, oh, ow] = b[o] + sum W[o] * (the patch of padded x under the kernel)."""
    N, C, H, Wd = x.shape
    C_out, _, kh, kw = W.shape
    xp = np.zeros((N, C, H + 2 * padding, Wd + 2 * padding), dtype=x.dtype)
    xp[:, :, padding: padding + H, padding: padding + Wd] = x
    H_out = (H + 2 * padding - kh) // stride + 1
    W_out = (Wd + 2 * padding - kw) // stride + 1
    out = np.zeros((N, C_out, H_out, W_out), dtype=x.dtype)
    for n, o, oh, ow in itertools.product(range(N), range(C_out), range(H_out), range(W_out)):
        patch = xp[n, :, oh * stride: oh * stride + kh, ow * stride: ow * stride + kw]
        out[n, o, oh, ow] = b[o] + np.sum(W[o] * patch)
    return out


def direct_conv_transpose2d(x, W, b, stride, padding, output_padding=(0, 0)):
    """Every input pixel stamps x[n, c, h, w] * W[c] at (h * stride, w * stride); crop padding."""
    N, C, H, Wd = x.shape
    _, C_out, kh, kw = W.shape
    H_out = (H - 1) * stride - 2 * padding + kh + output_padding[0]
    W_out = (Wd - 1) * stride - 2 * padding + kw + output_padding[1]
    full = np.zeros((N, C_out, H_out + 2 * padding, W_out + 2 * padding), dtype=x.dtype)
    for n, c, h, w in itertools.product(range(N), range(C), range(H), range(Wd)):
        full[n, :, h * stride: h * stride + kh, w * stride: w * stride + kw] += x[n, c, h, w] * W[c]
    return full[:, :, padding: padding + H_out, padding: padding + W_out] + b.reshape(1, -1, 1, 1)


CONFIGS = [  # (N, C_in, C_out, H, W, k, stride, padding)
    (2, 1, 1, 5, 5, 3, 1, 0),
    (2, 1, 2, 5, 4, 3, 1, 1),
    (1, 2, 3, 7, 5, 3, 2, 0),
    (2, 3, 2, 7, 6, 2, 2, 1),
    (1, 2, 1, 6, 7, 4, 2, 1),
    (2, 3, 4, 5, 3, 1, 1, 0),
    (1, 1, 2, 9, 8, 3, 3, 2),
]


def _arrays(cfg, transpose, seed=0, dtype=np.float64):
    N, C_in, C_out, H, W, k, _, _ = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C_in, H, W)).astype(dtype)
    shape = (C_in, C_out, k, k) if transpose else (C_out, C_in, k, k)
    return x, rng.standard_normal(shape).astype(dtype), rng.standard_normal(C_out).astype(dtype)


# ---------------------------------------------------------------------------------------------
# the worked example
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv_transpose2d_seed_example_is_exact(backend):
    # float64 inputs (the dtype rule): small integers are exact, so the result is too
    x = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
    W = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
    forward, _ = conv_transpose2d_op(backend)
    out, _ = forward(x, W, np.zeros(1), 1, 0)
    expected = np.array([[0, 0, 1], [0, 4, 6], [4, 12, 9]])
    assert out.dtype == np.float64
    assert np.array_equal(out[0, 0], expected)
    # the same as the sum of the four kernels, each scaled by its input pixel and shifted to it
    stamps = np.zeros((3, 3))
    for h, w in itertools.product(range(2), range(2)):
        stamps[h: h + 2, w: w + 2] += x[0, 0, h, w] * W[0, 0]
    assert np.array_equal(stamps, expected)


# ---------------------------------------------------------------------------------------------
# values against the direct loops
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cfg", CONFIGS)
def test_conv2d_forward_matches_direct_loops(cfg, backend):
    x, W, b = _arrays(cfg, transpose=False)
    stride, padding = cfg[6], cfg[7]
    forward, _ = conv2d_op(backend)
    out, _ = forward(x, W, b, stride, padding)
    assert out.transpose(1, 2, 3, 0).flags.c_contiguous  # batch-innermost memory, both backends
    assert rel_error(out, direct_conv2d(x, W, b, stride, padding)) < 1e-13


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cfg", CONFIGS)
def test_conv_transpose2d_forward_matches_direct_loops(cfg, backend):
    x, W, b = _arrays(cfg, transpose=True)
    stride, padding = cfg[6], cfg[7]
    for output_padding in {(0, 0), (stride - 1, 0), (0, stride - 1)}:
        try:
            expected = direct_conv_transpose2d(x, W, b, stride, padding, output_padding)
        except ValueError:
            continue
        if min(expected.shape) == 0:
            continue
        out, _ = conv_transpose2d_op(backend)[0](x, W, b, stride, padding, output_padding)
        assert out.shape == expected.shape
        assert rel_error(out, expected) < 1e-13


def test_conv_ops_under_their_old_functional_names_still_work_and_warn():
    for name in ("conv2d_forward", "conv_transpose2d_backward", "im2col", "col2im"):
        with pytest.warns(DeprecationWarning, match=f"use scratchvae.conv.{name}"):
            assert getattr(F, name) is getattr(conv, name)
    with pytest.raises(AttributeError):
        F.conv3d_forward  # noqa: B018  (only the listed old names are served)


# ---------------------------------------------------------------------------------------------
# gradients against finite differences (float64, random upstream gradient, < 1e-7)
# ---------------------------------------------------------------------------------------------

GRAD_CONFIGS = [  # (N, C_in, C_out, H, W, k, stride, padding): strides 1-2, paddings 0-1
    (2, 1, 2, 5, 4, 3, 1, 0),
    (2, 2, 1, 5, 5, 3, 1, 1),
    (1, 3, 2, 7, 5, 3, 2, 0),
    (2, 2, 3, 6, 7, 4, 2, 1),
    (1, 2, 2, 5, 6, 2, 2, 1),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cfg", GRAD_CONFIGS)
def test_conv2d_gradients_match_finite_differences(cfg, backend):
    x, W, b = _arrays(cfg, transpose=False, seed=1)
    stride, padding = cfg[6], cfg[7]
    forward, backward = conv2d_op(backend)
    report = check_op(lambda x, W, b: forward(x, W, b, stride, padding), backward, [x, W, b],
                      rng=2, names=["x", "W", "b"])
    assert report.max_rel_error < 1e-7


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cfg", GRAD_CONFIGS)
def test_conv_transpose2d_gradients_match_finite_differences(cfg, backend):
    x, W, b = _arrays(cfg, transpose=True, seed=3)
    stride, padding = cfg[6], cfg[7]
    output_padding = (stride - 1, 0)
    forward, backward = conv_transpose2d_op(backend)
    report = check_op(lambda x, W, b: forward(x, W, b, stride, padding, output_padding),
                      backward, [x, W, b], rng=4, names=["x", "W", "b"])
    assert report.max_rel_error < 1e-7


def test_conv_backward_twice_gives_the_same_gradients():
    x, W, b = _arrays(GRAD_CONFIGS[3], transpose=False)
    out, cache = conv.conv2d_forward(x, W, b, 2, 1)
    dout = np.random.default_rng(0).standard_normal(out.shape)
    first = conv.conv2d_backward(dout, cache)
    second = conv.conv2d_backward(dout, cache)
    assert all(np.array_equal(a, c) for a, c in zip(first, second))


# ---------------------------------------------------------------------------------------------
# conv_transpose2d is the gradient of conv2d with respect to its input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", GRAD_CONFIGS)
def test_conv_transpose2d_is_input_gradient_of_conv2d(cfg):
    x, W, b = _arrays(cfg, transpose=False, seed=5)
    stride, padding = cfg[6], cfg[7]
    out, _ = conv.conv2d_forward(x, W, b, stride, padding)
    y = np.random.default_rng(6).standard_normal(out.shape)
    # d/dx <conv2d(x, W), y>, by finite differences
    numeric = numerical_grad(lambda x: np.sum(conv.conv2d_forward(x, W, b, stride, padding)[0] * y),
                             x)
    # the same kernel array W (C_out, C_in, k, k) read as a transposed conv (C_in', C_out') with
    # C_in' = C_out: it maps y back to x's shape; output_padding restores rows conv2d ignored
    op = tuple((s + 2 * padding - W.shape[2]) % stride for s in x.shape[2:])
    xt, _ = conv.conv_transpose2d_forward(y, W, np.zeros(W.shape[1]), stride, padding, op)
    assert xt.shape == x.shape
    assert rel_error(xt, numeric) < 1e-7
    # and the same adjoint identity without finite differences: <A x, y> = <x, A^T y>
    Ax, _ = conv.conv2d_forward(x, W, np.zeros(W.shape[0]), stride, padding)
    assert abs(np.sum(Ax * y) - np.sum(x * xt)) < 1e-10 * np.abs(Ax * y).sum()


# ---------------------------------------------------------------------------------------------
# output sizes
# ---------------------------------------------------------------------------------------------


def test_output_size_formulas_match_shapes_for_many_configurations():
    b = np.zeros(1)
    n_checked = 0
    for size, k, s, p in itertools.product(range(1, 10), range(1, 5), range(1, 4), range(3)):
        # independent count: kernel positions t*s with t*s + k <= size + 2p
        positions = sum(1 for t in range(size + 2 * p) if t * s + k <= size + 2 * p)
        if positions == 0:
            with pytest.raises(ValueError, match="kernel"):
                conv.conv2d_output_size(size, k, s, p)
            continue
        assert conv.conv2d_output_size(size, k, s, p) == positions
        x = np.zeros((1, 1, size, size + 1))
        out, _ = conv.conv2d_forward(x, np.zeros((1, 1, k, k)), b, s, p)
        assert out.shape[2:] == (positions, conv.conv2d_output_size(size + 1, k, s, p))
        for op in range(s):
            expected = (size - 1) * s - 2 * p + k + op
            if expected < 1:
                with pytest.raises(ValueError, match="padding"):
                    conv.conv_transpose2d_output_size(size, k, s, p, op)
                continue
            assert conv.conv_transpose2d_output_size(size, k, s, p, op) == expected
            y, _ = conv.conv_transpose2d_forward(x, np.zeros((1, 1, k, k)), b, s, p, op)
            assert y.shape[2] == expected
            # a conv2d with the same (k, s, p) maps the transposed conv's output size back
            assert conv.conv2d_output_size(expected, k, s, p) == size
            n_checked += 1
    assert n_checked > 300


def test_output_padding_must_be_smaller_than_stride():
    with pytest.raises(ValueError, match="output_padding must be smaller than stride"):
        conv.conv_transpose2d_output_size(4, 3, 2, 0, 2)


# ---------------------------------------------------------------------------------------------
# im2col / col2im: adjoint pair, and Numba == NumPy
# ---------------------------------------------------------------------------------------------

KERNEL_CONFIGS = [  # (x shape, kh, kw, stride, padding)
    ((2, 3, 7, 5), 3, 2, 1, 0),
    ((2, 3, 7, 5), 3, 3, 2, 1),
    ((1, 2, 8, 9), 4, 4, 2, 1),
    ((3, 1, 6, 6), 1, 1, 3, 2),
    ((2, 4, 5, 5), 5, 5, 1, 2),
]


@pytest.mark.parametrize("cfg", KERNEL_CONFIGS)
def test_col2im_is_adjoint_of_im2col(cfg):
    shape, kh, kw, s, p = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    cols = conv.im2col(x, kh, kw, s, p)
    c = rng.standard_normal(cols.shape)
    back = conv.col2im(c, shape, kh, kw, s, p)
    assert back.shape == shape
    assert abs(np.sum(cols * c) - np.sum(x * back)) < 1e-12 * np.abs(cols * c).sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", KERNEL_CONFIGS)
def test_numba_im2col_col2im_equal_numpy_twins(cfg, dtype):
    shape, kh, kw, s, p = cfg
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    cols = conv_reference.im2col(x, kh, kw, s, p)
    cols_jit = conv_jit.im2col(x, kh, kw, s, p)
    assert cols_jit.dtype == dtype and np.array_equal(cols, cols_jit)
    c = rng.standard_normal(cols.shape).astype(dtype)
    back = conv_reference.col2im(c, shape, kh, kw, s, p)
    back_jit = conv_jit.col2im(c, shape, kh, kw, s, p)
    assert back_jit.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-14
    assert rel_error(back, back_jit) < tol


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_ops_keep_float_dtype(dtype):
    x, W, b = _arrays(CONFIGS[2], transpose=False, dtype=dtype)
    out, cache = conv.conv2d_forward(x, W, b, 2, 0)
    dx, dW, db = conv.conv2d_backward(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == dW.dtype == db.dtype == dtype
    xt, Wt, bt = _arrays(CONFIGS[2], transpose=True, dtype=dtype)
    out, cache = conv_jit.conv_transpose2d_act_forward(xt, Wt, bt, 2, 0, 1, "identity")
    dx, dW, db = conv_jit.conv_transpose2d_act_backward(np.ones_like(out), cache)
    assert out.dtype == dx.dtype == dW.dtype == db.dtype == dtype


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def test_conv_ops_reject_bad_shapes_with_named_errors():
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"x must be a 4-D array \(N, C, H, W\)"):
        conv.conv2d_forward(np.zeros((3, 5, 5)), np.zeros((2, 3, 3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="x has 3 channels but W expects C_in = 2"):
        conv.conv2d_forward(x, np.zeros((4, 2, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        conv.conv2d_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="kernel 7 is larger than the padded input"):
        conv.conv2d_forward(x, np.zeros((4, 3, 7, 7)), np.zeros(4))
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        conv.conv2d_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(4), stride=0)
    with pytest.raises(ValueError, match="padding must be a non-negative integer"):
        conv.conv2d_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(4), padding=-1)
    with pytest.raises(ValueError, match=r"W must have shape \(3, C_out, kh, kw\)"):
        conv.conv_transpose2d_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="backend must be one of"):
        get_conv_backend("torch")
    with pytest.raises(ValueError, match="cols must have shape"):
        conv.col2im(np.zeros((5, 5)), (2, 3, 5, 5), 3, 3)


def test_the_old_backend_argument_of_the_conv_ops_warns_and_runs_the_numpy_op():
    x, W, b = _arrays(CONFIGS[1], transpose=False)
    with pytest.warns(DeprecationWarning, match="backend=.* is deprecated"):
        out, _ = conv.conv2d_forward(x, W, b, 1, 1, backend="numba")
    assert rel_error(out, direct_conv2d(x, W, b, 1, 1)) < 1e-13
