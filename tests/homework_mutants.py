"""A catalogue of typical wrong answers to the homework, as code: every one must fail its checker.

``MUTANTS[exercise]`` is a list of ``Mutant(name, fn, hint, extra)``: ``fn`` takes the exercise's
arguments, ``hint`` is a piece of the HINT the checker should give for it (None when no specific
hint is promised, only a failure), and ``extra`` holds further arguments of the checker (the
forward a chain check feeds into the backward). tests/test_homework.py runs them all. A wrong
answer is a function decorated with ``@mutant(exercise, hint)``, or, when several are one helper
with one mistake each, a row of a ``mistakes(exercise, helper, rows)`` table.

Wrong answers are written with NumPy only, as a student would: a mutant that calls the package
is a bypass (the "bypass" section), caught by the checker's watch on package calls.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import scratchvae as sv
from scratchvae.reparam import ReparamCache

BYPASS = "This exercise is to be written with NumPy"
"""The piece of the failure message every bypass (a call into the package) must produce."""


class Mutant(NamedTuple):
    name: str
    fn: Callable
    hint: object  # str (a substring of the expected HINT) or None
    extra: tuple = ()


MUTANTS = {}


def mutant(exercise, hint=None, extra=()):
    """Register the decorated function as a wrong answer to ``exercise``."""
    def register(fn):
        MUTANTS.setdefault(exercise, []).append(Mutant(fn.__name__, fn, hint, tuple(extra)))
        return fn
    return register


def mistakes(exercise, wrong_answer, rows):
    """Register one wrong answer to ``exercise`` per row ``(name, hint, mistake)``: the function
    ``name(*args)`` that returns ``wrong_answer(*args, **mistake)``, where ``args`` are the
    exercise's arguments and ``mistake`` the keyword arguments that make ``wrong_answer`` wrong."""
    for name, hint, mistake in rows:
        fn = _with_mistake(wrong_answer, mistake)
        fn.__name__ = fn.__qualname__ = name
        MUTANTS.setdefault(exercise, []).append(Mutant(name, fn, hint))


def _with_mistake(wrong_answer, mistake):
    def fn(*args):
        return wrong_answer(*args, **mistake)
    return fn


def _sigmoid(a):
    return 0.5 * (1 + np.tanh(a / 2))


def _softplus(a):
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


# ---------------------------------------------------------------------------------------------
# hw1: backward passes
# ---------------------------------------------------------------------------------------------

@mutant("dense_backward", "did you transpose W?")
def dense_w_not_transposed(dout, cache):
    x, W = cache
    return dout @ W, x.T @ dout, dout.sum(axis=0)


@mutant("dense_backward", "sum the bias gradient over the batch")
def dense_bias_not_summed(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout


@mutant("dense_backward", "sum, don't average")
def dense_bias_mean(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.mean(axis=0)


@mutant("dense_backward", "dW = x.T @ dout has W's shape")
def dense_dw_transposed(dout, cache):
    x, W = cache
    return dout @ W.T, dout.T @ x, dout.sum(axis=0)


@mutant("dense_backward", "don't divide by the batch size")
def dense_dw_batch_mean(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout / x.shape[0], dout.sum(axis=0)


@mutant("dense_backward", "should return 3 values")
def dense_returns_two(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout


@mutant("relu_backward", "gradient is taken from `out`")
def relu_grad_from_out(dout, cache):
    return dout * cache.out


@mutant("relu_backward", "multiply the mask by dout")
def relu_mask_only(dout, cache):
    return (cache.x > 0).astype(float)


@mutant("relu_backward", "mask is reversed")
def relu_reversed_mask(dout, cache):
    return dout * (cache.x < 0)


@mutant("relu_backward", "writes into dout")
def relu_in_place(dout, cache):
    dout[cache.x <= 0] = 0
    return dout


@mutant("relu_backward", "The mask comes from the input x")
def relu_of_dout(dout, cache):
    return np.maximum(dout, 0)


@mutant("relu_backward", "multiply the mask by dout")
def relu_bool_mask(dout, cache):
    return cache.x > 0


@mutant("sigmoid_backward", "use out = sigmoid(x), not x")
def sigmoid_at_input(dout, cache):
    x = cache.x
    return dout * x * (1 - x)


@mutant("sigmoid_backward", "missing factor (1 - out)")
def sigmoid_missing_one_minus(dout, cache):
    return dout * cache.out


@mutant("sigmoid_backward", "multiply by dout")
def sigmoid_no_dout(dout, cache):
    return cache.out * (1 - cache.out)


@mutant("sigmoid_backward", "sign")
def sigmoid_sign(dout, cache):
    return -dout * cache.out * (1 - cache.out)


@mutant("tanh_backward", "use out = tanh(x), not x")
def tanh_at_input(dout, cache):
    return dout * (1 - cache.x ** 2)


@mutant("tanh_backward", "square the output")
def tanh_no_square(dout, cache):
    return dout * (1 - cache.out)


@mutant("tanh_backward", "multiply by dout")
def tanh_no_dout(dout, cache):
    return 1 - cache.out ** 2


@mutant("tanh_backward", "not 1 + out**2")
def tanh_plus(dout, cache):
    return dout * (1 + cache.out ** 2)


def _central(f, x, h, restore=True, denominator=2.0, one_sided=False):
    grad = np.zeros_like(x)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = f(x)
        flat[i] = old if one_sided else old - h
        f_minus = f(x)
        if restore:
            flat[i] = old
        grad.reshape(-1)[i] = (f_plus - f_minus) / ((1.0 if one_sided else denominator) * h)
    return grad


@mutant("numerical_gradient", "one-sided difference")
def numgrad_forward_difference(f, x, h=1e-5):
    return _central(f, x, h, one_sided=True)


@mutant("numerical_gradient", "divide by 2 * h")
def numgrad_divide_by_h(f, x, h=1e-5):
    return _central(f, x, h, denominator=1.0)


@mutant("numerical_gradient", "restore x[i]")
def numgrad_not_restored(f, x, h=1e-5):
    return _central(f, x, h, restore=False)


@mutant("numerical_gradient", "perturb one entry at a time")
def numgrad_all_at_once(f, x, h=1e-5):
    return np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h))


@mutant("numerical_gradient", None)
def numgrad_first_axis_only(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in range(x.shape[0]):  # perturbs whole rows of a 2-D x at once
        old = x[i].copy()
        x[i] = old + h
        f_plus = f(x)
        x[i] = old - h
        f_minus = f(x)
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


@mutant("rel_error", "divide by the larger of the two scales")
def rel_error_asymmetric(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


@mutant("rel_error", "missing abs()")
def rel_error_no_abs(a, b):
    return float(np.max(a - b) / max(np.max(np.abs(a)), np.max(np.abs(b))))


@mutant("rel_error", "element-wise ratio")
def rel_error_elementwise(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


@mutant("rel_error", "0 / 0 must not give nan")
def rel_error_nan_on_zeros(a, b):
    with np.errstate(invalid="ignore"):
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b))))


@mutant("rel_error", "single number")
def rel_error_array(a, b):
    return np.abs(a - b) / np.maximum(np.max(np.abs(a)), np.max(np.abs(b)))


# ---------------------------------------------------------------------------------------------
# hw2: autoencoders
# ---------------------------------------------------------------------------------------------

@mutant("mse_loss", "mean over pixels vs sum?")
def mse_mean_over_pixels(x_hat, x):
    return float(np.mean((x_hat - x) ** 2)), 2 * (x_hat - x) / x.size


@mutant("mse_loss", "missing factor 2")
def mse_grad_missing_two(x_hat, x):
    batch = x.shape[0]
    return float(np.sum((x_hat - x) ** 2) / batch), (x_hat - x) / batch


@mutant("mse_loss", "sign")
def mse_grad_sign(x_hat, x):
    batch = x.shape[0]
    return float(np.sum((x_hat - x) ** 2) / batch), 2 * (x - x_hat) / batch


@mutant("mse_loss", "carries 1/batch")
def mse_grad_not_batch_mean(x_hat, x):
    batch = x.shape[0]
    return float(np.sum((x_hat - x) ** 2) / batch), 2 * (x_hat - x)


@mutant("mse_loss", "divide by the batch size")
def mse_loss_sum(x_hat, x):
    return float(np.sum((x_hat - x) ** 2)), 2 * (x_hat - x)


@mutant("masking_noise", "fraction of pixels DESTROYED")
def masking_keeps_with_level(x, level, rng):
    return x * (rng.random(x.shape) < level)


@mutant("masking_noise", "dropout's rescaling")
def masking_inverted_dropout(x, level, rng):
    keep = rng.random(x.shape) >= level
    return x * keep / (1 - level)


@mutant("masking_noise", "changed its input `x` in place")
def masking_in_place(x, level, rng):
    x[rng.random(x.shape) < level] = 0
    return x


@mutant("masking_noise", "draw from the rng argument")
def masking_global_random(x, level, rng):
    return x * (np.random.random(x.shape) >= level)


@mutant("masking_noise", "every example has the same mask")
def masking_same_mask_for_batch(x, level, rng):
    return x * (rng.random(x.shape[1:]) >= level)


def _ae(params, x_in, x_target, target_is_input=False, batch_mean=True, tanh="out"):
    pre = x_in @ params["encoder.W"] + params["encoder.b"]
    h = np.tanh(pre)
    x_hat = h @ params["decoder.W"] + params["decoder.b"]
    target = x_in if target_is_input else x_target
    batch = x_in.shape[0]
    loss = np.sum((x_hat - target) ** 2) / batch
    dx_hat = 2 * (x_hat - target) / (batch if batch_mean else 1)
    dWd, dbd = h.T @ dx_hat, dx_hat.sum(0)
    dh = dx_hat @ params["decoder.W"].T
    dpre = dh * {"out": 1 - h ** 2, "in": 1 - pre ** 2, "nosq": 1 - h}[tanh]
    grads = {"encoder.W": x_in.T @ dpre, "encoder.b": dpre.sum(0), "decoder.W": dWd,
             "decoder.b": dbd}
    return float(loss), grads


mistakes("ae_loss_and_grads", _ae, [
    ("ae_target_is_input", "not with the (corrupted) input", dict(target_is_input=True)),
    ("ae_no_batch_mean", "carries 1/batch", dict(batch_mean=False)),
    ("ae_tanh_at_input", "the OUTPUT of tanh", dict(tanh="in")),
    ("ae_tanh_no_square", "(squared)", dict(tanh="nosq")),
])


@mutant("ae_loss_and_grads", "same keys as params")
def ae_short_keys(params, x_in, x_target):
    loss, grads = _ae(params, x_in, x_target)
    return loss, {key.split(".")[0][0] + key.split(".")[1]: g for key, g in grads.items()}


@mutant("sgd_step", "gradient DESCENT")
def sgd_ascent(params, grads, lr):
    for key in params:
        params[key] += lr * grads[key]


@mutant("sgd_step", "update it in place")
def sgd_rebinds(params, grads, lr):
    for key in params:
        params[key] = params[key] - lr * grads[key]


@mutant("sgd_step", "learning rate")
def sgd_no_lr(params, grads, lr):
    for key in params:
        params[key] -= grads[key]


@mutant("sgd_step", "returning new values is not enough")
def sgd_returns_new(params, grads, lr):
    return {key: p - lr * grads[key] for key, p in params.items()}


@mutant("sgd_step", "changed its input `grads.")
def sgd_scales_grads_in_place(params, grads, lr):
    for key in params:
        grads[key] *= lr
        params[key] -= grads[key]


# ---------------------------------------------------------------------------------------------
# hw3: the VAE
# ---------------------------------------------------------------------------------------------

@mutant("reparameterize", "variance vs standard deviation?")
def reparam_var_as_std(mu, logvar, eps):
    std = np.exp(logvar)
    return mu + std * eps, ReparamCache(eps, std)


@mutant("reparameterize", "logvar is log sigma^2, not sigma")
def reparam_logvar_as_std(mu, logvar, eps):
    return mu + logvar * eps, ReparamCache(eps, logvar)


@mutant("reparameterize", "z = mu ignores the noise")
def reparam_z_is_mu(mu, logvar, eps):
    return mu.copy(), ReparamCache(eps, np.exp(logvar / 2))


@mutant("reparameterize", "not exp(logvar) / 2")
def reparam_half_variance(mu, logvar, eps):
    std = np.exp(logvar) / 2
    return mu + std * eps, ReparamCache(eps, std)


@mutant("reparameterize", "should return 2 values")
def reparam_no_cache(mu, logvar, eps):
    return mu + np.exp(logvar / 2) * eps


@mutant("reparameterize_backward", "missing 1/2?")
def reparam_bwd_missing_half(dz, cache):
    return dz.copy(), dz * cache.eps * cache.std


@mutant("reparameterize_backward", "multiply by std")
def reparam_bwd_no_std(dz, cache):
    return dz.copy(), dz * cache.eps / 2


@mutant("reparameterize_backward", "multiply by eps")
def reparam_bwd_no_eps(dz, cache):
    return dz.copy(), dz * cache.std / 2


@mutant("reparameterize_backward", "variance vs standard deviation?")
def reparam_bwd_variance(dz, cache):
    return dz.copy(), dz * cache.eps * cache.std ** 2 / 2


@mutant("reparameterize_backward", "multiply by dz")
def reparam_bwd_dmu_ones(dz, cache):
    return np.ones_like(dz), dz * cache.eps * cache.std / 2


@mutant("kl_standard_normal", "missing 1/2?")
def kl_missing_half(mu, logvar):
    return np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=-1)


