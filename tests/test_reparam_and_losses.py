"""Reparameterization, KL, likelihoods: gradients, closed forms, Monte Carlo and moment tests."""

import warnings

import numpy as np
import pytest

from scratchvae import losses
from scratchvae.gradcheck import check_op
from scratchvae.reparam import reparameterize, reparameterize_backward, std_from_logvar

SHAPES = [(1, 1), (3, 4), (6, 2)]
SEEDS = [0, 1]


def _gaussian_inputs(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal(shape) * 0.5, rng


# --- reparameterization -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_reparameterize_backward_matches_finite_differences(shape, seed):
    mu, logvar, rng = _gaussian_inputs(shape, seed)
    eps = rng.standard_normal(shape)
    report = check_op(reparameterize, reparameterize_backward, [mu, logvar, eps], rng=seed)
    assert report.max_rel_error < 1e-7
    assert [e.name for e in report.entries] == ["input 0", "input 1"]  # mu and logvar, not eps


def test_std_from_logvar_is_exp_of_half_logvar():
    np.testing.assert_allclose(std_from_logvar(np.log([4.0, 0.25])), [2.0, 0.5])


def _moment_test(sampler, mu, logvar, n=200_000, rng=0):
    """z-scores of the sample mean and variance against mu and exp(logvar)."""
    rng = np.random.default_rng(rng)
    eps = rng.standard_normal((n, mu.size))
    z = sampler(np.broadcast_to(mu, eps.shape), np.broadcast_to(logvar, eps.shape), eps)
    var = np.exp(logvar)
    z_mean = (z.mean(axis=0) - mu) / np.sqrt(var / n)
    # the sample variance of a Gaussian has standard error var * sqrt(2 / (n - 1))
    z_var = (z.var(axis=0, ddof=1) - var) / (var * np.sqrt(2 / (n - 1)))
    return np.max(np.abs(z_mean)), np.max(np.abs(z_var))


MU = np.array([0.5, -1.0, 2.0])
LOGVAR = np.array([np.log(4.0), np.log(0.25), 0.0 + 1.0])


def test_reparameterize_sample_mean_is_mu_and_variance_is_exp_logvar():
    z_mean, z_var = _moment_test(lambda m, lv, e: reparameterize(m, lv, e)[0], MU, LOGVAR)
    assert z_mean < 4.5 and z_var < 4.5


def test_moment_test_catches_a_sampler_that_uses_exp_logvar_as_std():
    def buggy(mu, logvar, eps):
        return mu + np.exp(logvar) * eps  # the bug: exp(logvar) is the variance, not the std

    _, z_var = _moment_test(buggy, MU, LOGVAR)
    assert z_var > 50  # fails the variance test by a wide margin


# --- KL ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_kl_gradient_matches_finite_differences(shape, seed):
    mu, logvar, _ = _gaussian_inputs(shape, seed)

    def forward(mu, logvar):
        return losses.kl_standard_normal(mu, logvar), (mu, logvar)

    def backward(dkl, cache):
        dmu, dlogvar = losses.kl_standard_normal_grad(*cache)
        return dkl[:, None] * dmu, dkl[:, None] * dlogvar

    assert check_op(forward, backward, [mu, logvar], rng=seed).max_rel_error < 1e-7


def test_kl_is_zero_for_the_prior_and_positive_otherwise():
    assert np.allclose(losses.kl_standard_normal(np.zeros((2, 3)), np.zeros((2, 3))), 0.0)
    mu, logvar, _ = _gaussian_inputs((50, 4), 3)
    assert np.all(losses.kl_standard_normal(mu, logvar) > 0)


def test_kl_matches_a_monte_carlo_estimate_within_four_standard_errors():
    rng = np.random.default_rng(0)
    mu = np.array([[0.7, -1.2, 0.1]])
    logvar = np.array([[-0.5, 0.8, 0.0]])
    n = 400_000
    eps = rng.standard_normal((n, 3))
    z = mu + np.exp(0.5 * logvar) * eps
    # log q(z) - log p(z), summed over dimensions
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + logvar + eps**2, axis=1)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1)
    samples = log_q - log_p
    estimate, stderr = samples.mean(), samples.std(ddof=1) / np.sqrt(n)
    exact = losses.kl_standard_normal(mu, logvar)[0]
    assert abs(estimate - exact) < 4 * stderr


def test_kl_uses_log_variance_not_log_std():
    # The slide form 1/2 sum(sigma^2 + mu^2 - log sigma - 1) differs from the right one.
    mu, logvar = np.array([[0.0]]), np.array([[np.log(4.0)]])  # sigma = 2
    right = 0.5 * (4.0 + 0 - np.log(4.0) - 1)
    slide = 0.5 * (4.0 + 0 - np.log(2.0) - 1)
    assert np.isclose(losses.kl_standard_normal(mu, logvar)[0], right)
    assert not np.isclose(losses.kl_standard_normal(mu, logvar)[0], slide)


