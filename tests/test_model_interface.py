"""The declared model interface (scratchvae.models.base.Model) instead of probes.

1. No ``getattr(model, ...)`` / ``hasattr(model, ...)`` on a model variable remains in the
   package (ast over scratchvae/**/*.py): evaluation, plotting, checkpoints, the commands and
   the trainers read what a model declares. The places allowed to look are listed below, each
   with its reason.
2. Every registered model (``scratchvae.models.MODELS``) declares what it can do, and its
   methods agree with the declaration: ``has_gaussian_encoder``, ``has_decoder``,
   ``can_sample``, ``latent_size``, ``param_groups`` / ``param_group``, ``owned_optimizers`` /
   ``set_owned_optimizers``.
3. Functions that take a model refuse an object that is not one with a ValueError naming it.
"""

import ast
from pathlib import Path

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.models import MODELS
from scratchvae.models.base import GaussianLatentModel, Model
from scratchvae.models.iwae import LinearGaussianToy

# -- 1. no probes on a model ------------------------------------------------------------------

#: names a model goes by in the package (a bare name, or the attribute of ``self.model``...)
MODEL_NAMES = {"model", "models", "vae", "ae", "dae", "aae", "cvae", "dvae", "iwae", "m2",
               "net", "network", "owned", "stepper", "replica", "toy", "classifier", "loaded",
               "trained", "shipped"}

#: package file -> why it may call getattr/hasattr on a model variable
ALLOWED = {
    "train/interface.py": "traits_of and loss_terms read an object from outside the package "
                          "(not a Model: it declares nothing) once, with documented defaults",
    "gradcheck.py": "check_model(model, x, method=...) calls the method its caller names "
                    "(getattr(model, method)): a dynamic call, not a probe for a feature",
}

#: getattr/hasattr the package keeps on objects that are not models (their first argument has
#: another name, so the check above never sees them; listed here so the reader knows why)
NOT_MODELS = {
    "plotting.py": "the IPython shell (getattr(shell, 'kernel')) and a figure's shown flag",
    "export.py": "a PyTorch state_dict (hasattr(state_dict, 'keys')) and a torch tensor "
                 "(hasattr(value, 'detach')), without importing torch",
    "cli.py, commands/homework.py": "the argparse namespace of a subcommand",
    "models/__init__.py": "the registry's lazy import of a model class from its module",
    "__init__.py, deprecation.py, functional.py, models/denoising.py": "module __getattr__ "
                                                                       "serving old names",
    "homework/*": "the grader's and the student process's duck typing of submitted objects",
}

PACKAGE = Path(sv.__file__).resolve().parent


def _is_model_name(node):
    """``model``, ``vae``... or an attribute such as ``self.model``, ``saved.model``."""
    if isinstance(node, ast.Name):
        return node.id in MODEL_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in MODEL_NAMES
    return False


