"""What every model shares: the declared interface, named sub-networks, dotted parameter keys,
input checks, config.

A model is a set of named sub-networks (``self.networks``: name -> Sequential or Dense).
``params`` maps "<network>.<layer>.<name>" (e.g. "encoder.0.W") to the layers' own arrays, so
optimizers update the model in place; ``loss_and_grads`` returns grads with the same keys.

The interface ``sv.fit``, evaluation and checkpoints rely on (declared here, never probed):

    params              dict "<network>.<layer>.<name>" -> live array (cached; rebuilt when the
                        networks change)
    loss_and_grads(x, ..., rng=None)     -> (loss, grads): the batch mean of the model's loss
                        and its gradient, keyed like ``params``; ``y=`` when ``needs_labels``,
                        ``beta=`` (the KL weight of this call) when ``has_kl_weight``
    needs_labels        True: loss_and_grads takes class labels ``y`` (batch,) ints
    has_kl_weight       True: the loss has a KL term weighted by ``beta`` (``self.beta`` is the
                        model's own; ``beta=`` overrides it for one call, as KL warm-up does)
    last_loss_terms     dict of the last call's loss terms (batch means), e.g. reconstruction, kl
    training            how ``sv.fit`` trains it: "gradient" (loss_and_grads, then one
                        optimizer step) or "adversarial" (its own trainer, three steps per batch)
    check_data(x, name) a whole data set checked once by the model's rules (shape, dtype,
                        finite, range); ``sv.fit`` calls it on x_train and x_val
    dtype, backend, config()
    n_in                the size of one flat example x (pixels per image)

What a model can do besides training (read by evaluation, plotting and the command line, in
place of looking for methods; the defaults are the base class's):

    has_gaussian_encoder  True: ``encode(x) -> (mu, logvar)`` of q(z|x) = N(mu, diag
                        exp(logvar)), ``decode(z) -> decoded``, ``reconstruction_nll(x,
                        decoded) -> (batch,)``: the ELBO, the importance-sampled likelihood and
                        active units can be evaluated (the VAE and its extensions; default
                        False)
    has_decoder         True: ``encode(x)`` (``(mu, logvar)`` or a code), ``decode(z)``,
                        ``mean_image(decoded)`` and ``reconstruct(x) -> x_hat`` (batch, n_in)
                        (autoencoders and VAEs; default False)
    can_sample          True: ``sample(n, rng=...) -> (n, n_in)`` images decoded from draws of
                        the prior (default False)
    latent_size         the size of z (``n_latent``) or of the code (``n_code``); None for a
                        model without one (default None)
    (labelled models, ``needs_labels``, take ``y`` in encode, decode, reconstruct and sample)

Parameter groups and optimizers a model owns (only the adversarial autoencoder has them):

    param_groups        dict group name -> the networks in it (default {}: none)
    param_group(name)   the live arrays of one group, keyed like ``params``; ValueError naming
                        the groups for an unknown name
    owned_optimizers()  dict group -> the optimizer the model keeps for that group (default
                        {}); ``sv.save`` stores their state with the model
    set_owned_optimizers(optimizers)  give the model optimizers for its groups (what
                        ``sv.load`` and resuming do); ValueError for a model that owns none
    Config              a frozen dataclass per model class, one field per constructor argument
                        (defaults as in the signature, the initial-weight ``rng`` aside):
                        ``sv.VAE.Config(n_latent=2)``, ``sv.VAE.from_config(config, rng=0)``,
                        ``model.settings`` (the model's own, as a Config)

What the validation loss means for each model is in its registry entry
(:data:`scratchvae.models.MODELS`).

An object from outside the package (a student's toy model with an exact log p(x)) can be
evaluated like a VAE when it has the :class:`GaussianLatentModel` interface.
"""

import dataclasses
import inspect
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from scratchvae.kernels import BACKENDS, get_backend
from scratchvae.validation import check_array, check_choice, check_dtype


