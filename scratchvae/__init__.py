"""scratchvae: autoencoders, denoising autoencoders and VAEs from scratch in NumPy.

Every layer, loss and model has a hand-written backward pass that is checked against
finite differences. Submodules and public names load lazily, so ``import scratchvae``
does no work beyond importing NumPy: no downloads, no argument parsing, no JIT compilation.

    import scratchvae as sv
    vae = sv.VAE(n_in=784, hidden=(400,), n_latent=20)
    loss, grads = vae.loss_and_grads(x, rng=0)
"""

from importlib import import_module

from scratchvae.models import MODEL_CLASSES

__version__ = "0.1.0"

_SUBMODULES = {
    "functional", "reparam", "losses", "layers", "optim", "gradcheck", "kernels", "data",
    "checkpoint", "plotting", "evaluate", "train", "export", "homework", "models", "cli",
    "conv", "conv_layers", "corruption", "mathutils", "notebook", "parallel", "pretrained", "registry",
    "metrics", "speed",
    "validation",
}

# public name -> module that defines it (the models: their registry, scratchvae.models)
_NAMES = {
    **MODEL_CLASSES,
    "fit": "scratchvae.train",
    "save": "scratchvae.checkpoint",
    "load": "scratchvae.checkpoint",
}

__all__ = sorted(_SUBMODULES | set(_NAMES))


def __getattr__(name):
    """Import a submodule or a public name on first use (PEP 562)."""
    if name in _SUBMODULES:
        module = import_module(f"scratchvae.{name}")
        globals()[name] = module
        return module
    if name in _NAMES:
        value = getattr(import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scratchvae' has no attribute {name!r}")


def __dir__():
    return __all__
