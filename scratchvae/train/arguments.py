"""Every argument of ``fit``, checked once, before the first step: the :class:`Run` it trains.

The data are checked by the model's own rules (:meth:`scratchvae.models.base.Model.check_data`:
shape, dtype, finite, range) under their own names ("x_train", "x_val"), so a bad x_val is
refused at once, not after an epoch, and the steps need not look at the values again. The
checkpoint path, the callbacks, the metadata (JSON-friendly) and the history are checked here
too, and the speed policy is decided here (:func:`scratchvae.speed.decide`).
"""

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchvae.checkpoint import check_save_target, json_default
from scratchvae.models.base import Model
from scratchvae.progress import show_progress
from scratchvae.speed import SpeedPolicy, decide
from scratchvae.train.history import new_history
from scratchvae.train.interface import Traits, traits_of
from scratchvae.train.randomness import seed_from
from scratchvae.validation import (
    check_array,
    check_nonnegative_int,
    check_positive_int,
    check_positive_number,
)


@dataclass
class Run:
    """One call of ``fit``: its checked arguments (see ``fit`` for their meaning)."""

    model: object
    traits: Traits
    x_train: np.ndarray
    y_train: object
    x_val: object
    y_val: object
    epochs: int
    batch_size: int
    val_batch_size: int
    warmup_epochs: int
    lr: float
    seed: int
    shuffle: bool
    drop_last: bool
    show_bar: bool
    callbacks: list
    checkpoint: object
    metadata: dict
    policy: SpeedPolicy
    initial_epoch: int = 0
    history: dict = None
    resume: bool = False
    last_saved: object = None

    @property
    def steps_per_epoch(self):
        n = len(self.x_train)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def base_beta(self):
        """The model's own KL weight (None for a model without one)."""
        return self.model.beta if self.traits.has_kl_weight else None

    def run_metadata(self):
        """What every checkpoint of this run stores besides "epoch" and "history"."""
        metadata = dict(self.metadata)
        metadata.update(seed=self.seed, batch_size=self.batch_size,
                        kl_warmup_epochs=self.warmup_epochs)
        if self.base_beta is not None:
            metadata["beta"] = self.base_beta
        return metadata


def prepare_run(model, x_train, x_val, y_train, y_val, *, epochs, batch_size, val_batch_size,
                kl_warmup_epochs, lr, rng, progress, shuffle, drop_last, callbacks, checkpoint,
                metadata, initial_epoch, history, resume, threads, zero_skipping):
    """The :class:`Run` of one ``fit`` call; ValueError naming the first bad argument."""
    traits = traits_of(model)
    if kl_warmup_epochs and not traits.has_kl_weight:
        raise ValueError(f"kl_warmup_epochs needs a model with a beta attribute (a VAE), got "
                         f"{type(model).__name__}")
    x_train = check_data(model, traits, "x_train", x_train)
    x_val = None if x_val is None else check_data(model, traits, "x_val", x_val)
    run = Run(
        model=model, traits=traits, x_train=x_train,
        y_train=check_labels("y_train", y_train, x_train, traits.needs_labels),
        x_val=x_val,
        y_val=None if x_val is None else check_labels("y_val", y_val, x_val, traits.needs_labels),
        epochs=check_nonnegative_int("epochs", epochs),
        batch_size=check_positive_int("batch_size", batch_size),
        val_batch_size=check_positive_int("val_batch_size", val_batch_size),
        warmup_epochs=check_nonnegative_int("kl_warmup_epochs", kl_warmup_epochs),
        lr=check_positive_number("lr", lr), seed=seed_from(rng),
        shuffle=check_flag("shuffle", shuffle), drop_last=check_flag("drop_last", drop_last),
        show_bar=show_progress(progress), callbacks=check_callbacks(callbacks),
        checkpoint=check_checkpoint_path(checkpoint), metadata=check_metadata(metadata),
        policy=decide(threads, zero_skipping, parallel_by_default=traits.parallel_by_default),
        initial_epoch=check_nonnegative_int("initial_epoch", initial_epoch),
        history=check_history(history), resume=check_flag("resume", resume))
    if run.steps_per_epoch == 0:
        raise ValueError(f"batch_size must be at most the number of examples ({len(x_train)}) "
                         f"when drop_last=True, got {batch_size}")
    check_threads(run.policy.threads, traits, model)
    return run


