"""Checkpoints of a training run: written after every epoch, and read back to resume exactly.

A checkpoint is ``sv.save(model, path, optimizer=..., metadata=...)`` (atomic) whose metadata
holds "epoch" (epochs done), "history", "seed", "batch_size", "kl_warmup_epochs", "beta" and
the caller's own ``metadata``. Resuming (:func:`restore`) refuses a file of another model
(class, or any configuration entry but the backend), naming the difference.
"""

from scratchvae.models.base import Model

#: configuration entries that may differ between a checkpoint and the model resuming it
IGNORED_CONFIG = ("backend",)


def save_epoch(path, model, trainer, history, epoch, run_metadata):
    """Write the checkpoint after ``epoch`` epochs: the model, the trainer's optimizer (if it
    has one apart from the model) and the run's metadata with "epoch" and "history"."""
    from scratchvae.checkpoint import save

    metadata = dict(run_metadata)
    metadata.update(epoch=epoch, history=history)
    save(model, path, optimizer=trainer.optimizer, metadata=metadata)


def restore(path, model, trainer):
    """Load ``path`` into ``model`` (parameters) and ``trainer`` (optimizer state); return the
    saved (epoch, history, seed). ValueError names the file and what does not match."""
    from scratchvae.checkpoint import load_checkpoint

    saved = load_checkpoint(path)
    check_same_model(path, saved.model, model)
    params = model.params
    if set(saved.model.params) != set(params):
        raise ValueError(f"checkpoint {path} holds parameters {sorted(saved.model.params)}, "
                         f"but model has {sorted(params)}")
    for key, value in saved.model.params.items():
        if value.shape != params[key].shape:
            raise ValueError(f"checkpoint {path}: {key} has shape {value.shape}, the model's "
                             f"has {params[key].shape}")
    for key, value in saved.model.params.items():
        params[key][...] = value
    trainer.restore(saved, path)
    return run_state(path, saved.metadata or {})


def check_same_model(path, saved, model):
    """ValueError unless ``saved`` (the checkpoint's model) is of ``model``'s class and has its
    configuration (the backend aside): the message names every entry that differs."""
    if type(saved) is not type(model):
        raise ValueError(f"checkpoint {path} holds a {type(saved).__name__}, but model is a "
                         f"{type(model).__name__}: resume only a run of the same model")
    if not isinstance(model, Model):
        return
    ours, theirs = model.config(), saved.config()
    differ = [f"{key}: checkpoint {theirs.get(key)!r}, model {ours.get(key)!r}"
              for key in sorted(set(ours) | set(theirs))
              if key not in IGNORED_CONFIG and ours.get(key) != theirs.get(key)]
    if differ:
        raise ValueError(f"checkpoint {path} holds a {type(model).__name__} of another "
                         f"configuration ({'; '.join(differ)}): resume it with a model built "
                         "with the checkpoint's settings (sv.load(path) builds one)")


def run_state(path, metadata):
    """(epoch, history, seed) from a checkpoint's metadata, each checked."""
    if "epoch" not in metadata:
        raise ValueError(f"checkpoint {path} has no 'epoch' in its metadata; was it written "
                         "by fit()?")
    epoch, seed, history = metadata["epoch"], metadata.get("seed"), metadata.get("history")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"checkpoint {path}: metadata 'epoch' must be an integer >= 0, got "
                         f"{epoch!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"checkpoint {path}: metadata 'seed' must be an integer >= 0, got "
                         f"{seed!r}")
    if history is not None and not (isinstance(history, dict) and all(
            isinstance(v, list) for v in history.values())):
        raise ValueError(f"checkpoint {path}: metadata 'history' must be a dict of lists")
    return epoch, history, seed
