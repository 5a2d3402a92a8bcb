"""Model factory: build a model from a short name and a dict of options (used by the CLI).

    model = build_model("vae", n_in=1024, image_shape=(32, 32), latent=10, hidden=(256,))

Every model's command-line name, defaults and options come from its entry in
:data:`scratchvae.models.MODELS` (one entry per model); ``BUILDERS`` maps each name to a
builder ``builder(n_in, image_shape, options) -> model`` made from that entry (``@register``
adds a builder by hand). ``options`` is a plain dict; a builder reads the options its model's
entry lists and ignores the rest (the CLI passes the same options to every model). Common
options:

    hidden      tuple of hidden-layer widths          latent      size of z (or of the AE code)
    likelihood  "bernoulli" | "gaussian" | "gaussian_fixed"   (AE: bernoulli -> loss "bce",
                                                               gaussian* -> loss "mse")
    beta        KL weight (VAEs)                      activation  hidden-layer activation
    backend     "numpy" | "numba"                     seed        initial-weight seed
    dtype       "float32" | "float64"                 n_classes   number of labels (CVAE, M2)
    noise, level   the corruption of "dae" (and "dvae")
"""

import functools

from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.models import cli_entries

__all__ = ["BUILDERS", "build_model", "register", "model_names"]

#: option -> conversion of its value (the CLI gives lists where the models take tuples)
_CONVERT = {"hidden": tuple, "channels": tuple, "beta": float, "alpha": float, "k": int,
            "latent": int, "n_classes": int}


def _build_entry(entry, n_in, image_shape, options):
    """The model of ``entry`` for inputs of ``n_in`` numbers (images of ``image_shape``)."""
    kwargs = dict(entry.cli_defaults)
    for option, argument in entry.cli_options.items():
        value = options.get(option)
        if value is not None:
            value = _CONVERT.get(option, lambda v: v)(value)
            kwargs[argument] = _ae_loss(value) if argument == "loss" else value
    kwargs.update(backend=options.get("backend") or DEFAULT_BACKEND,
                  rng=int(options.get("seed") or 0), dtype=options.get("dtype") or "float32")
    if entry.input == "image_shape":
        kwargs["image_shape"] = _image_shape(entry.cli_name, n_in, image_shape)
    else:
        kwargs["n_in"] = n_in
    return entry.cls(**kwargs)


BUILDERS = {name: functools.partial(_build_entry, entry) for name, entry in cli_entries().items()}


def register(name):
    """Decorator: ``@register("name")`` adds a hand-written builder to :data:`BUILDERS`."""

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


def _ae_loss(likelihood):
    """An autoencoder's loss for a likelihood option: "bce" for bernoulli, else "mse"."""
    return "bce" if likelihood == "bernoulli" else "mse"


def _image_shape(name, n_in, image_shape):
    """(C, H, W) from the data's image_shape, (H, W) or (C, H, W), checked against n_in."""
    if image_shape is None:
        raise ValueError(f"model {name!r} needs the data's image_shape, (H, W) or (C, H, W)")
    shape = tuple(image_shape) if len(image_shape) == 3 else (1, *image_shape)
    if n_in != shape[0] * shape[1] * shape[2]:
        raise ValueError(f"image_shape {tuple(image_shape)} does not match n_in={n_in}")
    return shape
