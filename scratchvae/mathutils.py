"""Small numerical helpers shared by the evaluation code and the VAE extensions (CVAE, IWAE, M2, AAE).

    logsumexp(a)     = log sum_i exp(a_i)        computed as  m + log sum_i exp(a_i - m),  m = max a
    log_mean_exp(a)  = log (1/k) sum_i exp(a_i)  = logsumexp(a) - log k
    softmax(a)_j     = exp(a_j) / sum_i exp(a_i)            (stable: a - max a first)
    log_softmax(a)_j = a_j - logsumexp(a)
    log_standard_normal(z) = -1/2 sum_j [ log(2 pi) + z_j^2 ]
    (the general Gaussian log-density log N(z; mu, diag exp(logvar)) is -losses.gaussian_nll)
    one_hot(y, K)    = the (batch, K) matrix with a single 1 per row, at column y_n

Subtracting the maximum first is what makes these finite: exp(1000) overflows, exp(1000 - 1000)
does not, and the answer is the same.
"""

import numbers

import numpy as np

from scratchvae.deprecation import renamed_function
from scratchvae.losses import LOG_2PI, gaussian_nll
from scratchvae.validation import check_array


def logsumexp(a, axis=0):
    """``log sum_i exp(a_i)`` along ``axis``, computed as ``m + log sum_i exp(a_i - m)`` with
    m = max_i a_i, so no exp overflows (the largest term is exp(0) = 1). Terms of -inf are
    allowed (they contribute exp(-inf) = 0); if all are -inf the answer is -inf."""
    a = np.asarray(a)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0).astype(a.dtype)
    with np.errstate(divide="ignore"):  # all terms -inf: log(0) = -inf is the right answer
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis)


def log_mean_exp(a, axis=0):
    """``log (1/k) sum_i exp(a_i)`` along ``axis`` (k = a.shape[axis]); stable."""
    a = np.asarray(a)
    return logsumexp(a, axis=axis) - np.log(a.shape[axis])


def softmax(logits):
    """Row-wise softmax of logits (batch, K) -> probabilities (batch, K), rows sum to 1."""
    e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(logits):
    """Row-wise ``log softmax``: ``a - logsumexp(a)``, stable (batch, K) -> (batch, K)."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _log_normal_diag(z, mu, logvar):
    """log N(z; mu, diag(exp(logvar))) = -losses.gaussian_nll(z, mu, logvar), broadcasting
    z, mu and logvar against each other (mu = 0, logvar = 0 gives N(0, I))."""
    z, mu, logvar = np.broadcast_arrays(z, mu, logvar)
    return -gaussian_nll(z, mu, logvar)


log_normal_diag = renamed_function(_log_normal_diag, "mathutils.log_normal_diag",
                                   "-losses.gaussian_nll(z, mu, logvar)")


def log_standard_normal(z):
    """``log N(z; 0, I) = -1/2 * sum_j [ log(2 pi) + z_j^2 ]``: (..., n_latent) -> (...,)."""
    z = np.asarray(z)
    return -0.5 * np.sum(LOG_2PI + z * z, axis=-1)


def check_labels(name, y, n_classes, batch=None, allow_unlabelled=False):
    """Class labels as an int64 array (batch,), each in [0, n_classes) (or -1 if allowed).

    y must be an array of integers (any signed or unsigned integer dtype; floats and bools are
    refused, like every public entry point's dtype rule). The range is checked in y's own dtype
    before the cast to int64, so a uint64 label of 2**64 - 1 is out of range, not -1.
    Raises ValueError naming ``name`` when y is not a 1-D array of integers, has the wrong
    length, or holds a label out of range.
    """
    y = np.asarray(y) if not isinstance(y, np.ndarray) else y
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class labels (an integer array), got "
                         f"dtype {y.dtype}")
    y = check_array(name, y, ndim=1, kind="integer")
    if batch is not None and y.shape[0] != batch:
        raise ValueError(f"{name} must hold one label per example ({batch}), got {y.shape[0]}")
    low = -1 if allow_unlabelled else 0
    if y.size:
        # compare as Python ints: exact for every integer dtype (uint64 included)
        vmin, vmax = int(y.min()), int(y.max())
        if vmin < low or vmax >= n_classes:
            bad = vmin if vmin < low else vmax
            what = "-1 (unlabelled) or " if allow_unlabelled else ""
            raise ValueError(
                f"{name} must hold {what}labels in [0, {n_classes - 1}], got {bad}"
            )
    return y.astype(np.int64)


def labels_for(name, y, n, n_classes):
    """``y`` for ``n`` examples: an int gives n copies of that label; an array is checked."""
    if isinstance(y, numbers.Integral) and not isinstance(y, bool):
        y = np.full(n, int(y), dtype=np.int64)
    return check_labels(name, y, n_classes, batch=n)


def one_hot(y, n_classes, dtype=np.float64):
    """One-hot rows: y (batch,) int labels in [0, n_classes) -> (batch, n_classes) of ``dtype``."""
    y = check_labels("y", y, n_classes)
    out = np.zeros((y.shape[0], n_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out
