"""Models: one file each. Import them from the package root (``sv.VAE``, ``sv.Autoencoder``...).

``MODELS`` is the registry: ONE entry per model (:class:`ModelEntry`) holding everything the
rest of the package needs to know about it: its class (by module, loaded on first use), its
command-line name and defaults, what its validation loss means, and whether data parallelism
supports it. Adding a model means adding its file and its entry here, nothing else: the package
root serves the class, checkpoints save and rebuild it, ``scratchvae train --model`` offers it
(:mod:`scratchvae.registry`), ``sv.fit`` reads its speed defaults.
"""

from dataclasses import dataclass, field
from importlib import import_module


@dataclass(frozen=True)
class ModelEntry:
    """A model's registry entry.

    class_name, module: where the class lives. cli_name: its name for ``scratchvae train
    --model`` (None: not offered there). val_loss_meaning: what ``fit``'s ``val_loss`` is for
    it. input: the constructor argument the data's size goes to, "n_in" or "image_shape".
    cli_defaults: constructor arguments the command line uses when an option is not given.
    cli_options: command-line option -> constructor argument (e.g. "latent" -> "n_latent").
    data_parallel: :class:`scratchvae.parallel.DataParallel` supports it (its loss is a plain
    mean over examples and its noise is eps alone). parallel_by_default: ``sv.fit`` uses data
    parallelism for it by default with the "numba" backend when BLAS runs on two or more
    threads (measured faster, see benchmarks/README.md).
    """

    class_name: str
    module: str
    cli_name: str = None
    val_loss_meaning: str = "the model's loss on the test set, per example"
    input: str = "n_in"
    cli_defaults: dict = field(default_factory=dict)
    cli_options: dict = field(default_factory=dict)
    data_parallel: bool = False
    parallel_by_default: bool = False

    @property
    def cls(self):
        """The model class (its module is imported on first use)."""
        return getattr(import_module(self.module), self.class_name)


_NEG_ELBO = "-ELBO on the test set with sampled z, nats per example"
_VAE_OPTIONS = {"hidden": "hidden", "latent": "n_latent", "likelihood": "likelihood",
                "activation": "activation"}
_VAE_DEFAULTS = {"hidden": (400,), "n_latent": 20, "likelihood": "bernoulli",
                 "activation": "relu"}
_AE_OPTIONS = {"hidden": "hidden", "latent": "n_code", "likelihood": "loss",
               "activation": "activation"}

MODELS = {entry.class_name: entry for entry in (
    ModelEntry("VAE", "scratchvae.models.vae", "vae", _NEG_ELBO,
               cli_defaults={**_VAE_DEFAULTS, "beta": 1.0},
               cli_options={**_VAE_OPTIONS, "beta": "beta"}, data_parallel=True),
    ModelEntry("Autoencoder", "scratchvae.models.autoencoder", "ae",
               "reconstruction loss on the test set, per example",
               cli_defaults={"hidden": (256,), "n_code": 32, "loss": "bce",
                             "activation": "relu"},
               cli_options=_AE_OPTIONS),
    ModelEntry("DenoisingAutoencoder", "scratchvae.models.denoising", "dae",
               "reconstruction loss of corrupted test inputs against the clean ones, "
               "per example",
               cli_defaults={"hidden": (256,), "n_code": 32, "loss": "bce",
                             "activation": "relu", "noise": "masking"},
               cli_options={**_AE_OPTIONS, "noise": "noise", "level": "level"}),
    ModelEntry("CVAE", "scratchvae.models.cvae", "cvae",
               "-ELBO of x given its label on the test set, sampled z, nats per example",
               cli_defaults={**_VAE_DEFAULTS, "beta": 1.0, "n_classes": 10},
               cli_options={**_VAE_OPTIONS, "beta": "beta", "n_classes": "n_classes"}),
    ModelEntry("IWAE", "scratchvae.models.iwae", "iwae",
               "-L_k, the k-sample importance-weighted bound, on the test set, nats per example",
               cli_defaults={**_VAE_DEFAULTS, "k": 5},
               cli_options={**_VAE_OPTIONS, "k": "k"}),
    ModelEntry("DenoisingVAE", "scratchvae.models.dvae", "dvae",
               "the denoising bound's negative on the test set, nats per example",
               cli_defaults={**_VAE_DEFAULTS, "beta": 1.0, "noise": "masking"},
               cli_options={**_VAE_OPTIONS, "beta": "beta", "noise": "noise", "level": "level"}),
    ModelEntry("M2", "scratchvae.models.m2", "m2",
               "the M2 loss on the labelled test set: -bound + alpha x classification loss",
               cli_defaults={**_VAE_DEFAULTS, "beta": 1.0, "n_classes": 10, "alpha": 0.1},
               cli_options={**_VAE_OPTIONS, "beta": "beta", "n_classes": "n_classes",
                            "alpha": "alpha"}),
    ModelEntry("AdversarialAutoencoder", "scratchvae.models.aae", "aae",
               "reconstruction loss on the test set, per example",
               cli_defaults={"hidden": (512,), "n_code": 8, "loss": "bce", "activation": "relu"},
               cli_options=_AE_OPTIONS),
    ModelEntry("ConvVAE", "scratchvae.models.convvae", "convvae", _NEG_ELBO,
               input="image_shape",
               cli_defaults={"n_latent": 20, "channels": (32, 64), "likelihood": "bernoulli",
                             "beta": 1.0, "activation": "relu"},
               cli_options={"latent": "n_latent", "channels": "channels",
                            "likelihood": "likelihood", "beta": "beta",
                            "activation": "activation"},
               data_parallel=True, parallel_by_default=True),
    ModelEntry("Classifier", "scratchvae.models.classifier",
               val_loss_meaning="mean softmax cross-entropy on the test set"),
)}

#: class name -> defining module (the names the package root serves), from :data:`MODELS`
MODEL_CLASSES = {name: entry.module for name, entry in MODELS.items()}


def model_class(name):
    """The public model class called ``name`` (e.g. "VAE"), or None if there is none."""
    entry = MODELS.get(name)
    return None if entry is None else entry.cls


def entry_of(cls):
    """The registry entry of exactly the class ``cls`` (not a subclass), or None."""
    entry = MODELS.get(cls.__name__)
    return entry if entry is not None and entry.module == cls.__module__ else None


def cli_entries():
    """{command-line name: entry} of the models ``scratchvae train --model`` offers."""
    return {entry.cli_name: entry for entry in MODELS.values() if entry.cli_name}
