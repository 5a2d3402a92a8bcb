"""Settings that would poison training are refused with a ValueError naming the argument, in
code and in a checkpoint's JSON; NumPy scalars are valid numbers (issue 18, item 2)."""

import json
import zipfile

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.checkpoint import CONFIG_KEY, load_checkpoint


def _params():
    return sv.VAE(n_in=6, hidden=(4,), n_latent=2, backend="numpy").params


@pytest.mark.parametrize("make, name", [
    (lambda p: sv.optim.Adam(p, lr=np.inf), "lr"),
    (lambda p: sv.optim.Adam(p, lr=np.nan), "lr"),
    (lambda p: sv.optim.Adam(p, lr=-1e-3), "lr"),
    (lambda p: sv.optim.Adam(p, eps=np.nan), "eps"),
    (lambda p: sv.optim.Adam(p, eps=-1e-8), "eps"),
    (lambda p: sv.optim.Adam(p, eps=0.0), "eps"),
    (lambda p: sv.optim.Adam(p, betas=(np.nan, 0.999)), r"betas\[0\]"),
    (lambda p: sv.optim.Adam(p, betas=(0.9, 1.0)), r"betas\[1\]"),
    (lambda p: sv.optim.SGD(p, lr=np.inf), "lr"),
    (lambda p: sv.optim.SGD(p, momentum=np.nan), "momentum"),
    (lambda p: sv.optim.Adam(p, lr=True), "lr"),
])
def test_optimizer_settings_that_poison_training_are_refused(make, name):
    with pytest.raises(ValueError, match=f"^{name} must be"):
        make(_params())


@pytest.mark.parametrize("model_class, kwargs, name", [
    (sv.VAE, dict(beta=np.inf), "beta"),
    (sv.VAE, dict(beta=np.nan), "beta"),
    (sv.VAE, dict(likelihood="gaussian_fixed", sigma=np.inf), "sigma"),
    (sv.VAE, dict(likelihood="gaussian_fixed", sigma=1e-300), "sigma"),
    (sv.VAE, dict(likelihood="gaussian", logvar_range=(-np.inf, np.inf)), r"logvar_range\[0\]"),
    (sv.VAE, dict(likelihood="gaussian", logvar_range=(-6.0, np.nan)), r"logvar_range\[1\]"),
    (sv.VAE, dict(likelihood="gaussian", logvar_range=(-1000.0, 2.0)), r"logvar_range\[0\]"),
    (sv.M2, dict(alpha=np.inf), "alpha"),
    (sv.CVAE, dict(beta=np.inf), "beta"),
    (sv.IWAE, dict(sigma=np.nan), "sigma"),
])
def test_model_settings_that_poison_training_are_refused(model_class, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} must be"):
        model_class(n_in=6, hidden=(4,), n_latent=2, backend="numpy", **kwargs)


def test_numpy_scalars_are_valid_hyperparameters():
    params = _params()
    adam = sv.optim.Adam(params, lr=np.float32(1e-3), eps=np.float64(1e-8),
                         betas=(np.float32(0.9), np.float64(0.999)))
    assert adam.lr == pytest.approx(1e-3) and isinstance(adam.lr, float)
    sv.optim.SGD(params, lr=np.float16(0.01), momentum=np.float32(0.5))
    vae = sv.VAE(n_in=6, hidden=(4,), n_latent=2, beta=np.float32(0.5), sigma=np.float64(0.2),
                 likelihood="gaussian_fixed", backend="numpy")
    assert vae.beta == 0.5 and isinstance(vae.beta, float)
    sv.M2(n_in=6, n_classes=3, hidden=(4,), n_latent=2, alpha=np.float32(0.1), backend="numpy")
    json.dumps(adam.config())  # still plain JSON numbers


def _rewrite(path, out, config=None, arrays=None):
    """Copy checkpoint ``path`` to ``out`` with its JSON header edited by ``config(header)`` and
    arrays replaced from ``arrays``."""
    with np.load(path) as npz:
        entries = {name: npz[name] for name in npz.files}
    if config is not None:
        text = entries[CONFIG_KEY].tobytes().decode()
        header = config(json.loads(text))
        # json.dumps writes Infinity and NaN for non-finite floats, as a hand edit would
        entries[CONFIG_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    entries.update(arrays or {})
    np.savez(out, **entries)
    return out


@pytest.fixture
def saved(tmp_path):
    model = sv.VAE(n_in=6, hidden=(4,), n_latent=2, backend="numpy")
    adam = sv.optim.Adam(model.params, lr=1e-3, backend="numpy")
    _, grads = model.loss_and_grads(np.full((2, 6), 0.5), rng=0)
    adam.step(grads)
    return sv.save(model, tmp_path / "good.npz", optimizer=adam)


def _set_optimizer_config(key, value):
    def edit(header):
        header["optimizer_config"][key] = value
        return header
    return edit


@pytest.mark.parametrize("edit, arrays, problem", [
    (_set_optimizer_config("lr", float("inf")), None, "lr must be a finite number"),
    (_set_optimizer_config("eps", float("nan")), None, "eps must be a finite number"),
    (None, {"optim/step": np.array(-7)}, "'step' must be >= 0"),
    (None, {"optim/step": np.array(2.5)}, "'step' must be one integer"),
    (lambda h: {**h, "model_config": {**h["model_config"], "beta": float("inf")}}, None,
     "beta must be a finite number"),
])
def test_poisoned_settings_in_a_checkpoint_are_refused_naming_the_file(saved, tmp_path, edit,
                                                                      arrays, problem):
    bad = _rewrite(saved, tmp_path / "edited.npz", edit, arrays)
    with pytest.raises(ValueError, match="edited.npz is not a valid scratchvae checkpoint") as info:
        load_checkpoint(bad)
    assert problem in str(info.value)


def test_the_unedited_checkpoint_loads(saved):
    assert zipfile.is_zipfile(saved)
    assert load_checkpoint(saved).optimizer.step_count == 1
