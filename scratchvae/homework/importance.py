"""Checkers for homework 6: the importance-weighted bound (IWAE, Burda et al. 2016).

With k samples z_i ~ q(z|x) and log-weights log w_i = log p(x, z_i) - log q(z_i|x):

    L_k = log (1/k) sum_i w_i = log_mean_exp_i(log w_i)
        = m + log (1/k) sum_i exp(log w_i - m),   m = max_i log w_i         (stable)
    w~_i = w_i / sum_j w_j = softmax_i(log w_i) = dL_k / dlog w_i

Log-weights of a 784-pixel image are far below 0 (a trained MNIST VAE: around -130 nats, an
untrained one about -550, a badly explained image below -745): exp of them underflows to 0 in
float32 below -103.3 and in float64 below -745, and the naive log gives -inf; subtracting each
example's own max first keeps every term in [0, 1] with the largest exactly 1. Shapes as in
:mod:`scratchvae.models.iwae`: log_w (k, batch), sample index first; L_k (batch,); w~ (k, batch),
each column sums to 1.

``iwae_bound(log_w, k)`` estimates the bound for a smaller k from K samples: the K samples
(a multiple of k) split into K // k consecutive groups of k, one L_k per group, averaged:

    L_k estimate (batch,) = mean_g log_mean_exp(log_w[g*k : (g+1)*k])
"""

import numpy as np

from scratchvae import mathutils
from scratchvae.homework._core import Check, expect_close_to_fd, finite_difference_grad, rng_for

# (k, batch, centre, spread): log w = centre + spread * N(0, 1)
LOG_W_CASES = [(5, 3, 0.0, 2.0), (1, 4, -3.0, 1.0), (8, 2, -1000.0, 5.0), (3, 3, 800.0, 1.0),
               (10, 1, -120.0, 30.0)]
FAR_APART_CENTRES = (0.0, -900.0, -50.0)
"""The last case's three examples: their log-weights lie 900 nats apart (a subtraction of the
global max, not each example's own, sends the second to exp(-900) = 0), and the third holds one
sample at -50 and five near -2050 (a 2000-nat spread inside one example: subtracting the mean or
the min instead of the max overflows)."""


def _far_apart_case(rng):
    log_w = np.array(FAR_APART_CENTRES) + rng.standard_normal((6, 3))
    log_w[[0, 1, 2, 4, 5], 2] -= 2000.0  # the third example's largest sample is not its first
    return log_w


def _log_w_cases(exercise):
    for k, (n_samples, batch, centre, spread) in enumerate(LOG_W_CASES):
        log_w = centre + spread * rng_for(exercise, k).standard_normal((n_samples, batch))
        label = f" (log w ~ {centre:g})" if abs(centre) >= 100 else ""
        yield log_w, f"case {k + 1}: log_w {log_w.shape}{label}"
    log_w = _far_apart_case(rng_for(exercise, len(LOG_W_CASES)))
    yield log_w, (f"case {len(LOG_W_CASES) + 1}: log_w {log_w.shape} (examples 900 nats apart, "
                  "2000 nats of spread within one)")


def _naive(fn):
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        return fn()


STABLE = ("subtract the max first: m = log_w.max(axis=0), then m + log(mean(exp(log_w - m))); "
          "exp(-1000) underflows to 0 and exp(800) overflows")
GLOBAL_MAX = ("subtract each example's own max, m = log_w.max(axis=0) (one per column), not the "
              "max of the whole array: an example whose log-weights lie more than ~745 nats "
              "below another's underflows to exp(...) = 0")
SHIFT_BY_MAX = ("subtract the MAX over the samples (not the mean or the min, nor the first "
                "sample, which is not always the largest): then every "
                "exp(log_w - m) is in [0, 1] and nothing overflows, however far apart the "
                "log-weights are")
LOG_W_IN_PLACE = ("`log_w -= m` writes into the caller's array: compute `log_w - m`, a new array")


def _shifted_lme(log_w, m):
    """m + log mean exp(log_w - m) for any shift m (broadcast over the samples), unguarded."""
    return _naive(lambda: m + np.log(np.mean(np.exp(log_w - m), axis=0)))


