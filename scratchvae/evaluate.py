"""Evaluating a trained model: the ELBO on data, the importance-sampled log-likelihood,
active latent units and the reconstruction error.

All numbers are nats per example (natural log), averaged over examples where a mean is
reported. The ELBO is always evaluated with z sampled from q(z|x), never with z = mu.

    -ELBO(x)   = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))            (one z per example)
    -log p(x) ~= -log 1/k sum_i p(x|z_i) p(z_i) / q(z_i|x),  z_i ~ q(z|x)   (Burda et al. 2016)

The second is an upper bound on -log p(x) in expectation that tightens as k grows, and equals
a single-sample -ELBO estimate (with the KL estimated by the same sample) when k = 1.

Models: a scratchvae model that declares ``has_gaussian_encoder`` (the VAE and its extensions:
``encode(x) -> (mu, logvar)``, ``decode(z)``, ``reconstruction_nll(x, decoded)``; see
:class:`scratchvae.models.base.Model`), or an outside object with the same three methods and a
``dtype`` (:class:`scratchvae.models.base.GaussianLatentModel`, evaluated without labels).
:func:`reconstruction_error` takes any package model with ``has_decoder`` (autoencoders too).
Models with ``needs_labels = True`` take ``y`` and get ``encode(x, y)`` and ``decode(z, y)``.
"""

import math

import numpy as np

from scratchvae.losses import kl_standard_normal
from scratchvae.mathutils import (  # noqa: F401  (log_normal_diag: deprecated, warns)
    log_normal_diag,
    log_standard_normal,
    logsumexp,
)
from scratchvae.models.base import GaussianLatentModel, Model
from scratchvae.progress import progress_bar, show_progress
from scratchvae.reparam import std_from_logvar
from scratchvae.validation import (
    as_generator,
    check_array,
    check_nonnegative_number,
    check_positive_int,
)

MAX_IMPORTANCE_SAMPLES = 100_000
"""The largest ``k`` :func:`importance_sampled_nll` takes: k decoder passes per example (the
literature reports k = 5,000 at most; k = 10**12 would run for years)."""

__all__ = ["MAX_IMPORTANCE_SAMPLES", "log_standard_normal", "logsumexp", "evaluate_elbo",
           "importance_sampled_nll", "active_units", "reconstruction_error"]


# ---------------------------------------------------------------------------------------------
# model access, the same for the VAE and labelled extensions
# ---------------------------------------------------------------------------------------------


def _encode(model, x, y):
    """q(z|x): ``encode(x)``, or ``encode(x, y)`` for a labelled model (y is None otherwise)."""
    return model.encode(x) if y is None else model.encode(x, y)


def _decode(model, z, y):
    return model.decode(z) if y is None else model.decode(z, y)


def _needs_labels(model, vae):
    """Whether ``model`` conditions on labels, after checking once that it can be evaluated:
    a package model with ``has_gaussian_encoder`` (``vae``) or ``has_decoder``, or (``vae``) an
    outside :class:`GaussianLatentModel`, which takes no labels. ValueError otherwise."""
    if isinstance(model, Model):
        if vae and not model.has_gaussian_encoder:
            raise ValueError("model must be a VAE (a model with encode -> (mu, logvar), decode "
                             f"and reconstruction_nll), got {type(model).__name__}")
        if not model.has_decoder:
            raise ValueError("model must be an autoencoder or a VAE (a model with reconstruct), "
                             f"got {type(model).__name__}")
        return model.needs_labels
    if vae and isinstance(model, GaussianLatentModel):
        return False
    wanted = ("a scratchvae VAE, or an object with dtype, encode(x) -> (mu, logvar), decode(z) "
              "and reconstruction_nll(x, decoded)" if vae else
              "a scratchvae autoencoder or VAE")
    raise ValueError(f"model must be {wanted}, got {type(model).__name__}")


def _check_inputs(model, x, y, vae=False):
    """(x, y) checked for ``model``: x (n, ...) in the model's dtype; y (n,) ints for a labelled
    model, None for any other (the y given is then ignored)."""
    labelled = _needs_labels(model, vae)
    x = check_array("x", x)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be an array of shape (n, ...) with n >= 1, got {x.shape}")
    if x.dtype != model.dtype:
        x = x.astype(model.dtype)
    if not labelled:
        return x, None
    if y is None:
        raise ValueError("y is required: this model conditions on class labels")
    y = check_array("y", y, ndim=1, kind="integer")
    if len(y) != len(x):
        raise ValueError(f"y must have one label per example ({len(x)}), got {len(y)}")
    return x, y


