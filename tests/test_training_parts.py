"""The parts fit is made of (issue 27, items 3-5), each tested on its own: the declared model
interface and its one registry entry per model, the speed policy, the guard's schedule, input
validated once, the history, and the adversarial autoencoder's own trainer."""

import dataclasses
import inspect
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import scratchvae as sv
from scratchvae import parallel, speed
from scratchvae.models import MODEL_CLASSES, MODELS, cli_entries, entry_of
from scratchvae.models.base import Model
from scratchvae.registry import BUILDERS, build_model
from scratchvae.train import fit, guard, history, trainers
from scratchvae.train.interface import traits_of


def _x(n=32, width=16, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n, width)) < 0.3).astype(np.float32)


# -- one registry entry per model ------------------------------------------------------------


def test_every_public_model_class_has_exactly_one_entry_and_the_other_tables_derive_from_it():
    assert set(MODEL_CLASSES) == set(MODELS)
    for name, entry in MODELS.items():
        cls = entry.cls
        assert cls.__name__ == name and issubclass(cls, Model)
        assert entry_of(cls) is entry
        assert sv.__getattr__(name) is cls
    assert set(BUILDERS) >= set(cli_entries())
    from scratchvae.commands.train import VAL_LOSS_MEANING

    assert VAL_LOSS_MEANING == {n: e.val_loss_meaning for n, e in cli_entries().items()}
    assert set(parallel.SUPPORTED_MODELS) == {e.cls for e in MODELS.values() if e.data_parallel}


@pytest.mark.parametrize("name", sorted(cli_entries()))
def test_every_cli_default_and_option_names_a_constructor_argument(name):
    entry = cli_entries()[name]
    arguments = set(inspect.signature(entry.cls).parameters)
    assert set(entry.cli_defaults) <= arguments
    assert set(entry.cli_options.values()) <= arguments
    options = {"hidden": [6], "latent": 3, "backend": "numpy", "seed": 1, "dtype": "float64"}
    model = build_model(name, 64, (8, 8), options)
    assert type(model) is entry.cls and model.dtype == np.float64 and model.backend == "numpy"
    assert getattr(model, "n_latent", getattr(model, "n_code", None)) == 3


def test_the_interface_is_declared_on_the_base_class_and_read_without_probing():
    for entry in MODELS.values():
        cls = entry.cls
        assert cls.training in ("gradient", "adversarial")
        assert isinstance(cls.needs_labels, bool) and isinstance(cls.has_kl_weight, bool)
    assert sv.CVAE.needs_labels and sv.M2.needs_labels and not sv.VAE.needs_labels
    assert sv.VAE.has_kl_weight and not sv.Autoencoder.has_kl_weight
    assert sv.AdversarialAutoencoder.training == "adversarial"
    traits = traits_of(sv.ConvVAE(image_shape=(1, 8, 8), n_latent=2, channels=(2,),
                                  backend="numba"))
    assert traits.data_parallel and traits.parallel_by_default


def test_params_are_rebuilt_when_a_network_is_added_and_never_cleared_by_hand():
    model = sv.Autoencoder(n_in=6, hidden=(4,), n_code=2, backend="numpy")
    first = model.params
    assert model.params is first  # cached
    from scratchvae.layers import mlp

    model.networks["extra"] = mlp((2, 3), "relu", rng=0, dtype=model.dtype, backend="numpy")
    assert "extra.0.W" in model.params and model.params is not first


def test_cvae_builds_its_networks_once(monkeypatch):
    built = []
    real = sv.VAE._mlp_networks

    def counting(self, rng, n_condition=0):
        built.append(n_condition)
        return real(self, rng, n_condition)

    monkeypatch.setattr(sv.VAE, "_mlp_networks", counting)
    cvae = sv.CVAE(n_in=6, n_classes=3, hidden=(4,), n_latent=2, backend="numpy")
    assert built == [3]
    assert cvae.params["encoder.0.W"].shape == (9, 4)
    assert cvae.params["decoder.0.W"].shape == (5, 4)


# -- the speed policy --------------------------------------------------------------------------


def test_the_speed_policy_takes_arguments_as_given_and_defaults_from_blas_once():
    assert speed.decide(3, True) == speed.SpeedPolicy(zero_skipping=True, threads=3)
    with threadpool_limits(limits=1, user_api="blas"):
        assert speed.decide() == speed.SpeedPolicy(zero_skipping=True, threads=1)
        assert speed.decide(parallel_by_default=True).threads == 1
    with threadpool_limits(limits=2, user_api="blas"):
        if speed.blas_threads() == 2:
            assert speed.decide() == speed.SpeedPolicy(zero_skipping=False, threads=1)
            assert speed.decide(parallel_by_default=True).threads == 2


def test_applied_sets_the_policy_the_kernels_read_and_restores_it_after_an_error():
    assert speed.zero_skipping_chosen() is None
    with pytest.raises(ZeroDivisionError), speed.applied(speed.SpeedPolicy(False)):
        assert speed.zero_skipping_chosen() is False
        with speed.applied(speed.SpeedPolicy(True)):
            assert speed.zero_skipping_chosen() is True
        assert speed.zero_skipping_chosen() is False
        raise ZeroDivisionError
    assert speed.zero_skipping_chosen() is None