@mutant("kl_standard_normal", "sign of the KL?")
def kl_wrong_sign(mu, logvar):
    return -0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=-1)


@mutant("kl_standard_normal", "-log sigma instead of -log sigma^2")
def kl_lecture_slide_log_sigma(mu, logvar):
    log_sigma = logvar / 2
    return 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - log_sigma, axis=-1)


@mutant("kl_standard_normal", "not exp(logvar / 2)")
def kl_std_as_variance(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar / 2) + mu ** 2 - 1 - logvar, axis=-1)


@mutant("kl_standard_normal", "not mean")
def kl_mean_over_latent(mu, logvar):
    return 0.5 * np.mean(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=-1)


@mutant("kl_standard_normal", "one KL per example")
def kl_summed_over_batch(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar)


@mutant("kl_standard_normal_grad", "missing 1/2?")
def kl_grad_missing_half(mu, logvar):
    return mu.copy(), np.exp(logvar) - 1


@mutant("kl_standard_normal_grad", "sign of the KL?")
def kl_grad_sign(mu, logvar):
    return -mu, 0.5 * (1 - np.exp(logvar))


@mutant("kl_standard_normal_grad", "missing the -1")
def kl_grad_missing_minus_one(mu, logvar):
    return mu.copy(), 0.5 * np.exp(logvar)


@mutant("kl_standard_normal_grad", "not of the batch mean")
def kl_grad_of_mean(mu, logvar):
    batch = mu.shape[0]
    return mu / batch, 0.5 * (np.exp(logvar) - 1) / batch


@mutant("kl_standard_normal_grad", "-log sigma instead of -log sigma^2")
def kl_grad_lecture_slide(mu, logvar):
    return mu.copy(), 0.5 * (np.exp(logvar) - 0.5)


@mutant("bernoulli_nll", "numerically unstable")
def bernoulli_naive(logits, x):
    p = 1 / (1 + np.exp(-logits))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)


@mutant("bernoulli_nll", "numerically unstable")
def bernoulli_clipped(logits, x):
    p = np.clip(_sigmoid(logits), 1e-7, 1 - 1e-7)
    return -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)


@mutant("bernoulli_nll", "sign")
def bernoulli_sign(logits, x):
    return -np.sum(_softplus(logits) - x * logits, axis=-1)


@mutant("bernoulli_nll", "mean over pixels vs sum?")
def bernoulli_mean_pixels(logits, x):
    return np.mean(_softplus(logits) - x * logits, axis=-1)


@mutant("bernoulli_nll", None)
def bernoulli_swapped_x(logits, x):
    return np.sum(_softplus(logits) - (1 - x) * logits, axis=-1)


@mutant("gaussian_nll", "missing the constant")
def gaussian_no_constant(x, mean, logvar):
    return 0.5 * np.sum(logvar + (x - mean) ** 2 / np.exp(logvar), axis=-1)


@mutant("gaussian_nll", "variance vs standard deviation?")
def gaussian_std_as_var(x, mean, logvar):
    return 0.5 * np.sum(np.log(2 * np.pi) + logvar + (x - mean) ** 2 / np.exp(logvar / 2),
                        axis=-1)


@mutant("gaussian_nll", "missing 1/2?")
def gaussian_missing_half(x, mean, logvar):
    return np.sum(np.log(2 * np.pi) + logvar + (x - mean) ** 2 / np.exp(logvar), axis=-1)


@mutant("gaussian_nll", "divide the squared error by the variance")
def gaussian_times_variance(x, mean, logvar):
    return 0.5 * np.sum(np.log(2 * np.pi) + logvar + (x - mean) ** 2 * np.exp(logvar), axis=-1)


@mutant("gaussian_nll", "mean over pixels vs sum?")
def gaussian_mean_pixels(x, mean, logvar):
    return 0.5 * np.mean(np.log(2 * np.pi) + logvar + (x - mean) ** 2 / np.exp(logvar), axis=-1)