def probes_on_models(source, filename="<source>"):
    """[(line, call text)] of every getattr/hasattr call whose first argument is a model."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr") and node.args
                and _is_model_name(node.args[0])):
            found.append((node.lineno, ast.unparse(node)))
    return found


def _package_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("kernels/") and "jit" in path.name:
            continue  # Numba kernels: arrays only, no models
        yield relative, path


def test_no_getattr_or_hasattr_on_a_model_outside_the_allowed_places():
    found = [f"scratchvae/{relative}:{line}: {call}"
             for relative, path in _package_files() if relative not in ALLOWED
             for line, call in probes_on_models(path.read_text(encoding="utf-8"), str(path))]
    assert not found, ("probes on a model (read what scratchvae.models.base.Model declares "
                       "instead):\n" + "\n".join(found))


def test_every_allowed_place_exists_and_the_checker_sees_its_probe():
    for relative in ALLOWED:
        assert probes_on_models((PACKAGE / relative).read_text(encoding="utf-8")), relative


@pytest.mark.parametrize("line", [
    "ok = hasattr(model, 'sample')",
    "n = getattr(vae, 'n_latent', None)",
    "owned = getattr(model, 'optimizers', None) or {}",
    "terms = getattr(self.model, 'last_loss_terms', None)",
    "size = getattr(network, 'layers', [network])",
])
def test_the_checker_reports_a_probe_on_a_model(line):
    [(lineno, call)] = probes_on_models(line)
    assert lineno == 1 and call.startswith(("getattr(", "hasattr("))


@pytest.mark.parametrize("line", ["shell = getattr(ip, 'kernel', None)",
                                  "f = getattr(optim, name, None)", "x = model.n_in"])
def test_the_checker_ignores_what_is_not_a_probe_on_a_model(line):
    assert probes_on_models(line) == []


# -- 2. every registered model declares its interface ------------------------------------------

#: the smallest instance of each registered model (float64, NumPy backend)
TINY = {
    "VAE": dict(n_in=6, hidden=(5,), n_latent=2),
    "Autoencoder": dict(n_in=6, hidden=(5,), n_code=3, loss="bce"),
    "DenoisingAutoencoder": dict(n_in=6, hidden=(5,), n_code=3, loss="bce", noise="masking"),
    "CVAE": dict(n_in=6, n_classes=3, hidden=(5,), n_latent=2),
    "IWAE": dict(n_in=6, hidden=(5,), n_latent=2, k=3),
    "DenoisingVAE": dict(n_in=6, hidden=(5,), n_latent=2, noise="masking"),
    "M2": dict(n_in=6, n_classes=3, hidden=(5,), n_latent=2),
    "AdversarialAutoencoder": dict(n_in=6, hidden=(5,), n_code=2, disc_hidden=(4,)),
    "ConvVAE": dict(image_shape=(1, 4, 4), n_latent=2, channels=(2,)),
    "Classifier": dict(n_in=6, n_classes=3, hidden=(5,)),
}

#: what each model can do, written out by hand (the oracle the declarations are checked against)
EXPECTED = {  # name: (has_gaussian_encoder, has_decoder, can_sample, latent argument)
    "VAE": (True, True, True, "n_latent"),
    "Autoencoder": (False, True, False, "n_code"),
    "DenoisingAutoencoder": (False, True, False, "n_code"),
    "CVAE": (True, True, True, "n_latent"),
    "IWAE": (True, True, True, "n_latent"),
    "DenoisingVAE": (True, True, True, "n_latent"),
    "M2": (True, True, True, "n_latent"),
    "AdversarialAutoencoder": (False, True, True, "n_code"),
    "ConvVAE": (True, True, True, "n_latent"),
    "Classifier": (False, False, False, None),
}


def _tiny(name):
    return MODELS[name].cls(**TINY[name], dtype=np.float64, backend="numpy", rng=0)


def _data(model, n=4):
    x = np.random.default_rng(1).uniform(size=(n, model.n_in))
    y = np.arange(n) % model.n_classes if model.needs_labels else None
    return x, y


def _labelled(y):
    return () if y is None else (y,)


def test_every_registered_model_has_a_tiny_instance_and_an_expectation():
    assert set(TINY) == set(MODELS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_registered_model_declares_what_the_hand_written_table_says(name):
    model = _tiny(name)
    gaussian, decoder, sampler, latent = EXPECTED[name]
    assert isinstance(model, Model)
    assert (model.has_gaussian_encoder, model.has_decoder, model.can_sample) == (
        gaussian, decoder, sampler)
    assert model.latent_size == (None if latent is None else TINY[name][latent])
    assert isinstance(model.n_in, int) and model.n_in == _data(model)[0].shape[1]


@pytest.mark.parametrize("name", [n for n in sorted(MODELS) if EXPECTED[n][0]])
def test_a_gaussian_encoder_gives_mu_and_logvar_and_the_nll_is_per_example(name):
    model = _tiny(name)
    x, y = _data(model)
    mu, logvar = model.encode(x, *_labelled(y))
    assert mu.shape == logvar.shape == (len(x), model.latent_size)
    nll = model.reconstruction_nll(x, model.decode(mu, *_labelled(y)))
    assert nll.shape == (len(x),) and np.all(np.isfinite(nll))
    assert isinstance(model, GaussianLatentModel)


@pytest.mark.parametrize("name", [n for n in sorted(MODELS) if EXPECTED[n][1]])
def test_a_model_with_a_decoder_reconstructs_and_decodes_codes_to_images(name):
    model = _tiny(name)
    x, y = _data(model)
    assert model.reconstruct(x, *_labelled(y)).shape == x.shape
    z = np.zeros((3, model.latent_size))
    assert model.mean_image(model.decode(z, *_labelled(None if y is None else y[:3]))).shape == (
        3, model.n_in)


@pytest.mark.parametrize("name", [n for n in sorted(MODELS) if EXPECTED[n][2]])
def test_a_model_that_can_sample_draws_images(name):
    samples = _tiny(name).sample(3, rng=0)
    assert samples.shape == (3, _tiny(name).n_in) and np.all(np.isfinite(samples))


@pytest.mark.parametrize("name", [n for n in sorted(MODELS) if not EXPECTED[n][0]])
def test_evaluation_refuses_a_model_without_a_gaussian_encoder_by_its_declaration(name):
    model = _tiny(name)
    x, y = _data(model)
    for evaluate in (sv.evaluate.evaluate_elbo, sv.evaluate.active_units):
        with pytest.raises(ValueError, match=f"model must be a VAE .*got {name}"):
            evaluate(model, x, y=y)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_param_group_refuses_an_unknown_group_naming_the_groups(name):
    model = _tiny(name)
    with pytest.raises(ValueError, match=f"name must be a parameter group of {name}"):
        model.param_group("no such group")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_param_groups_hold_live_parameter_arrays(name):
    model = _tiny(name)
    params = model.params
    for group, networks in model.param_groups.items():
        arrays = model.param_group(group)
        assert arrays and set(arrays) == {k for k in params if k.split(".")[0] in networks}
        assert all(arrays[key] is params[key] for key in arrays)


def test_only_the_adversarial_autoencoder_has_parameter_groups():
    assert {name for name in MODELS if _tiny(name).param_groups} == {"AdversarialAutoencoder"}
    assert set(_tiny("AdversarialAutoencoder").param_groups) == {"autoencoder", "discriminator",
                                                                 "encoder"}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_new_model_owns_no_optimizers_and_others_refuse_to_take_some(name):
    model = _tiny(name)
    assert model.owned_optimizers() == {}
    model.set_owned_optimizers({})
    assert model.owned_optimizers() == {}
    if name != "AdversarialAutoencoder":
        with pytest.raises(ValueError, match=f"optimizers must be empty: {name} owns no"):
            model.set_owned_optimizers({"all": sv.optim.Adam(model.params)})


def test_the_adversarial_autoencoder_owns_its_three_optimizers_through_the_interface():
    model = _tiny("AdversarialAutoencoder")
    made = model.make_optimizers(lr=1e-3)
    owned = model.owned_optimizers()
    assert owned == made and owned is not model.optimizers  # a copy of the dict
    assert all(set(opt.params) == set(model.param_group(g)) for g, opt in owned.items())
    other = _tiny("AdversarialAutoencoder")
    other.set_owned_optimizers({g: sv.optim.rebind(opt, other.param_group(g))
                                for g, opt in owned.items()})
    assert set(other.optimizers) == set(owned)
    with pytest.raises(ValueError, match="one optimizer per parameter group"):
        other.set_owned_optimizers({"encoder": owned["encoder"]})
    with pytest.raises(ValueError, match=r"optimizers\['autoencoder'\] must be built on"):
        other.set_owned_optimizers(owned)  # bound to the first model's arrays


# -- 3. a function that takes a model refuses what is not one ----------------------------------


class _NotAModel:
    dtype = np.float64
    n_in = 6


@pytest.mark.parametrize("call", [
    lambda m, x: sv.evaluate.evaluate_elbo(m, x),
    lambda m, x: sv.evaluate.importance_sampled_nll(m, x, k=2, progress=False),
    lambda m, x: sv.evaluate.active_units(m, x),
    lambda m, x: sv.evaluate.reconstruction_error(m, x),
    lambda m, x: sv.plotting.latent_size(m),
    lambda m, x: sv.plotting.samples(m, (2, 3), n=2),
])
def test_functions_that_take_a_model_refuse_another_object_naming_it(call):
    with pytest.raises(ValueError, match="model must be .*got _NotAModel"):
        call(_NotAModel(), np.zeros((2, 6)))


def test_an_outside_object_with_the_gaussian_latent_interface_is_evaluated_without_labels():
    toy = LinearGaussianToy(n_in=3, n_latent=2, rng=0)
    assert isinstance(toy, GaussianLatentModel) and not isinstance(toy, Model)
    x = toy.sample_x(4, rng=1)
    # y is ignored for an object that declares no labels
    a = sv.evaluate.evaluate_elbo(toy, x, rng=0)
    b = sv.evaluate.evaluate_elbo(toy, x, rng=0, y=np.zeros(4, dtype=int))
    assert a == b and np.isfinite(a["neg_elbo"])


def test_reconstruction_error_refuses_a_model_that_does_not_reconstruct():
    model = _tiny("Classifier")
    x, y = _data(model)
    with pytest.raises(ValueError, match="model must be an autoencoder or a VAE .*got Classifier"):
        sv.evaluate.reconstruction_error(model, x, y=y)


def test_samples_refuses_a_model_that_cannot_sample_by_its_declaration():
    with pytest.raises(ValueError, match="can sample .*got Autoencoder"):
        sv.plotting.samples(_tiny("Autoencoder"), (2, 3), n=2)
