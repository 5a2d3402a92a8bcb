"""Per-example loss terms and their gradients.

Every loss returns one value per example, shape ``(batch,)``: the reconstruction terms are summed
over pixels and the KL over latent dimensions, so the two terms of the ELBO use the same
reduction. Averaging over the batch happens in one place, the model's ``loss_and_grads``.
Every ``*_grad`` function returns the gradient of ``loss.sum()`` (not of the mean).

    -ELBO(x) = bernoulli_nll(logits, x) + kl_standard_normal(mu, logvar)   [nats per example]
"""

import numbers

import numpy as np

from scratchvae.functional import sigmoid, softplus, sum_to_shape
from scratchvae.validation import check_array, check_same_shape

LOG_2PI = float(np.log(2 * np.pi))


def _check_floats(check_finite, **arrays):
    """The public dtype rule (``validation.check_array``, kind "float") for every array of a
    loss: float32 or float64 arrays, or Python/NumPy float scalars (a fixed logvar); NaN and
    inf refused when ``check_finite`` (a direct call; a training step passes False: its data
    were checked where they came in). Returns the arrays in the order given."""
    checked = []
    for name, value in arrays.items():
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            value = np.float64(value) if not isinstance(value, np.floating) else value
        checked.append(check_array(name, value, finite=check_finite))
    return checked


# ---------------------------------------------------------------------------------------------
# KL(q || p) for q = N(mu, diag(exp(logvar))), p = N(0, I)   (Kingma & Welling 2014, appendix B)
# ---------------------------------------------------------------------------------------------


def kl_standard_normal(mu, logvar, *, check_finite=True):
    """Analytic ``KL(N(mu, diag(sigma^2)) || N(0, I))`` per example.

        KL = 1/2 * sum_j ( sigma_j^2 + mu_j^2 - 1 - log sigma_j^2 )
           = 1/2 * sum_j ( exp(logvar_j) + mu_j^2 - 1 - logvar_j )

    Note the last term is log sigma^2 = logvar, not log sigma. mu, logvar: (batch, n_latent)
    -> (batch,). Derived in Kingma & Welling (2014), appendix B.
    """
    mu, logvar = _check_floats(check_finite, mu=mu, logvar=logvar)
    check_same_shape(mu=mu, logvar=logvar)
    return 0.5 * np.sum(np.exp(logvar) + mu * mu - 1 - logvar, axis=-1)


def kl_standard_normal_grad(mu, logvar, *, check_finite=True):
    """Gradient of ``kl_standard_normal(mu, logvar).sum()``.

    dKL/dmu = mu;   dKL/dlogvar = (exp(logvar) - 1) / 2.   Returns (dmu, dlogvar).
    """
    mu, logvar = _check_floats(check_finite, mu=mu, logvar=logvar)
    check_same_shape(mu=mu, logvar=logvar)
    return mu.copy(), 0.5 * (np.exp(logvar) - 1)


# ---------------------------------------------------------------------------------------------
# Bernoulli likelihood from logits:  p(x_i = 1 | z) = sigmoid(logits_i)
# ---------------------------------------------------------------------------------------------


def _check_bernoulli(logits, x, check_finite):
    logits, x = _check_floats(check_finite, logits=logits, x=x)
    check_same_shape(logits=logits, x=x)
    if check_finite:
        check_array("x", x, low=0.0, high=1.0)
    return logits, x


def bernoulli_nll(logits, x, *, check_finite=True):
    """Negative log-likelihood of x under Bernoulli(sigmoid(logits)), summed over pixels.

        -log p(x | logits) = sum_i [ softplus(logits_i) - x_i * logits_i ]

    which equals the binary cross-entropy -[x log p + (1 - x) log(1 - p)] with p = sigmoid(logits)
    but never takes log(0). x in [0, 1] (binary or grey values); logits, x: (batch, d) -> (batch,).
    """
    logits, x = _check_bernoulli(logits, x, check_finite)
    return np.sum(softplus(logits) - x * logits, axis=-1)


def bernoulli_nll_grad(logits, x, *, check_finite=True):
    """Gradient of ``bernoulli_nll(logits, x).sum()``: ``dlogits = sigmoid(logits) - x``."""
    logits, x = _check_bernoulli(logits, x, check_finite)
    return sigmoid(logits) - x


def bernoulli_nll_and_grad(logits, x, scale, *, check_finite=True):
    """The loss and its gradient in one op (a training step needs both):

        nll = bernoulli_nll(logits, x)                     (batch,)
        dlogits = scale * bernoulli_nll_grad(logits, x)    (batch, d)

    ``scale`` is the weight of ``nll.sum()`` in the loss (1 / batch for a batch mean).
    """
    nll = bernoulli_nll(logits, x, check_finite=check_finite)
    dlogits = scale * bernoulli_nll_grad(logits, x, check_finite=False)
    return nll, dlogits


