"""How far generated samples fall from the data: k-nearest-neighbour precision and recall.

Kynkäänniemi, Karras, Laine, Lehtinen & Aila (2019), "Improved precision and recall metric for
assessing generative models". In a feature space (for images: the hidden layer of a classifier),
each real example r_i gets a ball whose radius is the distance to its k-th nearest other real
example, and the real data's manifold is approximated by the union of the balls:

    radius_k(r_i)  = || r_i - NN_k(r_i, R \\ {r_i}) ||                 (k-th nearest real neighbour)
    inside(g; R)   = 1  if  || g - r_i || <= radius_k(r_i)  for some i, else 0
    precision(R, G) = 1/|G| sum_{g in G} inside(g; R)                 share of samples near data
    recall(R, G)    = 1/|R| sum_{r in R} inside(r; G)                 share of data near samples

Precision asks "is each sample where real data is?" (a sample in a hole of the data scores 0,
however crisp it looks); recall asks "is each real example covered by some sample?".

Shapes: real (N, D), generated (M, D), any float dtype (computed in float64); k < N.
Distances are computed in blocks of rows, so memory stays O(block * N).
"""

import numpy as np

from scratchvae.validation import check_array, check_positive_int

__all__ = ["knn_radii", "knn_precision", "knn_recall"]

_BLOCK = 1024


def _squared_distances(a, b):
    """||a_i - b_j||^2 for all pairs: a (n, D), b (m, D) float64 -> (n, m), clipped at 0."""
    d2 = (a * a).sum(1)[:, None] - 2.0 * (a @ b.T) + (b * b).sum(1)[None, :]
    return np.maximum(d2, 0.0)


def _features(name, value, n_features=None):
    shape = None if n_features is None else (None, n_features)
    return check_array(name, value, ndim=2, shape=shape, dtype=np.float64)


def knn_radii(real, k=5):
    """Distance from each row of ``real`` (N, D) to its k-th nearest *other* row: (N,) float64.

    ``k`` must be below N (a row's k-th neighbour must exist).
    """
    real = _features("real", real)
    k = check_positive_int("k", k)
    if k >= len(real):
        raise ValueError(f"k must be smaller than the number of real rows ({len(real)}), got {k}")
    radii = np.empty(len(real))
    for start in range(0, len(real), _BLOCK):
        block = _squared_distances(real[start:start + _BLOCK], real)
        rows = np.arange(len(block))
        block[rows, start + rows] = np.inf                     # not the row itself
        radii[start:start + _BLOCK] = np.sqrt(np.partition(block, k - 1, axis=1)[:, k - 1])
    return radii


def _inside(points, reference, radii):
    """Boolean per row of points: within radii[i] of reference[i] for some i."""
    out = np.empty(len(points), dtype=bool)
    r2 = radii**2
    for start in range(0, len(points), _BLOCK):
        d2 = _squared_distances(points[start:start + _BLOCK], reference)
        out[start:start + _BLOCK] = np.any(d2 <= r2[None, :], axis=1)
    return out


def knn_precision(real, generated, k=5, return_inside=False):
    """Share of the rows of ``generated`` (M, D) inside the k-NN balls of ``real`` (N, D).

    precision = 1/M sum_g [ ||g - r_i|| <= radius_k(r_i) for some real r_i ]  (module docstring).
    Returns a float in [0, 1]; with ``return_inside=True`` also the (M,) boolean per sample.
    """
    real = _features("real", real)
    generated = _features("generated", generated, real.shape[1])
    inside = _inside(generated, real, knn_radii(real, k))
    share = float(inside.mean()) if len(inside) else float("nan")
    return (share, inside) if return_inside else share


def knn_recall(real, generated, k=5):
    """Share of the rows of ``real`` inside the k-NN balls of ``generated``:
    ``knn_precision(generated, real, k)`` (the roles swapped)."""
    return knn_precision(generated, real, k)