def _rows(a, idx):
    return None if a is None else a[idx]


# ---------------------------------------------------------------------------------------------
# the ELBO
# ---------------------------------------------------------------------------------------------


def evaluate_elbo(model, x, rng=0, batch_size=1000, y=None):
    """Mean negative ELBO over ``x`` in nats per example, with z sampled from q(z|x), beta = 1.

        -ELBO(x_n) = -log p(x_n | z_n) + KL(q(z|x_n) || N(0, I)),
        z_n = mu_n + exp(logvar_n / 2) * eps_n,  eps_n ~ N(0, I) drawn from ``rng``

    The KL is analytic (:func:`scratchvae.losses.kl_standard_normal`), the reconstruction term
    a one-sample estimate. x: (n, n_in). Processed ``batch_size`` examples at a time; eps is
    drawn batch by batch as ``rng.standard_normal((batch, n_latent))``.

    Returns a dict of floats: "neg_elbo" (the mean -ELBO), "reconstruction" (mean -log p(x|z)),
    "kl" (mean KL), "elbo" (= -neg_elbo) and "n_examples".
    """
    x, y = _check_inputs(model, x, y, vae=True)
    rng = as_generator(rng)
    batch_size = check_positive_int("batch_size", batch_size)
    recon_sum = kl_sum = 0.0
    for start in range(0, len(x), batch_size):
        idx = slice(start, start + batch_size)
        xb, yb = x[idx], _rows(y, idx)
        mu, logvar = _encode(model, xb, yb)
        eps = rng.standard_normal(mu.shape).astype(mu.dtype)
        z = mu + std_from_logvar(logvar) * eps
        recon = model.reconstruction_nll(xb, _decode(model, z, yb))
        recon_sum += float(np.sum(recon, dtype=np.float64))
        kl_sum += float(np.sum(kl_standard_normal(mu, logvar), dtype=np.float64))
    n = len(x)
    recon, kl = recon_sum / n, kl_sum / n
    return {"neg_elbo": recon + kl, "reconstruction": recon, "kl": kl, "elbo": -(recon + kl),
            "n_examples": n}


# ---------------------------------------------------------------------------------------------
# importance-sampled -log p(x)
# ---------------------------------------------------------------------------------------------


