"""``fit``: the epoch loop. Each concern is a part it calls: the arguments and the speed policy
(:mod:`~scratchvae.train.arguments`), the trainer of the model's kind
(:mod:`~scratchvae.train.trainers`), the non-finite guard (:mod:`~scratchvae.train.guard`),
KL warm-up (:mod:`~scratchvae.train.warmup`), the history and progress
(:mod:`~scratchvae.train.history`), checkpoints and resume
(:mod:`~scratchvae.train.checkpointing`)."""

import contextlib
import time
import warnings

from scratchvae.models.base import Model
from scratchvae.progress import epoch_line, epoch_stream, progress_bar
from scratchvae.speed import applied
from scratchvae.train.arguments import prepare_run
from scratchvae.train.checkpointing import restore, save_epoch
from scratchvae.train.evaluation import _validation_loss
from scratchvae.train.guard import Guard
from scratchvae.train.history import EpochTotals, record_train, record_validation
from scratchvae.train.randomness import epoch_generator, minibatch_indices, validation_generator
from scratchvae.train.trainers import make_trainer
from scratchvae.train.warmup import step_beta


def fit(model, x_train, optimizer=None, epochs=10, batch_size=128, x_val=None, rng=0,
        progress=True, checkpoint=None, *, y_train=None, y_val=None, lr=1e-3,
        kl_warmup_epochs=0, val_batch_size=1000, callbacks=(), initial_epoch=0, resume=False,
        history=None, metadata=None, shuffle=True, drop_last=False, threads=None,
        zero_skipping=None):
    """Train ``model`` on ``x_train`` by minibatch gradient descent; return the history.

    model: a scratchvae model (``params``, ``loss_and_grads``; see the interface in
        :mod:`scratchvae.models.base`), or any object with ``params`` and ``loss_and_grads`` or
        ``train_step(x_batch, y_batch, optimizer, rng) -> dict of floats`` (with "loss").
        Models with ``needs_labels = True`` get ``loss_and_grads(x, y=y_batch, rng=rng)``; the
        adversarial autoencoder trains with its own trainer (three steps, three optimizers).
    x_train: (n, ...) examples, first axis = example, checked once by the model's rules and
        converted once to the model's dtype.
    optimizer: e.g. ``sv.optim.Adam(model.params)``; None: ``Adam(model.params, lr=lr,
        backend=model.backend)``. epochs: train until this many epochs are done in total
        (epochs counted from 0, like Keras: ``initial_epoch=5, epochs=10`` trains 5 more).
    batch_size: examples per step; the last batch of an epoch is smaller unless ``drop_last``.
    x_val, y_val: validation data. ``val_loss`` is :func:`validation_loss`: the mean over x_val
        of the model's loss with beta = 1, so for a VAE the true -ELBO in nats per example with
        z sampled from q(z|x) (noise from a separate validation stream, the same every epoch).
    rng: int seed (or Generator, used once to draw the seed); see :mod:`scratchvae.train`.
    progress: True shows a tqdm bar with the running loss, and one line per finished epoch
        (:func:`scratchvae.progress.epoch_line`), when someone is watching (a terminal or a
        Jupyter notebook, not under CI=true); "always" shows them also in logs and pipes;
        False prints nothing.
    checkpoint: path of a .npz file written after every epoch (see
        :mod:`scratchvae.train.checkpointing`); ``metadata``: a JSON-friendly dict stored in it.
    kl_warmup_epochs: linear KL warm-up, see :func:`kl_warmup_beta`: each step passes its
        weight as ``loss_and_grads(..., beta=beta_t)``; ``model.beta`` is never changed.
    callbacks: callables ``callback(epoch, history, model)`` run after every epoch (epoch =
        epochs done); one that returns True stops training.
    initial_epoch, history: resume by hand: epochs already done and their history (continued).
    resume: if True and ``checkpoint`` exists, load it: its parameters into ``model`` (it must
        be a model of the same class and configuration), its optimizer state into the
        optimizer, and continue from its "epoch" and "history" with its "seed" when ``rng`` is
        None (another int seed warns: the result then differs from an uninterrupted run). If
        the file does not exist, training starts from epoch 0.
    threads, zero_skipping: the speed policy (:func:`scratchvae.speed.decide`), decided once
        per call: data-parallel threads (1: off; None: the model's registry default) and the
        zero-skipping first layer (None: when BLAS runs on one thread). Results agree up to
        the order of float additions.

    Every argument is checked before the first step (ValueError naming it). Returns history:
    dict of per-epoch lists: "epoch" (1-based count of epochs done), "train_loss"
    (size-weighted mean of the minibatch losses of that epoch, with the beta in use at each
    step), "train_<term>" for each entry of ``model.last_loss_terms``, "val_loss" and
    "val_<term>" (when x_val is given), "beta" (value at the epoch's last step, when the model
    has one), "seconds" (wall time of the epoch including validation).

    Raises NonFiniteError when a loss is NaN or inf (the step is not applied), or when a
    parameter or optimizer buffer is (found at the latest at the end of the epoch). A
    checkpoint holding NaN or inf is never written: the error names the last file this run
    wrote, which holds only finite values.
    """
    run = prepare_run(model, x_train, x_val, y_train, y_val, epochs=epochs,
                      batch_size=batch_size, val_batch_size=val_batch_size,
                      kl_warmup_epochs=kl_warmup_epochs, lr=lr, rng=rng, progress=progress,
                      shuffle=shuffle, drop_last=drop_last, callbacks=callbacks,
                      checkpoint=checkpoint, metadata=metadata, initial_epoch=initial_epoch,
                      history=history, resume=resume, threads=threads,
                      zero_skipping=zero_skipping)
    trusted = model.values_checked() if isinstance(model, Model) else contextlib.nullcontext()
    with trusted, applied(run.policy):
        trainer = make_trainer(model, run.traits, optimizer, run.lr, run.policy.threads)
        with contextlib.closing(trainer):
            if run.resume:
                resume_from_checkpoint(run, trainer, rng_given=rng is not None)
            guard = Guard(model.params, run.checkpoint, run.last_saved)
            for epoch in range(run.initial_epoch, run.epochs):
                started = time.perf_counter()
                totals, beta = train_epoch(run, trainer, guard, epoch)
                end_epoch(run, trainer, guard, epoch, totals, beta, started)
                if any(callback(epoch + 1, run.history, model) for callback in run.callbacks):
                    break
    return run.history