# --- Bernoulli --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_bernoulli_nll_gradient_matches_finite_differences(shape, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape) * 3
    x = rng.uniform(size=shape)

    def forward(logits):
        return losses.bernoulli_nll(logits, x), logits

    def backward(dnll, logits):
        return dnll[:, None] * losses.bernoulli_nll_grad(logits, x)

    assert check_op(forward, backward, [logits], rng=seed).max_rel_error < 1e-7


def test_bernoulli_nll_equals_binary_cross_entropy_formula():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((4, 6))
    x = (rng.uniform(size=(4, 6)) > 0.5).astype(float)
    p = 1 / (1 + np.exp(-logits))
    direct = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    np.testing.assert_allclose(losses.bernoulli_nll(logits, x), direct, rtol=1e-12)


def test_bernoulli_nll_is_finite_for_extreme_logits():
    logits = np.array([[-1e4, 1e4, -800.0, 800.0]])
    x = np.array([[1.0, 0.0, 0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nll = losses.bernoulli_nll(logits, x)
        grad = losses.bernoulli_nll_grad(logits, x)
    np.testing.assert_allclose(nll, [2e4])  # the two wrong-way 1e4 logits cost 1e4 nats each
    assert np.all(np.isfinite(grad))


def test_bernoulli_nll_rejects_x_outside_unit_interval():
    with pytest.raises(ValueError, match=r"x must have values in \[0.0, 1.0\]"):
        losses.bernoulli_nll(np.zeros((1, 2)), np.array([[0.0, 255.0]]))


# --- Gaussian ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_gaussian_nll_gradients_match_finite_differences(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=shape)
    mean, logvar = rng.uniform(size=shape), rng.standard_normal(shape) * 0.5

    def forward(mean, logvar):
        return losses.gaussian_nll(x, mean, logvar), (mean, logvar)

    def backward(dnll, cache):
        dmean, dlogvar = losses.gaussian_nll_grad(x, *cache)
        return dnll[:, None] * dmean, dnll[:, None] * dlogvar

    assert check_op(forward, backward, [mean, logvar], rng=seed).max_rel_error < 1e-7


def test_gaussian_nll_equals_the_log_density_formula():
    rng = np.random.default_rng(2)
    x, mean = rng.uniform(size=(3, 5)), rng.uniform(size=(3, 5))
    logvar = rng.standard_normal((3, 5))
    var = np.exp(logvar)
    density = np.exp(-((x - mean) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var)
    np.testing.assert_allclose(losses.gaussian_nll(x, mean, logvar),
                               -np.log(density).sum(axis=1), rtol=1e-12)


def test_gaussian_nll_with_scalar_logvar_is_scaled_mse_plus_constant():
    rng = np.random.default_rng(3)
    x, mean = rng.uniform(size=(4, 6)), rng.uniform(size=(4, 6))
    sigma = 0.3
    nll = losses.gaussian_nll(x, mean, 2 * np.log(sigma))
    expected = losses.mse(mean, x) / (2 * sigma**2) + 6 * (0.5 * np.log(2 * np.pi) + np.log(sigma))
    np.testing.assert_allclose(nll, expected, rtol=1e-12)
    _, dlogvar = losses.gaussian_nll_grad(x, mean, np.float64(2 * np.log(sigma)))
    assert np.shape(dlogvar) == ()  # summed back to the scalar it belongs to


# --- MSE --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_mse_gradient_matches_finite_differences(shape):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=shape)

    def forward(x_hat):
        return losses.mse(x_hat, x), x_hat

    def backward(dloss, x_hat):
        return dloss[:, None] * losses.mse_grad(x_hat, x)

    assert check_op(forward, backward, [rng.uniform(size=shape)], rng=1).max_rel_error < 1e-7


def test_losses_are_per_example_sums():
    x = np.full((2, 3), 0.5)
    assert losses.mse(np.zeros((2, 3)), x).shape == (2,)
    np.testing.assert_allclose(losses.mse(np.zeros((2, 3)), x), [0.75, 0.75])
    assert losses.kl_standard_normal(np.ones((2, 4)), np.zeros((2, 4))).tolist() == [2.0, 2.0]


def test_mismatched_shapes_raise_naming_the_arguments():
    with pytest.raises(ValueError, match="logvar must have the same shape as mu"):
        losses.kl_standard_normal(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="eps must have the same shape as mu"):
        reparameterize(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="x must have the same shape as logits"):
        losses.bernoulli_nll(np.zeros((2, 3)), np.zeros((2, 2)))
