"""Dense and activation op pairs: finite-difference gradients, values, extreme inputs."""

import warnings

import numpy as np
import pytest

from scratchvae import functional as F
from scratchvae.gradcheck import check_op

SHAPES = [(1, 1), (4, 7), (9, 3)]
SEEDS = [0, 1]
ACTIVATION_NAMES = list(F.ACTIVATIONS)


@pytest.mark.parametrize("shape", [(1, 1, 1), (4, 5, 3), (7, 2, 6)])
@pytest.mark.parametrize("seed", SEEDS)
def test_dense_backward_matches_finite_differences(shape, seed):
    batch, n_in, n_out = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n_in))
    W = rng.standard_normal((n_in, n_out))
    b = rng.standard_normal(n_out)
    report = check_op(F.dense_forward, F.dense_backward, [x, W, b], rng=seed)
    assert report.max_rel_error < 1e-7
    assert len(report.entries) == 3


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_activation_backward_matches_finite_differences(name, shape, seed):
    forward, backward = F.ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the ReLU kink, where no derivative exists
    report = check_op(forward, backward, [x], rng=seed)
    assert report.max_rel_error < 1e-7


def test_dense_forward_values_equal_matrix_formula():
    x = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
    b = np.array([0.5, -1.0, 0.0])
    out, _ = F.dense_forward(x, W, b)
    np.testing.assert_allclose(out, [[5.5, 1.0, 0.0]])


def test_dense_backward_bias_gradient_is_summed_over_batch():
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), np.zeros(2)
    _, cache = F.dense_forward(x, W, b)
    dout = rng.standard_normal((5, 2))
    _, _, db = F.dense_backward(dout, cache)
    np.testing.assert_allclose(db, dout.sum(axis=0))


def test_relu_gradient_is_taken_at_the_input():
    x = np.array([-2.0, -0.5, 0.5, 3.0])
    out, cache = F.relu_forward(x)
    dx = F.relu_backward(np.ones(4) * 2, cache)
    np.testing.assert_array_equal(dx, [0, 0, 2, 2])


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh"])
def test_activations_are_finite_without_warnings_for_huge_inputs(name):
    forward, backward = F.ACTIVATIONS[name]
    x = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, cache = forward(x)
        dx = backward(np.ones_like(x), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))


def test_sigmoid_and_softplus_extreme_values_are_correct():
    x = np.array([-1e4, 1e4, 0.0])
    np.testing.assert_allclose(F.sigmoid(x), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(F.softplus(x), [0.0, 1e4, np.log(2)])
    # softplus(x) = log(1 + e^x) where it can be computed directly
    mid = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(F.softplus(mid), np.log1p(np.exp(mid)), rtol=1e-12)
    np.testing.assert_allclose(F.sigmoid(mid), 1 / (1 + np.exp(-mid)), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_ops_keep_the_input_dtype(dtype, name):
    forward, backward = F.ACTIVATIONS[name]
    x = np.linspace(-2, 2, 12, dtype=dtype).reshape(3, 4)
    out, cache = forward(x)
    assert out.dtype == dtype
    assert backward(np.ones_like(x), cache).dtype == dtype
    W = np.ones((4, 2), dtype=dtype)
    out, cache = F.dense_forward(x, W, np.zeros(2, dtype=dtype))
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in F.dense_backward(np.ones_like(out), cache))


def test_dense_forward_rejects_mismatched_shapes_naming_them():
    with pytest.raises(ValueError, match=r"x \(2, 3\) @ W \(4, 5\)"):
        F.dense_forward(np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(5))
    with pytest.raises(ValueError, match="dense_forward expects x"):
        F.dense_forward(np.zeros(3), np.zeros((3, 5)), np.zeros(5))


def _with_nan(a):
    a = np.array(a, dtype=np.float64)
    a.flat[0] = np.nan
    return a


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_public_ops_refuse_nan_on_a_direct_call_and_skip_the_scan_inside_a_step(backend):
    from scratchvae import conv, losses, reparam
    from scratchvae.kernels import get_backend, get_conv_backend

    ops, conv_ops = get_backend(backend), get_conv_backend(backend)
    rng = np.random.default_rng(0)
    x, W, b = rng.random((4, 3)), rng.standard_normal((3, 2)), np.zeros(2)
    mu, logvar, eps = (rng.standard_normal((4, 2)) for _ in range(3))
    images, kernels = rng.standard_normal((2, 1, 5, 5)), rng.standard_normal((2, 1, 3, 3))
    calls = {  # name -> (call with a NaN input, given check_finite)
        "dense_forward": lambda cf: F.dense_forward(_with_nan(x), W, b, check_finite=cf),
        "dense_act_forward": lambda cf: ops.dense_act_forward(_with_nan(x), W, b, "relu",
                                                              check_finite=cf),
        "reparameterize": lambda cf: reparam.reparameterize(_with_nan(mu), logvar, eps,
                                                            check_finite=cf),
        "reparam_kl_forward": lambda cf: ops.reparam_kl_forward(_with_nan(mu), logvar, eps,
                                                                check_finite=cf),
        "kl_standard_normal": lambda cf: losses.kl_standard_normal(_with_nan(mu), logvar,
                                                                   check_finite=cf),
        "bernoulli_nll_and_grad": lambda cf: ops.bernoulli_nll_and_grad(_with_nan(mu), mu, 1.0,
                                                                        check_finite=cf),
        "gaussian_nll_and_grad": lambda cf: ops.gaussian_nll_and_grad(x, _with_nan(x), 0.0, 1.0,
                                                                      check_finite=cf),
        "conv2d_act_forward": lambda cf: conv_ops.conv2d_act_forward(
            _with_nan(images), kernels, np.zeros(2), 1, 0, "relu", check_finite=cf),
        "conv2d_forward": lambda cf: conv.conv2d_forward(_with_nan(images), kernels,
                                                         np.zeros(2), check_finite=cf),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="NaN or inf"):
            call(True)
            pytest.fail(f"{name} accepted a NaN with check_finite=True")
        with np.errstate(invalid="ignore"):
            call(False)  # inside a step: dtype and shape only, the NaN passes through
