"""Evaluation: the ELBO against a hand-written forward pass, importance sampling, active units."""

import math

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.evaluate import (
    active_units,
    evaluate_elbo,
    importance_sampled_nll,
    log_standard_normal,
    logsumexp,
    reconstruction_error,
)


def tiny_vae(n_in=6, n_latent=3, seed=0):
    return sv.VAE(n_in=n_in, hidden=(5,), n_latent=n_latent, dtype=np.float64,
                  backend="numpy", rng=seed)


def binary_data(n, n_in=6, seed=1):
    return (np.random.default_rng(seed).random((n, n_in)) < 0.4).astype(np.float64)


def handwritten_terms(vae, x, eps):
    """The whole VAE forward pass written out with NumPy, for the Bernoulli likelihood."""
    p = vae.params
    h = np.maximum(0, x @ p["encoder.0.W"] + p["encoder.0.b"])
    mu = h @ p["mu.W"] + p["mu.b"]
    logvar = h @ p["logvar.W"] + p["logvar.b"]
    z = mu + np.exp(logvar / 2) * eps
    hd = np.maximum(0, z @ p["decoder.0.W"] + p["decoder.0.b"])
    logits = hd @ p["decoder.1.W"] + p["decoder.1.b"]
    prob = 1 / (1 + np.exp(-logits))
    recon = -np.sum(x * np.log(prob) + (1 - x) * np.log(1 - prob), axis=1)
    kl = 0.5 * np.sum(np.exp(logvar) + mu**2 - 1 - logvar, axis=1)
    sigma2 = np.exp(logvar)
    log_q = np.sum(-0.5 * np.log(2 * np.pi * sigma2) - (z - mu) ** 2 / (2 * sigma2), axis=1)
    log_p = np.sum(-0.5 * np.log(2 * np.pi) - z**2 / 2, axis=1)
    return recon, kl, log_q, log_p


def test_evaluate_elbo_equals_handwritten_forward_pass_with_the_same_eps():
    vae, x = tiny_vae(), binary_data(7)
    eps = np.random.default_rng(3).standard_normal((7, 3))  # what rng=3 draws for one batch
    recon, kl, _, _ = handwritten_terms(vae, x, eps)
    result = evaluate_elbo(vae, x, rng=3, batch_size=100)
    assert result["reconstruction"] == pytest.approx(recon.mean(), rel=1e-12)
    assert result["kl"] == pytest.approx(kl.mean(), rel=1e-12)
    assert result["neg_elbo"] == pytest.approx((recon + kl).mean(), rel=1e-12)
    assert result["elbo"] == -result["neg_elbo"]
    assert result["n_examples"] == 7


def test_evaluate_elbo_samples_z_rather_than_using_mu():
    vae, x = tiny_vae(), binary_data(7)
    a = evaluate_elbo(vae, x, rng=0)["reconstruction"]
    b = evaluate_elbo(vae, x, rng=1)["reconstruction"]
    assert a != b  # a z = mu evaluation would not depend on the noise


def test_importance_sampled_nll_with_k1_is_the_single_sample_elbo_for_the_same_eps():
    vae, x = tiny_vae(), binary_data(5)
    eps = np.random.default_rng(4).standard_normal((5, 3))
    recon, _, log_q, log_p = handwritten_terms(vae, x, eps)
    nll = importance_sampled_nll(vae, x, k=1, rng=4, progress=False)
    # with one sample, -log w = -log p(x|z) - log p(z) + log q(z|x): the -ELBO with its KL
    # estimated by the same sample
    np.testing.assert_allclose(nll, recon + log_q - log_p, rtol=1e-12)


def test_importance_sampled_nll_with_k1_averages_to_the_analytic_neg_elbo():
    vae = tiny_vae()
    x = np.repeat(binary_data(1), 4000, axis=0)
    nll = importance_sampled_nll(vae, x, k=1, rng=0, progress=False)
    neg_elbo = evaluate_elbo(vae, x, rng=1)["neg_elbo"]
    se = nll.std() / math.sqrt(len(nll))
    assert abs(nll.mean() - neg_elbo) < 5 * se + 0.05


def test_importance_sampled_nll_is_below_neg_elbo_on_average():
    vae, x = tiny_vae(n_in=8, n_latent=2, seed=2), binary_data(20, n_in=8)
    nll = importance_sampled_nll(vae, x, k=500, rng=0, batch_size=2000, progress=False)
    neg_elbo = evaluate_elbo(vae, np.tile(x, (200, 1)), rng=0)["neg_elbo"]
    assert nll.shape == (20,) and np.all(np.isfinite(nll))
    assert nll.mean() < neg_elbo - 0.01


