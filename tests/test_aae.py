"""The adversarial autoencoder: each step's gradients, its loss formula, and codes that match the prior."""

import json

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.gradcheck import check_model
from scratchvae.models.aae import MIXTURE_COMPONENTS, MIXTURE_RADIUS, MIXTURE_STD


def _tiny(loss="bce", seed=0, **kwargs):
    return sv.AdversarialAutoencoder(n_in=7, hidden=(6,), n_code=2, disc_hidden=(5,), loss=loss,
                                     activation="tanh", dtype=np.float64, backend="numpy",
                                     rng=seed, **kwargs)


class _Step:
    """One step of the AAE seen as a model: the parameters it updates and its loss."""

    def __init__(self, model, group, method):
        self.params = model.param_group(group)
        self.loss_and_grads = getattr(model, method)


STEPS = [("autoencoder", "reconstruction_loss_and_grads"),
         ("discriminator", "discriminator_loss_and_grads"),
         ("encoder", "generator_loss_and_grads")]


@pytest.mark.parametrize("loss", ["bce", "mse"])
@pytest.mark.parametrize("group, method", STEPS, ids=[s[1].split("_")[0] for s in STEPS])
def test_aae_step_gradients_match_finite_differences(loss, group, method):
    model = _tiny(loss)
    x = np.random.default_rng(1).uniform(size=(5, 7))
    kwargs = {"z_prior": model.sample_prior(6, rng=2)} if group == "discriminator" else {}
    report = check_model(_Step(model, group, method), x, **kwargs)
    assert report.max_rel_error < 1e-7
    _, grads = getattr(model, method)(x, **kwargs)
    assert set(grads) == set(model.param_group(group))            # exactly what it updates
    assert all(np.any(g != 0) for g in grads.values())


def test_aae_loss_and_grads_is_the_reconstruction_loss_with_zero_discriminator_grads():
    model = _tiny()
    x = np.random.default_rng(3).uniform(size=(4, 7))
    assert check_model(model, x).max_rel_error < 1e-7
    loss, grads = model.loss_and_grads(x)
    assert loss == model.reconstruction_loss_and_grads(x)[0]
    assert set(grads) == set(model.params)
    assert all(not np.any(grads[k]) for k in model.param_group("discriminator"))


def test_aae_adversarial_losses_equal_their_formulas():
    model = _tiny()
    rng = np.random.default_rng(4)
    x, z_prior = rng.uniform(size=(5, 7)), model.sample_prior(8, rng=5)
    d_fake = model.discriminate(model.encode(x))
    d_real = model.discriminate(z_prior)
    expected_d = -np.mean(np.log(d_real)) - np.mean(np.log(1 - d_fake))
    assert model.discriminator_loss_and_grads(x, z_prior=z_prior)[0] == pytest.approx(expected_d)
    assert model.generator_loss_and_grads(x)[0] == pytest.approx(-np.mean(np.log(d_fake)))


def test_aae_train_step_updates_every_group_and_reports_three_losses():
    model = _tiny()
    before = {k: v.copy() for k, v in model.params.items()}
    values = model.train_step(np.random.default_rng(6).uniform(size=(5, 7)), None, None, rng=0)
    assert set(values) == {"loss", "discriminator", "generator"}
    assert all(np.isfinite(v) for v in values.values())
    assert all(not np.array_equal(before[k], v) for k, v in model.params.items())
    assert set(model.optimizers) == {"autoencoder", "discriminator", "encoder"}


