"""The reparameterization trick: a sample from N(mu, diag(exp(logvar))) as a differentiable map.

    std = exp(logvar / 2)
    z   = mu + std * eps,      eps ~ N(0, I)

z is a deterministic function of (mu, logvar) given the noise eps, so gradients flow to the
encoder:  dz/dmu = 1,  dz/dlogvar = eps * std / 2 = (z - mu) / 2.
"""

from typing import NamedTuple

import numpy as np

from scratchvae.losses import kl_standard_normal, kl_standard_normal_grad
from scratchvae.validation import check_array, check_same_shape


def std_from_logvar(logvar):
    """Standard deviation from the log-variance: ``std = exp(logvar / 2)`` (not exp(logvar))."""
    return np.exp(0.5 * logvar)


class ReparamCache(NamedTuple):
    eps: np.ndarray
    std: np.ndarray


def reparameterize(mu, logvar, eps, *, check_finite=True):
    """``z = mu + exp(logvar / 2) * eps``.

    mu, logvar, eps: (batch, n_latent) float arrays -> z: (batch, n_latent), cache.
    eps is an argument (draw it with ``rng.standard_normal(mu.shape)``) so the result is
    repeatable and gradient checks can hold the noise fixed. NaN and inf are refused when
    ``check_finite`` (a training step passes False).
    """
    mu, logvar, eps = (check_array(name, a, finite=check_finite)
                       for name, a in (("mu", mu), ("logvar", logvar), ("eps", eps)))
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


# ---------------------------------------------------------------------------------------------
# the sample and its KL term together: the op a VAE's training step runs
# ---------------------------------------------------------------------------------------------


def reparam_kl_forward(mu, logvar, eps, *, check_finite=True):
    """The sample z and the KL term of the same (mu, logvar), composed from the two ops:

        z, cache = reparameterize(mu, logvar, eps)        z = mu + std * eps
        kl = kl_standard_normal(mu, logvar)               (batch,)

    mu, logvar, eps: (batch, n_latent). Returns (z, std, kl); ``std = exp(logvar / 2)`` is
    what :func:`reparam_kl_backward` needs besides the inputs.
    """
    z, cache = reparameterize(mu, logvar, eps, check_finite=check_finite)
    kl = kl_standard_normal(mu, logvar, check_finite=False)
    return z, cache.std, kl


def reparam_kl_backward(dz, mu, logvar, eps, std, kl_weight):
    """Gradients into mu and logvar from both places they are used, z and the KL term.

    With loss = ... (through z) + kl_weight * KL (``kl_weight``: a number, or an array that
    broadcasts against (batch, n_latent), e.g. (batch, 1)):
        dmu     = dz                  + kl_weight * mu
        dlogvar = dz * eps * std / 2  + kl_weight * (exp(logvar) - 1) / 2
    Returns (dmu, dlogvar), each (batch, n_latent).
    """
    dmu_from_z, dlogvar_from_z = reparameterize_backward(dz, ReparamCache(eps, std))
    dmu_from_kl, dlogvar_from_kl = kl_standard_normal_grad(mu, logvar, check_finite=False)
    # mu and logvar each feed two terms (the sample z and the KL): their gradients add.
    dmu = dmu_from_z + kl_weight * dmu_from_kl
    dlogvar = dlogvar_from_z + kl_weight * dlogvar_from_kl
    return dmu, dlogvar