def _vae(params, x, eps, mistake=None):
    """The homework VAE's loss and grads in NumPy, with one of the known mistakes."""
    m, p, batch = mistake, params, x.shape[0]
    h = np.tanh(x @ p["encoder.0.W"] + p["encoder.0.b"])
    mu = h @ p["mu.W"] + p["mu.b"]
    logvar = h @ p["logvar.W"] + p["logvar.b"]
    std = np.exp(logvar) if m == "var_as_std" else np.exp(logvar / 2)
    z = mu if m == "z_is_mu" else mu + std * eps
    g = np.tanh(z @ p["decoder.0.W"] + p["decoder.0.b"])
    logits = g @ p["decoder.1.W"] + p["decoder.1.b"]
    kl_scale = {"kl_no_half": 2.0, "kl_sign": -1.0}.get(m, 1.0)
    kl = kl_scale * 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=-1)
    recon_scale = 1.0 / x.shape[1] if m == "recon_mean_pixels" else 1.0
    recon = np.sum(_softplus(logits) - x * logits, axis=-1)
    norm = 1.0 if m == "no_batch_mean" else 1.0 / batch
    loss = float(np.sum(recon_scale * recon + kl) * norm)
    dlogits = (_sigmoid(logits) - x) * recon_scale * norm
    grads = {"decoder.1.W": g.T @ dlogits, "decoder.1.b": dlogits.sum(0)}
    dpre_g = dlogits @ p["decoder.1.W"].T * (1 - g ** 2)
    grads["decoder.0.W"], grads["decoder.0.b"] = z.T @ dpre_g, dpre_g.sum(0)
    dz = dpre_g @ p["decoder.0.W"].T
    kl_norm = 1.0 if m == "kl_grad_no_batch_mean" else norm
    dmu_kl, dlogvar_kl = kl_scale * kl_norm * mu, kl_scale * kl_norm * 0.5 * (np.exp(logvar) - 1)
    if m == "z_is_mu":
        dlogvar_z = np.zeros_like(dz)
    else:
        dlogvar_z = dz * eps * std * (1.0 if m == "var_as_std" else 0.5)
    dmu = (0 if m == "mu_no_recon" else dz) + (0 if m == "mu_no_kl" else dmu_kl)
    dlogvar = dlogvar_z + (0 if m == "logvar_no_kl" else dlogvar_kl)
    grads["mu.W"], grads["mu.b"] = h.T @ dmu, dmu.sum(0)
    grads["logvar.W"], grads["logvar.b"] = h.T @ dlogvar, dlogvar.sum(0)
    dh = dmu @ p["mu.W"].T + (0 if m == "h_mu_only" else dlogvar @ p["logvar.W"].T)
    dpre_h = dh * (1 - h ** 2)
    grads["encoder.0.W"], grads["encoder.0.b"] = x.T @ dpre_h, dpre_h.sum(0)
    return loss, grads


mistakes("vae_loss_and_grads", _vae, [
    ("vae_var_as_std", "variance vs standard deviation?", dict(mistake="var_as_std")),
    ("vae_kl_no_half", "missing 1/2 in the KL?", dict(mistake="kl_no_half")),
    ("vae_kl_sign", "sign of the KL?", dict(mistake="kl_sign")),
    ("vae_recon_mean_pixels", "mean over pixels vs sum?", dict(mistake="recon_mean_pixels")),
    ("vae_z_is_mu", "z = mu", dict(mistake="z_is_mu")),
    ("vae_no_batch_mean", "mean over the batch", dict(mistake="no_batch_mean")),
    ("vae_kl_grad_no_batch_mean", "divide kl_standard_normal_grad(mu, logvar) by the batch",
     dict(mistake="kl_grad_no_batch_mean")),
    ("vae_mu_no_kl", "add the KL's gradient (mu) to dmu", dict(mistake="mu_no_kl")),
    ("vae_mu_no_recon", "add the gradient through z", dict(mistake="mu_no_recon")),
    ("vae_logvar_no_kl", "add the KL's gradient to dlogvar", dict(mistake="logvar_no_kl")),
    ("vae_h_mu_only", "h feeds both heads", dict(mistake="h_mu_only")),
])


@mutant("vae_loss_and_grads", "same keys as params")
def vae_grads_missing_biases(params, x, eps):
    loss, grads = _vae(params, x, eps)
    return loss, {key: g for key, g in grads.items() if key.endswith(".W")}


# ---------------------------------------------------------------------------------------------
# hw4: concepts
# ---------------------------------------------------------------------------------------------

@mutant("n_gaussian_params", "symmetric")
def n_params_full_square(d, covariance):
    return 2 * d if covariance == "diag" else d + d * d


@mutant("n_gaussian_params", "use // for integer division")
def n_params_float(d, covariance):
    return 2 * d if covariance == "diag" else d + d * (d + 1) / 2


@mutant("n_gaussian_params", "don't forget the d means")
def n_params_no_mean(d, covariance):
    return d if covariance == "diag" else d * (d + 1) // 2


@mutant("n_gaussian_params", "not d^2")
def n_params_diag_square(d, covariance):
    return d + d * d if covariance == "diag" else d + d * (d + 1) // 2


@mutant("gaussian_fixed_nll", "not 2 sigma")
def fixed_nll_sigma_not_squared(x, x_hat, sigma):
    d = x.shape[1]
    return (np.sum((x - x_hat) ** 2, axis=-1) / (2 * sigma)
            + 0.5 * d * np.log(2 * np.pi * sigma ** 2))


@mutant("gaussian_fixed_nll", "missing the constant")
def fixed_nll_no_constant(x, x_hat, sigma):
    return np.sum((x - x_hat) ** 2, axis=-1) / (2 * sigma ** 2)


@mutant("gaussian_fixed_nll", "missing 1/2?")
def fixed_nll_missing_half(x, x_hat, sigma):
    d = x.shape[1]
    return np.sum((x - x_hat) ** 2, axis=-1) / sigma ** 2 + 0.5 * d * np.log(2 * np.pi * sigma ** 2)


@mutant("gaussian_fixed_nll", "mean over pixels vs sum?")
def fixed_nll_mean(x, x_hat, sigma):
    return np.mean((x - x_hat) ** 2 / (2 * sigma ** 2) + 0.5 * np.log(2 * np.pi * sigma ** 2),
                   axis=-1)


@mutant("gaussian_fixed_nll", "the constant is d/2 log(2 pi sigma^2)")
def fixed_nll_log_sigma(x, x_hat, sigma):
    d = x.shape[1]
    return np.sum((x - x_hat) ** 2, axis=-1) / (2 * sigma ** 2) + 0.5 * d * np.log(2 * np.pi * sigma)


@mutant("equivalent_beta", "missing factor 2")
def beta_sigma_squared(sigma):
    return sigma ** 2


@mutant("equivalent_beta", "variance vs standard deviation?")
def beta_two_sigma(sigma):
    return 2 * sigma


@mutant("equivalent_beta", "inverted")
def beta_inverted(sigma):
    return 1 / (2 * sigma ** 2)


@mutant("equivalent_beta", None)
def beta_always_one(sigma):
    return 1.0


def _terms(vae, x, eps, z_is_mu=False, var_as_std=False, recon_mean=False, kl_half=0.5):
    mu, logvar = vae.encode(x)
    std = np.exp(logvar) if var_as_std else np.exp(logvar / 2)
    z = mu if z_is_mu else mu + std * eps
    recon = vae.reconstruction_nll(x, vae.decode(z))
    if recon_mean:
        recon = recon / x.shape[1]
    kl = kl_half * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=-1)
    return recon, kl


mistakes("elbo_terms", _terms, [
    ("elbo_z_is_mu", "z = mu is not the ELBO", dict(z_is_mu=True)),
    ("elbo_var_as_std", "variance vs standard deviation?", dict(var_as_std=True)),
    ("elbo_recon_mean", "mean over pixels vs sum?", dict(recon_mean=True)),
    ("elbo_kl_no_half", "missing 1/2 in the KL?", dict(kl_half=1.0)),
])


@mutant("elbo_terms", "changed vae.params")
def elbo_changes_the_model(vae, x, eps):
    for value in vae.params.values():
        value *= 0.9
    return _terms(vae, x, eps)


# ---------------------------------------------------------------------------------------------
# hints added later: per-example masks, and a forward/backward pair that disagree on the cache
# ---------------------------------------------------------------------------------------------

@mutant("masking_noise", "one random number per PIXEL")
def masking_one_draw_per_example(x, level, rng):
    return x * (rng.random((x.shape[0], 1)) >= level)


class _CacheWithZ(NamedTuple):
    eps: np.ndarray
    std: np.ndarray
    z: np.ndarray


def _reparameterize_caching_z(mu, logvar, eps):
    """A forward that passes its own check: its cache has .eps and .std, plus z at the end."""
    std = np.exp(logvar / 2)
    z = mu + std * eps
    return z, _CacheWithZ(eps, std, z)


@mutant("reparameterize_backward", "wrong on the cache your own reparameterize returns",
        extra=(_reparameterize_caching_z,))
def reparam_bwd_reads_the_last_field(dz, cache):
    eps, std = cache[0], cache[-1]  # right for ReparamCache(eps, std), wrong for a longer cache
    return dz.copy(), dz * eps * std / 2


# ---------------------------------------------------------------------------------------------
# bypasses: right answers that call the package's own implementation
# ---------------------------------------------------------------------------------------------

def _bypass(exercise, name, fn, extra=()):
    fn.__name__ = f"bypass_{name}"
    MUTANTS.setdefault(exercise, []).append(Mutant(fn.__name__, fn, BYPASS, tuple(extra)))


_bypass("dense_backward", "functional", lambda dout, cache: sv.functional.dense_backward(
    dout, cache))
_bypass("relu_backward", "functional", lambda dout, cache: sv.functional.relu_backward(
    dout, cache))
_bypass("sigmoid_backward", "functional", lambda dout, cache: sv.functional.sigmoid_backward(
    dout, cache))
_bypass("tanh_backward", "functional", lambda dout, cache: sv.functional.tanh_backward(
    dout, cache))
_bypass("rel_error", "gradcheck", lambda a, b: sv.gradcheck.rel_error(a, b))
_bypass("mse_loss", "losses", lambda x_hat, x: (
    float(np.mean(sv.losses.mse(x_hat, x))), sv.losses.mse_grad(x_hat, x) / x.shape[0]))
_bypass("reparameterize", "reparam", lambda mu, logvar, eps: sv.reparam.reparameterize(
    mu, logvar, eps))
_bypass("reparameterize_backward", "reparam",
        lambda dz, cache: sv.reparam.reparameterize_backward(dz, cache))
