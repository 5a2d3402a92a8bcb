"""Homework checkers: one ``check_<exercise>(student_function)`` per exercise.

    from scratchvae.homework import check_relu_backward
    check_relu_backward(relu_backward)     # prints "[PASS] relu_backward: ..." or raises

A checker runs the student's function on fresh random float64 cases (several shapes, fixed
seeds), compares every output with the package's own implementation and, for gradients, with
finite differences, and checks that the inputs were not modified. It prints one success line, or
raises :class:`HomeworkCheckError` (an ``AssertionError``) that names the output, the case, the
element, expected vs got, and a ``HINT:`` when the answer matches a known mistake. A function
that still raises ``NotImplementedError`` (a released stub) raises :class:`NotImplementedYet`, a
subclass of HomeworkCheckError, with "not implemented yet" in its message.

The exercises, by notebook (``notebooks/homework/``):

- hw1_backprop: dense_backward, relu_backward, sigmoid_backward, tanh_backward,
  numerical_gradient, rel_error
- hw2_autoencoders: mse_loss, masking_noise, ae_loss_and_grads, sgd_step
- hw3_vae: reparameterize, reparameterize_backward, kl_standard_normal, kl_standard_normal_grad,
  bernoulli_nll, gaussian_nll, vae_loss_and_grads
- hw4_concepts: n_gaussian_params, gaussian_fixed_nll, equivalent_beta, elbo_terms
- hw5_transposed_convolution: trans_conv (the lecture's 2 x 2 example first), conv_transpose2d,
  conv_transpose2d_backward
- hw6_importance_weighting: log_mean_exp, importance_weights, iwae_bound (the bound as a
  function of k, on a shipped trained VAE)

Every exercise is written with NumPy: a checker fails when the student's function calls
scratchvae's own implementation (the reference it is compared with), except the calls the
exercise allows (listed in the notebook and in the failure message).

``release`` writes student notebooks (``scratchvae homework release``) and ``grade`` scores a
submission against its release (``scratchvae homework check``): the release's check cells run
in the grader, the submission's functions in a separate process (``_student``), and only data
(JSON and ``.npy``) passes between them (``_wire``).
"""

from scratchvae.homework._core import HomeworkCheckError, NotImplementedYet
from scratchvae.homework.autoencoders import (
    ae_init,
    check_ae_loss_and_grads,
    check_masking_noise,
    check_mse_loss,
    check_sgd_step,
)
from scratchvae.homework.backprop import (
    check_dense_backward,
    check_numerical_gradient,
    check_rel_error,
    check_relu_backward,
    check_sigmoid_backward,
    check_tanh_backward,
)
from scratchvae.homework.concepts import (
    check_elbo_terms,
    check_equivalent_beta,
    check_gaussian_fixed_nll,
    check_n_gaussian_params,
)
from scratchvae.homework.importance import (
    check_importance_weights,
    check_iwae_bound,
    check_log_mean_exp,
)
from scratchvae.homework.transposed_conv import (
    check_conv_transpose2d,
    check_conv_transpose2d_backward,
    check_trans_conv,
)
from scratchvae.homework.vae import (
    VAE_KEYS,
    check_bernoulli_nll,
    check_gaussian_nll,
    check_kl_standard_normal,
    check_kl_standard_normal_grad,
    check_reparameterize,
    check_reparameterize_backward,
    check_vae_loss_and_grads,
    vae_init,
)

EXERCISES = {
    "hw1_backprop": ("dense_backward", "relu_backward", "sigmoid_backward", "tanh_backward",
                     "numerical_gradient", "rel_error"),
    "hw2_autoencoders": ("mse_loss", "masking_noise", "ae_loss_and_grads", "sgd_step"),
    "hw3_vae": ("reparameterize", "reparameterize_backward", "kl_standard_normal",
                "kl_standard_normal_grad", "bernoulli_nll", "gaussian_nll",
                "vae_loss_and_grads"),
    "hw4_concepts": ("n_gaussian_params", "gaussian_fixed_nll", "equivalent_beta",
                     "elbo_terms"),
    "hw5_transposed_convolution": ("trans_conv", "conv_transpose2d",
                                   "conv_transpose2d_backward"),
    "hw6_importance_weighting": ("log_mean_exp", "importance_weights", "iwae_bound"),
}
"""notebook name -> the exercises it contains, in order; ``check_<exercise>`` checks each."""


def checker(exercise):
    """The checker function for an exercise name, e.g. ``checker("relu_backward")``."""
    fn = globals().get(f"check_{exercise}")
    if fn is None:
        known = ", ".join(e for names in EXERCISES.values() for e in names)
        raise ValueError(f"exercise must be one of {known}; got {exercise!r}")
    return fn


__all__ = [
    "EXERCISES", "HomeworkCheckError", "NotImplementedYet", "VAE_KEYS", "ae_init", "checker",
    "vae_init",
    "check_dense_backward", "check_relu_backward", "check_sigmoid_backward", "check_tanh_backward",
    "check_numerical_gradient", "check_rel_error",
    "check_mse_loss", "check_masking_noise", "check_ae_loss_and_grads", "check_sgd_step",
    "check_reparameterize", "check_reparameterize_backward", "check_kl_standard_normal",
    "check_kl_standard_normal_grad", "check_bernoulli_nll", "check_gaussian_nll",
    "check_vae_loss_and_grads",
    "check_n_gaussian_params", "check_gaussian_fixed_nll", "check_equivalent_beta",
    "check_elbo_terms",
    "check_trans_conv", "check_conv_transpose2d", "check_conv_transpose2d_backward",
    "check_log_mean_exp", "check_importance_weights", "check_iwae_bound",
]
