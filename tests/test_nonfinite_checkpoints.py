"""fit() never writes a checkpoint holding NaN or inf, and names the truly last good file
(issue 18, item 1)."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.checkpoint import load_checkpoint
from scratchvae.train import NonFiniteError, fit

# the overflowing updates below warn (float32 overflow) before the guard stops training
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _all_finite(path):
    saved = load_checkpoint(path)
    arrays = list(saved.model.params.values()) + list(saved.optimizer.state_dict().values())
    return all(np.all(np.isfinite(a)) for a in arrays)


def test_issue_reproducer_lr_1e38_writes_no_checkpoint(tmp_path):
    model = sv.VAE(n_in=1024, hidden=(32,), n_latent=4)
    x = sv.data.sprites(512, rng=0).x
    path = tmp_path / "b.npz"
    with pytest.raises(NonFiniteError) as info:
        fit(model, x, epochs=2, batch_size=512, lr=1e38, checkpoint=path, progress=False)
    message = str(info.value)
    assert "params[" in message and "epoch 1, step 1" in message
    assert "no checkpoint was written by this run" in message
    assert "last good checkpoint" not in message
    assert not path.exists()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sgd_lr_1e39_blow_up_is_caught_after_the_step(tmp_path, backend):
    model = sv.VAE(n_in=1024, hidden=(32,), n_latent=4, backend=backend)
    x = sv.data.sprites(64, rng=0).x
    optimizer = sv.optim.SGD(model.params, lr=1e39)
    path = tmp_path / "sgd.npz"
    with pytest.raises(NonFiniteError, match="the step had already updated the model"):
        fit(model, x, optimizer=optimizer, epochs=1, batch_size=64, checkpoint=path,
            progress=False)
    assert not path.exists()


def _poison_gradients(monkeypatch, model, poison_call, value):
    """Gradients of call number ``poison_call`` (1-based) all become ``value`` (finite)."""
    real = model.loss_and_grads
    calls = []

    def poisoned(xb, rng=None):
        loss, grads = real(xb, rng=rng)
        calls.append(1)
        if len(calls) == poison_call:
            grads = {key: np.full_like(g, value) for key, g in grads.items()}
        return loss, grads

    monkeypatch.setattr(model, "loss_and_grads", poisoned)


def test_blow_up_on_an_epochs_last_step_keeps_the_previous_epochs_file(tmp_path, monkeypatch):
    x = sv.data.sprites(96, rng=0, size=16).x                     # 3 steps per epoch
    model = sv.VAE(n_in=256, hidden=(16,), n_latent=2, backend="numpy")
    optimizer = sv.optim.SGD(model.params, lr=1e-3)
    path = tmp_path / "run.npz"
    # epoch 1 is clean; the last step of epoch 2 overflows one weight to inf (as lr=1e38 does)
    real_step, steps = optimizer.step, []

    def overflowing_step(grads):
        real_step(grads)
        steps.append(1)
        if len(steps) == 6:
            model.params["decoder.0.W"][0, 0] = np.inf

    monkeypatch.setattr(optimizer, "step", overflowing_step)
    with pytest.raises(NonFiniteError) as info:
        fit(model, x, optimizer=optimizer, epochs=3, batch_size=32, checkpoint=path,
            progress=False)
    message = str(info.value)
    assert "params['decoder.0.W'] contains inf at epoch 2, step 3" in message
    assert f"the last good checkpoint is {path} (epoch 1)" in message
    saved = load_checkpoint(path)
    assert saved.metadata["epoch"] == 1
    assert _all_finite(path)


def test_non_finite_optimizer_state_with_finite_params_is_never_saved(tmp_path, monkeypatch):
    # gradients of 1e30 in float32: Adam's v = (1 - beta2) g^2 overflows to inf, while the
    # update m_hat / (sqrt(v_hat) + eps) is 0, so every parameter stays finite
    x = sv.data.sprites(64, rng=0, size=16).x                     # 2 steps per epoch
    model = sv.VAE(n_in=256, hidden=(16,), n_latent=2, backend="numpy")
    path = tmp_path / "adam.npz"
    _poison_gradients(monkeypatch, model, poison_call=4, value=1e30)
    with pytest.raises(NonFiniteError) as info:
        fit(model, x, epochs=3, batch_size=32, checkpoint=path, progress=False)
    assert all(np.all(np.isfinite(p)) for p in model.params.values())
    message = str(info.value)
    assert "optimizer state['v." in message and "(end of epoch)" in message
    assert f"the last good checkpoint is {path} (epoch 1)" in message
    assert load_checkpoint(path).metadata["epoch"] == 1
    assert _all_finite(path)


def test_an_old_file_at_the_checkpoint_path_is_not_called_good(tmp_path):
    x = sv.data.sprites(64, rng=0, size=16).x
    path = tmp_path / "old.npz"
    sv.save(sv.VAE(n_in=256, hidden=(16,), n_latent=2, backend="numpy"), path)
    model = sv.VAE(n_in=256, hidden=(16,), n_latent=2, backend="numpy")
    with pytest.raises(NonFiniteError) as info:
        fit(model, x, optimizer=sv.optim.SGD(model.params, lr=1e39), epochs=1,
            batch_size=64, checkpoint=path, progress=False)
    assert "last good checkpoint" not in str(info.value)