@pytest.mark.parametrize("choice", [True, False])
def test_fit_decides_the_policy_once_and_every_step_runs_under_it(monkeypatch, choice):
    from scratchvae.kernels import jit

    decided, seen = [], []
    real_decide = speed.decide
    monkeypatch.setattr("scratchvae.train.arguments.decide",
                        lambda *a, **k: decided.append(1) or real_decide(*a, **k))
    real_use = jit._use_sparse
    monkeypatch.setattr(jit, "_use_sparse",
                        lambda x: seen.append(speed.zero_skipping_chosen()) or real_use(x))
    model = sv.VAE(n_in=16, hidden=(8,), n_latent=2, backend="numba")
    fit(model, _x(), epochs=2, batch_size=8, progress=False, zero_skipping=choice)
    assert decided == [1] and seen and set(seen) == {choice}
    assert speed.zero_skipping_chosen() is None  # restored


def test_zero_skipping_on_or_off_gives_the_same_training_up_to_rounding():
    results = []
    for choice in (True, False):
        model = sv.VAE(n_in=16, hidden=(8,), n_latent=2, backend="numba", dtype=np.float64)
        results.append(fit(model, _x(), epochs=2, batch_size=8, progress=False,
                           zero_skipping=choice)["train_loss"])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


# -- the guard's schedule and input validated once ----------------------------------------------


def test_the_guard_scans_arrays_only_at_the_end_of_each_epoch_not_every_step(monkeypatch):
    scans = []
    real = guard.first_nonfinite_array
    monkeypatch.setattr(guard, "first_nonfinite_array",
                        lambda arrays, label: scans.append(label) or real(arrays, label))
    fit(sv.VAE(n_in=16, hidden=(8,), n_latent=2, backend="numpy"), _x(), epochs=3,
        batch_size=4, progress=False)  # 8 steps per epoch
    assert scans == ["params", "optimizer state"] * 3


def test_the_data_values_are_checked_once_per_fit_not_per_batch(monkeypatch):
    import scratchvae.models.base as base

    value_checks = []
    real = base.check_array

    def counting(name, value, *args, **kwargs):
        if kwargs.get("finite", True):
            value_checks.append(name)
        return real(name, value, *args, **kwargs)

    monkeypatch.setattr(base, "check_array", counting)
    model = sv.VAE(n_in=16, hidden=(8,), n_latent=2, backend="numpy")
    fit(model, _x(), epochs=2, batch_size=4, x_val=_x(8, seed=1), progress=False)
    assert value_checks == ["x_train", "x_val"]
    model.loss_and_grads(_x(4), rng=0)  # outside fit, a call checks its input again
    assert value_checks[-1] == "x"


def test_check_values_names_the_loss_and_tells_whether_the_step_was_applied():
    g = guard.Guard({"w": np.zeros(2)}, None)
    g.at(2, 5)
    g.check_values({"loss": 1.0, "kl": 0.5})
    with pytest.raises(guard.NonFiniteError, match="loss contains inf at epoch 2, step 5; "
                                                    "the step was not applied"):
        g.check_values({"loss": math.inf})
    g.params["w"][0] = np.nan
    with pytest.raises(guard.NonFiniteError, match=r"params\['w'\] contains NaN \(written by "
                                                    r"an earlier step"):
        g.check_values({"loss": math.nan})


# -- the history and the trainers --------------------------------------------------------------


def test_epoch_totals_are_size_weighted_means_and_the_history_records_them():
    totals = history.EpochTotals()
    totals.add(1.0, {"kl": 2.0}, 3)
    totals.add(3.0, {"kl": 0.0}, 1)
    h = history.new_history()
    history.record_train(h, 1, totals, beta=0.5)
    history.record_validation(h, 4.0, {"kl": 1.0})
    assert h["train_loss"] == [1.5] and h["train_kl"] == [1.5] and h["beta"] == [0.5]
    assert h["val_loss"] == [4.0] and h["val_kl"] == [1.0] and h["epoch"] == [1]


def test_fit_trains_the_adversarial_autoencoder_with_its_own_trainer(monkeypatch):
    made = []
    real = trainers.AdversarialTrainer.__init__
    monkeypatch.setattr(trainers.AdversarialTrainer, "__init__",
                        lambda self, *a: made.append(1) or real(self, *a))
    aae = sv.AdversarialAutoencoder(n_in=16, hidden=(8,), n_code=2, disc_hidden=(4,),
                                    backend="numpy")
    h = fit(aae, _x(), epochs=1, batch_size=8, progress=False)
    assert made == [1] and set(aae.optimizers) == {"autoencoder", "discriminator", "encoder"}
    assert {"train_discriminator", "train_generator"} <= set(h)


# -- one config dataclass per model -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_has_a_config_dataclass_with_its_constructor_defaults(name):
    cls = MODELS[name].cls
    config = cls.Config()
    signature = inspect.signature(cls)
    fields = {f.name for f in dataclasses.fields(config)}
    assert fields == set(signature.parameters) - {"rng"}
    for field in fields:
        assert getattr(config, field) == signature.parameters[field].default
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.dtype = np.float64


def test_from_config_builds_the_model_and_settings_give_its_config_back():
    config = sv.VAE.Config(n_in=12, hidden=(5,), n_latent=3, beta=2.0, backend="numpy")
    vae = sv.VAE.from_config(config, rng=4)
    again = sv.VAE(n_in=12, hidden=(5,), n_latent=3, beta=2.0, backend="numpy", rng=4)
    for key, value in again.params.items():
        np.testing.assert_array_equal(vae.params[key], value)
    rebuilt = sv.VAE.from_config(vae.settings, rng=4)
    assert rebuilt.config() == vae.config()
    with pytest.raises(ValueError, match="config must be a VAE.Config"):
        sv.VAE.from_config(sv.CVAE.Config())
