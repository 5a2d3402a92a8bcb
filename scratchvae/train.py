"""Training loop: ``fit(model, x_train, ...)`` with shuffled minibatches, a progress bar,
a per-epoch history, validation, KL warm-up, checkpoints, a non-finite guard and exact resume.

One epoch, step by step (the default; a model that defines ``train_step`` replaces steps 2-4):

    1. shuffle:   order = rng_epoch.permutation(n)          (rng_epoch is described below)
    2. loss:      loss, grads = model.loss_and_grads(x[order[i:i+B]], rng=rng_epoch)
    3. guard:     stop with NonFiniteError if loss or any gradient is NaN/inf (step not applied)
    4. update:    optimizer.step(grads)                     (params change in place)
    5. guard:     stop with NonFiniteError if a parameter became NaN/inf (an overflowing step)
    6. after the epoch: validation loss, history, checkpoint, callbacks. Before a checkpoint is
       written, every parameter and every optimizer buffer is checked again: a file holding
       NaN or inf is never written, so the checkpoint on disk is always the last good one.

Randomness and exact resume. Every epoch gets its own Generator, derived from the seed and the
epoch number only:

    rng_epoch(e) = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, e)))
    rng_val      = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))

So epoch e draws the same shuffle and the same noise whether training started at epoch 0 or was
resumed at epoch e. Training 5 epochs, saving, loading and training 5 more (``initial_epoch=5``,
or ``resume=True``) gives bit-identical parameters to 10 epochs in one go with the same seed.
(``rng`` must be an int seed for that; a Generator is used once to draw the seed.) The
validation noise is the same every epoch, so the validation curve shows the model changing, not
the noise.
"""

import contextlib
import math
import time
import warnings
from pathlib import Path

import numpy as np

from scratchvae.parallel import for_training
from scratchvae.progress import epoch_line, epoch_stream, progress_bar, show_progress
from scratchvae.validation import check_array, check_nonnegative_int, check_positive_int

__all__ = ["fit", "NonFiniteError", "epoch_generator", "validation_generator",
           "kl_warmup_beta", "minibatch_indices", "validation_loss"]


class NonFiniteError(RuntimeError):
    """Training produced a NaN or inf loss, gradient, parameter or optimizer state. The message
    says which quantity, at which epoch and step, whether the step was applied, and which
    checkpoint file (if any) this run last wrote: that file holds only finite numbers."""


# ---------------------------------------------------------------------------------------------
# randomness: one Generator per epoch, derived from (seed, epoch)
# ---------------------------------------------------------------------------------------------


def _seed_from(rng):
    """An int seed from ``rng`` (int: itself; Generator: one draw from it; None: fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    if rng is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return int(rng)
    raise ValueError(f"rng must be a non-negative int seed or a numpy Generator, got {rng!r}")


def epoch_generator(seed, epoch):
    """The Generator of epoch ``epoch`` (0-based): shuffling and noise of that epoch only.

    ``default_rng(SeedSequence(seed, spawn_key=(0, epoch)))``: independent streams per epoch,
    the same for a given (seed, epoch) however training was split into runs.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, int(epoch))))


