"""The VAE: whole-model gradient checks, values against hand formulas, bad input."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.functional import sigmoid, softplus
from scratchvae.gradcheck import check_model

LIKELIHOODS = ["bernoulli", "gaussian", "gaussian_fixed"]
SHAPES = [(6, (5,), 2), (8, (7, 4), 3), (5, (), 2)]  # n_in, hidden, n_latent


def _tiny(likelihood="bernoulli", n_in=6, hidden=(5,), n_latent=2, seed=0, **kwargs):
    return sv.VAE(n_in=n_in, hidden=hidden, n_latent=n_latent, likelihood=likelihood,
                  dtype=np.float64, backend="numpy", rng=seed, **kwargs)


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_vae_gradients_match_finite_differences(likelihood, shape, seed):
    n_in, hidden, n_latent = shape
    vae = _tiny(likelihood, n_in, hidden, n_latent, seed, beta=0.7, sigma=0.5,
                activation="tanh")
    rng = np.random.default_rng(seed + 10)
    x = rng.uniform(size=(4, n_in))
    eps = rng.standard_normal((4, n_latent))
    report = check_model(vae, x, eps=eps)
    assert report.max_rel_error < 1e-7
    assert {e.name for e in report.entries} == set(vae.params)
    _, grads = vae.loss_and_grads(x, eps=eps)
    assert all(np.any(g != 0) for g in grads.values())  # nothing checked is trivially zero


def test_vae_gradient_check_passes_with_relu_and_beta_four():
    vae = _tiny("bernoulli", 7, (6, 5), 3, seed=4, beta=4.0)
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(5, 7)) > 0.5).astype(float)
    assert check_model(vae, x, eps=rng.standard_normal((5, 3))).max_rel_error < 1e-7


def test_vae_loss_equals_a_hand_written_negative_elbo():
    vae = _tiny("bernoulli", 4, (3,), 2, seed=2, beta=1.5)
    p = vae.params
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 4))
    eps = rng.standard_normal((3, 2))
    h = np.maximum(x @ p["encoder.0.W"] + p["encoder.0.b"], 0)
    mu = h @ p["mu.W"] + p["mu.b"]
    logvar = h @ p["logvar.W"] + p["logvar.b"]
    z = mu + np.exp(logvar / 2) * eps
    h_dec = np.maximum(z @ p["decoder.0.W"] + p["decoder.0.b"], 0)
    logits = h_dec @ p["decoder.1.W"] + p["decoder.1.b"]
    probs = 1 / (1 + np.exp(-logits))
    log_px = np.sum(x * np.log(probs) + (1 - x) * np.log(1 - probs), axis=1)
    kl = 0.5 * np.sum(np.exp(logvar) + mu**2 - 1 - logvar, axis=1)
    loss, _ = vae.loss_and_grads(x, eps=eps)
    assert np.isclose(loss, np.mean(-log_px + 1.5 * kl), rtol=1e-12)
    np.testing.assert_allclose(vae.elbo(x, eps=eps), log_px - kl, rtol=1e-12)
    assert np.isclose(vae.last_loss_terms["kl"], kl.mean())


def test_gaussian_decoder_logvar_stays_in_its_range():
    vae = _tiny("gaussian", 6, (5,), 2, logvar_range=(-3.0, 1.0))
    for layer_key in ("decoder.1.W", "decoder.1.b"):
        vae.params[layer_key][...] *= 1000  # push raw outputs far out
    mean, logvar = vae.decode(np.random.default_rng(0).standard_normal((10, 2)))
    assert np.all(logvar >= -3.0) and np.all(logvar <= 1.0)
    assert np.all((mean >= 0) & (mean <= 1))


def test_gaussian_fixed_decoder_uses_sigma():
    vae = _tiny("gaussian_fixed", sigma=0.25)
    mean, logvar = vae.decode(np.zeros((2, 2)))
    np.testing.assert_allclose(logvar, 2 * np.log(0.25))


def test_same_int_rng_gives_same_loss_and_different_ints_differ():
    vae = _tiny()
    x = np.random.default_rng(0).uniform(size=(3, 6))
    a, _ = vae.loss_and_grads(x, rng=5)
    b, _ = vae.loss_and_grads(x, rng=5)
    c, _ = vae.loss_and_grads(x, rng=6)
    assert a == b and a != c


def test_elbo_samples_z_instead_of_using_the_mean():
    vae = _tiny(seed=3)
    x = np.random.default_rng(1).uniform(size=(2, 6))
    at_mean = vae.elbo(x, eps=np.zeros((2, 2)))
    assert not np.allclose(vae.elbo(x, rng=0), at_mean)
    assert not np.allclose(vae.elbo(x, rng=0), vae.elbo(x, rng=1))


def test_sample_returns_images_in_unit_interval():
    vae = sv.VAE(n_in=16, hidden=(8,), n_latent=2, backend="numpy")
    images = vae.sample(5, rng=0)
    assert images.shape == (5, 16) and images.dtype == np.float32
    assert np.all((images >= 0) & (images <= 1))
    np.testing.assert_array_equal(images, vae.sample(5, rng=0))


def test_float32_model_keeps_float32_everywhere():
    vae = sv.VAE(n_in=6, hidden=(5,), n_latent=2, backend="numpy")
    x = np.random.default_rng(0).uniform(size=(3, 6))  # float64 input is converted
    loss, grads = vae.loss_and_grads(x, rng=0)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(p.dtype == np.float32 for p in vae.params.values())
    assert np.isfinite(loss)


def test_param_keys_follow_the_documented_layout():
    vae = _tiny(hidden=(5, 4))
    assert sorted(vae.params) == sorted([
        "encoder.0.W", "encoder.0.b", "encoder.1.W", "encoder.1.b", "mu.W", "mu.b",
        "logvar.W", "logvar.b", "decoder.0.W", "decoder.0.b", "decoder.1.W", "decoder.1.b",
        "decoder.2.W", "decoder.2.b",
    ])


def test_stable_helpers_used_by_the_vae_agree_with_textbook_formulas():
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(softplus(x), np.log(1 + np.exp(x)))


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_in=0), "n_in must be a positive integer"),
        (dict(n_latent=-2), "n_latent must be a positive integer"),
        (dict(hidden=(4, 0)), "hidden must be a tuple of positive integers"),
        (dict(likelihood="poisson"), "likelihood must be one of 'bernoulli', 'gaussian'"),
        (dict(activation="gelu"), "activation must be one of"),
        (dict(backend="cuda"), "backend must be one of 'numpy', 'numba'"),
        (dict(dtype=np.int32), "dtype must be float32 or float64"),
        (dict(beta=-1), "beta must be a number >= 0"),
        (dict(sigma=0), "sigma must be a number > 0"),
        (dict(rng="seed"), "rng must be an int seed or a numpy.random.Generator"),
    ],
)
def test_bad_constructor_arguments_raise_naming_the_argument(kwargs, message):
    base = dict(n_in=6, hidden=(5,), n_latent=2, backend="numpy")
    base.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sv.VAE(**base)


@pytest.mark.parametrize(
    "x, message",
    [
        (np.zeros(6), r"x must be a 2-D array"),
        (np.zeros((3, 5)), r"x must have shape \(batch, 6\), got \(3, 5\)"),
        (np.full((2, 6), np.nan), "x contains NaN or inf"),
        (np.full((2, 6), 255.0), r"x must have values in \[0.0, 1.0\]"),
        (np.array([["a"] * 6]), "x must be a float32 or float64 array"),
        (np.zeros((0, 6)), "at least one example"),
    ],
)
def test_bad_x_raises_naming_the_argument(x, message):
    vae = _tiny()
    with pytest.raises(ValueError, match=message):
        vae.loss_and_grads(x, rng=0)


def test_bad_eps_raises_naming_the_argument():
    vae = _tiny()
    with pytest.raises(ValueError, match=r"eps must have shape \(4, 2\)"):
        vae.loss_and_grads(np.zeros((4, 6)), eps=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="eps contains NaN"):
        vae.loss_and_grads(np.zeros((4, 6)), eps=np.full((4, 2), np.inf))