_bypass("kl_standard_normal", "losses", lambda mu, logvar: sv.losses.kl_standard_normal(
    mu, logvar))
_bypass("kl_standard_normal_grad", "losses",
        lambda mu, logvar: sv.losses.kl_standard_normal_grad(mu, logvar))
_bypass("bernoulli_nll", "losses", lambda logits, x: sv.losses.bernoulli_nll(logits, x))
_bypass("gaussian_nll", "losses", lambda x, mean, logvar: sv.losses.gaussian_nll(
    x, mean, logvar))
_bypass("gaussian_fixed_nll", "losses", lambda x, x_hat, sigma: sv.losses.gaussian_nll(
    x, x_hat, np.full_like(x, 2 * np.log(sigma))))
_bypass("kl_standard_normal", "package_function_itself", sv.losses.kl_standard_normal)


def _vae_via_package(params, x, eps):
    """The issue's example: copy the params into an sv.VAE and ask it."""
    v = sv.VAE(n_in=x.shape[1], hidden=(params["encoder.0.W"].shape[1],),
               n_latent=params["mu.W"].shape[1], activation="tanh", dtype=np.float64,
               backend="numpy", rng=0)
    for k, val in params.items():
        v.params[k][...] = val
    return v.loss_and_grads(x, eps=eps)


def _vae_via_homework_reference(params, x, eps):
    from scratchvae.homework.vae import vae_reference

    return vae_reference(params, x, eps)


_bypass("vae_loss_and_grads", "sv_VAE", _vae_via_package)
_bypass("vae_loss_and_grads", "homework_reference", _vae_via_homework_reference)


def _elbo_via_vae_elbo(vae, x, eps):
    mu, logvar = vae.encode(x)
    kl = sv.losses.kl_standard_normal(mu, logvar)
    return -vae.elbo(x, eps=eps) - kl, kl


_bypass("elbo_terms", "vae_elbo", _elbo_via_vae_elbo)


def _ae_via_package(params, x_in, x_target):
    from scratchvae.homework.autoencoders import ae_reference

    return ae_reference(params, x_in, x_target)


_bypass("ae_loss_and_grads", "homework_reference", _ae_via_package)


def _numgrad_via_gradcheck(f, x, h=1e-5):
    return sv.gradcheck.numerical_grad(f, x, h=h)


_bypass("numerical_gradient", "gradcheck", _numgrad_via_gradcheck)


# ---------------------------------------------------------------------------------------------
# hw5: the transposed convolution
# ---------------------------------------------------------------------------------------------

def _trans_conv(X, K, flip=False, assign=False):
    K = K[::-1, ::-1] if flip else K
    h, w = X.shape
    kh, kw = K.shape
    Y = np.zeros((h + kh - 1, w + kw - 1))
    for i in range(h):
        for j in range(w):
            if assign:
                Y[i:i + kh, j:j + kw] = X[i, j] * K
            else:
                Y[i:i + kh, j:j + kw] += X[i, j] * K
    return Y


mistakes("trans_conv", _trans_conv, [
    ("trans_conv_flipped", "the kernel is flipped", dict(flip=True)),
    ("trans_conv_assigns", "overlapping stamps ADD", dict(assign=True)),
])


@mutant("trans_conv", "GROWS the image")
def trans_conv_is_a_convolution(X, K):
    h, w = X.shape
    kh, kw = K.shape
    return np.array([[np.sum(X[i:i + kh, j:j + kw] * K) for j in range(w - kw + 1)]
                     for i in range(h - kh + 1)])


@mutant("trans_conv", "should be a NumPy array")
def trans_conv_returns_a_list(X, K):
    return _trans_conv(X, K).tolist()


def _conv_t(x, W, b, stride, padding, flip=False, assign=False, swap=False, crop=True,
            use_stride=True, bias=True):
    subscripts = "nc,ockl->nokl" if swap else "nc,cokl->nokl"  # swap: conv2d's kernel layout
    if flip:
        W = W[:, :, ::-1, ::-1]
    s = stride if use_stride else 1
    N, _, H, Wd = x.shape
    _, C_out, kh, kw = W.shape
    full = np.zeros((N, C_out, (H - 1) * s + kh, (Wd - 1) * s + kw))
    for h in range(H):
        for w in range(Wd):
            stamp = np.einsum(subscripts, x[:, :, h, w], W)
            if assign:
                full[:, :, h * s:h * s + kh, w * s:w * s + kw] = stamp
            else:
                full[:, :, h * s:h * s + kh, w * s:w * s + kw] += stamp
    p = padding if crop else 0
    out = full[:, :, p:full.shape[2] - p, p:full.shape[3] - p]
    return out + b.reshape(1, -1, 1, 1) if bias else out


mistakes("conv_transpose2d", _conv_t, [
    ("conv_t_padding_ignored", "padding CROPS the output", dict(crop=False)),
    ("conv_t_stride_ignored", "stamps sit `stride` pixels apart", dict(use_stride=False)),
    ("conv_t_no_bias", "add the bias", dict(bias=False)),
    ("conv_t_flipped", "the kernel is flipped", dict(flip=True)),
    ("conv_t_assigns", "overlapping stamps ADD", dict(assign=True)),
    # swap: conv2d's kernel layout; einsum raises unless C_in == C_out
    ("conv_t_conv2d_layout", "W has shape (C_in, C_out, kh, kw)", dict(swap=True)),
])


def _conv_t_backward(dout, x, W, stride, padding, flip=False, db_axes=(0, 2, 3), db_mean=False,
                     dw_mean=False):
    N, C_in, H, Wd = x.shape
    _, C_out, kh, kw = W.shape
    Wk = W[:, :, ::-1, ::-1] if flip else W
    dfull = np.zeros((N, C_out, (H - 1) * stride + kh, (Wd - 1) * stride + kw))
    dfull[:, :, padding:dfull.shape[2] - padding, padding:dfull.shape[3] - padding] = dout
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for h in range(H):
        for w in range(Wd):
            window = dfull[:, :, h * stride:h * stride + kh, w * stride:w * stride + kw]
            dx[:, :, h, w] = np.einsum("nokl,cokl->nc", window, Wk)
            dW += np.einsum("nc,nokl->cokl", x[:, :, h, w], window)
    db = dout.mean(axis=db_axes) if db_mean else dout.sum(axis=db_axes)
    return dx, dW / N if dw_mean else dW, db


mistakes("conv_transpose2d_backward", _conv_t_backward, [
    ("conv_t_bwd_flipped", "the kernel is flipped", dict(flip=True)),
    ("conv_t_bwd_db_batch_only", "sum db over the batch AND both spatial axes", dict(db_axes=(0,))),
    ("conv_t_bwd_db_mean", "sum, don't average", dict(db_mean=True)),
    ("conv_t_bwd_db_wrong_axes", "axis 1 is the channel", dict(db_axes=(0, 1, 2))),
    ("conv_t_bwd_dw_mean", "sum dW over the batch, don't average", dict(dw_mean=True)),
])


_bypass("trans_conv", "conv", lambda X, K: sv.conv.conv_transpose2d_forward(
    X[None, None], K[None, None], np.zeros(1))[0][0, 0])
_bypass("conv_transpose2d", "conv", lambda x, W, b, stride, padding:
        sv.conv.conv_transpose2d_forward(x, W, b, stride, padding)[0])


def _conv_t_backward_via_package(dout, x, W, stride, padding):
    _, cache = sv.conv.conv_transpose2d_forward(x, W, np.zeros(W.shape[1]), stride, padding)
    return sv.conv.conv_transpose2d_backward(dout, cache)


_bypass("conv_transpose2d_backward", "conv", _conv_t_backward_via_package)


def _conv_t_via_kernel(x, W, b, stride, padding):
    """The package's col2im kernel (its NumPy twin) instead of the stamps."""
    from scratchvae.kernels.conv_reference import col2im

    N, _, H, Wd = x.shape
    C_in, C_out, kh, kw = W.shape
    out_shape = (N, C_out, (H - 1) * stride - 2 * padding + kh, (Wd - 1) * stride - 2 * padding + kw)
    cols = W.reshape(C_in, -1).T @ x.transpose(1, 2, 3, 0).reshape(C_in, -1)  # (h, w, n) columns
    return col2im(cols, out_shape, kh, kw, stride, padding) + b.reshape(1, -1, 1, 1)


_bypass("conv_transpose2d", "col2im_kernel", _conv_t_via_kernel)


# ---------------------------------------------------------------------------------------------
# hw6: the importance-weighted bound
# ---------------------------------------------------------------------------------------------

@mutant("log_mean_exp", "subtract the max first")
def lme_naive(log_w):
    with np.errstate(divide="ignore", over="ignore"):
        return np.log(np.mean(np.exp(log_w), axis=0))


@mutant("log_mean_exp", "subtract log k")
def lme_log_sum_exp(log_w):
    m = log_w.max(axis=0)
    return m + np.log(np.sum(np.exp(log_w - m), axis=0))


@mutant("log_mean_exp", "mean of the log-weights")
def lme_mean_of_logs(log_w):
    return log_w.mean(axis=0)


@mutant("log_mean_exp", "axis 0")
def lme_wrong_axis(log_w):
    m = log_w.max(axis=1)
    return m + np.log(np.mean(np.exp(log_w - m[:, None]), axis=1))