def validation_generator(seed):
    """The Generator used for the validation loss: ``SeedSequence(seed, spawn_key=(1,))``,
    re-created every epoch so each epoch's validation uses the same noise."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))


def minibatch_indices(n, batch_size, rng, shuffle=True, drop_last=False):
    """Index arrays of the minibatches of one epoch: :func:`scratchvae.data.iterate_minibatches`
    (one permutation of ``range(n)`` drawn from ``rng``, cut into pieces of ``batch_size``), as
    a list; ``drop_last`` drops a last batch smaller than ``batch_size``."""
    from scratchvae.data.batches import iterate_minibatches

    batches = list(iterate_minibatches(n, batch_size, rng, shuffle=shuffle))
    if drop_last and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def kl_warmup_beta(beta, epoch, step, steps_per_epoch, warmup_epochs):
    """Linear KL warm-up (Sonderby et al. 2016), per step:

        beta_t = beta * min(1, (epoch + step / steps_per_epoch) / warmup_epochs)

    epoch and step are 0-based, so the very first step uses beta_t = 0 and beta_t reaches the
    model's beta at the first step of epoch ``warmup_epochs``. ``warmup_epochs = 0``: no warm-up.
    """
    if warmup_epochs <= 0:
        return float(beta)
    progress = (epoch + step / steps_per_epoch) / warmup_epochs
    return float(beta) * min(1.0, progress)


# ---------------------------------------------------------------------------------------------
# loss on a data set, without training
# ---------------------------------------------------------------------------------------------


def _call_loss(model, xb, yb, rng, beta=None):
    """``model.loss_and_grads`` on one batch: ``y=`` for labelled models, ``beta=`` (the KL
    weight of this call) when given. The model itself is never changed."""
    kwargs = {"rng": rng}
    if getattr(model, "needs_labels", False):
        kwargs["y"] = yb
    if beta is not None:
        kwargs["beta"] = beta
    return model.loss_and_grads(xb, **kwargs)


def validation_loss(model, x, y=None, rng=0, batch_size=1000):
    """Mean loss of ``model`` over ``x`` with beta = 1, and the means of its loss terms.

    For a VAE this is the true negative ELBO in nats per example, with z sampled from q(z|x)
    (noise drawn from ``rng``; never z = mu): -log p(x|z) + KL(q(z|x) || N(0, I)). For an
    autoencoder it is its reconstruction loss; for a denoising autoencoder the loss on inputs
    corrupted with noise drawn from ``rng``. It calls ``model.loss_and_grads`` batch by batch
    (with ``beta=1.0`` for a model that has a KL weight ``beta``; gradients are discarded;
    parameters and ``model.beta`` are not changed) and weights each batch by its size.

    Returns (loss, terms) with terms = batch-size-weighted means of ``model.last_loss_terms``.
    """
    from scratchvae.validation import as_generator

    rng = as_generator(rng)
    batch_size = check_positive_int("batch_size", batch_size)
    n = len(x)
    beta = 1.0 if hasattr(model, "beta") else None
    total, terms = 0.0, {}
    for start in range(0, n, batch_size):
        xb = x[start:start + batch_size]
        yb = None if y is None else y[start:start + batch_size]
        loss, _ = _call_loss(model, xb, yb, rng, beta)
        total += float(loss) * len(xb)
        for key, value in getattr(model, "last_loss_terms", {}).items():
            terms[key] = terms.get(key, 0.0) + float(value) * len(xb)
    return total / n, {key: value / n for key, value in terms.items()}


# ---------------------------------------------------------------------------------------------
# the guard
# ---------------------------------------------------------------------------------------------


def _first_nonfinite(loss, grads):
    """Name of the first non-finite quantity ('loss' or "grads['key']") and its kind, or None."""
    if not math.isfinite(loss):
        return "loss", ("NaN" if math.isnan(loss) else "inf")
    for key, grad in grads.items():
        if not np.isfinite(np.sum(grad)):  # cheap test first; the sum overflows only rarely
            bad = grad[~np.isfinite(grad)]
            if bad.size:
                return f"grads[{key!r}]", ("NaN" if np.isnan(bad).any() else "inf")
    return None


def _first_nonfinite_array(arrays, label):
    """``label[key]`` of the first array in ``arrays`` holding NaN or inf, and its kind, or None.

    A sum is finite when every entry is (the cheap test); only when it is not are the entries
    themselves looked at (a sum of large finite values can overflow on its own)."""
    for key, value in arrays.items():
        value = np.asarray(value)
        if not np.issubdtype(value.dtype, np.floating):
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.sum(value)):
                continue
        bad = value[~np.isfinite(value)]
        if bad.size:
            return f"{label}[{key!r}]", ("NaN" if np.isnan(bad).any() else "inf")
    return None


def _first_nonfinite_state(model, optimizer):
    """The first non-finite parameter or optimizer buffer (the model's own optimizers too)."""
    found = _first_nonfinite_array(model.params, "params")
    optimizers = {"optimizer": optimizer}
    for group, owned in (getattr(model, "optimizers", None) or {}).items():
        optimizers[f"model.optimizers[{group!r}]"] = owned
    for label, opt in optimizers.items():
        if found is None and opt is not None and hasattr(opt, "state_dict"):
            found = _first_nonfinite_array(opt.state_dict(), f"{label} state")
    return found


def _first_nonfinite_value(values):
    """Like :func:`_first_nonfinite` for the dict a model's ``train_step`` returns."""
    for key, value in values.items():
        if not math.isfinite(value):
            return f"train_step()[{key!r}]", ("NaN" if math.isnan(value) else "inf")
    return None


def _nonfinite_message(what, kind, epoch, step, checkpoint, last_saved, applied=False):
    where = f"{what} contains {kind} at epoch {epoch}, step {step}"
    where += ("; the step had already updated the model in memory, which is now unusable"
              if applied else "; the step was not applied")
    if checkpoint is None:
        tail = "no checkpoint was requested (pass checkpoint='run.npz' to keep one)"
    elif last_saved is None:
        tail = (f"no checkpoint was written by this run ({checkpoint} was not written: it "
                "would have held these values)")
    else:
        tail = f"the last good checkpoint is {checkpoint} (epoch {last_saved})"
    return (f"{where}; {tail}. Try a smaller learning rate, "
            "KL warm-up, or check the data for NaN or values outside [0, 1].")


# ---------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------


def fit(model, x_train, optimizer=None, epochs=10, batch_size=128, x_val=None, rng=0,
        progress=True, checkpoint=None, *, y_train=None, y_val=None, lr=1e-3,
        kl_warmup_epochs=0, val_batch_size=1000, callbacks=(), initial_epoch=0, resume=False,
        history=None, metadata=None, shuffle=True, drop_last=False, threads=None):
    """Train ``model`` on ``x_train`` by minibatch gradient descent; return the history.

    model: a scratchvae model (``params``, ``loss_and_grads``), or any object with ``params``
        and ``train_step(x_batch, y_batch, optimizer, rng) -> dict of floats`` (used instead of
        loss_and_grads + optimizer.step when present; the dict must hold "loss"). Models with
        ``needs_labels = True`` get ``loss_and_grads(x, y=y_batch, rng=rng)``.
    x_train: (n, ...) examples, first axis = example (converted once to the model's dtype).
    optimizer: e.g. ``sv.optim.Adam(model.params)``; None: ``Adam(model.params, lr=lr,
        backend=model.backend)``. epochs: train until this many epochs are done in total
        (epochs counted from 0, like Keras: ``initial_epoch=5, epochs=10`` trains 5 more).
    batch_size: examples per step; the last batch of an epoch is smaller unless ``drop_last``.
    x_val, y_val: validation data. ``val_loss`` is :func:`validation_loss`: the mean over x_val
        of the model's loss with beta = 1, so for a VAE the true -ELBO in nats per example with
        z sampled from q(z|x) (noise from a separate validation stream, the same every epoch).
    rng: int seed (or Generator, used once to draw the seed); see the module docstring.
    progress: True shows a tqdm bar with the running loss, and one line per finished epoch
        (:func:`scratchvae.progress.epoch_line`), when someone is watching (a terminal or a
        Jupyter notebook, not under CI=true); "always" shows them also in logs and pipes;
        False prints nothing.
    checkpoint: path of a .npz file written after every epoch with ``sv.save(model, path,
        optimizer=..., metadata=...)`` (atomic). Its metadata holds "epoch" (epochs done),
        "history", "seed", "batch_size", "kl_warmup_epochs", "beta" and ``metadata``.
    kl_warmup_epochs: linear KL warm-up, see :func:`kl_warmup_beta`: each step passes its
        weight as ``loss_and_grads(..., beta=beta_t)``; ``model.beta`` is never changed.
    callbacks: callables ``callback(epoch, history, model)`` run after every epoch (epoch =
        epochs done); one that returns True stops training.
    initial_epoch, history: resume by hand: epochs already done and their history (continued).
    resume: if True and ``checkpoint`` exists, load it: copy its parameters into ``model``,
        its optimizer state into ``optimizer`` (a new Adam if None), and continue from its
        "epoch" and "history" with its "seed" when ``rng`` is None (another int seed warns:
        the result then differs from an uninterrupted run). If the file does not exist,
        training starts from epoch 0.
    metadata: JSON-friendly dict stored in each checkpoint (e.g. the dataset name).
    threads: data parallelism (:mod:`scratchvae.parallel`): each of ``threads`` threads computes
        the loss and gradients of a slice of every batch (same results up to rounding). None:
        automatic, :func:`scratchvae.parallel.for_training` (on for a ConvVAE with the numba
        backend when BLAS runs on two or more threads, where it measured faster); 1: off.

    Returns history: dict of per-epoch lists: "epoch" (1-based count of epochs done),
    "train_loss" (size-weighted mean of the minibatch losses of that epoch, with the beta in
    use at each step), "train_<term>" for each entry of ``model.last_loss_terms`` (e.g.
    "train_reconstruction", "train_kl"), "val_loss" and "val_<term>" (when x_val is given),
    "beta" (value at the epoch's last step, when the model has one), "seconds" (wall time of
    the epoch including validation).

    Raises NonFiniteError when a loss or gradient is NaN or inf (the step is not applied), or
    when a step turned a parameter into NaN or inf (e.g. a learning rate so large that the
    update overflows). A checkpoint holding NaN or inf parameters or optimizer state is never
    written: the error names the last file this run wrote, which holds only finite values.
    """
    params = getattr(model, "params", None)
    if not isinstance(params, dict) or not params:
        raise ValueError(f"model must have a non-empty params dict, got {type(model).__name__}")
    epochs = check_nonnegative_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    val_batch_size = check_positive_int("val_batch_size", val_batch_size)
    kl_warmup_epochs = check_nonnegative_int("kl_warmup_epochs", kl_warmup_epochs)
    uses_train_step = callable(getattr(model, "train_step", None))
    needs_labels = bool(getattr(model, "needs_labels", False))
    if kl_warmup_epochs and not hasattr(model, "beta"):
        raise ValueError(f"kl_warmup_epochs needs a model with a beta attribute (a VAE), got "
                         f"{type(model).__name__}")
    callbacks = [callbacks] if callable(callbacks) else list(callbacks)
    seed = _seed_from(rng)
    checkpoint = None if checkpoint is None else Path(checkpoint)

    x_train = _prepare("x_train", x_train, model)
    x_val = None if x_val is None else _prepare("x_val", x_val, model)
    y_train = _prepare_labels("y_train", y_train, x_train, needs_labels)
    y_val = None if x_val is None else _prepare_labels("y_val", y_val, x_val, needs_labels)

    if optimizer is None and not uses_train_step:
        from scratchvae.optim import Adam

        optimizer = Adam(params, lr=lr, backend=getattr(model, "backend", "numpy"))
    elif optimizer is None and getattr(model, "optimizers", None) is None and hasattr(
            model, "make_optimizers"):
        model.make_optimizers(lr=lr)  # a train_step model that steps its own optimizers
    if resume and checkpoint is not None and checkpoint.exists():
        initial_epoch, history, saved_seed = _restore(model, optimizer, checkpoint)
        if rng is None and saved_seed is not None:
            seed = saved_seed  # continue the saved run's random streams
        elif saved_seed is not None and saved_seed != seed:
            warnings.warn(f"resuming {checkpoint} (trained with seed {saved_seed}) with seed "
                          f"{seed}: the result will differ from an uninterrupted run; pass "
                          f"rng={saved_seed} (or rng=None) to continue it exactly", stacklevel=2)
    initial_epoch = check_nonnegative_int("initial_epoch", initial_epoch)
    history = _new_history() if history is None else {k: list(v) for k, v in history.items()}

    n = len(x_train)
    steps_per_epoch = (n // batch_size) if drop_last else math.ceil(n / batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"batch_size must be at most the number of examples ({n}) when "
                         f"drop_last=True, got {batch_size}")
    base_beta = getattr(model, "beta", None)
    show_bar = show_progress(progress)
    # only a file this call wrote (or resumed from) is known to be good
    last_saved = initial_epoch if (resume and checkpoint is not None and checkpoint.exists()
                                   and initial_epoch) else None
    extra_metadata = dict(metadata or {})

    # the step's loss and gradients: the model itself, or data-parallel copies of it
    if uses_train_step and threads not in (None, 1):
        raise ValueError(f"threads={threads!r} needs a model trained by loss_and_grads; "
                         f"{type(model).__name__} trains with its own train_step")
    stepper = model if uses_train_step else for_training(model, threads)
    with contextlib.closing(stepper) if stepper is not model else contextlib.nullcontext():
        for epoch in range(initial_epoch, epochs):
            start_time = time.perf_counter()
            epoch_rng = epoch_generator(seed, epoch)
            batches = minibatch_indices(n, batch_size, epoch_rng, shuffle, drop_last)
            bar = progress_bar(len(batches), f"epoch {epoch + 1}/{epochs}", show_bar)
            total, count, terms = 0.0, 0, {}
            try:
                for step, idx in enumerate(batches):
                    xb = x_train[idx]
                    yb = None if y_train is None else y_train[idx]
                    beta_t = (kl_warmup_beta(base_beta, epoch, step, steps_per_epoch,
                                             kl_warmup_epochs) if kl_warmup_epochs else None)
                    if uses_train_step:
                        values = model.train_step(xb, yb, optimizer, epoch_rng)
                        loss, step_terms = _split_step_values(values)
                        found = _first_nonfinite_value(values)
                    else:
                        loss, grads = _call_loss(stepper, xb, yb, epoch_rng, beta_t)
                        loss = float(loss)
                        step_terms = getattr(model, "last_loss_terms", {})
                        found = _first_nonfinite(loss, grads)
                    if found is not None:
                        raise NonFiniteError(_nonfinite_message(
                            *found, epoch + 1, step + 1, checkpoint, last_saved, uses_train_step))
                    if not uses_train_step:
                        optimizer.step(grads)
                    found = _first_nonfinite_array(params, "params")
                    if found is not None:
                        raise NonFiniteError(_nonfinite_message(
                            *found, epoch + 1, step + 1, checkpoint, last_saved, applied=True))
                    total += loss * len(idx)
                    count += len(idx)
                    for key, value in step_terms.items():
                        terms[key] = terms.get(key, 0.0) + float(value) * len(idx)
                    bar.update(1)
                    bar.set_postfix(loss=f"{total / count:.4g}", refresh=False)
            finally:
                bar.close()

            history["epoch"].append(epoch + 1)
            history["train_loss"].append(total / count)
            for key, value in terms.items():
                history.setdefault(f"train_{key}", []).append(value / count)
            if base_beta is not None:
                history.setdefault("beta", []).append(base_beta if beta_t is None else beta_t)
            if x_val is not None:
                val, val_terms = validation_loss(model, x_val, y_val, validation_generator(seed),
                                                 val_batch_size)
                if not math.isfinite(val):
                    raise NonFiniteError(_nonfinite_message(
                        "the validation loss", "NaN or inf", epoch + 1, "(validation)",
                        checkpoint, last_saved))
                history["val_loss"].append(val)
                for key, value in val_terms.items():
                    history.setdefault(f"val_{key}", []).append(value)
            history["seconds"].append(time.perf_counter() - start_time)

            if checkpoint is not None:
                found = _first_nonfinite_state(model, optimizer)
                if found is not None:  # never write a checkpoint that holds NaN or inf
                    raise NonFiniteError(_nonfinite_message(
                        *found, epoch + 1, "(end of epoch)", checkpoint, last_saved, applied=True))
                _save(model, optimizer, checkpoint, history, epoch + 1, seed, batch_size,
                      kl_warmup_epochs, base_beta, extra_metadata)
                last_saved = epoch + 1
            if show_bar:  # the bar (leave=False) is gone: one line per finished epoch remains
                print(epoch_line(history, epochs), file=epoch_stream(), flush=True)
            if any(callback(epoch + 1, history, model) for callback in callbacks):
                break
    return history


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _new_history():
    return {"epoch": [], "train_loss": [], "val_loss": [], "seconds": []}


def _prepare(name, x, model):
    x = check_array(name, x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{name} must be an array of shape (n, ...) with n >= 1, got shape "
                         f"{x.shape}")
    dtype = getattr(model, "dtype", None)
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    return x


def _prepare_labels(name, y, x, needs_labels):
    if y is None:
        if needs_labels:
            raise ValueError(f"{name} is required: this model conditions on class labels "
                             "(needs_labels = True)")
        return None
    y = check_array(name, y, ndim=1, kind="integer")
    if len(y) != len(x):
        raise ValueError(f"{name} must have one label per example ({len(x)}), got {len(y)}")
    return y


def _split_step_values(values):
    if not isinstance(values, dict) or "loss" not in values:
        raise ValueError("train_step must return a dict of floats with a 'loss' entry, got "
                         f"{values!r}")
    return float(values["loss"]), {k: float(v) for k, v in values.items() if k != "loss"}


def _save(model, optimizer, path, history, epoch, seed, batch_size, warmup, beta, extra):
    from scratchvae.checkpoint import save

    metadata = dict(extra)
    metadata.update(epoch=epoch, history=history, seed=seed, batch_size=batch_size,
                    kl_warmup_epochs=warmup)
    if beta is not None:
        metadata["beta"] = beta
    save(model, path, optimizer=optimizer, metadata=metadata)


def _restore(model, optimizer, path):
    """Copy a checkpoint's parameters and optimizer state into ``model`` and ``optimizer``."""
    from scratchvae.checkpoint import load_checkpoint

    saved = load_checkpoint(path)
    params = model.params
    if set(saved.model.params) != set(params):
        raise ValueError(f"checkpoint {path} holds parameters {sorted(saved.model.params)}, "
                         f"but model has {sorted(params)}")
    for key, value in saved.model.params.items():
        if value.shape != params[key].shape:
            raise ValueError(f"checkpoint {path}: {key} has shape {value.shape}, the model's "
                             f"has {params[key].shape}")
        params[key][...] = value
    owned = getattr(saved.model, "optimizers", None)
    if optimizer is not None or not owned:  # the state of the optimizer fit steps
        if saved.optimizer is None:
            raise ValueError(f"checkpoint {path} holds no optimizer state, so it cannot be "
                             "resumed exactly; load it with sv.load and train with "
                             "initial_epoch instead")
        if type(saved.optimizer) is not type(optimizer):
            raise ValueError(f"checkpoint {path} holds {type(saved.optimizer).__name__} state, "
                             f"but optimizer is {type(optimizer).__name__}")
        optimizer.load_state_dict(saved.optimizer.state_dict())
    if owned:  # optimizers the model owns (the adversarial autoencoder's): bind them to model
        from scratchvae.optim import rebind

        model.optimizers = {group: rebind(opt, model.param_group(group))
                            for group, opt in owned.items()}
    metadata = saved.metadata or {}
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
