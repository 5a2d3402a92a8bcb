"""fit checks every argument before its first step, and resume refuses another model
(issue 28, item 5). On main before this change both failed: x_val, callbacks, metadata and the
checkpoint path were checked only after a full epoch (x_val's errors said "x"), and a
checkpoint of another model class, likelihood or dtype was resumed silently."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.train import fit


def _vae(**kwargs):
    options = dict(n_in=16, hidden=(8,), n_latent=2, backend="numpy", rng=0)
    options.update(kwargs)
    return sv.VAE(**options)


def _data(n=32, width=16):
    return (np.random.default_rng(0).uniform(size=(n, width)) < 0.3).astype(np.float32)


def _counting(model):
    """Count the calls of the model's loss_and_grads (no step may run before a refusal)."""
    calls = []
    real = model.loss_and_grads

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    model.loss_and_grads = counted
    return calls


def _bad_arguments(tmp_path):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    file_as_folder = tmp_path / "plain_file"
    file_as_folder.write_text("x")
    return [
        (dict(x_val=_data(8, width=15)), r"x_val must have shape \(batch, 16\)"),
        (dict(x_val=np.full((8, 16), np.nan)), "x_val contains NaN"),
        (dict(x_val=np.full((8, 16), 2.0)), r"x_val .*\[0(\.0)?, 1(\.0)?\]"),
        (dict(callbacks=[print, 3]), r"callbacks\[1\] must be callable"),
        (dict(callbacks=3), "callbacks must be a callable or a list of callables"),
        (dict(metadata={"run": object()}), "metadata must hold JSON-friendly values"),
        (dict(metadata=[1, 2]), "metadata must be a dict or None"),
        (dict(checkpoint=folder), "checkpoint must name a regular .npz file"),
        (dict(checkpoint=file_as_folder / "run.npz"), "is a file, not a folder"),
        (dict(checkpoint=3.5), "checkpoint must be a path"),
        (dict(history=[1, 2]), "history must be a dict of lists"),
        (dict(shuffle="yes"), "shuffle must be True or False"),
        (dict(lr=-1.0), "lr must be"),
        (dict(progress="sometimes"), "progress must be True, False or 'always'"),
        (dict(zero_skipping="fast"), "zero_skipping must be True, False or None"),
        (dict(threads=0), "threads must be"),
        (dict(resume="yes"), "resume must be True or False"),
    ]


@pytest.mark.parametrize("case", range(17))
def test_every_argument_of_fit_is_checked_before_the_first_step(tmp_path, case):
    arguments, message = _bad_arguments(tmp_path)[case]
    model = _vae()
    calls = _counting(model)
    arguments = {"progress": False, **arguments}
    with pytest.raises(ValueError, match=message):
        fit(model, _data(), epochs=1, batch_size=8, **arguments)
    assert calls == []


def test_x_val_errors_name_x_val_not_x():
    with pytest.raises(ValueError) as info:
        fit(_vae(), _data(), epochs=1, x_val=_data(4, width=10), progress=False)
    assert str(info.value).startswith("x_val ")


@pytest.mark.parametrize("other, difference", [
    (dict(likelihood="gaussian_fixed"),
     "likelihood: checkpoint 'bernoulli', model 'gaussian_fixed'"),
    (dict(dtype=np.float64), "dtype: checkpoint 'float32', model 'float64'"),
    (dict(activation="tanh"), "activation: checkpoint 'relu', model 'tanh'"),
    (dict(beta=4.0), "beta: checkpoint 1.0, model 4.0"),
])
def test_resume_refuses_a_checkpoint_of_another_configuration_naming_the_difference(
        tmp_path, other, difference):
    path = tmp_path / "run.npz"
    x = _data()
    fit(_vae(), x, epochs=1, batch_size=8, progress=False, checkpoint=path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="another configuration") as info:
        fit(_vae(**other), x, epochs=2, batch_size=8, progress=False, checkpoint=path,
            resume=True)
    assert difference in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before


def test_resume_refuses_a_checkpoint_of_another_model_class(tmp_path):
    path = tmp_path / "run.npz"
    x = _data()
    fit(_vae(), x, epochs=1, batch_size=8, progress=False, checkpoint=path)
    dvae = sv.DenoisingVAE(n_in=16, hidden=(8,), n_latent=2, backend="numpy")  # same params
    assert set(dvae.params) == set(_vae().params)
    with pytest.raises(ValueError, match="holds a VAE, but model is a DenoisingVAE"):
        fit(dvae, x, epochs=2, batch_size=8, progress=False, checkpoint=path, resume=True)


def test_resume_accepts_the_same_configuration_on_another_backend(tmp_path):
    path = tmp_path / "run.npz"
    x = _data()
    fit(_vae(), x, epochs=1, batch_size=8, progress=False, checkpoint=path)
    history = fit(_vae(backend="numba"), x, epochs=2, batch_size=8, progress=False,
                  checkpoint=path, resume=True)
    assert history["epoch"] == [1, 2]