def test_importance_sampled_nll_accumulates_chunks_over_k_exactly():
    vae, x = tiny_vae(), binary_data(4)
    # batch_size 300 < k = 900: one example at a time, the k samples in three chunks of 300
    nll = importance_sampled_nll(vae, x, k=900, rng=5, batch_size=300, progress=False)
    rng = np.random.default_rng(5)
    expected = []
    for xi in x:
        eps = np.concatenate([rng.standard_normal((300, 1, 3))[:, 0] for _ in range(3)])
        recon, _, log_q, log_p = handwritten_terms(vae, np.repeat(xi[None], 900, axis=0), eps)
        log_w = -recon + log_p - log_q
        expected.append(-math.log(np.mean(np.exp(log_w))))
    np.testing.assert_allclose(nll, expected, rtol=1e-10)


def test_logsumexp_is_stable_for_large_and_infinite_inputs():
    assert logsumexp(np.array([1000.0, 1000.0])) == pytest.approx(1000 + math.log(2))
    assert logsumexp(np.array([-1000.0, -1000.0])) == pytest.approx(-1000 + math.log(2))
    assert logsumexp(np.array([-np.inf, 0.0])) == 0.0
    assert logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    a = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(logsumexp(a, axis=0), np.log(np.exp(a).sum(axis=0)))


def test_gaussian_log_density_equals_the_product_of_one_dimensional_densities():
    rng = np.random.default_rng(0)
    z, mu, logvar = rng.standard_normal((3, 4, 5))
    expected = np.array([
        sum(math.log(math.exp(-(zj - mj) ** 2 / (2 * math.exp(lj)))
                     / math.sqrt(2 * math.pi * math.exp(lj)))
            for zj, mj, lj in zip(zr, mr, lr))
        for zr, mr, lr in zip(z, mu, logvar)
    ])
    np.testing.assert_allclose(-sv.losses.gaussian_nll(z, mu, logvar), expected, rtol=1e-12)
    zeros = np.zeros_like(z)
    np.testing.assert_allclose(log_standard_normal(z), -sv.losses.gaussian_nll(z, zeros, zeros),
                               rtol=1e-12)


def test_log_normal_diag_is_a_deprecated_alias_of_minus_gaussian_nll():
    rng = np.random.default_rng(1)
    z, mu, logvar = rng.standard_normal((3, 4, 5))
    with pytest.warns(DeprecationWarning, match="gaussian_nll"):
        got = sv.mathutils.log_normal_diag(z, mu, logvar)
    np.testing.assert_array_equal(got, -sv.losses.gaussian_nll(z, mu, logvar))
    with pytest.warns(DeprecationWarning):
        broadcast = sv.evaluate.log_normal_diag(z, 0.0, 0.0)
    np.testing.assert_allclose(broadcast, log_standard_normal(z), rtol=1e-12)


def test_active_units_counts_only_latent_dims_whose_mean_depends_on_x():
    vae, x = tiny_vae(n_in=6, n_latent=4), binary_data(200)
    vae.params["mu.W"] *= 10
    vae.params["mu.W"][:, [1, 3]] = 0.0  # mu_1 and mu_3 are constants: inactive
    count, variances = active_units(vae, x, batch_size=64)
    assert variances.shape == (4,)
    assert variances[1] < 1e-20 and variances[3] < 1e-20
    assert variances[0] > 0.01 and variances[2] > 0.01
    assert count == 2
    assert active_units(vae, x, threshold=1e9)[0] == 0


def test_reconstruction_error_is_the_per_pixel_mean_squared_error_at_mu():
    vae, x = tiny_vae(), binary_data(9)
    err = reconstruction_error(vae, x, batch_size=4)
    expected = np.mean((x - vae.reconstruct(x)) ** 2, axis=1)
    assert err.shape == (9,)
    np.testing.assert_allclose(err, expected, rtol=1e-12)


def test_evaluation_functions_reject_bad_arguments_with_named_messages():
    vae, x = tiny_vae(), binary_data(3)
    with pytest.raises(ValueError, match="k must be"):
        importance_sampled_nll(vae, x, k=0, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_elbo(vae, x, batch_size=0)
    with pytest.raises(ValueError, match="x "):
        evaluate_elbo(vae, x[0])


def test_elbo_evaluation_rejects_a_model_without_a_likelihood():
    ae = sv.Autoencoder(n_in=6, hidden=(5,), n_code=2, backend="numpy")
    with pytest.raises(ValueError, match="model must be a VAE"):
        evaluate_elbo(ae, binary_data(3))
    with pytest.raises(ValueError, match="model must be a VAE"):
        importance_sampled_nll(ae, binary_data(3), k=2, progress=False)
    assert reconstruction_error(ae, binary_data(3)).shape == (3,)