def _lme_hints(log_w):
    expected = mathutils.log_mean_exp(log_w, axis=0)
    n_samples = log_w.shape[0]
    naive = _naive(lambda: np.log(np.mean(np.exp(log_w), axis=0)))
    unstable = not np.all(np.isfinite(naive))
    m = log_w.max(axis=0)
    return {
        GLOBAL_MAX: _shifted_lme(log_w, log_w.max()),
        STABLE: naive if unstable else None,
        SHIFT_BY_MAX: _shifted_lme(log_w, log_w.mean(axis=0)),
        SHIFT_BY_MAX + " (the min overflows the same way)":
            _shifted_lme(log_w, log_w.min(axis=0)),
        SHIFT_BY_MAX + " (here the first sample)": _shifted_lme(log_w, log_w[0]),
        "log of the mean over the k samples: subtract log k with k = log_w.shape[0], not the "
        "batch size": expected + np.log(n_samples) - np.log(log_w.shape[1])
        if log_w.shape[1] != n_samples else None,
        "add the max back: L = m + log(mean(exp(log_w - m)))": expected - m,
        "log of the MEAN: subtract log k (that is log-sum-exp)":
            expected + np.log(n_samples) if n_samples > 1 else None,
        "log of the mean of the weights, not the mean of the log-weights (that average is "
        "the ELBO, a looser bound)": log_w.mean(axis=0) if n_samples > 1 else None,
        "average over the samples, axis 0 (log_w is (k, batch)): one value per example":
            mathutils.log_mean_exp(log_w, axis=1),
        "one value per example: return shape (batch,), not (1, batch) (no keepdims)":
            expected[None, :],
        "one value per example: average over the samples (axis 0) only, not the whole array":
            mathutils.log_mean_exp(log_w.reshape(-1), axis=0),
    }, unstable


def check_log_mean_exp(log_mean_exp):
    """Check ``log_mean_exp(log_w) -> L`` of shape (batch,): ``log (1/k) sum_i exp(log_w[i])``
    over the samples (axis 0), finite and exact for log w around -1000 and +800, for examples
    900 nats apart and for a 2000-nat spread inside one example."""
    check = Check("log_mean_exp", "scratchvae.mathutils.log_mean_exp")
    for log_w, case in _log_w_cases(check.exercise):
        got = check.call(log_mean_exp, {"log_w": log_w.copy()}, case, mutation_hint=LOG_W_IN_PLACE)
        expected = mathutils.log_mean_exp(log_w, axis=0)
        hints, unstable = _lme_hints(log_w)
        check.expect_array("L", got, expected, case, hints,
                           extra=" (batch,): one value per example",
                           fallback_hint=STABLE if unstable else None)
    return check.done()


def check_importance_weights(importance_weights):
    """Check ``importance_weights(log_w) -> w_tilde`` of shape (k, batch): the normalised
    weights ``softmax(log_w)`` over the samples (axis 0), each column summing to 1, finite for
    log w around -1000 and +800 and for examples 900 nats apart; they are the gradient of
    ``log_mean_exp(log_w)`` (checked by finite differences)."""
    check = Check("importance_weights", "scratchvae.mathutils.softmax over the samples and "
                  "finite differences of log_mean_exp")
    for log_w, case in _log_w_cases(check.exercise):
        got = check.call(importance_weights, {"log_w": log_w.copy()}, case,
                         mutation_hint=LOG_W_IN_PLACE)
        expected = mathutils.softmax(log_w.T).T
        naive = _naive(lambda lw=log_w: np.exp(lw) / np.sum(np.exp(lw), axis=0))

        def shifted(m, lw=log_w):
            return _naive(lambda: np.exp(lw - m) / np.sum(np.exp(lw - m), axis=0))

        hints = {
            GLOBAL_MAX: shifted(log_w.max()),
            "subtract the max first: w~ = exp(log_w - m) / sum(exp(log_w - m)), m = "
            "log_w.max(axis=0); the naive exp overflows or underflows":
                naive if not np.all(np.isfinite(naive)) else None,
            SHIFT_BY_MAX: shifted(log_w.mean(axis=0)),
            SHIFT_BY_MAX + " (here the first sample)": shifted(log_w[0]),
            "normalise over the samples (axis 0): each COLUMN of w~ sums to 1":
                mathutils.softmax(log_w),
            "normalise: divide by the sum over the samples, so the weights sum to 1":
                _naive(lambda lw=log_w: np.exp(lw)),
            "normalise: divide exp(log_w - m) by its sum over the samples, so each column "
            "sums to 1": np.exp(log_w - log_w.max(axis=0)),
            "divide by the sum of the weights, not by k": _naive(
                lambda lw=log_w: np.exp(lw - lw.max(axis=0)) / lw.shape[0]),
            "normalise each example (column) separately, not by the sum of the whole array":
                _naive(lambda lw=log_w: np.exp(lw - lw.max()) / np.sum(np.exp(lw - lw.max()))),
            "return the weights themselves, not their logs: w~ = exp(log_w - L)":
                np.log(np.maximum(expected, 1e-300)) if np.all(expected > 0) else None,
            "return (k, batch) like log_w, not its transpose": expected.T,
        }
        check.expect_array("w_tilde", got, expected, case, hints,
                           extra=" (k, batch), like log_w")
        if np.all(np.abs(log_w) < 50):  # the gradient oracle, where finite differences are exact
            numeric = finite_difference_grad(
                lambda lw: np.sum(mathutils.log_mean_exp(lw, axis=0)), log_w)
            expect_close_to_fd(check, "w_tilde", got, numeric, case)
    return check.done()


