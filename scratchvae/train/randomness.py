"""Randomness of a training run: one Generator per epoch, derived from (seed, epoch) only."""

import numpy as np


def seed_from(rng):
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
