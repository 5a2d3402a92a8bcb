"""M2: gradient checks for labelled, unlabelled and mixed batches; the loss against brute force."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.gradcheck import check_model
from scratchvae.losses import bernoulli_nll, kl_standard_normal

K = 3


def _tiny(likelihood="bernoulli", seed=0, **kwargs):
    return sv.M2(n_in=7, n_classes=K, hidden=(6,), n_latent=2, likelihood=likelihood,
                 activation="tanh", dtype=np.float64, backend="numpy", rng=seed, **kwargs)


def _brute_force_bound(model, x, y, eps):
    """L(x, y) from the public encode/decode, for one label per example: (batch,)."""
    mu, logvar = model.encode(x, y)
    z = mu + np.exp(logvar / 2) * eps
    return -(bernoulli_nll(model.decode(z, y), x) + kl_standard_normal(mu, logvar)) - np.log(K)


def _brute_force_unlabelled(model, x, eps):
    """U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)), one label at a time: (batch,)."""
    q = model.classify(x)
    bounds = np.stack([_brute_force_bound(model, x, np.full(len(x), k), eps[k])
                       for k in range(K)], axis=1)
    return np.sum(q * bounds, axis=1) - np.sum(q * np.log(q), axis=1)


@pytest.mark.parametrize("y", [[0, -1, 2, -1, 1], [-1] * 5, [0, 1, 2, 2, 1]],
                         ids=["mixed", "unlabelled", "labelled"])
def test_m2_gradients_match_finite_differences(y):
    model = _tiny(alpha=0.7)
    rng = np.random.default_rng(1)
    x, eps = rng.uniform(size=(5, 7)), rng.standard_normal((K, 5, 2))
    report = check_model(model, x, y=np.array(y), eps=eps)
    assert report.max_rel_error < 1e-7
    assert {e.name for e in report.entries} == set(model.params)
    _, grads = model.loss_and_grads(x, np.array(y), eps=eps)
    assert all(np.any(g != 0) for g in grads.values())


def test_m2_gaussian_likelihood_gradients_match_finite_differences():
    model = _tiny("gaussian", beta=0.5, alpha=2.0)
    rng = np.random.default_rng(2)
    x, eps = rng.uniform(size=(4, 7)), rng.standard_normal((K, 4, 2))
    assert check_model(model, x, y=np.array([1, -1, -1, 0]), eps=eps).max_rel_error < 1e-7


def test_m2_unlabelled_term_equals_the_label_marginalised_sum_by_brute_force():
    model = _tiny()
    rng = np.random.default_rng(3)
    x, eps = rng.uniform(size=(6, 7)), rng.standard_normal((K, 6, 2))
    expected = _brute_force_unlabelled(model, x, eps)
    loss, _ = model.loss_and_grads(x, np.full(6, -1), eps=eps)
    assert loss == pytest.approx(-expected.mean(), rel=1e-12)
    assert model.last_loss_terms["unlabelled"] == pytest.approx(loss, rel=1e-12)
    assert model.unlabelled_bound(x, eps=eps) == pytest.approx(expected, rel=1e-12)
    assert model.loss_and_grads(x, None, eps=eps)[0] == loss   # y=None: all unlabelled


def test_m2_mixed_loss_is_labelled_plus_unlabelled_plus_alpha_mean_cross_entropy():
    model = _tiny(alpha=0.3)
    rng = np.random.default_rng(4)
    x, eps = rng.uniform(size=(5, 7)), rng.standard_normal((K, 5, 2))
    y = np.array([2, -1, 0, -1, -1])
    lab, unl = y >= 0, y < 0
    neg_L = -_brute_force_bound(model, x[lab], y[lab], eps[y[lab], np.flatnonzero(lab)])
    neg_U = -_brute_force_unlabelled(model, x[unl], eps[:, unl])
    cross_entropy = -np.log(model.classify(x[lab])[np.arange(2), y[lab]])
    loss, _ = model.loss_and_grads(x, y, eps=eps)
    assert loss == pytest.approx((neg_L.sum() + neg_U.sum()) / 5 + 0.3 * cross_entropy.mean(),
                                 rel=1e-12)
    assert sum(model.last_loss_terms.values()) == pytest.approx(loss, rel=1e-12)
    assert model.labelled_bound(x[lab], y[lab], eps=eps[y[lab], np.flatnonzero(lab)]) == (
        pytest.approx(-neg_L, rel=1e-12))


def test_m2_classifier_learns_from_a_few_labels_and_unlabelled_data():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(4, size=n)
    x = np.zeros((n, 16))
    x[np.arange(n), 2 * y] = x[np.arange(n), 2 * y + 1] = 1        # the class: 2 of 8 pixels
    x[:, 8:] = rng.uniform(size=(n, 8)) < 0.3                     # distractor pixels
    y_train = np.full(n, -1)
    for k in range(4):                                            # 4 labels per class
        y_train[np.flatnonzero(y == k)[:4]] = k
    model = sv.M2(16, 4, hidden=(16,), n_latent=2, alpha=1.0, dtype=np.float64,
                  backend="numpy", rng=0)
    sv.fit(model, x, y_train=y_train, epochs=20, batch_size=40, lr=3e-3, rng=0,
           progress=False)
    assert model.accuracy(x, y) > 0.9                             # chance is 0.25
    assert np.allclose(model.classify(x).sum(axis=1), 1)


@pytest.mark.parametrize("bad", [[0, 3], [0, -2], [0.5, 1.0]])
def test_m2_bad_labels_raise_value_error_naming_y(bad):
    model = _tiny()
    with pytest.raises(ValueError, match="y must"):
        model.loss_and_grads(np.full((2, 7), 0.5), np.array(bad), rng=0)
    with pytest.raises(ValueError, match="eps must"):
        model.loss_and_grads(np.full((2, 7), 0.5), np.array([0, -1]), eps=np.zeros((2, 2)))


def test_m2_config_rebuilds_the_same_model():
    model = _tiny(alpha=5.0, classifier_hidden=(4,))
    config = model.config()
    assert config["alpha"] == 5.0 and config["classifier_hidden"] == [4]
    again = sv.M2(**config)
    assert set(again.params) == set(model.params)
    assert all(np.array_equal(again.params[k], v) for k, v in model.params.items())
    assert sv.M2.needs_labels is True


def test_m2_numba_backend_equals_numpy_backend():
    x, y = np.random.default_rng(7).uniform(size=(5, 7)), np.array([0, -1, 2, -1, 1])
    results = [sv.M2(7, K, hidden=(6,), n_latent=2, dtype=np.float64, backend=backend,
                     rng=0).loss_and_grads(x, y, rng=1) for backend in ("numpy", "numba")]
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    assert all(np.allclose(grads_a[k], grads_b[k], rtol=1e-10, atol=1e-14) for k in grads_a)