def check_threads(threads, traits, model):
    """Data parallelism (threads > 1) only for a model trained by loss_and_grads whose registry
    entry supports it."""
    if threads == 1:
        return
    if traits.training != "gradient":
        raise ValueError(f"threads={threads!r} needs a model trained by loss_and_grads; "
                         f"{type(model).__name__} trains with its own steps")
    if not traits.data_parallel:
        from scratchvae.models import MODELS

        names = " or ".join(e.class_name for e in MODELS.values() if e.data_parallel)
        raise ValueError(f"threads={threads!r}: DataParallel supports {names} models (their "
                         f"loss is a plain mean over examples), got {type(model).__name__}")


def check_data(model, traits, name, x):
    """``x`` checked once: by the model's rules for a package model, else as an (n, ...)
    array of finite numbers (converted to the model's dtype, if it has one)."""
    if isinstance(model, Model):
        return model.check_data(x, name)
    x = check_array(name, x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{name} must be an array of shape (n, ...) with n >= 1, got shape "
                         f"{x.shape}")
    if traits.dtype is not None and x.dtype != traits.dtype:
        x = x.astype(traits.dtype)
    return x


def check_labels(name, y, x, needs_labels):
    """Integer labels, one per example of ``x``; required when the model needs labels."""
    if y is None:
        if needs_labels:
            raise ValueError(f"{name} is required: this model conditions on class labels "
                             "(needs_labels = True)")
        return None
    y = check_array(name, y, ndim=1, kind="integer")
    if len(y) != len(x):
        raise ValueError(f"{name} must have one label per example ({len(x)}), got {len(y)}")
    return y


def check_flag(name, value):
    """``value`` as a bool: True or False (NumPy's bool too), else a ValueError naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_callbacks(callbacks):
    """A list of callables from one callable or an iterable of them."""
    if callable(callbacks):
        return [callbacks]
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise ValueError(f"callbacks must be a callable or a list of callables, got "
                         f"{callbacks!r}") from None
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise ValueError(f"callbacks[{i}] must be callable (epoch, history, model), got "
                             f"{callback!r}")
    return callbacks


def check_checkpoint_path(checkpoint):
    """None, or the checkpoint's Path: not a directory nor any other non-regular file, and
    its folder (created if missing) is not a file."""
    if checkpoint is None:
        return None
    try:
        path = Path(os.fspath(checkpoint))
    except TypeError:
        raise ValueError(f"checkpoint must be a path (str or Path) or None, got "
                         f"{checkpoint!r}") from None
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"checkpoint {path}: {parent} is a file, not a folder")
            break
    try:
        check_save_target(path)   # the rule sv.save applies, checked before the first step
    except ValueError as err:
        raise ValueError(f"checkpoint must name a regular .npz file (or one to create): "
                         f"{err}") from None
    return path


def check_metadata(metadata):
    """A JSON-friendly dict (NumPy numbers and arrays allowed), or None (-> {})."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    try:
        json.dumps(metadata, default=json_default)  # the conversion sv.save applies
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata must hold JSON-friendly values only: {err}") from None
    return dict(metadata)


def check_history(history):
    """A copy of a history to continue (a dict of lists), or a new one for None."""
    if history is None:
        return new_history()
    if not isinstance(history, dict) or not all(isinstance(v, (list, tuple))
                                                for v in history.values()):
        raise ValueError(f"history must be a dict of lists (as fit returns it) or None, got "
                         f"{type(history).__name__}")
    return {**new_history(), **{key: list(value) for key, value in history.items()}}
