"""Minibatches for training: shuffled index arrays, never a copy of the whole dataset.

One call is one epoch. Shuffling draws one permutation of ``n`` indices from the ``rng`` you
pass (``n`` int64 values, not a copy of the data); each batch is then the next ``batch_size``
indices of it, and the last, smaller batch is kept, so every example is seen exactly once.

    for idx in iterate_minibatches(len(x), 128, rng):   # idx: int64 index array
        loss, grads = model.loss_and_grads(x[idx], rng=rng)

    for xb, yb in minibatches((x, y), 128, rng):         # the same batches, already indexed
        ...
"""

import numbers

import numpy as np

from scratchvae.validation import as_generator, check_positive_int


def num_batches(n, batch_size):
    """Number of minibatches in one epoch: ``ceil(n / batch_size)`` (the last one may be short)."""
    n = check_positive_int("n", n)
    batch_size = check_positive_int("batch_size", batch_size)
    return -(-n // batch_size)


def _order(n, rng, shuffle):
    if shuffle:
        return as_generator(rng).permutation(n)
    return np.arange(n)


def iterate_minibatches(n, batch_size, rng, shuffle=True):
    """Index arrays for one epoch over ``n`` examples.

    n: number of examples. batch_size: examples per batch (the last batch has the rest).
    rng: int seed or ``numpy.random.Generator`` for the shuffle (a Generator advances, so
    calling again gives the next epoch's order); ignored, and may be None, when shuffle=False.
    shuffle: False yields ``arange`` pieces in order.

    Yields int64 arrays of shape ``(batch_size,)``, the last one ``(n % batch_size,)`` when not
    zero; together they are a permutation of ``range(n)``. The permutation is drawn when this
    function is called, not at the first ``next()``.
    """
    n = check_positive_int("n", n)
    batch_size = check_positive_int("batch_size", batch_size)
    order = _order(n, rng, shuffle)
    return (order[start:start + batch_size] for start in range(0, n, batch_size))


def minibatches(n_or_x, batch_size, rng, shuffle=True):
    """One epoch of minibatches of an int, an array, or a tuple of arrays.

    n_or_x:
      int n           -> yields int64 index arrays (exactly as :func:`iterate_minibatches`);
      array x         -> yields ``x[idx]`` (shuffle=True: a fancy-indexed copy of the batch
                         only; shuffle=False: the slice ``x[start:stop]``, a view);
      tuple (x, y...) -> yields tuples ``(x[idx], y[idx], ...)``; ``None`` entries stay None
                         (e.g. y for unlabelled data). All arrays must have the same length.
    batch_size, rng, shuffle: as in :func:`iterate_minibatches`.
    """
    if isinstance(n_or_x, numbers.Integral) and not isinstance(n_or_x, bool):
        return iterate_minibatches(n_or_x, batch_size, rng, shuffle)
    single = not isinstance(n_or_x, (tuple, list))
    arrays = (n_or_x,) if single else tuple(n_or_x)
    lengths = {len(a) for a in arrays if a is not None}
    if not lengths:
        raise ValueError("n_or_x must be an int, an array, or a tuple with at least one array")
    if len(lengths) != 1:
        shapes = ", ".join(str(None if a is None else np.shape(a)) for a in arrays)
        raise ValueError(f"n_or_x arrays must have the same length (axis 0), got shapes {shapes}")
    n = lengths.pop()
    if shuffle:
        batches = iterate_minibatches(n, batch_size, rng, shuffle=True)
    else:
        batch_size = check_positive_int("batch_size", batch_size)
        check_positive_int("n", n)
        batches = (slice(s, s + batch_size) for s in range(0, n, batch_size))

    def take(index):
        out = tuple(None if a is None else a[index] for a in arrays)
        return out[0] if single else out

    return (take(index) for index in batches)
