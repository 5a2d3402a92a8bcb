"""Finite and exact where the answer is representable (issue 18, item 4): the Gaussian NLL at
logvar = -1000, the importance-sampled NLL and IWAE bound at logvar <= -710, and a whole VAE
whose encoder logvar diverges past exp's overflow (89 in float32, 710 in float64)."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae import losses
from scratchvae.gradcheck import check_model, numerical_grad, rel_error
from scratchvae.models.iwae import LinearGaussianToy
from scratchvae.models.vae import ENCODER_LOGVAR_LIMIT, ClampedDense

BACKENDS = ["numpy", "numba"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_nll_at_mean_equals_x_and_logvar_minus_1000_is_exact(dtype):
    x = np.random.default_rng(0).uniform(size=(3, 5)).astype(dtype)
    logvar = np.full((3, 5), -1000.0, dtype=dtype)
    expected = 0.5 * 5 * (losses.LOG_2PI - 1000.0)
    np.testing.assert_allclose(losses.gaussian_nll(x, x, logvar), expected, rtol=1e-6)
    dmean, dlogvar = losses.gaussian_nll_grad(x, x, logvar)
    assert np.all(dmean == 0) and np.all(dlogvar == 0.5)
    # a scalar logvar too, and a difference too small to square in float64 but not to scale
    assert np.isfinite(losses.gaussian_nll(x, x, -1000.0)).all()
    tiny = np.array([[1e-200]])
    value = losses.gaussian_nll(tiny, np.zeros((1, 1)), np.array([[-1000.0]]))
    expected = 0.5 * (losses.LOG_2PI - 1000.0) + 0.5 * (1e-200 * np.exp(500.0)) ** 2
    np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_gaussian_nll_is_unchanged_in_the_ordinary_range():
    rng = np.random.default_rng(1)
    x, mean = rng.uniform(size=(4, 6)), rng.uniform(size=(4, 6))
    logvar = rng.uniform(-5, 3, size=(4, 6))
    naive = 0.5 * np.sum(losses.LOG_2PI + logvar + (x - mean) ** 2 / np.exp(logvar), axis=1)
    np.testing.assert_allclose(losses.gaussian_nll(x, mean, logvar), naive, rtol=1e-14)


@pytest.mark.parametrize("log_std_scale", [-355.0, -370.0])
def test_importance_sampled_nll_is_finite_when_logvar_is_below_minus_710(log_std_scale):
    # q(z|x) with std_scale = e^-400 has logvar = 2 log(std_scale) + log S < -710: exp(-logvar)
    # overflows, and (z - mu)^2 / var = eps^2 must come out exactly anyway
    toy = LinearGaussianToy(n_in=3, n_latent=2, std_scale=float(np.exp(log_std_scale)), rng=0)
    x = toy.sample_x(5, rng=1)
    mu, logvar = toy.encode(x)
    assert logvar.max() <= -700
    nll = sv.evaluate.importance_sampled_nll(toy, x, k=1, rng=0, progress=False)
    # k = 1: -log w = -log p(x|z) - log N(z; 0, I) + log N(eps; 0, I) - 1/2 sum logvar, and
    # z = mu + std * eps = mu to float64 precision (std < 1e-154)
    eps = np.random.default_rng(0).standard_normal((1, 5, 2))[0]
    by_hand = (losses.gaussian_nll(x, *toy.decode(mu))
               + 0.5 * np.sum(np.log(2 * np.pi) + mu**2, axis=1)
               - 0.5 * np.sum(np.log(2 * np.pi) + eps**2, axis=1) - 0.5 * np.sum(logvar, axis=1))
    assert np.all(np.isfinite(nll))
    np.testing.assert_allclose(nll, by_hand, rtol=1e-12)


def _vae(backend, dtype, logvar_bias, likelihood="bernoulli", k=None):
    kwargs = dict(n_in=6, hidden=(5,), n_latent=3, likelihood=likelihood, backend=backend,
                  dtype=dtype, rng=0)
    model = sv.IWAE(k=k, **kwargs) if k else sv.VAE(**kwargs)
    model.params["logvar.b"][...] = logvar_bias
    return model


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype, bias", [(np.float32, 89.0), (np.float32, 200.0),
                                         (np.float64, 710.0), (np.float64, -800.0)])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_loss_and_gradients_stay_finite_when_the_encoder_logvar_diverges(backend, dtype,
                                                                            bias, likelihood):
    vae = _vae(backend, dtype, bias, likelihood)
    x = np.random.default_rng(2).uniform(size=(4, 6)).astype(dtype)
    loss, grads = vae.loss_and_grads(x, rng=0)
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(g)) for g in grads.values())
    _, logvar = vae.encode(x)
    assert np.all(np.abs(logvar) <= ENCODER_LOGVAR_LIMIT)
    assert np.all(np.isfinite(vae.elbo(x, rng=0)))
    # the clamped units get no gradient through the clamp
    assert np.all(grads["logvar.b"] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_iwae_bound_and_is_nll_finite_when_the_encoder_logvar_is_below_minus_710(backend):
    iwae = _vae(backend, np.float64, -800.0, k=3)
    x = np.random.default_rng(3).uniform(size=(4, 6))
    assert np.all(np.isfinite(iwae.bound(x, rng=0)))
    assert np.all(np.isfinite(iwae.bound(x, k=7, rng=0)))
    assert np.all(np.isfinite(sv.evaluate.importance_sampled_nll(iwae, x, k=5, progress=False)))
    loss, grads = iwae.loss_and_grads(x, rng=0)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


@pytest.mark.parametrize("seed", [0, 1])
def test_vae_gradients_match_finite_differences_with_a_logvar_unit_clamped(seed):
    # (clamped at +30 the KL is ~1e13 nats, beyond what central differences resolve; the
    # layer test below checks that side of the clamp)
    vae = _vae("numpy", np.float64, 0.0, "gaussian")
    vae.params["logvar.b"][:] = [0.2, 0.3, -40.0]     # unit 2 clamped at -30
    rng = np.random.default_rng(seed)
    x, eps = rng.uniform(size=(4, 6)), rng.standard_normal((4, 3))
    report = check_model(vae, x, eps=eps)
    assert report.max_rel_error < 1e-7
    _, grads = vae.loss_and_grads(x, eps=eps)
    assert np.all(grads["logvar.W"][:, 2] == 0) and np.any(grads["logvar.W"][:, :2] != 0)


def test_clamped_dense_gradients_match_finite_differences_on_both_sides_of_the_clamp():
    rng = np.random.default_rng(4)
    layer = ClampedDense(4, 6, limit=1.0, rng=0)
    x = rng.standard_normal((5, 4)) * 2
    dout = rng.standard_normal((5, 6))          # a random upstream gradient
    pre = x @ layer.params["W"] + layer.params["b"]
    inside = np.abs(pre) <= 1.0
    assert inside.any() and (pre > 1.0).any() and (pre < -1.0).any()
    assert np.all(np.abs(np.abs(pre) - 1.0) > 1e-3)  # no entry sits on the kink
    layer.forward(x)
    dx = layer.backward(dout)

    def loss(_):
        return float(np.sum(dout * layer.forward(x)))

    for name, analytic in [("W", layer.grads["W"]), ("b", layer.grads["b"])]:
        numeric = numerical_grad(loss, layer.params[name])
        assert rel_error(analytic, numeric) < 1e-7, name
    assert rel_error(dx, numerical_grad(loss, x)) < 1e-7


def test_clamped_dense_is_the_dense_layer_inside_the_range():
    layer = ClampedDense(4, 3, rng=0)
    plain = sv.layers.Dense(4, 3, rng=0)
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_array_equal(layer.forward(x), plain.forward(x))
    dout = np.random.default_rng(1).standard_normal((5, 3))
    np.testing.assert_array_equal(layer.backward(dout), plain.backward(dout))
    np.testing.assert_array_equal(layer.grads["W"], plain.grads["W"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make", [
    lambda b: sv.CVAE(n_in=16, n_classes=3, hidden=(5,), n_latent=2, backend=b),
    lambda b: sv.M2(n_in=16, n_classes=3, hidden=(5,), n_latent=2, backend=b),
    lambda b: sv.DenoisingVAE(n_in=16, hidden=(5,), n_latent=2, backend=b),
    lambda b: sv.ConvVAE(image_shape=(1, 4, 4), n_latent=2, channels=(2,), backend=b),
])
def test_every_vae_keeps_a_finite_loss_when_its_encoder_logvar_diverges(backend, make):
    model = make(backend)                                      # float32, exp overflows at 89
    model.params["logvar.b"][...] = 200.0
    x = np.random.default_rng(0).uniform(size=(4, 16)).astype(np.float32)
    kwargs = {"y": np.array([0, 1, 2, 0])} if getattr(model, "needs_labels", False) else {}
    loss, grads = model.loss_and_grads(x, rng=0, **kwargs)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())
