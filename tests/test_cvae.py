"""The conditional VAE: gradient checks, values against the formula, the label is used, bad input."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.functional import sigmoid
from scratchvae.gradcheck import check_model
from scratchvae.losses import bernoulli_nll, kl_standard_normal


def _tiny(likelihood="bernoulli", seed=0, **kwargs):
    return sv.CVAE(n_in=7, n_classes=3, hidden=(6,), n_latent=2, likelihood=likelihood,
                   activation="tanh", dtype=np.float64, backend="numpy", rng=seed, **kwargs)


def _blocks(n, rng):
    """Toy labelled images (16 pixels): the class k in {0..3} lights pixels 2k, 2k+1 of the
    first 8; the "style" is a run of 4 lit pixels at a random offset among the last 8."""
    rng = np.random.default_rng(rng)
    y = rng.integers(4, size=n)
    x = np.zeros((n, 16))
    x[np.arange(n), 2 * y] = x[np.arange(n), 2 * y + 1] = 1
    offset = rng.integers(5, size=n)
    for j in range(4):
        x[np.arange(n), 8 + offset + j] = 1
    return x, y


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_fixed"])
def test_cvae_gradients_match_finite_differences(likelihood):
    model = _tiny(likelihood, beta=0.7, sigma=0.5)
    rng = np.random.default_rng(1)
    x, y, eps = rng.uniform(size=(4, 7)), np.array([0, 2, 1, 2]), rng.standard_normal((4, 2))
    report = check_model(model, x, y=y, eps=eps)
    assert report.max_rel_error < 1e-7
    assert {e.name for e in report.entries} == set(model.params)
    _, grads = model.loss_and_grads(x, y, eps=eps)
    assert all(np.any(g != 0) for g in grads.values())


def test_cvae_loss_equals_hand_formula_and_minus_mean_elbo():
    model = _tiny()
    rng = np.random.default_rng(2)
    x, y, eps = rng.uniform(size=(5, 7)), np.array([0, 1, 2, 0, 1]), rng.standard_normal((5, 2))
    mu, logvar = model.encode(x, y)
    z = mu + np.exp(logvar / 2) * eps
    expected = bernoulli_nll(model.decode(z, y), x) + kl_standard_normal(mu, logvar)
    loss, _ = model.loss_and_grads(x, y, eps=eps)
    assert loss == pytest.approx(expected.mean(), rel=1e-12)
    assert -model.elbo(x, y, eps=eps) == pytest.approx(expected, rel=1e-12)


def test_cvae_decoder_output_depends_on_the_label():
    model = _tiny()
    z = np.zeros((1, 2))
    outputs = [model.decode(z, k) for k in range(3)]
    assert not np.allclose(outputs[0], outputs[1]) and not np.allclose(outputs[1], outputs[2])


def test_cvae_samples_are_classified_as_their_label():
    x, y = _blocks(600, rng=0)
    model = sv.CVAE(16, 4, hidden=(32,), n_latent=2, dtype=np.float64, backend="numpy", rng=0)
    sv.fit(model, x, y_train=y, epochs=40, batch_size=50, lr=3e-3, rng=0, progress=False)
    # a simple classifier trained on the data: nearest class mean
    means = np.stack([x[y == k].mean(axis=0) for k in range(4)])
    labels = np.repeat(np.arange(4), 50)
    samples = model.sample(200, y=labels, rng=1)
    predicted = np.argmin(((samples[:, None, :] - means) ** 2).sum(axis=2), axis=1)
    assert np.mean(predicted == labels) > 0.9  # chance is 0.25
    # style transfer keeps the style pixels and changes the class pixels
    moved = model.transfer(x[:100], y[:100], (y[:100] + 1) % 4)
    assert np.mean(np.argmax(moved[:, :8:2], axis=1) == (y[:100] + 1) % 4) > 0.9
    assert np.mean(np.abs(moved[:, 8:] - x[:100, 8:])) < 0.25


def test_cvae_sample_takes_one_label_or_an_array():
    model = _tiny()
    assert model.sample(4, y=2, rng=0).shape == (4, 7)
    assert np.allclose(model.sample(3, y=[1, 1, 1], rng=0), model.sample(3, y=1, rng=0))
    assert np.all((model.sample(3, y=0) >= 0) & (model.sample(3, y=0) <= 1))
    assert np.allclose(model.sample(2, y=0, rng=5), sigmoid(model.decode(
        np.random.default_rng(5).standard_normal((2, 2)), 0)))


@pytest.mark.parametrize("bad, message", [(np.array([0, 3]), "y must hold labels in \\[0, 2\\]"),
                                          (np.array([0, -1]), "y must hold labels"),
                                          (np.array([0.5, 1.0]), "integer class labels"),
                                          (np.array([0, 1, 2]), "one label per example")])
def test_cvae_bad_labels_raise_value_error_naming_y(bad, message):
    model = _tiny()
    with pytest.raises(ValueError, match=message):
        model.loss_and_grads(np.full((2, 7), 0.5), bad, rng=0)


def test_cvae_config_rebuilds_the_same_model_and_int_rng_repeats():
    model = _tiny(beta=0.5)
    config = model.config()
    assert config["n_classes"] == 3 and config["beta"] == 0.5
    again = sv.CVAE(**config, rng=0)
    assert all(np.array_equal(again.params[k], v) for k, v in model.params.items())
    x, y = np.full((3, 7), 0.5), np.array([0, 1, 2])
    assert model.loss_and_grads(x, y, rng=4)[0] == model.loss_and_grads(x, y, rng=4)[0]
    assert sv.CVAE.needs_labels is True


def test_cvae_numba_backend_equals_numpy_backend():
    rng = np.random.default_rng(7)
    x, y = rng.uniform(size=(5, 7)), np.array([0, 1, 2, 1, 0])
    results = [sv.CVAE(7, 3, hidden=(6,), n_latent=2, dtype=np.float64, backend=backend,
                       rng=0).loss_and_grads(x, y, rng=1) for backend in ("numpy", "numba")]
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    assert all(np.allclose(grads_a[k], grads_b[k], rtol=1e-10, atol=1e-14) for k in grads_a)
