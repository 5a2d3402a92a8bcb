"""Per-example loss terms and their gradients.

Every loss returns one value per example, shape ``(batch,)``: the reconstruction terms are summed
over pixels and the KL over latent dimensions, so the two terms of the ELBO use the same
reduction. Averaging over the batch happens in one place, the model's ``loss_and_grads``.
Every ``*_grad`` function returns the gradient of ``loss.sum()`` (not of the mean).

    -ELBO(x) = bernoulli_nll(logits, x) + kl_standard_normal(mu, logvar)   [nats per example]
"""

import numpy as np

from scratchvae.functional import sigmoid, softplus, sum_to_shape
from scratchvae.validation import check_array, check_same_shape

LOG_2PI = float(np.log(2 * np.pi))


# ---------------------------------------------------------------------------------------------
# KL(q || p) for q = N(mu, diag(exp(logvar))), p = N(0, I)   (Kingma & Welling 2014, appendix B)
# ---------------------------------------------------------------------------------------------


def kl_standard_normal(mu, logvar):
    """Analytic ``KL(N(mu, diag(sigma^2)) || N(0, I))`` per example.

        KL = 1/2 * sum_j ( sigma_j^2 + mu_j^2 - 1 - log sigma_j^2 )
           = 1/2 * sum_j ( exp(logvar_j) + mu_j^2 - 1 - logvar_j )

    Note the last term is log sigma^2 = logvar, not log sigma. mu, logvar: (batch, n_latent)
    -> (batch,). Derived in Kingma & Welling (2014), appendix B.
    """
    check_same_shape(mu=mu, logvar=logvar)
    return 0.5 * np.sum(np.exp(logvar) + mu * mu - 1 - logvar, axis=-1)


def kl_standard_normal_grad(mu, logvar):
    """Gradient of ``kl_standard_normal(mu, logvar).sum()``.

    dKL/dmu = mu;   dKL/dlogvar = (exp(logvar) - 1) / 2.   Returns (dmu, dlogvar).
    """
    check_same_shape(mu=mu, logvar=logvar)
    return mu.copy(), 0.5 * (np.exp(logvar) - 1)


# ---------------------------------------------------------------------------------------------
# Bernoulli likelihood from logits:  p(x_i = 1 | z) = sigmoid(logits_i)
# ---------------------------------------------------------------------------------------------


def _check_bernoulli(logits, x):
    check_same_shape(logits=logits, x=x)
    check_array("x", x, low=0.0, high=1.0)


def bernoulli_nll(logits, x):
    """Negative log-likelihood of x under Bernoulli(sigmoid(logits)), summed over pixels.

        -log p(x | logits) = sum_i [ softplus(logits_i) - x_i * logits_i ]

    which equals the binary cross-entropy -[x log p + (1 - x) log(1 - p)] with p = sigmoid(logits)
    but never takes log(0). x in [0, 1] (binary or grey values); logits, x: (batch, d) -> (batch,).
    """
    _check_bernoulli(logits, x)
    return np.sum(softplus(logits) - x * logits, axis=-1)


def bernoulli_nll_grad(logits, x):
    """Gradient of ``bernoulli_nll(logits, x).sum()``: ``dlogits = sigmoid(logits) - x``."""
    _check_bernoulli(logits, x)
    return sigmoid(logits) - x


# ---------------------------------------------------------------------------------------------
# Gaussian likelihood with per-pixel mean and log-variance
# ---------------------------------------------------------------------------------------------


def gaussian_nll(x, mean, logvar):
    """Negative log-likelihood of x under N(mean, diag(exp(logvar))), summed over pixels.

        -log p(x | mean, logvar) = 1/2 * sum_i [ log(2 pi) + logvar_i + (x_i - mean_i)^2 / exp(logvar_i) ]

    x, mean: (batch, d); logvar: (batch, d), or anything that broadcasts to it (a scalar gives
    the fixed isotropic sigma^2 I of a "gaussian_fixed" decoder). Returns (batch,).
    """
    check_same_shape(x=x, mean=mean)
    diff = x - mean
    per_pixel = 0.5 * (LOG_2PI + logvar + diff * diff * np.exp(-logvar))
    per_pixel = np.broadcast_to(per_pixel, np.shape(x))
    return np.sum(per_pixel, axis=-1)


def gaussian_nll_grad(x, mean, logvar):
    """Gradient of ``gaussian_nll(x, mean, logvar).sum()`` with respect to mean and logvar.

        dmean   = (mean - x) / exp(logvar)
        dlogvar = 1/2 * (1 - (x - mean)^2 / exp(logvar))     (summed to logvar's shape)
    Returns (dmean, dlogvar).
    """
    check_same_shape(x=x, mean=mean)
    inv_var = np.exp(-np.asarray(logvar))
    diff = x - mean
    dmean = -diff * inv_var
    dlogvar = 0.5 * (1 - diff * diff * inv_var)
    return dmean, sum_to_shape(dlogvar, np.shape(logvar))


# ---------------------------------------------------------------------------------------------
# Squared error, the autoencoder's L2 objective
# ---------------------------------------------------------------------------------------------


def mse(x_hat, x):
    """Squared reconstruction error per example: ``||x - x_hat||^2 = sum_i (x_i - x_hat_i)^2``.

    (The L2 autoencoder objective L_AE = 1/n sum_n ||x_n - f(g(x_n))||^2 is its batch mean.)
    x_hat, x: (batch, d) -> (batch,).
    """
    check_same_shape(x_hat=x_hat, x=x)
    diff = x_hat - x
    return np.sum(diff * diff, axis=-1)


def mse_grad(x_hat, x):
    """Gradient of ``mse(x_hat, x).sum()`` with respect to x_hat: ``2 * (x_hat - x)``."""
    check_same_shape(x_hat=x_hat, x=x)
    return 2 * (x_hat - x)
