"""The gradient checker itself: it passes right gradients and catches wrong ones."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae import functional as F
from scratchvae.gradcheck import (
    GradientCheckError,
    check_model,
    check_op,
    numerical_grad,
    rel_error,
)


def test_numerical_grad_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5])
    grad = numerical_grad(lambda v: np.sum(v**3), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-9)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored exactly


def test_rel_error_formula():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(2), np.zeros(3))


def _dense_backward_without_transpose(dout, cache):
    x, W = cache
    dx, dW, db = F.dense_backward(dout, cache)
    return dout @ W, dW, db  # W not transposed: only shape-compatible when W is square


def test_check_op_catches_a_missing_transpose_with_a_random_upstream_gradient():
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 4)), rng.standard_normal(4)
    with pytest.raises(GradientCheckError, match="input 0"):
        check_op(F.dense_forward, _dense_backward_without_transpose, [x, W, b], rng=0)


def test_check_op_catches_an_unsummed_bias_gradient():
    def backward(dout, cache):
        dx, dW, _ = F.dense_backward(dout, cache)
        return dx, dW, dout.mean(axis=0)

    rng = np.random.default_rng(1)
    args = [rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)]
    with pytest.raises(GradientCheckError):
        check_op(F.dense_forward, backward, args, rng=0)


def test_check_model_refuses_float32_and_explains_why():
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy", dtype=np.float32)
    with pytest.raises(ValueError, match="gradient checks need float64"):
        check_model(vae, np.zeros((2, 4)), eps=np.zeros((2, 2)))


def test_check_model_refuses_a_nondeterministic_loss():
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy", dtype=np.float64)
    with pytest.raises(ValueError, match="not deterministic"):
        check_model(vae, np.full((2, 4), 0.5))  # no eps, no rng: fresh noise every call


def test_check_model_reports_the_parameter_and_index_of_a_wrong_gradient():
    vae = sv.VAE(n_in=5, hidden=(4,), n_latent=2, backend="numpy", dtype=np.float64,
                 activation="tanh")
    original = vae.loss_and_grads

    def wrong(x, **kwargs):
        loss, grads = original(x, **kwargs)
        grads["decoder.0.W"] = grads["decoder.0.W"].copy()
        grads["decoder.0.W"][1, 2] += 0.1
        return loss, grads

    vae.loss_and_grads = wrong
    rng = np.random.default_rng(0)
    with pytest.raises(GradientCheckError, match=r"decoder\.0\.W .* worst at \(1, 2\)"):
        check_model(vae, rng.uniform(size=(3, 5)), eps=rng.standard_normal((3, 2)))


def test_check_model_with_sampled_entries_matches_full_check():
    vae = sv.VAE(n_in=6, hidden=(5,), n_latent=2, backend="numpy", dtype=np.float64,
                 activation="tanh")
    rng = np.random.default_rng(0)
    x, eps = rng.uniform(size=(3, 6)), rng.standard_normal((3, 2))
    report = check_model(vae, x, eps=eps, max_entries=4)
    assert report.max_rel_error < 1e-7 and len(report.entries) == len(vae.params)