# ---------------------------------------------------------------------------------------------
# the bound for a smaller k, estimated from K samples
# ---------------------------------------------------------------------------------------------

def iwae_bound_reference(log_w, k):
    """Mean over the K // k consecutive groups of k samples of their log_mean_exp: (batch,)."""
    n_samples, batch = log_w.shape
    groups = log_w.reshape(n_samples // k, k, batch)
    return mathutils.log_mean_exp(groups, axis=1).mean(axis=0)


# (K, batch, k, centre, spread)
BOUND_CASES = [(6, 3, 2, 0.0, 2.0), (8, 2, 4, -1000.0, 5.0), (4, 3, 1, 800.0, 1.0),
               (9, 1, 3, -120.0, 30.0), (10, 2, 10, -5.0, 3.0), (12, 4, 3, -130.0, 20.0)]

MODEL = "vae-mnist-5d"
MODEL_KS = (1, 2, 5, 10, 50, 100)
MODEL_SAMPLES = 100
MODEL_BATCH = 32


def _bound_hints(log_w, k):
    n_samples, batch = log_w.shape
    n_groups = n_samples // k
    lme = mathutils.log_mean_exp
    groups = log_w.reshape(n_groups, k, batch)
    per_group = lme(groups, axis=1)
    expected = iwae_bound_reference(log_w, k)
    hints = {
        "average over ALL K // k groups of k samples, not only the first group: "
        "log_mean_exp(log_w[:k]) uses k of the K samples": lme(log_w[:k], axis=0)
        if n_groups > 1 else None,
        "that is L_K, the bound of all K samples at once: split them into K // k groups of k, "
        "one log_mean_exp per group, then average the groups": lme(log_w, axis=0)
        if n_groups > 1 else None,
        "group CONSECUTIVE samples: group g is log_w[g*k:(g+1)*k], i.e. "
        "log_w.reshape(K // k, k, batch), not log_w.reshape(k, K // k, batch)":
            lme(log_w.reshape(k, n_groups, batch), axis=0).mean(axis=0)
            if 1 < k < n_samples else None,
        "reshape(K // k, k, batch) keeps each example's samples together; "
        "reshape(K // k, batch, k) mixes examples":
            lme(log_w.reshape(n_groups, batch, k), axis=2).mean(axis=0) if batch > 1 else None,
        "log of the MEAN of each group's weights: subtract log k (that is log-sum-exp)":
            expected + np.log(k) if k > 1 else None,
        "the mean of the log-weights is L_1 (the ELBO estimate) for every k: average the "
        "weights inside the log, in groups of k": log_w.mean(axis=0) if k > 1 else None,
        "average the K // k group estimates: return one value per example, shape (batch,)":
            per_group if n_groups > 1 else None,
        "one value per example: don't average over the batch too": expected.mean(),
        "average the group estimates (mean over groups), don't add them up":
            per_group.sum(axis=0) if n_groups > 1 else None,
        "log_mean_exp of the group means of log w is not L_k: take log_mean_exp within each "
        "group, then the mean over groups": lme(groups.mean(axis=1), axis=0)
        if n_groups > 1 and k > 1 else None,
        GLOBAL_MAX: _naive(lambda: (log_w.max() + np.log(np.mean(
            np.exp(groups - log_w.max()), axis=1))).mean(axis=0)),
        "use your stable log_mean_exp for each group: the naive log(mean(exp(...))) "
        "underflows": _naive(lambda: np.log(np.mean(np.exp(groups), axis=1)).mean(axis=0)),
        "log_mean_exp of each group (the log of the mean of its weights), not its max":
            groups.max(axis=1).mean(axis=0) if k > 1 else None,
        "average the group estimates with the mean, not the median (L_k is an expectation)":
            np.median(per_group, axis=0) if n_groups > 2 else None,
        "average the group estimates (mean over groups), not their max":
            per_group.max(axis=0) if n_groups > 1 else None,
    }
    return expected, hints


def _model_log_weights(seed):
    """Log-weights (MODEL_SAMPLES, MODEL_BATCH) of the shipped VAE on digits drawn from it."""
    from scratchvae.models.iwae import log_importance_weights  # noqa: PLC0415
    from scratchvae.pretrained import load  # noqa: PLC0415

    vae = load(MODEL, backend="numpy")
    rng = np.random.default_rng(seed)
    p = vae.sample(MODEL_BATCH, rng=rng)
    x = (rng.random(p.shape) < p).astype(vae.dtype)
    eps = rng.standard_normal((MODEL_SAMPLES, MODEL_BATCH, vae.n_latent)).astype(vae.dtype)
    return log_importance_weights(vae, x, eps).astype(np.float64)


def _check_bound_case(check, iwae_bound, log_w, k, case):
    """Call ``iwae_bound(log_w, k)``, compare it with the reference (with hints); return it."""
    got = check.call(iwae_bound, {"log_w": log_w.copy(), "k": k}, case,
                     mutation_hint=LOG_W_IN_PLACE)
    expected, hints = _bound_hints(log_w, k)
    check.expect_array("L_k", got, expected, case, hints, extra=" (batch,): one value per example")
    return got


def check_iwae_bound(iwae_bound):
    """Check ``iwae_bound(log_w, k) -> L_k`` of shape (batch,): the K samples of log_w (K, batch)
    split into K // k consecutive groups of k, ``log_mean_exp`` of each group, averaged over the
    groups. Random cases (log w near -1000 and +800 among them), then the log-weights of the
    shipped VAE ``vae-mnist-5d`` on digits drawn from it, for k = 1, 2, 5, 10, 50, 100 of
    K = 100 (the printed curve is the model's L_k)."""
    check = Check("iwae_bound", "scratchvae.mathutils.log_mean_exp over consecutive groups of "
                  f"k samples, on random log-weights and on those of {MODEL}",
                  allowed_text="none (call your log_mean_exp)")
    cases = []
    for j, (n_samples, batch, k, centre, spread) in enumerate(BOUND_CASES):
        log_w = centre + spread * rng_for(check.exercise, j).standard_normal((n_samples, batch))
        cases.append((log_w, k, f"case {j + 1}: log_w {log_w.shape}, k={k}"
                      + (f" (log w ~ {centre:g})" if abs(centre) >= 500 else "")))
    log_w = _far_apart_case(rng_for(check.exercise, len(BOUND_CASES)))
    cases.append((log_w, 3, f"case {len(cases) + 1}: log_w {log_w.shape}, k=3 (examples 900 "
                  "nats apart)"))
    for log_w, k, case in cases:
        _check_bound_case(check, iwae_bound, log_w, k, case)
    log_w = _model_log_weights(seed=0)
    curve = []
    for k in MODEL_KS:
        case = (f"{MODEL} on {MODEL_BATCH} of its own digits: log_w {log_w.shape} (median "
                f"{np.median(log_w):.0f} nats), k={k}")
        curve.append(float(np.mean(_check_bound_case(check, iwae_bound, log_w, k, case))))
    return check.done("(the model's mean L_k for k = " + ", ".join(map(str, MODEL_KS))
                      + ": " + ", ".join(f"{v:.1f}" for v in curve) + " nats)")
