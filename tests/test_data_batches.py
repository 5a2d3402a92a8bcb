"""Minibatches: one epoch covers every example once, shuffled by the rng given, no data copies."""

import tracemalloc

import numpy as np
import pytest

from scratchvae.data import iterate_minibatches, minibatches, num_batches


def test_an_epoch_is_a_permutation_with_the_last_partial_batch_kept():
    batches = list(iterate_minibatches(103, 25, rng=0))
    assert [len(b) for b in batches] == [25, 25, 25, 25, 3]
    assert all(b.dtype == np.int64 for b in batches)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(103))
    assert not np.array_equal(np.concatenate(batches), np.arange(103))  # shuffled
    assert num_batches(103, 25) == 5 and num_batches(100, 25) == 4


def test_the_same_seed_gives_the_same_order_and_a_generator_advances_per_epoch():
    a = np.concatenate(list(iterate_minibatches(50, 8, rng=3)))
    b = np.concatenate(list(iterate_minibatches(50, 8, rng=3)))
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(3)
    epoch1 = np.concatenate(list(iterate_minibatches(50, 8, rng)))
    epoch2 = np.concatenate(list(iterate_minibatches(50, 8, rng)))
    np.testing.assert_array_equal(epoch1, a)
    assert not np.array_equal(epoch1, epoch2)


def test_the_shuffle_is_drawn_from_the_rng_passed_in_not_the_global_state():
    np.random.seed(0)
    a = np.concatenate(list(iterate_minibatches(40, 7, rng=11)))
    np.random.seed(1)
    b = np.concatenate(list(iterate_minibatches(40, 7, rng=11)))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng(11).permutation(40))


def test_no_shuffle_yields_the_examples_in_order():
    batches = list(iterate_minibatches(10, 4, rng=None, shuffle=False))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_minibatches_of_arrays_index_them_with_the_same_batches():
    x = np.arange(30.0).reshape(15, 2)
    y = np.arange(15) * 10
    idx = list(minibatches(15, 4, rng=5))
    xs = list(minibatches(x, 4, rng=5))
    pairs = list(minibatches((x, y), 4, rng=5))
    unlabelled = list(minibatches((x, None), 4, rng=5))
    assert len(idx) == len(xs) == len(pairs) == 4
    for i, xb, (xb2, yb), (xb3, none) in zip(idx, xs, pairs, unlabelled):
        np.testing.assert_array_equal(xb, x[i])
        np.testing.assert_array_equal(xb2, x[i])
        np.testing.assert_array_equal(yb, y[i])
        np.testing.assert_array_equal(xb3, x[i])
        assert none is None


def test_unshuffled_array_batches_are_views_of_the_data():
    x = np.zeros((10, 3))
    batches = list(minibatches(x, 4, rng=None, shuffle=False))
    assert [b.shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    assert all(np.shares_memory(b, x) for b in batches)


def test_an_epoch_never_copies_the_whole_dataset():
    x = np.ones((20000, 100))  # 16 MB
    tracemalloc.start()
    try:
        total = 0.0
        for xb in minibatches(x, 100, rng=0):
            total += xb[0, 0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 200
    assert peak < 1_000_000  # the permutation (160 kB) and one batch (80 kB), not 16 MB


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        iterate_minibatches(10, 0, rng=0)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        iterate_minibatches(0, 4, rng=0)
    with pytest.raises(ValueError, match="same length"):
        minibatches((np.zeros(3), np.zeros(4)), 2, rng=0)
    with pytest.raises(ValueError, match="rng must be"):
        iterate_minibatches(10, 2, rng="seed")
