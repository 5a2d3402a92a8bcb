"""fit(): learning, history, exact resume, the non-finite guard, quiet mode, KL warm-up."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.checkpoint import load_checkpoint
from scratchvae.train import (
    NonFiniteError,
    fit,
    kl_warmup_beta,
    validation_generator,
    validation_loss,
)


@pytest.fixture(scope="module")
def sprites16():
    ds = sv.data.sprites(640, rng=0, size=16)
    return ds.x[:512], ds.x[512:], ds.labels[:512]


def small_vae(beta=1.0, seed=0):
    return sv.VAE(n_in=256, hidden=(64,), n_latent=4, beta=beta, backend="numpy", rng=seed)


def test_fit_decreases_the_loss_on_sprites(sprites16):
    x, x_val, _ = sprites16
    history = fit(small_vae(), x, epochs=4, batch_size=32, x_val=x_val, lr=3e-3, progress=False)
    assert history["train_loss"][-1] < 0.7 * history["train_loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_fit_history_has_one_value_per_epoch_for_every_key(sprites16):
    x, x_val, _ = sprites16
    history = fit(small_vae(), x[:128], epochs=3, batch_size=64, x_val=x_val, progress=False)
    expected = {"epoch", "train_loss", "val_loss", "seconds", "train_reconstruction",
                "train_kl", "val_reconstruction", "val_kl", "beta"}
    assert set(history) == expected
    assert all(len(values) == 3 for values in history.values())
    assert history["epoch"] == [1, 2, 3]
    assert all(s > 0 for s in history["seconds"])
    for split in ("train", "val"):
        total = np.add(history[f"{split}_reconstruction"], history[f"{split}_kl"])
        np.testing.assert_allclose(history[f"{split}_loss"], total, rtol=1e-5)


def test_val_loss_is_the_neg_elbo_with_beta_1_and_sampled_z(sprites16):
    x, x_val, _ = sprites16
    vae = small_vae(beta=4.0)
    history = fit(vae, x[:64], epochs=1, batch_size=64, x_val=x_val, rng=7, progress=False)
    # one validation batch: loss_and_grads draws eps exactly as vae.elbo does
    expected = -np.mean(vae.elbo(x_val, rng=validation_generator(7)))
    assert history["val_loss"][0] == pytest.approx(float(expected), rel=1e-5)
    assert vae.beta == 4.0
    assert validation_loss(vae, x_val, rng=validation_generator(7))[0] == pytest.approx(
        history["val_loss"][0], rel=1e-6)


def test_resuming_from_a_checkpoint_gives_bit_identical_parameters(sprites16, tmp_path):
    x, x_val, _ = sprites16
    x = x[:160]  # 5 batches of 32
    straight = small_vae()
    fit(straight, x, epochs=4, batch_size=32, x_val=x_val[:32], rng=3, progress=False,
        kl_warmup_epochs=3)

    path = tmp_path / "run.npz"
    first = small_vae()
    fit(first, x, epochs=2, batch_size=32, x_val=x_val[:32], rng=3, progress=False,
        checkpoint=path, kl_warmup_epochs=3)
    saved = load_checkpoint(path)
    assert saved.metadata["epoch"] == 2 and saved.model.beta == 1.0
    history = fit(saved.model, x, optimizer=saved.optimizer, epochs=4, batch_size=32,
                  x_val=x_val[:32], rng=3, progress=False, kl_warmup_epochs=3,
                  initial_epoch=saved.metadata["epoch"], history=saved.metadata["history"])
    assert history["epoch"] == [1, 2, 3, 4]
    for key, value in straight.params.items():
        np.testing.assert_array_equal(saved.model.params[key], value, err_msg=key)

    # resume=True reads the epoch, history, params and optimizer state from the file
    third = small_vae(seed=99)  # different initial weights: all must come from the checkpoint
    fit(first, x, epochs=3, batch_size=32, x_val=x_val[:32], rng=3, progress=False,
        checkpoint=path, kl_warmup_epochs=3, resume=True)
    history = fit(third, x, epochs=4, batch_size=32, x_val=x_val[:32], rng=3, progress=False,
                  checkpoint=path, kl_warmup_epochs=3, resume=True)
    assert history["epoch"] == [1, 2, 3, 4]
    for key, value in straight.params.items():
        np.testing.assert_array_equal(third.params[key], value, err_msg=key)


def test_non_finite_gradient_stops_training_at_the_next_loss_and_keeps_the_last_checkpoint(
        sprites16, tmp_path, monkeypatch):
    # the guard looks at the loss every step, not at every gradient (issue 27: it must cost
    # at most 2% of an epoch): a NaN gradient spoils the parameters it updates, the next
    # step's loss is NaN, and the error names the spoiled parameter; the file is untouched
    x, _, _ = sprites16
    x = x[:96]  # 3 steps per epoch
    vae = small_vae()
    path = tmp_path / "run.npz"
    fit(vae, x, epochs=2, batch_size=32, progress=False, checkpoint=path)
    before = path.read_bytes()
    good = {k: v.copy() for k, v in vae.params.items()}

    real = vae.loss_and_grads
    calls = []

    def poisoned(xb, rng=None):
        loss, grads = real(xb, rng=rng)
        calls.append(1)
        if len(calls) == 2:  # epoch 3, step 2
            grads["decoder.1.W"][0, 0] = np.nan
        return loss, grads

    monkeypatch.setattr(vae, "loss_and_grads", poisoned)
    with pytest.raises(NonFiniteError) as info:
        fit(vae, x, epochs=4, batch_size=32, progress=False, checkpoint=path, resume=True)
    message = str(info.value)
    assert ("params['decoder.1.W'] contains NaN (written by an earlier step: this step's loss "
            "is NaN) at epoch 3, step 3") in message
    assert "the model in memory, which is now unusable" in message
    assert f"the last good checkpoint is {path} (epoch 2)" in message
    assert len(calls) == 3  # stopped at the step after the NaN gradient
    assert path.read_bytes() == before
    restored = load_checkpoint(path)
    assert restored.metadata["epoch"] == 2
    for key, value in good.items():
        np.testing.assert_array_equal(restored.model.params[key], value)


def test_a_non_finite_loss_is_caught_before_its_step_is_applied(sprites16, monkeypatch):
    x, _, _ = sprites16
    vae = small_vae()
    real = vae.loss_and_grads
    calls = []

    def nan_on_second_step(xb, rng=None):
        loss, grads = real(xb, rng=rng)
        calls.append(1)
        if len(calls) == 2:
            grads = {key: np.full_like(value, np.nan) for key, value in grads.items()}
            return float("nan"), grads
        return loss, grads

    monkeypatch.setattr(vae, "loss_and_grads", nan_on_second_step)
    with pytest.raises(NonFiniteError, match=r"loss contains NaN at epoch 1, step 2; the step "
                                             r"was not applied"):
        fit(vae, x[:96], epochs=1, batch_size=32, progress=False)
    assert all(np.all(np.isfinite(value)) for value in vae.params.values())


def test_non_finite_loss_is_reported_as_the_loss(sprites16, monkeypatch):
    x, _, _ = sprites16
    vae = small_vae()
    real = vae.loss_and_grads
    monkeypatch.setattr(vae, "loss_and_grads",
                        lambda xb, rng=None: (float("inf"), real(xb, rng=rng)[1]))
    with pytest.raises(NonFiniteError, match=r"loss contains inf at epoch 1, step 1; .*"
                                             r"no checkpoint was requested"):
        fit(vae, x[:32], epochs=1, batch_size=32, progress=False)


def test_progress_false_prints_nothing(sprites16, capfd):
    x, x_val, _ = sprites16
    fit(small_vae(), x[:64], epochs=2, batch_size=32, x_val=x_val, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_progress_true_is_quiet_when_stderr_is_not_a_terminal(sprites16, capfd):
    x, _, _ = sprites16
    fit(small_vae(), x[:64], epochs=1, batch_size=32, progress=True)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_kl_warmup_passes_beta_linearly_per_step_and_never_sets_model_beta(sprites16,
                                                                             monkeypatch):
    x, _, _ = sprites16
    vae = small_vae(beta=2.0)
    seen = []
    real = vae.loss_and_grads

    def recording(xb, rng=None, beta=None):
        assert vae.beta == 2.0
        seen.append(beta)
        return real(xb, rng=rng, beta=beta)

    monkeypatch.setattr(vae, "loss_and_grads", recording)
    history = fit(vae, x[:128], epochs=3, batch_size=32, kl_warmup_epochs=2, progress=False)
    # 4 steps per epoch, warm-up over 2 epochs = 8 steps: beta = 2 * t / 8, then 2
    expected = [2.0 * t / 8 for t in range(8)] + [2.0] * 4
    np.testing.assert_allclose(seen, expected)
    assert vae.beta == 2.0
    np.testing.assert_allclose(history["beta"], [2.0 * 3 / 8, 2.0 * 7 / 8, 2.0])
    assert kl_warmup_beta(2.0, 5, 0, 4, 0) == 2.0


def test_kl_warmup_leaves_beta_alone_when_training_fails(sprites16, monkeypatch):
    x, _, _ = sprites16
    vae = small_vae(beta=1.5)
    monkeypatch.setattr(vae, "loss_and_grads", lambda xb, rng=None, beta=None: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        fit(vae, x[:64], epochs=1, batch_size=32, kl_warmup_epochs=3, progress=False)
    assert vae.beta == 1.5


class CountingModel:
    """A model with its own train_step (as the adversarial autoencoder has) and labels."""

    needs_labels = True

    def __init__(self):
        self.params = {"w": np.zeros(3)}
        self.batches = []

    def train_step(self, x_batch, y_batch, optimizer, rng):
        self.batches.append((len(x_batch), y_batch.copy()))
        self.params["w"] += 1.0
        return {"loss": float(len(x_batch)), "discriminator": 0.5}

    def loss_and_grads(self, x, y=None, rng=None):
        self.last_loss_terms = {"reconstruction": float(np.mean(y))}
        return float(np.mean(x)), {"w": np.zeros(3)}


def test_fit_calls_train_step_and_passes_labels_when_the_model_needs_them():
    model = CountingModel()
    x, y = np.ones((10, 2)), np.arange(10)
    history = fit(model, x, epochs=2, batch_size=4, y_train=y, x_val=x, y_val=y, progress=False)
    assert [b[0] for b in model.batches] == [4, 4, 2, 4, 4, 2]
    assert sorted(np.concatenate([b[1] for b in model.batches[:3]])) == list(range(10))
    assert np.all(model.params["w"] == 6.0)
    assert history["train_loss"] == [pytest.approx((16 + 16 + 4) / 10)] * 2
    assert history["train_discriminator"] == [0.5, 0.5]
    assert history["val_reconstruction"] == [4.5, 4.5]
    with pytest.raises(ValueError, match="y_train is required"):
        fit(CountingModel(), x, epochs=1, progress=False)


def test_a_callback_returning_true_stops_training(sprites16):
    x, _, _ = sprites16
    seen = []
    history = fit(small_vae(), x[:32], epochs=5, batch_size=32, progress=False,
                  callbacks=[lambda epoch, history, model: seen.append(epoch) or epoch == 2])
    assert seen == [1, 2] and history["epoch"] == [1, 2]


def test_fit_rejects_bad_arguments_with_named_messages(sprites16):
    x, _, _ = sprites16
    vae = small_vae()
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        fit(vae, x, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="epochs must be a non-negative integer"):
        fit(vae, x, epochs=-1, progress=False)
    with pytest.raises(ValueError, match="x_train contains NaN"):
        fit(vae, np.full((4, 256), np.nan), epochs=1, progress=False)
    with pytest.raises(ValueError, match="kl_warmup_epochs needs a model with a beta"):
        fit(CountingModel(), np.ones((4, 2)), y_train=np.arange(4), kl_warmup_epochs=2,
            progress=False)


def test_resume_without_a_seed_continues_with_the_saved_seed_and_warns_on_another(
        sprites16, tmp_path):
    x = sprites16[0][:64]
    straight = small_vae()
    fit(straight, x, epochs=2, batch_size=32, rng=11, progress=False)
    path = tmp_path / "run.npz"
    fit(small_vae(), x, epochs=1, batch_size=32, rng=11, progress=False, checkpoint=path)
    resumed = small_vae(seed=5)
    fit(resumed, x, epochs=2, batch_size=32, rng=None, progress=False, checkpoint=path,
        resume=True)
    for key, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[key], value, err_msg=key)
    with pytest.warns(UserWarning, match="trained with seed 11\\) with seed 12"):
        fit(small_vae(), x, epochs=3, batch_size=32, rng=12, progress=False,
            checkpoint=path, resume=True)
