"""Checkers for homework 6: the importance-weighted bound (IWAE, Burda et al. 2016).

With k samples z_i ~ q(z|x) and log-weights log w_i = log p(x, z_i) - log q(z_i|x):

    L_k = log (1/k) sum_i w_i = log_mean_exp_i(log w_i)
        = m + log (1/k) sum_i exp(log w_i - m),   m = max_i log w_i         (stable)
    w~_i = w_i / sum_j w_j = softmax_i(log w_i) = dL_k / dlog w_i

Log-weights of a real model are large and negative (log w ~ -1000 for a 784-pixel image): exp
of them underflows to 0 and the naive log gives -inf; subtracting the max first keeps every
term in [0, 1] with the largest exactly 1. Shapes as in :mod:`scratchvae.models.iwae`: log_w
(k, batch), sample index first; L_k (batch,); w~ (k, batch), each column sums to 1.
"""

import numpy as np

from scratchvae import mathutils
from scratchvae.homework._core import Check, expect_close_to_fd, finite_difference_grad, rng_for

# (k, batch, centre, spread): log w = centre + spread * N(0, 1)
LOG_W_CASES = [(5, 3, 0.0, 2.0), (1, 4, -3.0, 1.0), (8, 2, -1000.0, 5.0), (3, 3, 800.0, 1.0),
               (10, 1, -120.0, 30.0)]


def _log_w_cases(exercise):
    for k, (n_samples, batch, centre, spread) in enumerate(LOG_W_CASES):
        log_w = centre + spread * rng_for(exercise, k).standard_normal((n_samples, batch))
        label = f" (log w ~ {centre:g})" if abs(centre) >= 100 else ""
        yield log_w, f"case {k + 1}: log_w {log_w.shape}{label}"


def _naive(fn):
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        return fn()


STABLE = ("subtract the max first: m = log_w.max(axis=0), then m + log(mean(exp(log_w - m))); "
          "exp(-1000) underflows to 0 and exp(800) overflows")


def check_log_mean_exp(log_mean_exp):
    """Check ``log_mean_exp(log_w) -> L`` of shape (batch,): ``log (1/k) sum_i exp(log_w[i])``
    over the samples (axis 0), finite and exact for log w around -1000 and +800."""
    check = Check("log_mean_exp", "scratchvae.mathutils.log_mean_exp")
    for log_w, case in _log_w_cases(check.exercise):
        got = check.call(log_mean_exp, {"log_w": log_w.copy()}, case)
        expected = mathutils.log_mean_exp(log_w, axis=0)
        n_samples = log_w.shape[0]
        naive = _naive(lambda lw=log_w: np.log(np.mean(np.exp(lw), axis=0)))
        unstable = not np.all(np.isfinite(naive))
        hints = {
            STABLE: naive if unstable else None,
            "log of the MEAN: subtract log k (that is log-sum-exp)":
                expected + np.log(n_samples) if n_samples > 1 else None,
            "log of the mean of the weights, not the mean of the log-weights (that average is "
            "the ELBO, a looser bound)": log_w.mean(axis=0) if n_samples > 1 else None,
            "average over the samples, axis 0 (log_w is (k, batch)): one value per example":
                mathutils.log_mean_exp(log_w, axis=1),
        }
        check.expect_array("L", got, expected, case, hints,
                           extra=" (batch,): one value per example",
                           fallback_hint=STABLE if unstable else None)
    return check.done()


def check_importance_weights(importance_weights):
    """Check ``importance_weights(log_w) -> w_tilde`` of shape (k, batch): the normalised
    weights ``softmax(log_w)`` over the samples (axis 0), each column summing to 1, finite for
    log w around -1000 and +800; they are the gradient of ``log_mean_exp(log_w)`` (checked by
    finite differences)."""
    check = Check("importance_weights", "scratchvae.mathutils.softmax over the samples and "
                  "finite differences of log_mean_exp")
    for log_w, case in _log_w_cases(check.exercise):
        got = check.call(importance_weights, {"log_w": log_w.copy()}, case)
        expected = mathutils.softmax(log_w.T).T
        naive = _naive(lambda lw=log_w: np.exp(lw) / np.sum(np.exp(lw), axis=0))
        hints = {
            "subtract the max first: w~ = exp(log_w - m) / sum(exp(log_w - m)), m = "
            "log_w.max(axis=0); the naive exp overflows or underflows":
                naive if not np.all(np.isfinite(naive)) else None,
            "normalise over the samples (axis 0): each COLUMN of w~ sums to 1":
                mathutils.softmax(log_w),
            "normalise: divide by the sum over the samples, so the weights sum to 1":
                _naive(lambda lw=log_w: np.exp(lw)),
            "divide by the sum of the weights, not by k": _naive(
                lambda lw=log_w: np.exp(lw - lw.max(axis=0)) / lw.shape[0]),
        }
        check.expect_array("w_tilde", got, expected, case, hints,
                           extra=" (k, batch), like log_w")
        if np.all(np.abs(log_w) < 50):  # the gradient oracle, where finite differences are exact
            numeric = finite_difference_grad(
                lambda lw: np.sum(mathutils.log_mean_exp(lw, axis=0)), log_w)
            expect_close_to_fd(check, "w_tilde", got, numeric, case)
    return check.done()
