"""k-NN precision and recall (scratchvae.metrics) on tiny examples worked out by hand."""

import numpy as np
import pytest

from scratchvae.metrics import knn_precision, knn_radii, knn_recall

# real points on a line: 0, 1, 3, 7  (one feature)
REAL = np.array([[0.0], [1.0], [3.0], [7.0]])


def test_radii_by_hand():
    # k=1: nearest other point; k=2: second nearest
    assert np.array_equal(knn_radii(REAL, k=1), [1.0, 1.0, 2.0, 4.0])
    assert np.array_equal(knn_radii(REAL, k=2), [3.0, 2.0, 3.0, 6.0])


def test_precision_by_hand():
    # balls at k=1: [-1, 1], [0, 2], [1, 5], [3, 11]; -2 and 12 fall outside, 1.5 and 11 inside
    generated = np.array([[-2.0], [1.5], [11.0], [12.0]])
    share, inside = knn_precision(REAL, generated, k=1, return_inside=True)
    assert share == 0.5
    assert inside.tolist() == [False, True, True, False]
    # k=2 balls: [-3, 3], [-1, 3], [0, 6], [1, 13]: all four inside
    assert knn_precision(REAL, generated, k=2) == 1.0


def test_recall_swaps_roles_2d():
    # generated: two points 1 apart; each radius (k=1) is 1, balls around (0,0) and (1,0)
    generated = np.array([[0.0, 0.0], [1.0, 0.0]])
    real = np.array([[0.0, 1.0], [2.0, 0.0], [5.0, 5.0], [0.5, 0.5]])
    # (0,1): distance 1 to (0,0) -> inside; (2,0): 1 to (1,0) -> inside; (5,5) outside; (0.5,0.5) inside
    assert knn_recall(real, generated, k=1) == 0.75
    assert knn_precision(generated, real, k=1) == 0.75


def test_blocks_agree_with_brute_force(monkeypatch):
    import scratchvae.metrics as metrics

    rng = np.random.default_rng(0)
    real, generated = rng.standard_normal((50, 3)), rng.standard_normal((30, 3)) * 1.5
    d_rr = np.linalg.norm(real[:, None] - real[None], axis=2)
    np.fill_diagonal(d_rr, np.inf)
    radii = np.sort(d_rr, axis=1)[:, 4]
    d_gr = np.linalg.norm(generated[:, None] - real[None], axis=2)
    expected = np.mean(np.any(d_gr <= radii[None], axis=1))
    monkeypatch.setattr(metrics, "_BLOCK", 7)          # several blocks, a ragged last one
    assert np.allclose(metrics.knn_radii(real, k=5), radii)
    assert metrics.knn_precision(real, generated, k=5) == expected
    assert 0 < expected < 1


@pytest.mark.parametrize("k", [0, 4, 5])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k"):
        knn_radii(REAL, k=k)


def test_bad_shapes():
    with pytest.raises(ValueError, match="generated"):
        knn_precision(REAL, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="real"):
        knn_radii(np.zeros(4))
