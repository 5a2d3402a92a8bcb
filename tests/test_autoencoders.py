"""Autoencoder and DenoisingAutoencoder: gradients, losses, corruptions, input checks."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.corruption import (
    corrupt_gaussian,
    corrupt_masking,
    corrupt_salt_pepper,
    sample_keep_mask,
    sample_salt_pepper,
)
from scratchvae.functional import sigmoid
from scratchvae.gradcheck import check_model

NOISES = ("gaussian", "masking", "salt_pepper")


def make_ae(n_in=12, hidden=(7,), n_code=3, loss="mse", seed=0, **kwargs):
    return sv.Autoencoder(n_in, hidden, n_code, loss=loss, dtype=np.float64, backend="numpy",
                          rng=seed, **kwargs)


def make_dae(noise="masking", n_in=12, hidden=(7,), n_code=3, loss="mse", seed=0, **kwargs):
    return sv.DenoisingAutoencoder(n_in, hidden, n_code, noise=noise, loss=loss,
                                   dtype=np.float64, backend="numpy", rng=seed, **kwargs)


def images(batch, n_in, seed=1):
    """Grey values in [0, 1] (valid for both losses)."""
    return np.random.default_rng(seed).random((batch, n_in))


def assert_grads_nonzero(grads):
    for key, grad in grads.items():
        assert np.any(grad != 0), f"gradient {key} is all zeros"


# -- gradient checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "n_in, hidden, n_code, activation",
    [(12, (7,), 3, "relu"), (9, (6, 5), 2, "tanh"), (8, (), 3, "identity")],
)
def test_autoencoder_gradients_match_finite_differences(loss, seed, n_in, hidden, n_code,
                                                        activation):
    ae = make_ae(n_in, hidden, n_code, loss=loss, seed=seed, activation=activation)
    x = images(4, n_in, seed=seed + 10)
    report = check_model(ae, x)
    assert report.max_rel_error < 1e-7
    _, grads = ae.loss_and_grads(x)
    assert set(grads) == set(ae.params)
    assert_grads_nonzero(grads)


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("noise", NOISES)
def test_denoising_autoencoder_gradients_match_finite_differences(noise, loss):
    dae = make_dae(noise, loss=loss, level=0.3)
    x = images(4, 12)
    noise_mask = dae.sample_noise_mask(x.shape, rng=3)
    report = check_model(dae, x, noise_mask=noise_mask)
    assert report.max_rel_error < 1e-7
    _, grads = dae.loss_and_grads(x, noise_mask=noise_mask)
    assert_grads_nonzero(grads)


# -- losses: values -----------------------------------------------------------------------------


def test_autoencoder_mse_loss_is_batch_mean_of_summed_squared_error():
    ae = make_ae()
    x = images(5, 12)
    x_hat = ae.reconstruct(x)
    expected = np.mean(np.sum((x - x_hat) ** 2, axis=1))
    loss, _ = ae.loss_and_grads(x)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert ae.last_loss_terms == {"reconstruction": loss}
    np.testing.assert_allclose(ae.loss(x), np.sum((x - x_hat) ** 2, axis=1), rtol=1e-12)


def test_autoencoder_bce_decode_returns_logits_like_the_vae_and_loss_is_cross_entropy():
    ae = make_ae(loss="bce")
    x = images(5, 12)
    code = ae.encode(x)
    logits = ae.decode(code)
    p = ae.mean_image(logits)
    np.testing.assert_allclose(p, sigmoid(logits), rtol=1e-14)
    np.testing.assert_array_equal(ae.reconstruct(x), p)
    assert np.all((p > 0) & (p < 1)) and np.any(logits < 0)
    bce = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    np.testing.assert_allclose(ae.loss(x), bce, rtol=1e-10)
    loss, _ = ae.loss_and_grads(x)
    assert loss == pytest.approx(bce.mean(), rel=1e-10)


def test_old_names_still_work_and_warn():
    ae = make_ae(loss="bce")
    code = ae.encode(images(3, 12))
    with pytest.warns(DeprecationWarning, match="decode_logits"):
        logits = ae.decode_logits(code)
    np.testing.assert_array_equal(logits, ae.decode(code))
    dae = sv.DenoisingAutoencoder(n_in=12, hidden=(5,), n_code=3, noise="masking",
                                  dtype=np.float64, backend="numpy")
    with pytest.warns(DeprecationWarning, match="sample_noise_mask"):
        old = dae.draw_noise((4, 12), rng=3)
    np.testing.assert_array_equal(old, dae.sample_noise_mask((4, 12), rng=3))
    from scratchvae.models import denoising

    with pytest.warns(DeprecationWarning, match="NOISE_SAMPLERS"):
        assert denoising.DRAWS is sv.corruption.NOISE_SAMPLERS
    with pytest.warns(DeprecationWarning, match="sample_keep_mask"):
        assert denoising.draw_keep_mask is sv.corruption.sample_keep_mask
    with pytest.warns(DeprecationWarning, match="scratchvae.conv.conv2d_forward"):
        assert sv.functional.conv2d_forward is sv.conv.conv2d_forward


def test_backward_overwrites_gradients_on_a_second_call():
    ae = make_ae()
    x = images(4, 12)
    _, grads1 = ae.loss_and_grads(x)
    grads1 = {k: v.copy() for k, v in grads1.items()}
    _, grads2 = ae.loss_and_grads(x)
    for key in grads1:
        np.testing.assert_array_equal(grads1[key], grads2[key])


def test_autoencoder_parameter_keys_and_shapes():
    ae = sv.Autoencoder(20, (10, 6), 4, backend="numpy")
    shapes = {k: v.shape for k, v in ae.params.items()}
    assert shapes == {
        "encoder.0.W": (20, 10), "encoder.0.b": (10,), "encoder.1.W": (10, 6),
        "encoder.1.b": (6,), "encoder.2.W": (6, 4), "encoder.2.b": (4,),
        "decoder.0.W": (4, 6), "decoder.0.b": (6,), "decoder.1.W": (6, 10),
        "decoder.1.b": (10,), "decoder.2.W": (10, 20), "decoder.2.b": (20,),
    }
    assert all(v.dtype == np.float32 for v in ae.params.values())
    x = images(3, 20).astype(np.float32)
    assert ae.encode(x).shape == (3, 4) and ae.encode(x).dtype == np.float32
    assert ae.reconstruct(x).shape == (3, 20)


def test_config_rebuilds_an_identical_model():
    for model in (make_ae(loss="bce", activation="tanh"), make_dae("salt_pepper", level=0.2)):
        config = model.config()
        rebuilt = type(model)(**config)
        assert rebuilt.config() == config
        for key, value in model.params.items():
            np.testing.assert_array_equal(rebuilt.params[key], value)


def test_linear_autoencoder_at_pca_solution_is_stationary_with_discarded_variance_loss():
    # x_hat = mean + (x - mean) U U^T with U the top-k eigenvectors of the covariance: a
    # stationary point of the linear AE's MSE whose loss is the sum of the discarded eigenvalues.
    rng = np.random.default_rng(0)
    n, d, k = 200, 6, 2
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)
    mean = x.mean(axis=0)
    cov = (x - mean).T @ (x - mean) / n
    eigvals, eigvecs = np.linalg.eigh(cov)  # ascending
    U = eigvecs[:, -k:]
    ae = sv.Autoencoder(d, (), k, loss="mse", activation="identity", dtype=np.float64,
                        backend="numpy")
    ae.params["encoder.0.W"][...] = U
    ae.params["encoder.0.b"][...] = -mean @ U
    ae.params["decoder.0.W"][...] = U.T
    ae.params["decoder.0.b"][...] = mean
    loss, grads = ae.loss_and_grads(x)
    assert loss == pytest.approx(eigvals[:-k].sum(), rel=1e-10)
    assert max(np.abs(g).max() for g in grads.values()) < 1e-10


def test_autoencoder_training_with_adam_reduces_loss():
    rng = np.random.default_rng(0)
    x = sigmoid(rng.standard_normal((64, 3)) @ rng.standard_normal((3, 16)))
    ae = sv.Autoencoder(16, (12,), 3, loss="bce", backend="numpy", dtype=np.float64)
    opt = sv.optim.Adam(ae.params, lr=1e-2)
    first, _ = ae.loss_and_grads(x)
    for _ in range(150):
        _, grads = ae.loss_and_grads(x)
        opt.step(grads)
    last, _ = ae.loss_and_grads(x)
    assert last < first - 0.5


# -- denoising: clean target, corruptions --------------------------------------------------------


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("noise", NOISES)
def test_denoising_loss_with_identity_corruption_equals_autoencoder_loss(noise, loss):
    x = images(5, 12)
    identity_mask = {"gaussian": np.zeros_like(x), "masking": np.ones_like(x),
                     "salt_pepper": np.zeros_like(x)}[noise]
    dae = make_dae(noise, loss=loss)
    ae = make_ae(loss=loss)
    for key in ae.params:
        ae.params[key][...] = dae.params[key]
    dae_loss, dae_grads = dae.loss_and_grads(x, noise_mask=identity_mask)
    ae_loss, ae_grads = ae.loss_and_grads(x)
    assert dae_loss == ae_loss
    for key in ae_grads:
        np.testing.assert_array_equal(dae_grads[key], ae_grads[key])


@pytest.mark.parametrize("noise", NOISES)
def test_denoising_loss_compares_reconstruction_of_corrupted_input_with_clean_x(noise):
    level = 0.5
    dae = make_dae(noise, hidden=(5,), level=level)
    x = images(6, 12)
    noise_mask = dae.sample_noise_mask(x.shape, rng=2)
    x_tilde = {
        "gaussian": x + level * noise_mask,
        "masking": x * noise_mask,
        "salt_pepper": np.where(noise_mask == 1, 1.0, np.where(noise_mask == -1, 0.0, x)),
    }[noise]
    assert not np.allclose(x_tilde, x)
    p = dae.params
    h = np.maximum(x_tilde @ p["encoder.0.W"] + p["encoder.0.b"], 0)
    code = h @ p["encoder.1.W"] + p["encoder.1.b"]
    h = np.maximum(code @ p["decoder.0.W"] + p["decoder.0.b"], 0)
    x_hat = h @ p["decoder.1.W"] + p["decoder.1.b"]
    expected = np.mean(np.sum((x - x_hat) ** 2, axis=1))  # target is the clean x
    loss, _ = dae.loss_and_grads(x, noise_mask=noise_mask)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(dae.corrupt(x, noise_mask=noise_mask), x_tilde, rtol=1e-15)


def test_corruption_functions_are_the_documented_formulas():
    x = np.array([[0.2, 0.4, 0.6, 0.8]])
    np.testing.assert_allclose(corrupt_gaussian(x, np.array([[1.0, -1.0, 0.0, 2.0]]), 0.1),
                               [[0.3, 0.3, 0.6, 1.0]], rtol=1e-15)
    np.testing.assert_array_equal(corrupt_masking(x, np.array([[1.0, 0.0, 1.0, 0.0]])),
                                  [[0.2, 0.0, 0.6, 0.0]])
    np.testing.assert_array_equal(corrupt_salt_pepper(x, np.array([[0.0, -1.0, 1.0, 0.0]])),
                                  [[0.2, 0.0, 1.0, 0.8]])
    assert corrupt_salt_pepper(x.astype(np.float32), np.zeros((1, 4))).dtype == np.float32


def test_masking_drop_rate_matches_level():
    level = 0.3
    keep = sample_keep_mask((400, 500), level, rng=0)
    assert set(np.unique(keep)) == {0.0, 1.0}
    assert abs((1 - keep.mean()) - level) < 0.005  # std of the estimate ~ 0.0007


def test_salt_pepper_fraction_changed_matches_level_and_is_half_salt():
    level = 0.2
    flips = sample_salt_pepper((400, 500), level, rng=0)
    assert set(np.unique(flips)) == {-1.0, 0.0, 1.0}
    picked = flips != 0
    assert abs(picked.mean() - level) < 0.005
    assert abs((flips[picked] > 0).mean() - 0.5) < 0.01


def test_gaussian_corruption_has_std_level_and_zero_mean():
    level = 0.4
    dae = make_dae("gaussian", n_in=500, level=level)
    x = images(400, 500)
    diff = dae.corrupt(x, rng=0) - x
    assert abs(diff.mean()) < 0.005
    assert abs(diff.std() - level) < 0.005


@pytest.mark.parametrize("noise", NOISES)
def test_same_int_rng_gives_same_corruption_and_loss(noise):
    dae = make_dae(noise, level=0.5)
    x = images(4, 12)
    np.testing.assert_array_equal(dae.corrupt(x, rng=7), dae.corrupt(x, rng=7))
    assert not np.array_equal(dae.corrupt(x, rng=7), dae.corrupt(x, rng=8))
    assert dae.loss_and_grads(x, rng=7)[0] == dae.loss_and_grads(x, rng=7)[0]
    mask = dae.sample_noise_mask(x.shape, rng=7)
    assert dae.loss_and_grads(x, noise_mask=mask)[0] == dae.loss_and_grads(x, rng=7)[0]
    np.testing.assert_array_equal(dae.loss(x, rng=7), dae.loss(x, noise_mask=mask))


def test_default_levels_and_noise_arguments():
    assert sv.DenoisingAutoencoder(8, (4,), 2, noise="masking", backend="numpy").level == 0.25
    assert sv.DenoisingAutoencoder.noise_arguments == ("noise_mask",)
    assert sv.Autoencoder.noise_arguments == ()


# -- bad input -------------------------------------------------------------------------------------


def test_unknown_noise_lists_valid_ones():
    with pytest.raises(ValueError, match="noise") as info:
        make_dae("dropout")
    for name in NOISES:
        assert repr(name) in str(info.value)
    assert "'dropout'" in str(info.value)


@pytest.mark.parametrize("noise, level", [("masking", 1.5), ("salt_pepper", -0.1),
                                          ("gaussian", -0.2), ("masking", True),
                                          ("gaussian", float("nan"))])
def test_level_out_of_range_raises(noise, level):
    with pytest.raises(ValueError, match="level"):
        make_dae(noise, level=level)


def test_unknown_loss_and_activation_raise_naming_the_argument():
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'bce'"):
        make_ae(loss="l1")
    with pytest.raises(ValueError, match="activation"):
        make_ae(activation="swish")
    with pytest.raises(ValueError, match="n_code"):
        make_ae(n_code=0)


def test_x_with_wrong_shape_raises_naming_x():
    ae = make_ae()
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 12\), got \(4, 11\)"):
        ae.loss_and_grads(images(4, 11))
    with pytest.raises(ValueError, match="x must be a 2-D array"):
        ae.encode(np.zeros(12))
    with pytest.raises(ValueError, match="code"):
        ae.decode(np.zeros((2, 4)))


def test_bce_requires_x_in_unit_interval():
    with pytest.raises(ValueError, match=r"x must have values in \[0.0, 1.0\]"):
        make_ae(loss="bce").loss_and_grads(images(3, 12) + 0.5)


@pytest.mark.parametrize("noise, bad", [("masking", 0.5), ("salt_pepper", 2.0)])
def test_noise_mask_with_invalid_values_raises(noise, bad):
    dae = make_dae(noise)
    x = images(3, 12)
    mask = np.zeros_like(x)
    mask[1, 2] = bad
    with pytest.raises(ValueError, match="noise_mask .* must hold only values"):
        dae.loss_and_grads(x, noise_mask=mask)


def test_noise_mask_with_wrong_shape_raises():
    dae = make_dae("gaussian")
    with pytest.raises(ValueError, match="noise_mask must have shape"):
        dae.loss_and_grads(images(3, 12), noise_mask=np.zeros((3, 11)))


# -- backends ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_numba_backend_gives_the_numpy_backend_loss_and_grads(loss):
    x = images(6, 12)
    mask = sample_keep_mask(x.shape, 0.3, rng=0)
    results = {}
    for backend in ("numpy", "numba"):
        dae = sv.DenoisingAutoencoder(12, (7,), 3, noise="masking", loss=loss, dtype=np.float64,
                                      backend=backend, rng=0)
        results[backend] = dae.loss_and_grads(x, noise_mask=mask)
    (loss_np, grads_np), (loss_nb, grads_nb) = results["numpy"], results["numba"]
    assert loss_nb == pytest.approx(loss_np, rel=1e-12)
    for key in grads_np:
        np.testing.assert_allclose(grads_nb[key], grads_np[key], rtol=1e-10, atol=1e-13)


def test_default_backend_is_numba_and_float32_stays_float32():
    ae = sv.Autoencoder(12, (7,), 3, loss="bce")
    assert ae.backend == "numba"
    loss, grads = ae.loss_and_grads(images(4, 12).astype(np.float32))
    assert np.isfinite(loss)
    assert all(g.dtype == np.float32 for g in grads.values())
