"""Models: one file each. Import them from the package root (``sv.VAE``, ``sv.Autoencoder``...).

``MODEL_CLASSES`` is the registry of the public model classes (class name -> defining module);
the package root serves these names lazily and checkpoints save and rebuild exactly these.
"""

from importlib import import_module

MODEL_CLASSES = {
    "VAE": "scratchvae.models.vae",
    "Autoencoder": "scratchvae.models.autoencoder",
    "DenoisingAutoencoder": "scratchvae.models.denoising",
    "CVAE": "scratchvae.models.cvae",
    "IWAE": "scratchvae.models.iwae",
    "DenoisingVAE": "scratchvae.models.dvae",
    "M2": "scratchvae.models.m2",
    "AdversarialAutoencoder": "scratchvae.models.aae",
    "ConvVAE": "scratchvae.models.convvae",
    "Classifier": "scratchvae.models.classifier",
}


def model_class(name):
    """The public model class called ``name`` (e.g. "VAE"), or None if there is none."""
    module = MODEL_CLASSES.get(name)
    return None if module is None else getattr(import_module(module), name)