@mutant("log_mean_exp", "subtract the max first")
def lme_clipped(log_w):
    return np.log(np.maximum(np.mean(np.exp(np.clip(log_w, -700, 700)), axis=0), 1e-300))


@mutant("importance_weights", "subtract the max first")
def weights_naive(log_w):
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.exp(log_w)
        return w / w.sum(axis=0)


@mutant("importance_weights", "each COLUMN")
def weights_wrong_axis(log_w):
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)


@mutant("importance_weights", "divide by the sum over the samples")
def weights_unnormalised(log_w):
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(log_w)


@mutant("importance_weights", "not by k")
def weights_over_k(log_w):
    return np.exp(log_w - log_w.max(axis=0)) / log_w.shape[0]


_bypass("log_mean_exp", "mathutils", lambda log_w: sv.mathutils.log_mean_exp(log_w, axis=0))
_bypass("importance_weights", "mathutils", lambda log_w: sv.mathutils.softmax(log_w.T).T)


def _masking_via_corruption(x, level, rng):
    keep_mask = sv.corruption.sample_keep_mask(x.shape, level, rng)
    return sv.corruption.corrupt_masking(x, keep_mask)


def _sgd_via_optim(params, grads, lr):
    sv.optim.SGD(params, lr=lr, momentum=0.0).step(grads)


_bypass("masking_noise", "corruption", _masking_via_corruption)
_bypass("sgd_step", "optim", _sgd_via_optim)

NO_PACKAGE_REFERENCE = ("n_gaussian_params", "equivalent_beta")
"""Exercises whose reference is a closed form in the checker, so there is no package call to
bypass with; every other exercise has a bypass mutant."""


# ---------------------------------------------------------------------------------------------
# issue 30: the wrong answers that got no targeted hint, and more of the same kind
# ---------------------------------------------------------------------------------------------

@mutant("dense_backward", "don't divide by the batch size")
def dense_all_divided_by_batch(dout, cache):
    x, W = cache
    batch = x.shape[0]
    return dout @ W.T / batch, x.T @ dout / batch, dout.sum(axis=0) / batch


@mutant("dense_backward", "sign")
def dense_negated(dout, cache):
    x, W = cache
    return -(dout @ W.T), -(x.T @ dout), -dout.sum(axis=0)


@mutant("dense_backward", "no keepdims")
def dense_db_keepdims(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0, keepdims=True)


@mutant("dense_backward", "did you forget dout? dW")
def dense_dw_without_dout(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ np.ones_like(dout), dout.sum(axis=0)


@mutant("dense_backward", "are swapped")
def dense_returns_in_the_wrong_order(dout, cache):
    x, W = cache
    return x.T @ dout, dout @ W.T, dout.sum(axis=0)


@mutant("dense_backward", "don't write into dout")
def dense_scales_dout_in_place(dout, cache):
    x, W = cache
    dout *= 1.0 + 0.0 * dout - 0.5  # halves dout, then uses it
    return 2 * dout @ W.T, 2 * x.T @ dout, 2 * dout.sum(axis=0)


@mutant("sigmoid_backward", "`dout *= out * (1 - out)` writes into dout")
def sigmoid_in_place(dout, cache):
    dout *= cache.out * (1 - cache.out)
    return dout


@mutant("sigmoid_backward", "writes into dout")
def sigmoid_in_place_on_the_cache(dout, cache):
    out = cache.out
    out *= 1 - out  # writes into the cache's out
    return dout * out


@mutant("sigmoid_backward", None)
def sigmoid_one_plus(dout, cache):
    return dout * cache.out * (1 + cache.out)


@mutant("tanh_backward", "`dout *= 1 - out**2` writes into dout")
def tanh_in_place(dout, cache):
    dout *= 1 - cache.out ** 2
    return dout


@mutant("tanh_backward", None)
def tanh_square_outside(dout, cache):
    return dout * (1 - cache.out) ** 2


@mutant("relu_backward", None)
def relu_mask_from_dout(dout, cache):
    return dout * (dout > 0)


@mutant("relu_backward", "writes into dout")
def relu_where_in_place(dout, cache):
    np.multiply(dout, cache.x > 0, out=dout)
    return dout


@mutant("reparameterize_backward", "std multiplies eps, not mu")
def reparam_bwd_dmu_times_std(dz, cache):
    return dz * cache.std, dz * cache.eps * cache.std / 2


@mutant("reparameterize_backward", "only dlogvar gets the factor")
def reparam_bwd_dmu_like_dlogvar(dz, cache):
    return dz * cache.eps * cache.std / 2, dz * cache.eps * cache.std / 2


@mutant("reparameterize_backward", "sign: dz/dlogvar")
def reparam_bwd_dlogvar_sign(dz, cache):
    return dz.copy(), -dz * cache.eps * cache.std / 2


@mutant("reparameterize_backward", "swap the two outputs")
def reparam_bwd_swapped(dz, cache):
    return dz * cache.eps * cache.std / 2, dz.copy()


@mutant("kl_standard_normal", "one KL per example")
def kl_float_of_the_whole_sum(mu, logvar):
    return float(0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar))


@mutant("kl_standard_normal", "not over the batch (axis=0)")
def kl_summed_over_axis_0(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=0)


@mutant("kl_standard_normal", "keepdims")
def kl_keepdims(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=-1, keepdims=True)


@mutant("kl_standard_normal", "not divided by the batch size")
def kl_divided_by_batch(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - logvar, axis=-1) / mu.shape[0]


@mutant("kl_standard_normal", "not 2 * logvar")
def kl_two_logvar(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar) + mu ** 2 - 1 - 2 * logvar, axis=-1)


@mutant("kl_standard_normal", "mu**2, not mu")
def kl_mu_not_squared(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar) + mu - 1 - logvar, axis=-1)


@mutant("kl_standard_normal", "changed its input `logvar` in place")
def kl_exp_in_place(mu, logvar):
    var = np.exp(logvar, out=logvar.copy())
    logvar -= 0.0 * logvar - 0.0  # harmless
    np.exp(logvar, out=logvar)    # overwrites logvar with the variance
    return 0.5 * np.sum(var + mu ** 2 - 1 - np.log(logvar), axis=-1)


def _conv_t_bwd_mistake(dout, x, W, stride, padding, mistake):
    N, C_in, H, Wd = x.shape
    _, C_out, kh, kw = W.shape
    s = 1 if mistake == "no_stride" else stride
    Wk = W.transpose(1, 0, 2, 3) if mistake == "swap" else W
    shape = (N, C_out, (H - 1) * max(s, stride) + kh, (Wd - 1) * max(s, stride) + kw)
    dfull = np.zeros(shape)
    if mistake == "no_shift":  # dout at the top left: the padding offset forgotten
        dfull[:, :, :dout.shape[2], :dout.shape[3]] = dout
    else:
        dfull[:, :, padding:padding + dout.shape[2], padding:padding + dout.shape[3]] = dout
    dx, dW = np.zeros_like(x), np.zeros_like(W)
    for h in range(H):
        for w in range(Wd):
            window = dfull[:, :, h * s:h * s + kh, w * s:w * s + kw]
            dx[:, :, h, w] = np.einsum("nokl,cokl->nc", window, Wk)
            if mistake == "assign_dW":
                dW = np.einsum("nc,nokl->cokl", x[:, :, h, w], window)
            else:
                dW += np.einsum("nc,nokl->cokl", x[:, :, h, w], window)
    return dx, dW, dout.sum(axis=(0, 2, 3))


mistakes("conv_transpose2d_backward", _conv_t_bwd_mistake, [
    ("conv_t_bwd_no_shift", "shift dout by the padding", dict(mistake="no_shift")),
    ("conv_t_bwd_no_stride", "read its window of the", dict(mistake="no_stride")),
    ("conv_t_bwd_assign_dW", "accumulate with dW +=", dict(mistake="assign_dW")),
    ("conv_t_bwd_swap", "W has shape (C_in, C_out, kh, kw)", dict(mistake="swap")),
])


@mutant("conv_transpose2d_backward", "sign")
def conv_t_bwd_negated(dout, x, W, stride, padding):
    dx, dW, db = _conv_t_backward(dout, x, W, stride, padding)
    return -dx, -dW, -db


@mutant("conv_transpose2d", "BOTH sides")
def conv_t_crops_one_side(x, W, b, stride, padding):
    full = _conv_t(x, W, np.zeros_like(b), stride, 0)
    return full[:, :, padding:, padding:] + b.reshape(1, -1, 1, 1)


@mutant("conv_transpose2d", "BOTH sides")
def conv_t_crops_the_end_only(x, W, b, stride, padding):
    full = _conv_t(x, W, np.zeros_like(b), stride, 0)
    H, Wd = full.shape[2:]
    return full[:, :, :H - padding, :Wd - padding] + b.reshape(1, -1, 1, 1)


@mutant("conv_transpose2d", "is EMPTY")
def conv_t_minus_zero_slice(x, W, b, stride, padding):
    full = _conv_t(x, W, np.zeros_like(b), stride, 0)
    return full[:, :, padding:-padding, padding:-padding] + b.reshape(1, -1, 1, 1)


@mutant("conv_transpose2d", "W has shape (C_in, C_out, kh, kw)")
def conv_t_w_read_as_c_out_c_in(x, W, b, stride, padding):
    C_out = W.shape[0]  # conv2d's layout: (C_out, C_in, kh, kw)
    Wt = W.transpose(1, 0, 2, 3)
    if Wt.shape[0] != x.shape[1]:
        raise ValueError(f"operands could not be broadcast: x has {x.shape[1]} channels, "
                         f"W.shape[1] is {W.shape[1]}")
    out = _conv_t(x, Wt, np.zeros(C_out), stride, padding)
    return out + b.reshape(1, -1, 1, 1)