class Model:
    """Base class. Subclasses set ``self.networks`` and ``self._config`` in ``__init__``."""

    #: extra keyword arguments of loss_and_grads that carry noise (used by checks and fit)
    noise_arguments = ()
    #: loss_and_grads takes class labels ``y=``
    needs_labels = False
    #: the loss has a KL term weighted by ``beta`` (loss_and_grads takes ``beta=``)
    has_kl_weight = False
    #: how sv.fit trains the model: "gradient" or "adversarial" (see the module docstring)
    training = "gradient"
    #: encode -> (mu, logvar), decode, reconstruction_nll (a VAE; see the module docstring)
    has_gaussian_encoder = False
    #: encode, decode, mean_image and reconstruct (an autoencoder or a VAE)
    has_decoder = False
    #: sample(n, rng=...) decodes draws of the prior
    can_sample = False
    #: group name -> names of the networks in it (see :meth:`param_group`)
    param_groups = {}

    def __init_subclass__(cls, **kwargs):
        """Give every model class that defines its constructor its own ``Config`` dataclass."""
        super().__init_subclass__(**kwargs)
        if "__init__" in vars(cls):
            cls.Config = config_dataclass(cls)

    @classmethod
    def from_config(cls, config, rng=0):
        """The model with the settings of ``config`` (a ``cls.Config``) and initial weights
        drawn from ``rng``."""
        if not isinstance(config, cls.Config):
            raise ValueError(f"config must be a {cls.__name__}.Config, got "
                             f"{type(config).__name__}")
        return cls(**dataclasses.asdict(config), rng=rng)

    @property
    def settings(self):
        """The model's settings as its class's ``Config`` (the values :meth:`config` saves)."""
        config = self.config()
        fields = {field.name for field in dataclasses.fields(self.Config)}
        return self.Config(**{k: v for k, v in config.items() if k in fields})

    def _setup(self, dtype, backend):
        self.dtype = check_dtype("dtype", dtype)
        self.backend = check_choice("backend", backend, BACKENDS)
        self.kernels = get_backend(backend)
        self.networks = {}
        self.last_loss_terms = {}
        self._values_checked = False

    @property
    def params(self):
        """Dict "<network>.<layer>.<name>" -> array (the live arrays, not copies); built once
        and rebuilt by itself when a network is added or replaced."""
        layout = tuple((name, id(net)) for name, net in self.networks.items())
        cached = self.__dict__.get("_params")
        if cached is None or cached[0] != layout:
            params = {
                f"{net_name}.{key}": value
                for net_name, net in self.networks.items()
                for key, value in net.params.items()
            }
            cached = self._params = (layout, params)
        return cached[1]

    def _collect_grads(self):
        return {
            f"{net_name}.{key}": value
            for net_name, net in self.networks.items()
            for key, value in net.grads.items()
        }

    @property
    def latent_size(self):
        """The size of z (a VAE's ``n_latent``) or of the code (an autoencoder's ``n_code``);
        None for a model without one."""
        return None

    def param_group(self, name):
        """The live arrays of parameter group ``name`` (its networks in ``param_groups``),
        keyed like ``params``. ValueError naming the model's groups for an unknown name."""
        if name not in self.param_groups:
            groups = ", ".join(repr(g) for g in self.param_groups) or "none"
            raise ValueError(f"name must be a parameter group of {type(self).__name__} "
                             f"({groups}), got {name!r}")
        networks = self.param_groups[name]
        return {key: value for key, value in self.params.items()
                if key.split(".", 1)[0] in networks}

    def owned_optimizers(self):
        """Dict group -> the optimizer the model keeps for that parameter group ({}: none;
        the adversarial autoencoder's three Adams once made). ``sv.save`` stores them."""
        return {}

    def set_owned_optimizers(self, optimizers):
        """Give the model optimizers for its parameter groups (dict group -> optimizer built
        on ``param_group(group)``), as ``sv.load`` and resuming do. This model owns none: an
        empty dict is accepted, anything else is a ValueError."""
        if optimizers:
            raise ValueError(f"optimizers must be empty: {type(self).__name__} owns no "
                             f"optimizers, got groups {sorted(optimizers)}")

    @property
    def n_params(self):
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def config(self):
        """The constructor arguments as JSON-friendly values (saved in checkpoints)."""
        config = dict(self._config)
        config["dtype"] = str(self.dtype)
        config["backend"] = self.backend
        return config

    #: x must lie in [0, 1] (a Bernoulli likelihood or cross-entropy loss); set by subclasses
    binary_input = False

    def check_data(self, x, name="x"):
        """A data set for this model, checked once: (n, n_in) of the model's dtype (converted),
        n >= 1, finite, in [0, 1] when ``binary_input``. Raises ValueError naming ``name``."""
        return self._check_x(x, name, binary_range=self.binary_input, values=True)

    @contextmanager
    def values_checked(self):
        """Inside the block the model trusts that its inputs' values were checked (by
        :meth:`check_data`, as ``sv.fit`` does once for the whole data set): each call checks
        shape and dtype only. Restored afterwards."""
        previous, self._values_checked = self._values_checked, True
        try:
            yield self
        finally:
            self._values_checked = previous

    def _check_x(self, x, name="x", binary_range=False, values=None):
        """x as a (batch, n_in) array of the model's dtype; finite; in [0, 1] if required
        (the values are not looked at inside :meth:`values_checked`)."""
        # shape and dtype first; values once, after any conversion (one min and one max)
        x = check_array(name, x, ndim=2, shape=(None, self.n_in), finite=False)
        if x.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one example, got shape {x.shape}")
        if x.dtype != self.dtype:  # float32 <-> float64 (check_array refused other dtypes)
            x = x.astype(self.dtype)
        if values or (values is None and not self.__dict__.get("_values_checked", False)):
            check_array(name, x, low=0.0 if binary_range else None,
                        high=1.0 if binary_range else None)
        return x

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}({args})"