# ---------------------------------------------------------------------------------------------
# Gaussian likelihood with per-pixel mean and log-variance
# ---------------------------------------------------------------------------------------------


def squared_error_over_variance(diff, logvar):
    """``diff^2 / exp(logvar)``, elementwise (broadcast), exact wherever the result is finite.

    Computed as ``diff * diff * exp(-logvar)``; where that is not finite or underflows to 0
    with diff != 0 (diff = 0, logvar = -1000 gives 0 * inf = NaN), it is recomputed as
    ``(diff * exp(-logvar / 2))^2``, and it is exactly 0 where diff == 0. The result is +inf
    only where the true value is too large for the dtype.
    """
    logvar = np.asarray(logvar)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        naive = diff * diff * np.exp(-logvar)
        redo = ~np.isfinite(naive) | ((naive == 0) & (diff != 0))
        if not redo.any():
            return naive
        scaled = diff * np.exp(-0.5 * logvar)
        return np.where(diff == 0, 0, np.where(redo, scaled * scaled, naive))


def gaussian_nll(x, mean, logvar, *, check_finite=True):
    """Negative log-likelihood of x under N(mean, diag(exp(logvar))), summed over pixels.

        -log p(x | mean, logvar) = 1/2 * sum_i [ log(2 pi) + logvar_i + (x_i - mean_i)^2 / exp(logvar_i) ]

    x, mean: (batch, d); logvar: (batch, d), or anything that broadcasts to it (a scalar gives
    the fixed isotropic sigma^2 I of a "gaussian_fixed" decoder). Returns (batch,).
    """
    x, mean, logvar = _check_floats(check_finite, x=x, mean=mean, logvar=logvar)
    check_same_shape(x=x, mean=mean)
    diff = x - mean
    per_pixel = 0.5 * (LOG_2PI + logvar + squared_error_over_variance(diff, logvar))
    per_pixel = np.broadcast_to(per_pixel, np.shape(x))
    return np.sum(per_pixel, axis=-1)


def gaussian_nll_grad(x, mean, logvar, *, check_finite=True):
    """Gradient of ``gaussian_nll(x, mean, logvar).sum()`` with respect to mean and logvar.

        dmean   = (mean - x) / exp(logvar)
        dlogvar = 1/2 * (1 - (x - mean)^2 / exp(logvar))     (summed to logvar's shape)
    Returns (dmean, dlogvar).
    """
    x, mean, logvar = _check_floats(check_finite, x=x, mean=mean, logvar=logvar)
    check_same_shape(x=x, mean=mean)
    diff = x - mean
    with np.errstate(over="ignore", invalid="ignore"):  # exact 0 where diff == 0, see above
        dmean = np.where(diff == 0, 0, -diff * np.exp(-logvar))
    dlogvar = 0.5 * (1 - squared_error_over_variance(diff, logvar))
    return dmean, sum_to_shape(dlogvar, np.shape(logvar))


def gaussian_nll_and_grad(x, mean, logvar, scale, *, check_finite=True):
    """The loss and ``scale`` times its gradients in one op (a training step needs both):

        nll = gaussian_nll(x, mean, logvar)                         (batch,)
        dmean, dlogvar = scale * gaussian_nll_grad(x, mean, logvar)

    Returns (nll, dmean, dlogvar); dlogvar has logvar's shape.
    """
    nll = gaussian_nll(x, mean, logvar, check_finite=check_finite)
    dmean, dlogvar = gaussian_nll_grad(x, mean, logvar, check_finite=False)
    return nll, scale * dmean, scale * dlogvar


# ---------------------------------------------------------------------------------------------
# Squared error, the autoencoder's L2 objective
# ---------------------------------------------------------------------------------------------


def mse(x_hat, x, *, check_finite=True):
    """Squared reconstruction error per example: ``||x - x_hat||^2 = sum_i (x_i - x_hat_i)^2``.

    (The L2 autoencoder objective L_AE = 1/n sum_n ||x_n - f(g(x_n))||^2 is its batch mean.)
    x_hat, x: (batch, d) -> (batch,).
    """
    x_hat, x = _check_floats(check_finite, x_hat=x_hat, x=x)
    check_same_shape(x_hat=x_hat, x=x)
    diff = x_hat - x
    return np.sum(diff * diff, axis=-1)


def mse_grad(x_hat, x, *, check_finite=True):
    """Gradient of ``mse(x_hat, x).sum()`` with respect to x_hat: ``2 * (x_hat - x)``."""
    x_hat, x = _check_floats(check_finite, x_hat=x_hat, x=x)
    check_same_shape(x_hat=x_hat, x=x)
    return 2 * (x_hat - x)
