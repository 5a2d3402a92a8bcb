"""The IWAE: gradient checks, k = 1 is the VAE, L_k grows with k toward the exact log p(x)."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.gradcheck import check_model
from scratchvae.losses import kl_standard_normal
from scratchvae.models.iwae import LinearGaussianToy, log_importance_weights


def _tiny(k=4, likelihood="bernoulli", seed=0, **kwargs):
    return sv.IWAE(n_in=7, hidden=(6,), n_latent=2, k=k, likelihood=likelihood,
                   activation="tanh", dtype=np.float64, backend="numpy", rng=seed, **kwargs)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_fixed"])
def test_iwae_gradients_match_finite_differences(likelihood):
    model = _tiny(k=4, likelihood=likelihood, sigma=0.5)
    rng = np.random.default_rng(1)
    x, eps = rng.uniform(size=(3, 7)), rng.standard_normal((4, 3, 2))
    report = check_model(model, x, eps=eps)
    assert report.max_rel_error < 1e-7
    assert {e.name for e in report.entries} == set(model.params)
    _, grads = model.loss_and_grads(x, eps=eps)
    assert all(np.any(g != 0) for g in grads.values())


def test_iwae_loss_is_minus_mean_log_mean_exp_of_log_weights():
    model = _tiny(k=5)
    rng = np.random.default_rng(2)
    x, eps = rng.uniform(size=(4, 7)), rng.standard_normal((5, 4, 2))
    log_w = model.log_weights(x, eps=eps)
    expected = -np.mean(np.log(np.mean(np.exp(log_w), axis=0)))
    assert model.loss_and_grads(x, eps=eps)[0] == pytest.approx(expected, rel=1e-12)
    assert model.bound(x, eps=eps) == pytest.approx(np.log(np.mean(np.exp(log_w), axis=0)))


def test_iwae_bound_drawn_in_chunks_equals_the_bound_of_all_draws_at_once(monkeypatch):
    model = _tiny(k=5)
    x = np.random.default_rng(4).uniform(size=(4, 7))
    monkeypatch.setattr(sv.models.iwae, "ROWS_PER_CHUNK", 8)  # 2 samples of 4 rows per chunk
    chunked = model.bound(x, k=7, rng=3)
    draws = np.random.default_rng(3)
    eps = np.concatenate([draws.standard_normal((c, 4, 2)) for c in (2, 2, 2, 1)])
    np.testing.assert_allclose(chunked, model.bound(x, k=7, eps=eps), rtol=1e-12)
    assert chunked.shape == (4,)


def test_iwae_with_k_one_equals_the_vae_elbo_loss_and_grads_for_the_same_eps():
    iwae = _tiny(k=1)
    vae = sv.VAE(n_in=7, hidden=(6,), n_latent=2, activation="tanh", dtype=np.float64,
                 backend="numpy", rng=0)
    rng = np.random.default_rng(3)
    x, eps = rng.uniform(size=(4, 7)), rng.standard_normal((1, 4, 2))
    loss_i, grads_i = iwae.loss_and_grads(x, eps=eps)
    loss_v, grads_v = vae.loss_and_grads(x, eps=eps[0])
    assert loss_i == loss_v
    assert all(np.array_equal(grads_i[key], grads_v[key]) for key in grads_v)
    assert np.array_equal(iwae.bound(x, k=1, eps=eps), vae.elbo(x, eps=eps[0]))


def test_single_sample_log_weight_is_an_unbiased_estimate_of_the_elbo():
    model = _tiny(k=1)
    x = np.random.default_rng(4).uniform(size=(2, 7))
    eps = np.random.default_rng(5).standard_normal((20000, 2, 2))
    log_w = log_importance_weights(model, x, eps)                 # KL estimated by the sample
    mu, logvar = model.encode(x)
    z = mu + np.exp(logvar / 2) * eps
    decoded = model.decode(z.reshape(-1, 2))
    elbo = -model.reconstruction_nll(np.tile(x, (20000, 1)), decoded).reshape(20000, 2)
    elbo = elbo - kl_standard_normal(mu, logvar)                   # the analytic KL
    difference = log_w - elbo                                      # the same z: only KL noise
    standard_error = difference.std(axis=0) / np.sqrt(len(difference))
    assert np.all(np.abs(difference.mean(axis=0)) < 4 * standard_error)


def test_iwae_bound_is_nondecreasing_in_k_in_expectation():
    # L_1 <= L_5 <= L_50 in expectation; the same noise for every k (eps[:k]) makes the
    # differences precise: each is averaged over 2000 repetitions of two examples
    model = _tiny(k=5, seed=1)
    x = np.tile(np.random.default_rng(6).uniform(size=(2, 7)), (2000, 1))
    eps = np.random.default_rng(0).standard_normal((50, len(x), 2))
    bounds = [model.bound(x, k=k, eps=eps[:k]).reshape(2000, 2) for k in (1, 5, 50)]
    for low, high in zip(bounds, bounds[1:]):
        difference = high - low
        assert np.all(difference.mean(axis=0) > 3 * difference.std(axis=0) / np.sqrt(2000))


def test_log_weights_equal_log_px_when_q_is_the_exact_posterior():
    toy = LinearGaussianToy(n_in=3, n_latent=1, s=0.5, rng=0)
    x = toy.sample_x(5, rng=1)
    eps = np.random.default_rng(2).standard_normal((7, 5, 1))
    assert np.allclose(log_importance_weights(toy, x, eps), toy.log_px(x), atol=1e-12)


def test_linear_gaussian_log_px_matches_a_monte_carlo_estimate():
    toy = LinearGaussianToy(n_in=2, n_latent=1, s=0.5, rng=3)
    x = np.array([[0.3, -0.2]])
    z = np.random.default_rng(0).standard_normal((200000, 1))
    mean, logvar = toy.decode(z)
    mc = np.log(np.mean(np.exp(-toy.reconstruction_nll(np.repeat(x, len(z), 0),
                                                         (mean, logvar)))))
    assert mc == pytest.approx(toy.log_px(x)[0], abs=0.01)


def test_iwae_bound_approaches_exact_log_px_on_the_linear_gaussian_toy():
    # q(z|x) has the right spread but a shifted mean: L_k < log p(x), the gap closes with k
    toy = LinearGaussianToy(n_in=3, n_latent=2, s=0.5, shift=0.5, std_scale=1.0, rng=0)
    x = np.repeat(toy.sample_x(5, rng=1), 400, axis=0)
    exact = toy.log_px(x)
    gaps = [np.mean(exact + sv.evaluate.importance_sampled_nll(toy, x, k=k, rng=k,
                                                               progress=False))
            for k in (1, 10, 100, 1000)]                    # log p(x) - L_k
    assert gaps[0] > gaps[1] > gaps[2] > gaps[3]
    assert gaps[0] > 0.3 and gaps[2] > 0                    # a lower bound, clearly below
    assert abs(gaps[3]) < 0.01                              # ... and close for large k


def test_iwae_rejects_eps_of_the_wrong_shape_naming_eps():
    model = _tiny(k=4)
    with pytest.raises(ValueError, match="eps must have shape"):
        model.loss_and_grads(np.full((3, 7), 0.5), eps=np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        _tiny(k=0)


def test_iwae_config_has_k_and_rebuilds_the_same_model():
    model = _tiny(k=7)
    config = model.config()
    assert config["k"] == 7 and "beta" not in config
    again = sv.IWAE(**config)
    assert again.k == 7
    assert all(np.array_equal(again.params[key], v) for key, v in model.params.items())
    x = np.full((2, 7), 0.5)
    assert model.loss_and_grads(x, rng=3)[0] == model.loss_and_grads(x, rng=3)[0]


def test_iwae_numba_backend_equals_numpy_backend():
    x = np.random.default_rng(7).uniform(size=(5, 7))
    results = [sv.IWAE(7, hidden=(6,), n_latent=2, k=3, dtype=np.float64, backend=backend,
                       rng=0).loss_and_grads(x, rng=1) for backend in ("numpy", "numba")]
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    assert all(np.allclose(grads_a[k], grads_b[k], rtol=1e-10, atol=1e-14) for k in grads_a)
