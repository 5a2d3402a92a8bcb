"""Readable NumPy versions of the hot loops: the reference every Numba kernel is tested against.

Each function here has a twin with the same signature in :mod:`scratchvae.kernels.jit`.
The models call these through ``model.kernels`` so both backends run the same model code.
"""

import numpy as np

from scratchvae import functional as F
from scratchvae import losses
from scratchvae.functional import LEAKY_SLOPE
from scratchvae.reparam import ReparamCache, reparameterize, reparameterize_backward

# ---------------------------------------------------------------------------------------------
# dense layer with its activation:  pre = x @ W + b,  out = act(pre)
# ---------------------------------------------------------------------------------------------


def dense_act_forward(x, W, b, activation, batch_innermost=False):
    """``pre = x @ W + b``; ``out = activation(pre)``.

    x: (batch, n_in), W: (n_in, n_out), b: (n_out,), activation: a name in
    ``functional.ACTIVATIONS``. Returns (out, pre), both (batch, n_out). ``batch_innermost``
    changes only the memory order of the results (column-major: the batch index varies
    fastest), which the Numba twin uses to feed a convolution without a copy.
    """
    pre, _ = F.dense_forward(x, W, b)
    act_forward, _ = F.ACTIVATIONS[activation]
    out, _ = act_forward(pre)  # leaky_relu uses its default slope, LEAKY_SLOPE
    if batch_innermost:
        return np.asfortranarray(out), np.asfortranarray(pre)
    return out, pre


def dense_act_backward(dout, x, W, pre, out, activation, need_dx=True):
    """Backward of :func:`dense_act_forward`.

    dpre = dout * act'(pre);  dx = dpre @ W.T;  dW = x.T @ dpre;  db = sum_batch dpre.
    Returns (dx, dW, db); dx is None when ``need_dx`` is False (the first layer of a network,
    whose input is the data, skips that matrix product).
    """
    _, act_backward = F.ACTIVATIONS[activation]
    if activation == "leaky_relu":
        cache = F.LeakyReluCache(pre, LEAKY_SLOPE)
    else:
        cache = F.ActivationCache(pre, out)
    dpre = act_backward(dout, cache)
    dW = x.T @ dpre
    db = dpre.sum(axis=0)
    dx = dpre @ W.T if need_dx else None
    return dx, dW, db


def sparse_x_matmul(x, W):
    """``x @ W``; x: (batch, n_in), W: (n_in, n_out). (The Numba twin skips the zeros of x.)"""
    return x @ W


def sparse_x_weight_grad(x, dpre):
    """``dW = x.T @ dpre``; x: (batch, n_in), dpre: (batch, n_out). (The Numba twin skips the
    zeros of x.)"""
    return x.T @ dpre


# ---------------------------------------------------------------------------------------------
# the ELBO's pieces: reparameterization + KL (forward and backward), likelihood terms
# ---------------------------------------------------------------------------------------------


def reparam_kl_forward(mu, logvar, eps):
    """``std = exp(logvar / 2)``, ``z = mu + std * eps`` and ``KL(q(z|x) || N(0, I))`` per example.

    mu, logvar, eps: (batch, n_latent). Returns (z, std, kl) with kl: (batch,).
    """
    z, cache = reparameterize(mu, logvar, eps)
    kl = losses.kl_standard_normal(mu, logvar)
    return z, cache.std, kl


def reparam_kl_backward(dz, mu, logvar, eps, std, kl_weight):
    """Gradients into mu and logvar from both places they are used: z and the KL term.

    With loss = ... (through z) + kl_weight * KL:
        dmu     = dz                  + kl_weight * mu
        dlogvar = dz * eps * std / 2  + kl_weight * (exp(logvar) - 1) / 2
    Returns (dmu, dlogvar), each (batch, n_latent).
    """
    dmu_from_z, dlogvar_from_z = reparameterize_backward(dz, ReparamCache(eps, std))
    dmu_from_kl, dlogvar_from_kl = losses.kl_standard_normal_grad(mu, logvar)
    # mu and logvar each feed two terms (the sample z and the KL): their gradients add.
    dmu = dmu_from_z + kl_weight * dmu_from_kl
    dlogvar = dlogvar_from_z + kl_weight * dlogvar_from_kl
    return dmu, dlogvar


def bernoulli_nll_and_grad(logits, x, scale):
    """Per-example Bernoulli NLL and ``scale`` times its gradient.

    nll = sum_i softplus(logits_i) - x_i logits_i  (batch,);  dlogits = scale * (sigmoid(logits) - x).
    """
    nll = losses.bernoulli_nll(logits, x)
    dlogits = scale * losses.bernoulli_nll_grad(logits, x)
    return nll, dlogits


def gaussian_nll_and_grad(x, mean, logvar, scale):
    """Per-example Gaussian NLL and ``scale`` times its gradients in mean and logvar.

    x, mean, logvar: (batch, d). Returns (nll (batch,), dmean, dlogvar).
    """
    nll = losses.gaussian_nll(x, mean, logvar)
    dmean, dlogvar = losses.gaussian_nll_grad(x, mean, logvar)
    return nll, scale * dmean, scale * dlogvar


# ---------------------------------------------------------------------------------------------
# optimizer update and the teaching matmul
# ---------------------------------------------------------------------------------------------


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, step):
    """One Adam step, in place on param, m and v (Kingma & Ba 2015; the same update as PyTorch).

        m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
        param -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
    """
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)


def scaled_sum_into(target, source, target_scale, source_scale):
    """In place: ``target = target_scale * target + source_scale * source`` (same shapes): how
    data parallelism averages the slices' gradients (:mod:`scratchvae.parallel`)."""
    target *= target_scale
    target += source_scale * source


def matmul(a, b):
    """``c[i, j] = sum_k a[i, k] * b[k, j]``; a: (n, k), b: (k, m) -> (n, m)."""
    return a @ b

