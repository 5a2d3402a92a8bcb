"""What ``fit`` needs to know about a model, read once from the interface models declare.

Models of this package subclass :class:`scratchvae.models.base.Model`, which declares
``needs_labels``, ``has_kl_weight``, ``training``, ``dtype`` and ``check_data``. An object from
outside the package may train too: it needs ``params`` and ``loss_and_grads``, or a
``train_step(x_batch, y_batch, optimizer, rng) -> dict of floats`` holding "loss"; the other
names are read here, once, with the documented defaults (False, False, None).
"""

from dataclasses import dataclass

from scratchvae.models.base import Model

TRAININGS = ("gradient", "adversarial", "train_step")


@dataclass(frozen=True)
class Traits:
    """needs_labels, has_kl_weight: as the model declares; training: "gradient",
    "adversarial" or "train_step" (an outside object's own step); dtype: the data's dtype
    (None: as given); backend: of fit's default Adam; data_parallel: whether
    :mod:`scratchvae.parallel` may split its batches; parallel_by_default: whether fit does so
    by default."""

    needs_labels: bool
    has_kl_weight: bool
    training: str
    dtype: object = None
    backend: str = "numpy"
    data_parallel: bool = False
    parallel_by_default: bool = False


def traits_of(model):
    """The :class:`Traits` of ``model`` (ValueError if it cannot be trained by ``fit``)."""
    params = getattr(model, "params", None)
    if not isinstance(params, dict) or not params:
        raise ValueError(f"model must have a non-empty params dict, got {type(model).__name__}")
    if isinstance(model, Model):
        from scratchvae.models import entry_of
        from scratchvae.parallel import parallel_by_default

        entry = entry_of(type(model))
        return Traits(model.needs_labels, model.has_kl_weight, model.training, model.dtype,
                      model.backend, entry is not None and entry.data_parallel,
                      parallel_by_default(model))
    training = "train_step" if callable(getattr(model, "train_step", None)) else "gradient"
    if training == "gradient" and not callable(getattr(model, "loss_and_grads", None)):
        raise ValueError(f"model must have loss_and_grads or train_step, got "
                         f"{type(model).__name__}")
    return Traits(bool(getattr(model, "needs_labels", False)), hasattr(model, "beta"),
                  training, getattr(model, "dtype", None), getattr(model, "backend", "numpy"))


def loss_terms(model):
    """The terms of ``model``'s last loss call (batch means): ``model.last_loss_terms``, which
    every package model declares; for an outside object the same attribute if it has one,
    else {}."""
    if isinstance(model, Model):
        return model.last_loss_terms
    return getattr(model, "last_loss_terms", None) or {}
