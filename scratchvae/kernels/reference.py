"""The NumPy backend: a table of the readable ops themselves, by name, and nothing recomputed.

A model on ``backend="numpy"`` calls ``self.kernels.<op name>``; for every op that name is the
very function in :mod:`scratchvae.functional`, :mod:`scratchvae.conv`, :mod:`scratchvae.reparam`
or :mod:`scratchvae.losses` (``reference.dense_act_forward is functional.dense_act_forward``).
:data:`OPS` lists them; :mod:`scratchvae.kernels.jit` and :mod:`scratchvae.kernels.conv_jit`
register a Numba twin for each name, with the same arguments and the same cache (tested op by
op in ``tests/test_op_registry.py``).

Below the table are the few NumPy expressions that are not ops of the math (a sparse product,
Adam's update, the data-parallel sum, the teaching matmul): each Numba kernel without an op of
its own is tested equal to the expression here with the same signature.
"""

import numpy as np

from scratchvae.conv import (
    col2im,
    conv2d_act_backward,
    conv2d_act_forward,
    conv_transpose2d_act_backward,
    conv_transpose2d_act_forward,
    im2col,
)
from scratchvae.functional import dense_act_backward, dense_act_forward
from scratchvae.losses import bernoulli_nll_and_grad, gaussian_nll_and_grad
from scratchvae.reparam import reparam_kl_backward, reparam_kl_forward

OPS = {op.__name__: op for op in (
    dense_act_forward, dense_act_backward, reparam_kl_forward, reparam_kl_backward,
    bernoulli_nll_and_grad, gaussian_nll_and_grad, im2col, col2im,
    conv2d_act_forward, conv2d_act_backward, conv_transpose2d_act_forward,
    conv_transpose2d_act_backward,
)}
"""op name -> the readable op (what ``backend="numpy"`` runs), each under its own name."""


# ---------------------------------------------------------------------------------------------
# NumPy expressions that Numba kernels without an op of their own replace
# ---------------------------------------------------------------------------------------------


def sparse_x_matmul(x, W):
    """``x @ W``; x: (batch, n_in), W: (n_in, n_out). (The Numba twin skips the zeros of x.)"""
    return x @ W


def sparse_x_weight_grad(x, dpre):
    """``dW = x.T @ dpre``; x: (batch, n_in), dpre: (batch, n_out). (The Numba twin skips the
    zeros of x.)"""
    return x.T @ dpre


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


EXPRESSIONS = {
    "sparse_x_matmul": sparse_x_matmul,
    "sparse_x_weight_grad": sparse_x_weight_grad,
    "adam_update": adam_update,
    "scaled_sum_into": scaled_sum_into,
    "matmul": matmul,
}
"""kernel name -> the NumPy expression a Numba kernel with no op of its own replaces."""
