"""The reparameterization trick: a sample from N(mu, diag(exp(logvar))) as a differentiable map.

    std = exp(logvar / 2)
    z   = mu + std * eps,      eps ~ N(0, I)

z is a deterministic function of (mu, logvar) given the noise eps, so gradients flow to the
encoder:  dz/dmu = 1,  dz/dlogvar = eps * std / 2 = (z - mu) / 2.
"""

from typing import NamedTuple

import numpy as np

from scratchvae.validation import check_array, check_same_shape


def std_from_logvar(logvar):
    """Standard deviation from the log-variance: ``std = exp(logvar / 2)`` (not exp(logvar))."""
    return np.exp(0.5 * logvar)


class ReparamCache(NamedTuple):
    eps: np.ndarray
    std: np.ndarray


def reparameterize(mu, logvar, eps):
    """``z = mu + exp(logvar / 2) * eps``.

    mu, logvar, eps: (batch, n_latent) -> z: (batch, n_latent), cache.
    eps is an argument (draw it with ``rng.standard_normal(mu.shape)``) so the result is
    repeatable and gradient checks can hold the noise fixed. Each must be a float32 or float64
    array (the package's dtype rule, :func:`scratchvae.validation.check_array`; ValueError
    naming the argument otherwise); values are not checked here (inside a training step ops
    check dtype and shape only).
    """
    mu, logvar, eps = (check_array(name, value, finite=False)
                       for name, value in (("mu", mu), ("logvar", logvar), ("eps", eps)))
    check_same_shape(mu=mu, logvar=logvar, eps=eps)
    std = std_from_logvar(logvar)
    z = mu + std * eps
    return z, ReparamCache(eps, std)


def reparameterize_backward(dz, cache):
    """Gradients of ``z = mu + exp(logvar / 2) * eps`` with eps held fixed.

    dmu = dz;   dlogvar = dz * eps * std / 2.  Returns (dmu, dlogvar), each (batch, n_latent).
    """
    eps, std = cache
    dmu = dz.copy()
    dlogvar = dz * eps * std * 0.5
    return dmu, dlogvar