# ---------------------------------------------------------------------------------------------
# hw6: the global max (issue 30), other shifts, and the bound as a function of k
# ---------------------------------------------------------------------------------------------

@mutant("log_mean_exp", "each example's own max")
def lme_global_max(log_w):
    m = log_w.max()
    with np.errstate(divide="ignore"):
        return m + np.log(np.mean(np.exp(log_w - m), axis=0))


@mutant("log_mean_exp", "not the mean or the min")
def lme_shift_by_the_mean(log_w):
    m = log_w.mean(axis=0)
    with np.errstate(over="ignore"):
        return m + np.log(np.mean(np.exp(log_w - m), axis=0))


@mutant("log_mean_exp", "not the mean or the min")
def lme_shift_by_the_min(log_w):
    m = log_w.min(axis=0)
    with np.errstate(over="ignore"):
        return m + np.log(np.mean(np.exp(log_w - m), axis=0))


@mutant("log_mean_exp", "add the max back")
def lme_max_not_added_back(log_w):
    m = log_w.max(axis=0)
    return np.log(np.mean(np.exp(log_w - m), axis=0))


@mutant("log_mean_exp", "no keepdims")
def lme_keepdims(log_w):
    m = log_w.max(axis=0, keepdims=True)
    return m + np.log(np.mean(np.exp(log_w - m), axis=0, keepdims=True))


@mutant("log_mean_exp", "not the whole array")
def lme_whole_array(log_w):
    m = log_w.max()
    return m + np.log(np.mean(np.exp(log_w - m)))


@mutant("log_mean_exp", "`log_w -= m` writes into the caller's array")
def lme_in_place(log_w):
    m = log_w.max(axis=0)
    log_w -= m
    return m + np.log(np.mean(np.exp(log_w), axis=0))


@mutant("log_mean_exp", None)
def lme_float32(log_w):
    m = log_w.max(axis=0)
    return (m + np.log(np.mean(np.exp(log_w - m), axis=0))).astype(np.float32)


@mutant("importance_weights", "each example's own max")
def weights_global_max(log_w):
    w = np.exp(log_w - log_w.max())
    with np.errstate(invalid="ignore"):
        return w / w.sum(axis=0)


@mutant("importance_weights", "not the mean or the min")
def weights_shift_by_the_mean(log_w):
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.exp(log_w - log_w.mean(axis=0))
        return w / w.sum(axis=0)


@mutant("importance_weights", "divide exp(log_w - m) by its sum")
def weights_divided_by_the_max_only(log_w):
    return np.exp(log_w - log_w.max(axis=0))


@mutant("importance_weights", "not by the sum of the whole array")
def weights_normalised_over_the_whole_array(log_w):
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


@mutant("importance_weights", "not their logs")
def weights_log_softmax(log_w):
    m = log_w.max(axis=0)
    return log_w - (m + np.log(np.sum(np.exp(log_w - m), axis=0)))


@mutant("importance_weights", "not its transpose")
def weights_transposed(log_w):
    w = np.exp(log_w - log_w.max(axis=0))
    return (w / w.sum(axis=0)).T


@mutant("importance_weights", "writes into the caller's array")
def weights_in_place(log_w):
    log_w -= log_w.max(axis=0)
    np.exp(log_w, out=log_w)
    return log_w / log_w.sum(axis=0)


def _lme(a, axis=0):
    m = a.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.mean(np.exp(a - m), axis=axis))