def importance_sampled_nll(vae, x, k=1000, rng=0, batch_size=10000, progress=True, y=None):
    """Importance-sampled estimate of -log p(x) per example (Burda, Grosse, Salakhutdinov 2016).

        log w_i   = log p(x | z_i) + log N(z_i; 0, I) - log N(z_i; mu, diag(exp(logvar)))
        -log p(x) ~= -( logsumexp_i(log w_i) - log k ),     z_i = mu + std * eps_i, i = 1..k

    with q(z|x) = N(mu, diag(exp(logvar))) as the proposal. The log-sum-exp subtracts the
    largest log-weight first, so nothing overflows; it is accumulated chunk by chunk over the k
    samples in float64. x: (n, n_in) -> (n,) nats.

    batch_size: how many (example, sample) pairs are decoded at once (memory ~ batch_size *
    n_in numbers); examples are taken ``max(1, batch_size // k)`` at a time and samples
    ``min(k, batch_size)`` at a time. For each group of examples the noise is drawn chunk by
    chunk as ``rng.standard_normal((samples, examples, n_latent))``, so with k = 1 and one
    group the draws equal ``rng.standard_normal((n, n_latent))``. progress: a tqdm bar over the
    examples: True when someone is watching (terminal or notebook, not CI), "always", or False
    (see :func:`scratchvae.progress.show_progress`). k: 1 to :data:`MAX_IMPORTANCE_SAMPLES`
    (100,000); a larger k is refused at once.
    """
    k = check_positive_int("k", k)
    if k > MAX_IMPORTANCE_SAMPLES:
        raise ValueError(f"k must be at most {MAX_IMPORTANCE_SAMPLES:,} "
                         f"(scratchvae.evaluate.MAX_IMPORTANCE_SAMPLES), got {k:,}: k decoder "
                         "passes per example")
    x, y = _check_inputs(vae, x, y, vae=True)
    batch_size = check_positive_int("batch_size", batch_size)
    rng = as_generator(rng)
    n = len(x)
    per_group = max(1, batch_size // k)
    per_chunk = min(k, batch_size)
    out = np.empty(n, dtype=np.float64)
    bar = progress_bar(n, f"IS-NLL (k={k})", show_progress(progress), unit="ex")
    try:
        for start in range(0, n, per_group):
            idx = slice(start, start + per_group)
            xb, yb = x[idx], _rows(y, idx)
            m = len(xb)
            mu, logvar = _encode(vae, xb, yb)
            std = std_from_logvar(logvar)
            log_total = np.full(m, -np.inf)
            for s in range(0, k, per_chunk):
                c = min(per_chunk, k - s)
                eps = rng.standard_normal((c, m, mu.shape[1])).astype(mu.dtype)
                z = mu + std * eps                                   # (c, m, n_latent)
                z_flat = z.reshape(c * m, -1)
                x_rep = np.broadcast_to(xb, (c, *xb.shape)).reshape(c * m, *xb.shape[1:])
                y_rep = None if yb is None else np.tile(yb, c)
                log_px_z = -vae.reconstruction_nll(x_rep, _decode(vae, z_flat, y_rep))
                # -log q(z|x) in its eps form, -log N(eps; 0, I) + 1/2 sum_j logvar_j: exact
                # even when std = exp(logvar / 2) underflows and z - mu rounds to 0
                neg_log_q = (-log_standard_normal(eps.astype(np.float64))
                             + 0.5 * np.sum(logvar.astype(np.float64), axis=-1))
                log_w = (np.asarray(log_px_z, dtype=np.float64).reshape(c, m)
                         + log_standard_normal(z.astype(np.float64)) + neg_log_q)
                log_total = np.logaddexp(log_total, logsumexp(log_w, axis=0))
            out[idx] = -(log_total - math.log(k))
            bar.update(m)
    finally:
        bar.close()
    return out


# ---------------------------------------------------------------------------------------------
# active units and reconstruction error
# ---------------------------------------------------------------------------------------------


def active_units(model, x, threshold=0.01, batch_size=1000, y=None):
    """Number of active latent dimensions (Burda, Grosse, Salakhutdinov 2016, section 5.2):

        A_u = Var_x( E_{q(z|x)}[z_u] ) = Var_x( mu_u(x) ),   unit u is active if A_u > threshold

    The variance is over the examples in ``x`` (ddof = 0). An inactive unit's posterior mean
    does not depend on x: the decoder ignores it and its KL is (near) zero.
    Returns (count, variances) with variances: (n_latent,) float64.
    """
    x, y = _check_inputs(model, x, y, vae=True)
    batch_size = check_positive_int("batch_size", batch_size)
    threshold = check_nonnegative_number("threshold", threshold)
    means = []
    for start in range(0, len(x), batch_size):
        idx = slice(start, start + batch_size)
        mu, _ = _encode(model, x[idx], _rows(y, idx))
        means.append(np.asarray(mu, dtype=np.float64))
    variances = np.var(np.concatenate(means), axis=0)
    return int(np.sum(variances > threshold)), variances


def reconstruction_error(model, x, batch_size=1000, y=None):
    """Mean squared error per example, averaged over pixels, of the reconstruction at z = mu:

        mse(x_n) = 1/d * sum_i (x_ni - x_hat_ni)^2,   x_hat = E[x | z = mu(x)] = model.reconstruct(x)

    A picture-quality number, not a likelihood: it uses the decoder mean at the posterior mean
    (no sampling), unlike the ELBO. Works for autoencoders too. x: (n, d) -> (n,) float64.
    """
    x, y = _check_inputs(model, x, y)
    batch_size = check_positive_int("batch_size", batch_size)
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), batch_size):
        idx = slice(start, start + batch_size)
        xb = x[idx]
        x_hat = model.reconstruct(xb) if y is None else model.reconstruct(xb, y[idx])
        diff = np.asarray(xb, dtype=np.float64) - np.asarray(x_hat, dtype=np.float64)
        out[idx] = np.mean(diff.reshape(len(xb), -1) ** 2, axis=1)
    return out