def test_aae_codes_match_the_gaussian_prior_after_training():
    rng = np.random.default_rng(0)
    y = rng.integers(4, size=600)
    x = np.zeros((600, 16))
    x[np.arange(600), 2 * y] = x[np.arange(600), 2 * y + 1] = 1
    x[:, 8:] = rng.uniform(size=(600, 8)) < 0.3
    model = sv.AdversarialAutoencoder(16, hidden=(32,), n_code=2, disc_hidden=(32,),
                                      dtype=np.float64, backend="numpy", rng=0)
    history = sv.fit(model, x, epochs=20, batch_size=50, lr=2e-3, rng=0, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    z = model.encode(x)
    assert np.all(np.abs(z.mean(axis=0)) < 0.3)
    assert np.all((z.std(axis=0) > 0.7) & (z.std(axis=0) < 1.5))
    # (the full shape takes longer: after 20 epochs the codes still form a ring around 0;
    # notebook 17 shows the scatter converging)


def test_aae_mixture_prior_has_its_stated_components():
    model = _tiny(prior="mixture")
    z = model.sample_prior(20000, rng=0)
    angles = 2 * np.pi * np.arange(MIXTURE_COMPONENTS) / MIXTURE_COMPONENTS
    means = MIXTURE_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    nearest = np.argmin(((z[:, None, :] - means) ** 2).sum(axis=2), axis=1)
    counts = np.bincount(nearest, minlength=MIXTURE_COMPONENTS)
    assert np.all(np.abs(counts / len(z) - 1 / MIXTURE_COMPONENTS) < 0.01)
    residual = z - means[nearest]
    assert np.allclose(residual.std(axis=0), MIXTURE_STD, rtol=0.05)
    assert np.array_equal(model.sample_prior(3, rng=1), model.sample_prior(3, rng=1))


def test_aae_config_rebuilds_and_bad_input_raises():
    model = _tiny(prior="mixture")
    config = model.config()
    assert config["prior"] == "mixture" and config["disc_hidden"] == [5]
    again = sv.AdversarialAutoencoder(**config)
    assert all(np.array_equal(again.params[k], v) for k, v in model.params.items())
    assert model.sample(3, rng=0).shape == (3, 7)
    with pytest.raises(ValueError, match="prior must be one of"):
        _tiny(prior="cauchy")
    with pytest.raises(ValueError, match="z_prior must have shape"):
        model.discriminator_loss_and_grads(np.full((2, 7), 0.5), z_prior=np.zeros((2, 3)))


@pytest.mark.parametrize("method", [s[1] for s in STEPS])
def test_aae_numba_backend_equals_numpy_backend(method):
    x = np.random.default_rng(7).uniform(size=(5, 7))
    results = [getattr(sv.AdversarialAutoencoder(7, hidden=(6,), n_code=2, disc_hidden=(5,),
                                                 dtype=np.float64, backend=backend, rng=0),
                       method)(x, rng=1) for backend in ("numpy", "numba")]
    (loss_a, grads_a), (loss_b, grads_b) = results
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    assert all(np.allclose(grads_a[k], grads_b[k], rtol=1e-10, atol=1e-14) for k in grads_a)


def test_aae_checkpoint_keeps_its_three_optimizers_and_resume_is_bit_identical(tmp_path):
    x = (np.random.default_rng(3).uniform(size=(40, 7)) < 0.4).astype(np.float64)
    straight = _tiny()
    sv.fit(straight, x, epochs=4, batch_size=8, rng=2, progress=False)

    path = tmp_path / "aae.npz"
    sv.fit(_tiny(), x, epochs=2, batch_size=8, rng=2, progress=False, checkpoint=path)
    loaded = sv.load(path)
    # fit builds no Adam of its own for a model that steps its own optimizers, nor saves one
    assert sv.checkpoint.load_checkpoint(path).optimizer is None
    assert set(loaded.optimizers) == {"autoencoder", "discriminator", "encoder"}
    assert loaded.optimizers["encoder"].step_count == 2 * 5  # 5 batches per epoch
    assert set(loaded.optimizers["discriminator"].params) == set(
        loaded.param_group("discriminator"))

    resumed = _tiny(seed=9)  # other initial weights: all must come from the checkpoint
    sv.fit(resumed, x, epochs=4, batch_size=8, rng=2, progress=False, checkpoint=path,
           resume=True)
    for key, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[key], value, err_msg=key)


def test_fit_gives_its_learning_rate_to_the_models_own_optimizers():
    x = (np.random.default_rng(3).uniform(size=(16, 7)) < 0.4).astype(np.float64)
    model = _tiny()
    sv.fit(model, x, epochs=1, batch_size=8, lr=3e-4, rng=0, progress=False)
    assert {opt.lr for opt in model.optimizers.values()} == {3e-4}


def test_a_checkpoint_without_the_model_optimizers_entry_but_with_their_state_is_refused(
        tmp_path):
    model = _tiny()
    model.train_step(np.full((4, 7), 0.5), None, None, rng=0)
    path = sv.save(model, tmp_path / "aae.npz")
    with np.load(path) as npz:
        arrays = {name: npz[name] for name in npz.files}
    header = json.loads(arrays["config.json"].tobytes().decode())
    del header["model_optimizers"]
    arrays["config.json"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(ValueError, match="model optimizer state but no model_optimizers"):
        sv.load(tmp_path / "broken.npz")