def _groups(log_w, k):
    """log_w (n_samples, batch) as (n_samples // k, k, batch): groups of k consecutive samples."""
    n_samples, batch = log_w.shape
    return log_w.reshape(n_samples // k, k, batch)


@mutant("iwae_bound", "not only the first group")
def bound_first_group_only(log_w, k):
    return _lme(log_w[:k])


@mutant("iwae_bound", "that is L_K")
def bound_all_samples_at_once(log_w, k):
    return _lme(log_w)


@mutant("iwae_bound", "group CONSECUTIVE samples")
def bound_strided_groups(log_w, k):
    n_samples, batch = log_w.shape
    return _lme(log_w.reshape(k, n_samples // k, batch), axis=0).mean(axis=0)


@mutant("iwae_bound", "mixes examples")
def bound_groups_mix_examples(log_w, k):
    n_samples, batch = log_w.shape
    return _lme(log_w.reshape(n_samples // k, batch, k), axis=2).mean(axis=0)


@mutant("iwae_bound", "subtract log k")
def bound_log_sum_exp(log_w, k):
    return (_lme(_groups(log_w, k), axis=1) + np.log(k)).mean(axis=0)


@mutant("iwae_bound", "is L_1")
def bound_mean_of_logs(log_w, k):
    return log_w.mean(axis=0)


@mutant("iwae_bound", "shape (batch,)")
def bound_per_group(log_w, k):
    return _lme(_groups(log_w, k), axis=1)


@mutant("iwae_bound", "don't average over the batch too")
def bound_batch_mean(log_w, k):
    return float(_lme(_groups(log_w, k), axis=1).mean())


@mutant("iwae_bound", "don't add them up")
def bound_summed_groups(log_w, k):
    return _lme(_groups(log_w, k), axis=1).sum(axis=0)


@mutant("iwae_bound", "log_mean_exp of the group means")
def bound_of_group_means(log_w, k):
    return _lme(_groups(log_w, k).mean(axis=1), axis=0)


@mutant("iwae_bound", "each example's own max")
def bound_global_max(log_w, k):
    m = log_w.max()
    with np.errstate(divide="ignore"):
        return (m + np.log(np.mean(np.exp(_groups(log_w, k) - m), axis=1))).mean(axis=0)


@mutant("iwae_bound", "underflows")
def bound_naive(log_w, k):
    with np.errstate(divide="ignore", over="ignore"):
        return np.log(np.mean(np.exp(_groups(log_w, k)), axis=1)).mean(0)


@mutant("iwae_bound", "writes into the caller's array")
def bound_in_place(log_w, k):
    m = log_w.max(axis=0)
    log_w -= m
    return (m + np.log(np.mean(np.exp(_groups(log_w, k)), axis=1))).mean(0)


_bypass("iwae_bound", "mathutils", lambda log_w, k: sv.mathutils.log_mean_exp(
    log_w.reshape(-1, k, log_w.shape[1]), axis=1).mean(axis=0))


# ---------------------------------------------------------------------------------------------
# more plausible wrong answers, exercise by exercise (each with the hint it must get)
# ---------------------------------------------------------------------------------------------

@mutant("dense_backward", "sum over axis 0 only")
def dense_db_summed_to_a_scalar(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, np.sum(dout)


@mutant("dense_backward", "no weight-decay term")
def dense_dw_plus_w(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout + W, dout.sum(axis=0)


@mutant("dense_backward", "not the outer product of the two sums")
def dense_dw_outer_of_sums(dout, cache):
    x, W = cache
    return dout @ W.T, np.outer(x.sum(axis=0), dout.sum(axis=0)), dout.sum(axis=0)


@mutant("dense_backward", "float64")
def dense_float32(dout, cache):
    x, W = cache
    return (dout @ W.T).astype(np.float32), x.T @ dout, dout.sum(axis=0)


@mutant("relu_backward", "not sign(x)")
def relu_sign(dout, cache):
    return dout * np.sign(cache.x)


@mutant("relu_backward", "multiply the mask by dout")
def relu_where_ones(dout, cache):
    return np.where(cache.x > 0, 1.0, 0.0)


@mutant("sigmoid_backward", "that is tanh's derivative")
def sigmoid_with_tanh_derivative(dout, cache):
    return dout * (1 - cache.out ** 2)


@mutant("sigmoid_backward", "don't apply sigmoid to it again")
def sigmoid_of_out(dout, cache):
    s = _sigmoid(cache.out)
    return dout * s * (1 - s)


@mutant("sigmoid_backward", "no factor 1/2")
def sigmoid_half(dout, cache):
    return dout * cache.out * (1 - cache.out) / 2


@mutant("tanh_backward", "don't apply tanh to it again")
def tanh_of_out(dout, cache):
    return dout * (1 - np.tanh(cache.out) ** 2)


@mutant("tanh_backward", "that is sigmoid's derivative")
def tanh_with_sigmoid_derivative(dout, cache):
    return dout * cache.out * (1 - cache.out)


@mutant("tanh_backward", "square the whole of 1/cosh(x)")
def tanh_sech_not_squared(dout, cache):
    return dout / np.cosh(cache.x)


def _central_copies(f, x, h, step=None, sign=1.0, scale=None):
    grad = np.zeros_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        if step == "relative":
            xp.flat[i] *= 1 + h
            xm.flat[i] *= 1 - h
        else:
            xp.flat[i] += h
            xm.flat[i] -= h
        with np.errstate(divide="ignore", invalid="ignore"):
            denominator = 2 * h * x.flat[i] if step == "relative" else 2 * h
            grad.flat[i] = sign * (f(xp) - f(xm)) / denominator if scale is None \
                else sign * (f(xp) - f(xm)) / 2 * h
    return grad


@mutant("numerical_gradient", "use the step h you are given")
def numgrad_ignores_h(f, x, h=1e-5):
    return _central_copies(f, x, 1e-5)


@mutant("numerical_gradient", "x[i] + h, not by a fraction of x[i]")
def numgrad_relative_step(f, x, h=1e-5):
    return _central_copies(f, x, h, step="relative")


@mutant("numerical_gradient", "`/ 2 * h` multiplies by h")
def numgrad_precedence(f, x, h=1e-5):
    return _central_copies(f, x, h, scale="precedence")


@mutant("numerical_gradient", "sign: (f(x + h) - f(x - h))")
def numgrad_sign(f, x, h=1e-5):
    return _central_copies(f, x, h, sign=-1.0)


@mutant("numerical_gradient", "grad.reshape(x.shape)")
def numgrad_flat(f, x, h=1e-5):
    return _central_copies(f, x, h).reshape(-1)


@mutant("rel_error", "return 0.0, not 1")
def rel_error_one_on_zeros(a, b):
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 1.0


@mutant("rel_error", "no floor on the denominator")
def rel_error_floored(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-8))


@mutant("rel_error", "not the 2-norm")
def rel_error_two_norm(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300))


@mutant("rel_error", "not the mean")
def rel_error_mean(a, b):
    return float(np.mean(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300))


@mutant("rel_error", "not their sum")
def rel_error_sum_of_scales(a, b):
    return float(np.max(np.abs(a - b)) / (np.max(np.abs(a)) + np.max(np.abs(b)) + 1e-300))


@mutant("mse_loss", "not one loss per example")
def mse_per_example(x_hat, x):
    batch = x.shape[0]
    return np.sum((x_hat - x) ** 2, axis=1) / batch, 2 * (x_hat - x) / batch


@mutant("mse_loss", "no factor 1/2")
def mse_half(x_hat, x):
    batch = x.shape[0]
    return 0.5 * float(np.sum((x_hat - x) ** 2)) / batch, (x_hat - x) / batch


@mutant("mse_loss", "don't sum over the batch")
def mse_grad_summed(x_hat, x):
    batch = x.shape[0]
    return float(np.sum((x_hat - x) ** 2)) / batch, 2 * (x_hat - x).sum(axis=0) / batch


@mutant("masking_noise", "not to another value")
def masking_fills_the_mean(x, level, rng):
    return np.where(rng.random(x.shape) < level, x.mean(), x)


@mutant("masking_noise", "float64")
def masking_float32(x, level, rng):
    return np.where(rng.random(x.shape) < level, 0.0, x).astype(np.float32)


@mutant("sgd_step", "no extra factor")
def sgd_half_step(params, grads, lr):
    for key in params:
        params[key] -= lr * grads[key] / 2


@mutant("sgd_step", "not its sign")
def sgd_sign_of_gradient(params, grads, lr):
    for key in params:
        params[key] -= lr * np.sign(grads[key])


@mutant("sgd_step", "was not changed in place")
def sgd_skips_the_last_key(params, grads, lr):
    for key in list(params)[:-1]:
        params[key] -= lr * grads[key]


@mutant("reparameterize", "eps first")
def reparam_cache_fields_swapped(mu, logvar, eps):
    std = np.exp(logvar / 2)
    return mu + std * eps, ReparamCache(std, eps)


@mutant("reparameterize", "sign: z = mu + std * eps")
def reparam_minus(mu, logvar, eps):
    std = np.exp(logvar / 2)
    return mu - std * eps, ReparamCache(eps, std)


@mutant("reparameterize", "the roles are swapped")
def reparam_roles_swapped(mu, logvar, eps):
    std = np.exp(logvar / 2)
    return std + mu * eps, ReparamCache(eps, std)


@mutant("reparameterize", "no random draws of your own")
def reparam_own_noise(mu, logvar, eps):
    std = np.exp(logvar / 2)
    return mu + std * np.random.default_rng(0).standard_normal(mu.shape), ReparamCache(eps, std)


@mutant("reparameterize", "ReparamCache(eps=eps, std=std)")
def reparam_plain_tuple_cache(mu, logvar, eps):
    std = np.exp(logvar / 2)
    return mu + std * eps, (eps, std)


@mutant("reparameterize_backward", "cache.std is already exp(logvar / 2)")
def reparam_bwd_exp_of_std(dz, cache):
    return dz.copy(), dz * cache.eps * np.exp(cache.std / 2) / 2


@mutant("reparameterize_backward", "don't sum over the batch")
def reparam_bwd_summed(dz, cache):
    return dz.sum(axis=0), (dz * cache.eps * cache.std / 2).sum(axis=0)


@mutant("kl_standard_normal", "not exp(2 * logvar)")
def kl_logvar_read_as_log_sigma(mu, logvar):
    return 0.5 * np.sum(np.exp(2 * logvar) + mu ** 2 - 1 - 2 * logvar, axis=-1)


@mutant("kl_standard_normal", "- 1, not + 1")
def kl_plus_one(mu, logvar):
    return 0.5 * np.sum(np.exp(logvar) + mu ** 2 + 1 - logvar, axis=-1)


@mutant("kl_standard_normal_grad", "differentiate the whole term")
def kl_grad_not_differentiated(mu, logvar):
    return mu.copy(), (np.exp(logvar) - logvar) / 2


@mutant("kl_standard_normal_grad", "variance vs standard deviation?")
def kl_grad_std(mu, logvar):
    return mu.copy(), 0.5 * (np.exp(logvar / 2) - 1)


@mutant("kl_standard_normal_grad", "don't sum over the batch")
def kl_grad_summed(mu, logvar):
    return mu.sum(axis=0), (0.5 * (np.exp(logvar) - 1)).sum(axis=0)


@mutant("kl_standard_normal_grad", "are swapped")
def kl_grad_swapped(mu, logvar):
    return 0.5 * (np.exp(logvar) - 1), mu.copy()


@mutant("bernoulli_nll", "the absolute value")
def bernoulli_softplus_without_abs(logits, x):
    with np.errstate(over="ignore"):
        return np.sum(np.maximum(logits, 0) + np.log1p(np.exp(-logits)) - x * logits, axis=-1)


@mutant("bernoulli_nll", "not x * sigmoid(a)")
def bernoulli_times_probability(logits, x):
    return np.sum(_softplus(logits) - x * _sigmoid(logits), axis=-1)


@mutant("bernoulli_nll", "not divided by the batch size")
def bernoulli_over_batch(logits, x):
    return np.sum(_softplus(logits) - x * logits, axis=-1) / logits.shape[0]


@mutant("bernoulli_nll", "not the batch (axis=0)")
def bernoulli_axis_0(logits, x):
    return np.sum(_softplus(logits) - x * logits, axis=0)


@mutant("bernoulli_nll", "numerically unstable")
def bernoulli_log1p_exp(logits, x):
    with np.errstate(over="ignore"):
        return np.sum(np.log1p(np.exp(logits)) - x * logits, axis=-1)


@mutant("gaussian_nll", "not the batch (axis=0)")
def gaussian_axis_0(x, mean, logvar):
    return 0.5 * np.sum(np.log(2 * np.pi) + logvar + (x - mean) ** 2 / np.exp(logvar), axis=0)


@mutant("gaussian_nll", "not logvar / 2")
def gaussian_half_logvar(x, mean, logvar):
    return 0.5 * np.sum(np.log(2 * np.pi) + logvar / 2 + (x - mean) ** 2 / np.exp(logvar),
                        axis=-1)


@mutant("gaussian_nll", "not log(pi)")
def gaussian_log_pi(x, mean, logvar):
    return 0.5 * np.sum(np.log(np.pi) + logvar + (x - mean) ** 2 / np.exp(logvar), axis=-1)


@mutant("gaussian_nll", "square the error")
def gaussian_not_squared(x, mean, logvar):
    return 0.5 * np.sum(np.log(2 * np.pi) + logvar + (x - mean) / np.exp(logvar), axis=-1)


@mutant("n_gaussian_params", "count for a FULL covariance")
def n_params_swapped(d, covariance):
    return 2 * d if covariance == "full" else d + d * (d + 1) // 2


@mutant("gaussian_fixed_nll", "inside the log")
def fixed_nll_constant_outside_the_log(x, x_hat, sigma):
    d = x.shape[1]
    return (np.sum((x - x_hat) ** 2, axis=-1) / (2 * sigma ** 2)
            + d / 2 * np.log(2 * np.pi) * sigma ** 2)


@mutant("gaussian_fixed_nll", "counts once per pixel too")
def fixed_nll_log_2pi_once(x, x_hat, sigma):
    d = x.shape[1]
    return (np.sum((x - x_hat) ** 2, axis=-1) / (2 * sigma ** 2) + d * np.log(sigma)
            + 0.5 * np.log(2 * np.pi))


@mutant("gaussian_fixed_nll", "sum over the pixels (axis=-1) only")
def fixed_nll_whole_sum(x, x_hat, sigma):
    return np.sum((x - x_hat) ** 2 / (2 * sigma ** 2) + 0.5 * np.log(2 * np.pi * sigma ** 2))


@mutant("equivalent_beta", "you inverted it")
def beta_one_over_two_sigma(sigma):
    return 1 / (2 * sigma)


@mutant("equivalent_beta", "not by sigma^2 / 2")
def beta_sigma_squared_over_two(sigma):
    return sigma ** 2 / 2


@mutant("elbo_terms", "one KL per example")
def elbo_kl_summed(vae, x, eps):
    recon, kl = _terms(vae, x, eps)
    return recon, float(np.sum(kl))


@mutant("elbo_terms", "no draws of your own")
def elbo_own_noise(vae, x, eps):
    return _terms(vae, x, np.random.default_rng(0).standard_normal(eps.shape))


@mutant("elbo_terms", "don't average recon over the batch")
def elbo_recon_batch_mean(vae, x, eps):
    recon, kl = _terms(vae, x, eps)
    return np.full_like(recon, recon.mean()), kl


@mutant("trans_conv", "not its transpose K.T")
def trans_conv_kernel_transposed(X, K):
    return _trans_conv(X, K.T if K.shape[0] == K.shape[1] else K)


@mutant("trans_conv", "(you swapped them)")
def trans_conv_offsets_swapped(X, K):
    return _trans_conv(X.T, K) if X.shape[0] == X.shape[1] else _trans_conv(X, K) + 1.0


@mutant("trans_conv", "the output is (h + kh - 1, w + kw - 1)")
def trans_conv_one_too_big(X, K):
    return np.pad(_trans_conv(X, K), ((0, 1), (0, 1)))


@mutant("conv_transpose2d", "not once per stamp")
def conv_t_bias_per_stamp(x, W, b, stride, padding):
    N, _, H, Wd = x.shape
    _, C_out, kh, kw = W.shape
    full = np.zeros((N, C_out, (H - 1) * stride + kh, (Wd - 1) * stride + kw))
    for h in range(H):
        for w in range(Wd):
            full[:, :, h * stride:h * stride + kh, w * stride:w * stride + kw] += (
                np.einsum("nc,cokl->nokl", x[:, :, h, w], W) + b.reshape(1, -1, 1, 1))
    p = padding
    return full[:, :, p:full.shape[2] - p, p:full.shape[3] - p]


@mutant("conv_transpose2d", "transposed the kernel's two spatial axes")
def conv_t_kernel_spatially_transposed(x, W, b, stride, padding):
    Wt = W.transpose(0, 1, 3, 2) if W.shape[2] == W.shape[3] else W[:, :, ::-1]
    return _conv_t(x, Wt, b, stride, padding)


@mutant("conv_transpose2d_backward", "don't average them")
def conv_t_bwd_db_spatial_mean(dout, x, W, stride, padding):
    dx, dW, db = _conv_t_backward(dout, x, W, stride, padding)
    return dx, dW, db / (dout.shape[2] * dout.shape[3])


@mutant("conv_transpose2d_backward", "don't divide dW by the number of input pixels")
def conv_t_bwd_dw_pixel_mean(dout, x, W, stride, padding):
    dx, dW, db = _conv_t_backward(dout, x, W, stride, padding)
    return dx, dW / (x.shape[2] * x.shape[3]), db


@mutant("log_mean_exp", "nor the first sample")
def lme_shift_by_the_first_sample(log_w):
    m = log_w[0]
    with np.errstate(over="ignore"):
        return m + np.log(np.mean(np.exp(log_w - m), axis=0))


@mutant("log_mean_exp", "not the batch size")
def lme_log_of_the_batch_size(log_w):
    m = log_w.max(axis=0)
    return m + np.log(np.sum(np.exp(log_w - m), axis=0)) - np.log(log_w.shape[1])


@mutant("importance_weights", "nor the first sample")
def weights_shift_by_the_first_sample(log_w):
    with np.errstate(over="ignore", invalid="ignore"):
        w = np.exp(log_w - log_w[0])
        return w / w.sum(axis=0)


@mutant("iwae_bound", "not its max")
def bound_group_max(log_w, k):
    return _groups(log_w, k).max(axis=1).mean(axis=0)


@mutant("iwae_bound", "not the median")
def bound_median_of_groups(log_w, k):
    return np.median(_lme(_groups(log_w, k), axis=1), axis=0)


@mutant("iwae_bound", "not their max")
def bound_max_of_groups(log_w, k):
    return _lme(_groups(log_w, k), axis=1).max(axis=0)


# ---------------------------------------------------------------------------------------------
# whole-model gradients off by a sign, a zero or the batch; inputs changed in place
# ---------------------------------------------------------------------------------------------

_IN_PLACE = "writes into the array you were given"


@mutant("vae_loss_and_grads", "sign: the gradients of the loss")
def vae_negated_grads(params, x, eps):
    loss, grads = _vae(params, x, eps)
    return loss, {key: -g for key, g in grads.items()}


@mutant("vae_loss_and_grads", "the loss is the NEGATIVE ELBO")
def vae_returns_the_elbo(params, x, eps):
    loss, grads = _vae(params, x, eps)
    return -loss, grads


@mutant("vae_loss_and_grads", "all zeros")
def vae_forgets_a_bias_gradient(params, x, eps):
    loss, grads = _vae(params, x, eps)
    return loss, {**grads, "mu.b": np.zeros_like(grads["mu.b"])}


@mutant("vae_loss_and_grads", _IN_PLACE)
def vae_updates_the_params(params, x, eps):
    loss, grads = _vae(params, x, eps)
    params["mu.W"] -= 1e-3 * grads["mu.W"]
    return loss, grads


@mutant("ae_loss_and_grads", "sign: the gradients of the loss")
def ae_negated_grads(params, x_in, x_target):
    loss, grads = _ae(params, x_in, x_target)
    return loss, {key: -g for key, g in grads.items()}


@mutant("ae_loss_and_grads", "divide the summed squared error by the batch size")
def ae_loss_not_averaged(params, x_in, x_target):
    loss, grads = _ae(params, x_in, x_target)
    return loss * x_in.shape[0], grads


@mutant("ae_loss_and_grads", "divided by the batch size twice?")
def ae_bias_gradient_divided_again(params, x_in, x_target):
    loss, grads = _ae(params, x_in, x_target)
    return loss, {**grads, "decoder.b": grads["decoder.b"] / x_in.shape[0]}


@mutant("ae_loss_and_grads", "all zeros")
def ae_forgets_the_encoder_bias(params, x_in, x_target):
    loss, grads = _ae(params, x_in, x_target)
    return loss, {**grads, "encoder.b": np.zeros_like(grads["encoder.b"])}


@mutant("kl_standard_normal", _IN_PLACE)
def kl_squares_mu_in_place(mu, logvar):
    mu **= 2
    return 0.5 * np.sum(np.exp(logvar) + mu - 1 - logvar, axis=-1)


@mutant("bernoulli_nll", _IN_PLACE)
def bernoulli_clips_logits_in_place(logits, x):
    np.clip(logits, -30, 30, out=logits)
    return np.sum(_softplus(logits) - x * logits, axis=-1)


@mutant("gaussian_nll", _IN_PLACE)
def gaussian_subtracts_in_place(x, mean, logvar):
    x -= mean
    return 0.5 * np.sum(np.log(2 * np.pi) + logvar + x ** 2 / np.exp(logvar), axis=-1)


@mutant("mse_loss", _IN_PLACE)
def mse_subtracts_in_place(x_hat, x):
    x_hat -= x
    batch = x.shape[0]
    return float(np.sum(x_hat ** 2) / batch), 2 * x_hat / batch


@mutant("reparameterize", _IN_PLACE)
def reparam_scales_eps_in_place(mu, logvar, eps):
    std = np.exp(logvar / 2)
    eps *= std
    return mu + eps, ReparamCache(eps / std, std)


@mutant("reparameterize_backward", _IN_PLACE)
def reparam_bwd_zeroes_the_cache(dz, cache):
    dlogvar = dz * cache.eps * cache.std / 2
    cache.std[...] = 0
    return dz.copy(), dlogvar


@mutant("kl_standard_normal_grad", _IN_PLACE)
def kl_grad_exp_in_place(mu, logvar):
    np.exp(logvar, out=logvar)
    return mu.copy(), 0.5 * (logvar - 1)


@mutant("conv_transpose2d", _IN_PLACE)
def conv_t_flips_w_in_place(x, W, b, stride, padding):
    out = _conv_t(x, W, b, stride, padding)
    W[...] = W[:, :, ::-1, ::-1]
    return out


@mutant("conv_transpose2d_backward", _IN_PLACE)
def conv_t_bwd_pads_dout_in_place(dout, x, W, stride, padding):
    result = _conv_t_backward(dout, x, W, stride, padding)
    dout *= 0.0
    return result


@mutant("gaussian_fixed_nll", _IN_PLACE)
def fixed_nll_subtracts_in_place(x, x_hat, sigma):
    x -= x_hat
    d = x.shape[1]
    return np.sum(x ** 2, axis=-1) / (2 * sigma ** 2) + 0.5 * d * np.log(2 * np.pi * sigma ** 2)


@mutant("elbo_terms", _IN_PLACE)
def elbo_scales_eps_in_place(vae, x, eps):
    mu, logvar = vae.encode(x)
    eps *= np.exp(logvar / 2)
    return _terms(vae, x, eps / np.exp(logvar / 2))


@mutant("iwae_bound", "`log_w -= m` writes")
def bound_shifts_in_place_then_reads(log_w, k):
    result = _lme(_groups(log_w, k), axis=1).mean(axis=0)
    log_w -= log_w.max(axis=0)
    return result


@mutant("conv_transpose2d", "it does not pad the input")
def conv_t_pads_the_input(x, W, b, stride, padding):
    p = padding
    return _conv_t(np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))), W, b, stride, 0)