def train_epoch(run, trainer, guard, epoch):
    """One epoch of steps: returns the epoch's totals and the KL weight of its last step."""
    epoch_rng = epoch_generator(run.seed, epoch)
    batches = minibatch_indices(len(run.x_train), run.batch_size, epoch_rng, run.shuffle,
                                run.drop_last)
    bar = progress_bar(len(batches), f"epoch {epoch + 1}/{run.epochs}", run.show_bar)
    totals, beta = EpochTotals(), None
    with contextlib.closing(bar):
        for step, idx in enumerate(batches):
            guard.at(epoch + 1, step + 1)
            beta = step_beta(run.traits, run.base_beta, epoch, step, run.steps_per_epoch,
                             run.warmup_epochs)
            yb = None if run.y_train is None else run.y_train[idx]
            loss, terms = trainer.step(run.x_train[idx], yb, epoch_rng, beta, guard)
            totals.add(loss, terms, len(idx))
            if run.show_bar:  # no string formatting per step when nothing is shown
                bar.update(1)
                bar.set_postfix(loss=f"{totals.mean_loss:.4g}", refresh=False)
    return totals, run.base_beta if beta is None else beta


def end_epoch(run, trainer, guard, epoch, totals, beta, started):
    """After an epoch: history, validation loss, the guard's state check, the checkpoint and
    the epoch's line."""
    record_train(run.history, epoch + 1, totals, beta)
    guard.check_params()  # reported at the epoch's last step, where the guard stands
    if run.x_val is not None:
        guard.at(epoch + 1, "(validation)")
        val, val_terms = _validation_loss(run.model, run.traits, run.x_val, run.y_val,
                                          validation_generator(run.seed), run.val_batch_size)
        guard.check_value("the validation loss", val, applied=True)
        record_validation(run.history, val, val_terms)
    guard.at(epoch + 1, "(end of epoch)")
    guard.check_state(trainer.state_arrays())
    run.history["seconds"].append(time.perf_counter() - started)
    if run.checkpoint is not None:
        save_epoch(run.checkpoint, run.model, trainer, run.history, epoch + 1,
                   run.run_metadata())
        guard.saved(epoch + 1)
    if run.show_bar:  # the bar (leave=False) is gone: one line per finished epoch remains
        print(epoch_line(run.history, run.epochs), file=epoch_stream(), flush=True)


def resume_from_checkpoint(run, trainer, rng_given):
    """``resume=True``: continue the run saved in ``run.checkpoint``, if the file exists."""
    path = run.checkpoint
    if path is None or not path.exists():
        return
    epoch, history, saved_seed = restore(path, run.model, trainer)
    if not rng_given and saved_seed is not None:
        run.seed = saved_seed  # continue the saved run's random streams
    elif saved_seed is not None and saved_seed != run.seed:
        warnings.warn(f"resuming {path} (trained with seed {saved_seed}) with seed "
                      f"{run.seed}: the result will differ from an uninterrupted run; pass "
                      f"rng={saved_seed} (or rng=None) to continue it exactly", stacklevel=3)
    run.initial_epoch = epoch
    if history is not None:
        run.history = {key: list(value) for key, value in history.items()}
    run.last_saved = epoch or None
