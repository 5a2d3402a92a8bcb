"""Model factory: build a model from a short name and a dict of options (used by the CLI).

    model = build_model("vae", n_in=1024, image_shape=(32, 32), latent=10, hidden=(256,))

``BUILDERS`` maps a name to a function ``builder(n_in, image_shape, options) -> model``.
Add a model by adding one entry (or ``@register("name")`` on the builder). ``options`` is a
plain dict; every builder reads the options it understands with ``options.get`` and ignores the
rest (the CLI passes the same options to every model). Common options:

    hidden      tuple of hidden-layer widths          latent      size of z (or of the AE code)
    likelihood  "bernoulli" | "gaussian" | "gaussian_fixed"   (AE: bernoulli -> loss "bce",
                                                               gaussian* -> loss "mse")
    beta        KL weight (VAEs)                      activation  hidden-layer activation
    backend     "numpy" | "numba"                     seed        initial-weight seed
    dtype       "float32" | "float64"                 n_classes   number of labels (CVAE, M2)
    noise, level   the corruption of "dae" (and "dvae")
"""

from scratchvae.kernels import DEFAULT_BACKEND

__all__ = ["BUILDERS", "build_model", "register", "model_names"]

BUILDERS = {}


def register(name):
    """Decorator: ``@register("vae")`` adds the builder to :data:`BUILDERS`."""

    def add(builder):
        BUILDERS[name] = builder
        return builder

    return add


def model_names():
    """The names :func:`build_model` accepts, sorted."""
    return sorted(BUILDERS)


def build_model(name, n_in, image_shape=None, options=None, **kwargs):
    """Build the model called ``name`` for inputs of ``n_in`` numbers (images of
    ``image_shape``), with ``options`` (a dict) updated by ``kwargs``. Unknown names raise
    ValueError listing the valid ones; options a model does not use are ignored."""
    if name not in BUILDERS:
        valid = ", ".join(repr(n) for n in model_names())
        raise ValueError(f"model must be one of {valid}; got {name!r}")
    merged = dict(options or {})
    merged.update(kwargs)
    return BUILDERS[name](int(n_in), None if image_shape is None else tuple(image_shape), merged)


def _common(options):
    return dict(
        backend=options.get("backend") or DEFAULT_BACKEND,
        rng=int(options.get("seed") or 0),
        dtype=options.get("dtype") or "float32",
    )


def _hidden(options, default):
    hidden = options.get("hidden")
    return tuple(default if hidden is None else hidden)


def _ae_loss(options):
    likelihood = options.get("likelihood") or "bernoulli"
    return "bce" if likelihood == "bernoulli" else "mse"


@register("vae")
def _vae(n_in, image_shape, options):
    from scratchvae.models.vae import VAE

    return VAE(n_in=n_in, hidden=_hidden(options, (400,)), n_latent=options.get("latent") or 20,
               likelihood=options.get("likelihood") or "bernoulli",
               beta=float(1.0 if options.get("beta") is None else options["beta"]),
               activation=options.get("activation") or "relu", **_common(options))


@register("ae")
def _ae(n_in, image_shape, options):
    from scratchvae.models.autoencoder import Autoencoder

    return Autoencoder(n_in=n_in, hidden=_hidden(options, (256,)),
                       n_code=options.get("latent") or 32, loss=_ae_loss(options),
                       activation=options.get("activation") or "relu", **_common(options))


@register("dae")
def _dae(n_in, image_shape, options):
    from scratchvae.models.denoising import DenoisingAutoencoder

    return DenoisingAutoencoder(
        n_in=n_in, hidden=_hidden(options, (256,)), n_code=options.get("latent") or 32,
        noise=options.get("noise") or "masking", level=options.get("level"),
        loss=_ae_loss(options), activation=options.get("activation") or "relu",
        **_common(options))


def _vae_options(options, hidden=(400,)):
    """The VAE options shared by the extensions below."""
    return dict(hidden=_hidden(options, hidden), n_latent=options.get("latent") or 20,
                likelihood=options.get("likelihood") or "bernoulli",
                activation=options.get("activation") or "relu", **_common(options))


def _beta(options):
    return float(1.0 if options.get("beta") is None else options["beta"])


@register("cvae")
def _cvae(n_in, image_shape, options):
    from scratchvae.models.cvae import CVAE

    return CVAE(n_in=n_in, n_classes=options.get("n_classes") or 10, beta=_beta(options),
                **_vae_options(options))


@register("iwae")
def _iwae(n_in, image_shape, options):
    from scratchvae.models.iwae import IWAE

    return IWAE(n_in=n_in, k=options.get("k") or 5, **_vae_options(options))


@register("dvae")
def _dvae(n_in, image_shape, options):
    from scratchvae.models.dvae import DenoisingVAE

    return DenoisingVAE(n_in=n_in, noise=options.get("noise") or "masking",
                        level=options.get("level"), beta=_beta(options),
                        **_vae_options(options))


@register("m2")
def _m2(n_in, image_shape, options):
    from scratchvae.models.m2 import M2

    return M2(n_in=n_in, n_classes=options.get("n_classes") or 10, beta=_beta(options),
              alpha=float(options.get("alpha") or 0.1), **_vae_options(options))


@register("aae")
def _aae(n_in, image_shape, options):
    from scratchvae.models.aae import AdversarialAutoencoder

    return AdversarialAutoencoder(
        n_in=n_in, hidden=_hidden(options, (512,)), n_code=options.get("latent") or 8,
        loss=_ae_loss(options), activation=options.get("activation") or "relu",
        **_common(options))


@register("convvae")
def _convvae(n_in, image_shape, options):
    from scratchvae.models.convvae import ConvVAE

    if image_shape is None:
        raise ValueError("model 'convvae' needs the data's image_shape, (H, W) or (C, H, W)")
    shape = tuple(image_shape) if len(image_shape) == 3 else (1, *image_shape)
    if n_in != shape[0] * shape[1] * shape[2]:
        raise ValueError(f"image_shape {tuple(image_shape)} does not match n_in={n_in}")
    return ConvVAE(image_shape=shape, n_latent=options.get("latent") or 20,
                   channels=tuple(options.get("channels") or (32, 64)),
                   likelihood=options.get("likelihood") or "bernoulli", beta=_beta(options),
                   activation=options.get("activation") or "relu", **_common(options))