def config_dataclass(cls):
    """A frozen dataclass ``<Class>Config`` with one field per argument of ``cls.__init__``
    (the same defaults; ``rng``, the initial weights' seed, is not a setting)."""
    fields = []
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "rng") or parameter.kind in (parameter.VAR_POSITIONAL,
                                                         parameter.VAR_KEYWORD):
            continue
        default = parameter.default
        if default is parameter.empty:
            fields.append((name, object))
        elif isinstance(default, (list, dict, set)):
            fields.append((name, object, dataclasses.field(default_factory=lambda d=default: d)))
        else:
            fields.append((name, object, dataclasses.field(default=default)))
    config = dataclasses.make_dataclass(f"{cls.__name__}Config", fields, frozen=True)
    config.__module__ = cls.__module__
    config.__qualname__ = f"{cls.__qualname__}.Config"
    config.__doc__ = (f"The settings of a :class:`{cls.__name__}`: one field per constructor "
                      "argument, with its default (see the class for their meaning).")
    return config


@runtime_checkable
class GaussianLatentModel(Protocol):
    """What ``sv.evaluate``'s ELBO, importance-sampled likelihood and active units need from a
    model that is not a :class:`Model` (a package model declares ``has_gaussian_encoder``
    instead). Such an object is evaluated without labels; x is converted to its ``dtype``.

        dtype                        the dtype x is given in (float32 or float64)
        encode(x)                    -> (mu, logvar) of q(z|x) = N(mu, diag exp(logvar)),
                                     x (batch, n_in), each (batch, n_latent)
        decode(z)                    -> the decoder's output for z (batch, n_latent)
        reconstruction_nll(x, decoded)  -> -log p(x|z) per example, (batch,)
    """

    dtype: object

    def encode(self, x): ...

    def decode(self, z): ...

    def reconstruction_nll(self, x, decoded): ...
