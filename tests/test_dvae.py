"""The denoising VAE: gradient checks per noise type, the encoder sees x_tilde, the target is x."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.gradcheck import check_model
from scratchvae.losses import bernoulli_nll, kl_standard_normal
from scratchvae.models.denoising import corrupt_masking

NOISES = ["gaussian", "masking", "salt_pepper"]


def _tiny(noise="masking", likelihood="bernoulli", seed=0, **kwargs):
    return sv.DenoisingVAE(n_in=7, hidden=(6,), n_latent=2, noise=noise, likelihood=likelihood,
                           activation="tanh", dtype=np.float64, backend="numpy", rng=seed,
                           **kwargs)


@pytest.mark.parametrize("noise", NOISES)
def test_dvae_gradients_match_finite_differences(noise):
    model = _tiny(noise, level=0.3)
    rng = np.random.default_rng(1)
    x, eps = rng.uniform(size=(4, 7)), rng.standard_normal((4, 2))
    noise_mask = model.sample_noise_mask(x.shape, rng=2)
    report = check_model(model, x, noise_mask=noise_mask, eps=eps)
    assert report.max_rel_error < 1e-7
    _, grads = model.loss_and_grads(x, noise_mask=noise_mask, eps=eps)
    assert all(np.any(g != 0) for g in grads.values())


def test_dvae_gaussian_likelihood_gradients_match_finite_differences():
    model = _tiny("gaussian", likelihood="gaussian", level=0.2)
    rng = np.random.default_rng(3)
    x, eps = rng.uniform(size=(4, 7)), rng.standard_normal((4, 2))
    assert check_model(model, x, noise_mask=rng.standard_normal((4, 7)),
                       eps=eps).max_rel_error < 1e-7


def test_dvae_encodes_the_corrupted_input_and_reconstructs_the_clean_one():
    model = _tiny("masking", level=0.5)
    rng = np.random.default_rng(4)
    x, eps = rng.uniform(size=(5, 7)), rng.standard_normal((5, 2))
    keep = model.sample_noise_mask(x.shape, rng=5)
    assert 0 < keep.mean() < 1
    mu, logvar = model.encode(corrupt_masking(x, keep))
    z = mu + np.exp(logvar / 2) * eps
    expected = bernoulli_nll(model.decode(z), x) + kl_standard_normal(mu, logvar)
    loss, _ = model.loss_and_grads(x, noise_mask=keep, eps=eps)
    assert loss == pytest.approx(expected.mean(), rel=1e-12)
    assert -model.denoising_bound(x, noise_mask=keep, eps=eps) == pytest.approx(expected)


def test_dvae_without_corruption_equals_the_vae():
    model = _tiny("masking", level=0.5)
    vae = sv.VAE(n_in=7, hidden=(6,), n_latent=2, activation="tanh", dtype=np.float64,
                 backend="numpy", rng=0)
    rng = np.random.default_rng(6)
    x, eps = rng.uniform(size=(4, 7)), rng.standard_normal((4, 2))
    loss_d, grads_d = model.loss_and_grads(x, noise_mask=np.ones_like(x), eps=eps)
    loss_v, grads_v = vae.loss_and_grads(x, eps=eps)
    assert loss_d == loss_v
    assert all(np.array_equal(grads_d[k], grads_v[k]) for k in grads_v)


def test_dvae_int_rng_repeats_and_bad_noise_mask_raises_naming_it():
    model = _tiny("salt_pepper", level=0.3)
    x = np.full((3, 7), 0.5)
    assert model.loss_and_grads(x, rng=7)[0] == model.loss_and_grads(x, rng=7)[0]
    assert model.loss_and_grads(x, rng=7)[0] != model.loss_and_grads(x, rng=8)[0]
    with pytest.raises(ValueError, match="noise_mask"):
        model.loss_and_grads(x, noise_mask=np.full((3, 7), 0.5), rng=0)
    with pytest.raises(ValueError, match="noise_mask must have shape"):
        model.loss_and_grads(x, noise_mask=np.zeros((2, 7)), rng=0)
    with pytest.raises(ValueError, match="level"):
        _tiny("masking", level=1.5)


def test_dvae_config_rebuilds_the_same_model():
    model = _tiny("gaussian", level=0.25, beta=0.5)
    config = model.config()
    assert config["noise"] == "gaussian" and config["level"] == 0.25
    again = sv.DenoisingVAE(**config)
    assert again.noise == "gaussian" and again.level == 0.25 and again.beta == 0.5
    assert all(np.array_equal(again.params[k], v) for k, v in model.params.items())


def test_dvae_numba_backend_equals_numpy_backend():
    x = np.random.default_rng(7).uniform(size=(5, 7))
    results = [sv.DenoisingVAE(7, hidden=(6,), n_latent=2, noise="salt_pepper", level=0.3,
                               dtype=np.float64, backend=backend, rng=0).loss_and_grads(x, rng=1)
               for backend in ("numpy", "numba")]
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    assert all(np.allclose(grads_a[k], grads_b[k], rtol=1e-10, atol=1e-14) for k in grads_a)
