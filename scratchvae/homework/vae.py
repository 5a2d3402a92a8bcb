"""Checkers for homework 3: the VAE, piece by piece, then the whole ``loss_and_grads``.

Conventions (as everywhere in scratchvae): ``logvar = log sigma^2``, ``std = exp(logvar / 2)``;
per-example losses have shape (batch,), summed over pixels / latent dimensions; the batch mean is
taken once, in ``loss_and_grads``.

The one-hidden-layer VAE of the homework has the keys of ``sv.VAE(n_in, hidden=(n_hidden,),
n_latent, activation="tanh", likelihood="bernoulli")``:

    h      = tanh(x @ encoder.0.W + encoder.0.b)
    mu     = h @ mu.W + mu.b;      logvar = h @ logvar.W + logvar.b
    z      = mu + exp(logvar / 2) * eps
    g      = tanh(z @ decoder.0.W + decoder.0.b)
    logits = g @ decoder.1.W + decoder.1.b
    loss   = 1/B sum_n [ bernoulli_nll(logits_n, x_n) + KL(N(mu_n, exp(logvar_n)) || N(0, I)) ]
"""

import numpy as np

from scratchvae import functional as F
from scratchvae import losses as L
from scratchvae.homework._core import (
    Check,
    NotImplementedYet,
    expect_close_to_fd,
    expect_param_grads_close_to_fd,
    finite_difference_grad_of_input,
    rng_for,
)
from scratchvae.homework._mistakes import expect_in_order, gradient_hints
from scratchvae.reparam import ReparamCache, reparameterize, reparameterize_backward

LATENT_SHAPES = [(4, 3), (1, 5), (6, 2), (3, 3)]  # (batch, n_latent)


def _mu_logvar(rng, shape):
    return rng.standard_normal(shape), rng.uniform(-2.0, 1.5, shape)


# ---------------------------------------------------------------------------------------------
# reparameterization
# ---------------------------------------------------------------------------------------------


def check_reparameterize(reparameterize_fn):
    """Check ``reparameterize(mu, logvar, eps) -> (z, cache)``: ``z = mu + exp(logvar / 2) * eps``
    and ``cache = ReparamCache(eps=eps, std=exp(logvar / 2))`` (from scratchvae.reparam)."""
    check = Check("reparameterize", "scratchvae.reparam.reparameterize",
                  allowed_text="ReparamCache (to build the cache)")
    for k, shape in enumerate(LATENT_SHAPES):
        rng = rng_for(check.exercise, k)
        mu, logvar = _mu_logvar(rng, shape)
        eps = rng.standard_normal(shape)
        case = f"case {k + 1}: mu {shape}"
        result = check.call(reparameterize_fn,
                            {"mu": mu.copy(), "logvar": logvar.copy(), "eps": eps.copy()}, case)
        z, cache = check.unpack(result, ("z", "cache"), case)
        expected, exp_cache = reparameterize(mu, logvar, eps)
        std_hints = {
            "variance vs standard deviation? std = exp(logvar / 2); exp(logvar) is the variance":
                np.exp(logvar),
            "logvar is log sigma^2, not sigma: std = exp(logvar / 2)": logvar,
            "std = exp(logvar / 2) = sqrt(exp(logvar)), not exp(logvar) / 2": np.exp(logvar) / 2,
        }
        check.expect_array("z", z, expected, case, {
            **{hint: mu + value * eps for hint, value in std_hints.items()},
            "z = mu ignores the noise: sample z = mu + std * eps": mu,
            "multiply the standard deviation by eps: z = mu + std * eps": mu + exp_cache.std,
            "sign: z = mu + std * eps (eps is symmetric, but the backward assumes +)":
                mu - exp_cache.std * eps,
            "the roles are swapped: z = mu + std * eps (mu is the mean, std scales eps)":
                exp_cache.std + mu * eps,
        }, fallback_hint="z = mu + exp(logvar / 2) * eps with the eps you are given (no random "
                         "draws of your own: the noise is an argument)")
        if (hasattr(cache, "std") and hasattr(cache, "eps")
                and np.shape(cache.std) == eps.shape and np.allclose(cache.std, eps)
                and np.allclose(cache.eps, exp_cache.std)):
            check.fail("`cache` holds eps and std the wrong way round", case,
                       "ReparamCache(eps=eps, std=std): eps first (or pass them by name)")
        if not hasattr(cache, "std") or not hasattr(cache, "eps"):
            check.fail(f"`cache` should be ReparamCache(eps=eps, std=std), got "
                       f"{type(cache).__name__}", case)
        check.expect_array("cache.std", cache.std, exp_cache.std, case, std_hints)
        check.expect_array("cache.eps", cache.eps, eps, case)
    return check.done()


def check_reparameterize_backward(reparameterize_backward_fn, reparameterize_fn=None):
    """Check ``reparameterize_backward(dz, cache) -> (dmu, dlogvar)`` with
    ``cache = ReparamCache(eps, std)``: ``dmu = dz``, ``dlogvar = dz * eps * std / 2``.

    First with the package's cache; then, when your ``reparameterize`` is given too, as a chain:
    your forward's ``(z, cache)`` fed into your backward, which must give the same gradients.
    """
    check = Check("reparameterize_backward",
                  "scratchvae.reparam.reparameterize_backward and finite differences",
                  allowed_text="none (read cache.eps and cache.std)")
    for k, shape in enumerate(LATENT_SHAPES):
        rng = rng_for(check.exercise, k)
        mu, logvar = _mu_logvar(rng, shape)
        eps = rng.standard_normal(shape)
        dz = rng.standard_normal(shape)
        case = f"case {k + 1}: mu {shape}"
        _, cache = reparameterize(mu.copy(), logvar.copy(), eps.copy())
        result = check.call(reparameterize_backward_fn, {"dz": dz.copy(), "cache": cache}, case)
        dmu, dlogvar = check.unpack(result, ("dmu", "dlogvar"), case)
        std = np.exp(logvar / 2)
        exp_dmu, exp_dlogvar = reparameterize_backward(dz, ReparamCache(eps, std))
        expect_in_order(check, (dmu, dlogvar), (exp_dmu, exp_dlogvar), ("dmu", "dlogvar"), case)
        check.expect_array("dmu", dmu, exp_dmu, case, {
            "dz/dmu = 1, so dmu = dz (chain rule: multiply by dz)": np.ones_like(dz),
            "dmu = dz, not dz * eps": dz * eps,
            "dz/dmu = 1, so dmu = dz: std multiplies eps, not mu (z = mu + std * eps)":
                dz * std,
            "dz/dmu = 1, so dmu = dz: only dlogvar gets the factor eps * std / 2":
                dz * eps * std / 2,
            "sign: dmu = dz (z grows with mu)": -dz,
            "one gradient per entry of mu, shape (batch, n_latent): don't sum over the batch":
                dz.sum(axis=0),
        })
        check.expect_array("dlogvar", dlogvar, exp_dlogvar, case, {
            "missing 1/2? d exp(logvar / 2) / dlogvar = exp(logvar / 2) / 2": dz * eps * std,
            "multiply by std: dz/dlogvar = eps * std / 2": dz * eps / 2,
            "multiply by eps: dz/dlogvar = eps * std / 2": dz * std / 2,
            "variance vs standard deviation? dz/dlogvar = eps * std / 2 with std = "
            "exp(logvar / 2)": dz * eps * std * std / 2,
            "chain rule: multiply by dz": eps * std / 2,
            "sign: dz/dlogvar = +eps * std / 2": -dz * eps * std / 2,
            "cache.std is already exp(logvar / 2): use it as it is":
                dz * eps * np.exp(std / 2) / 2,
            "one gradient per entry of logvar, shape (batch, n_latent): don't sum over the "
            "batch": exp_dlogvar.sum(axis=0),
        })
        for name, got, i in (("dmu", dmu, 0), ("dlogvar", dlogvar, 1)):
            numeric = finite_difference_grad_of_input(
                lambda mu, logvar: np.sum(reparameterize(mu, logvar, eps)[0] * dz), [mu, logvar], i)
            expect_close_to_fd(check, name, got, numeric, case)
        if reparameterize_fn is not None:
            _check_chain(check, reparameterize_fn, reparameterize_backward_fn, mu, logvar, eps,
                         dz, (exp_dmu, exp_dlogvar), case)
    return check.done("(and fed by your reparameterize)" if reparameterize_fn else "")


def _check_chain(check, forward, backward, mu, logvar, eps, dz, expected, case):
    """Your backward on the cache of your forward: the pair must give the true gradients."""
    case = f"{case}, chain: your reparameterize -> your reparameterize_backward"
    try:
        out = check.call(forward, {"mu": mu.copy(), "logvar": logvar.copy(), "eps": eps.copy()},
                         case, count=False)
    except NotImplementedYet:
        raise NotImplementedYet(
            "reparameterize_backward: the chain check feeds your reparameterize into your "
            "backward, and reparameterize is not implemented yet") from None
    _, cache = check.unpack(out, ("z", "cache"), case)
    result = check.call(backward, {"dz": dz.copy(), "cache": cache}, case, count=False)
    got = check.unpack(result, ("dmu", "dlogvar"), case)
    hint = ("your backward is right on the package's ReparamCache(eps, std) but wrong on the "
            "cache your own reparameterize returns: read the fields by name (cache.eps, "
            "cache.std) and make reparameterize return exactly ReparamCache(eps=eps, std=std)")
    for name, value, exp in zip(("dmu", "dlogvar"), got, expected):
        check.expect_array(name, value, exp, case, fallback_hint=hint)


# ---------------------------------------------------------------------------------------------
# the analytic KL and its gradient
# ---------------------------------------------------------------------------------------------


def _kl_hints(mu, logvar):
    var, one = np.exp(logvar), 1.0
    return {
        "missing 1/2? KL = 1/2 * sum(exp(logvar) + mu**2 - 1 - logvar)":
            np.sum(var + mu * mu - one - logvar, axis=-1),
        "sign of the KL? It is >= 0: 1/2 * sum(exp(logvar) + mu**2 - 1 - logvar)":
            -L.kl_standard_normal(mu, logvar),
        "-log sigma instead of -log sigma^2? The last term is logvar = log sigma^2 "
        "(the lecture slide's -log sigma is a typo)":
            0.5 * np.sum(var + mu * mu - one - logvar / 2, axis=-1),
        "sigma^2 = exp(logvar), not exp(logvar / 2) (variance vs standard deviation?)":
            0.5 * np.sum(np.exp(logvar / 2) + mu * mu - one - logvar, axis=-1),
        "sum over the latent dimensions, not mean": L.kl_standard_normal(mu, logvar)
            / mu.shape[-1],
        "missing the -1 (per latent dimension) inside the sum":
            0.5 * np.sum(var + mu * mu - logvar, axis=-1),
        "one KL per example: sum over axis=-1 only, not over the batch too":
            L.kl_standard_normal(mu, logvar).sum(),
        "one KL per example: sum over the latent dimensions (axis=-1), not over the batch "
        "(axis=0)": 0.5 * np.sum(var + mu * mu - one - logvar, axis=0),
        "return shape (batch,): sum without keepdims=True":
            L.kl_standard_normal(mu, logvar)[:, None],
        "one KL per example, not divided by the batch size: the batch mean is taken once, in "
        "the loss": L.kl_standard_normal(mu, logvar) / mu.shape[0] if mu.shape[0] > 1 else None,
        "one KL per example: sum over axis=-1 only, not the mean over the batch":
            L.kl_standard_normal(mu, logvar).mean(),
        "log sigma vs log sigma^2: logvar is already log sigma^2, so the term is logvar, not "
        "2 * logvar (and sigma^2 = exp(logvar))":
            0.5 * np.sum(var + mu * mu - one - 2 * logvar, axis=-1),
        "mu**2, not mu: KL = 1/2 * sum(exp(logvar) + mu**2 - 1 - logvar)":
            0.5 * np.sum(var + mu - one - logvar, axis=-1),
        "logvar is log sigma^2 already: sigma^2 = exp(logvar), not exp(2 * logvar), and the "
        "last term is logvar": 0.5 * np.sum(np.exp(2 * logvar) + mu * mu - one - 2 * logvar,
                                              axis=-1),
        "- 1, not + 1: KL = 1/2 * sum(exp(logvar) + mu**2 - 1 - logvar)":
            0.5 * np.sum(var + mu * mu + one - logvar, axis=-1),
    }


def check_kl_standard_normal(kl_fn):
    """Check ``kl_standard_normal(mu, logvar) -> kl`` of shape (batch,):
    ``KL(N(mu, diag(exp(logvar))) || N(0, I)) = 1/2 sum_j (exp(logvar) + mu^2 - 1 - logvar)``."""
    check = Check("kl_standard_normal", "scratchvae.losses.kl_standard_normal")
    for k, shape in enumerate(LATENT_SHAPES + [(2, 4)]):
        rng = rng_for(check.exercise, k)
        mu, logvar = _mu_logvar(rng, shape)
        if k == len(LATENT_SHAPES):  # q = p: the KL must be exactly 0
            mu, logvar = np.zeros(shape), np.zeros(shape)
        case = f"case {k + 1}: mu {shape}" + (" (mu = 0, logvar = 0: KL = 0)" if k == 4 else "")
        got = check.call(kl_fn, {"mu": mu.copy(), "logvar": logvar.copy()}, case)
        check.expect_array("kl", got, L.kl_standard_normal(mu, logvar), case,
                           _kl_hints(mu, logvar), extra=" (batch,): one KL per example")
    return check.done()


def check_kl_standard_normal_grad(kl_grad_fn):
    """Check ``kl_standard_normal_grad(mu, logvar) -> (dmu, dlogvar)``, the gradient of
    ``kl_standard_normal(mu, logvar).sum()``: ``dmu = mu``, ``dlogvar = (exp(logvar) - 1) / 2``."""
    check = Check("kl_standard_normal_grad",
                  "scratchvae.losses.kl_standard_normal_grad and finite differences")
    for k, shape in enumerate(LATENT_SHAPES):
        rng = rng_for(check.exercise, k)
        mu, logvar = _mu_logvar(rng, shape)
        case = f"case {k + 1}: mu {shape}"
        result = check.call(kl_grad_fn, {"mu": mu.copy(), "logvar": logvar.copy()}, case)
        dmu, dlogvar = check.unpack(result, ("dmu", "dlogvar"), case)
        exp_dmu, exp_dlogvar = L.kl_standard_normal_grad(mu, logvar)
        expect_in_order(check, (dmu, dlogvar), (exp_dmu, exp_dlogvar), ("dmu", "dlogvar"), case)
        batch = shape[0]
        check.expect_array("dmu", dmu, exp_dmu, case, {
            "missing 1/2? d/dmu of 1/2 mu^2 is mu": 2 * mu,
            "sign of the KL? dKL/dmu = +mu": -mu,
            "gradient of the sum, not of the batch mean: don't divide by the batch size":
                mu / batch if batch > 1 else None,
            "one gradient per entry of mu, shape (batch, n_latent): don't sum over the batch":
                mu.sum(axis=0),
        })
        check.expect_array("dlogvar", dlogvar, exp_dlogvar, case, {
            "missing 1/2? dKL/dlogvar = (exp(logvar) - 1) / 2": np.exp(logvar) - 1,
            "sign of the KL? dKL/dlogvar = (exp(logvar) - 1) / 2": 0.5 * (1 - np.exp(logvar)),
            "missing the -1: d/dlogvar of -logvar is -1": 0.5 * np.exp(logvar),
            "-log sigma instead of -log sigma^2? d/dlogvar (-logvar) = -1, so "
            "dlogvar = (exp(logvar) - 1) / 2": 0.5 * (np.exp(logvar) - 0.5),
            "variance vs standard deviation? sigma^2 = exp(logvar)":
                0.5 * (0.5 * np.exp(logvar / 2) - 1),
            "gradient of the sum, not of the batch mean: don't divide by the batch size":
                exp_dlogvar / batch if batch > 1 else None,
            "differentiate the whole term: d/dlogvar [exp(logvar) - logvar] / 2 = "
            "(exp(logvar) - 1) / 2": (np.exp(logvar) - logvar) / 2,
            "variance vs standard deviation? d/dlogvar exp(logvar) = exp(logvar), the "
            "variance": 0.5 * (np.exp(logvar / 2) - 1),
            "one gradient per entry of logvar, shape (batch, n_latent): don't sum over the "
            "batch": exp_dlogvar.sum(axis=0),
        })
        for name, got, i in (("dmu", dmu, 0), ("dlogvar", dlogvar, 1)):
            numeric = finite_difference_grad_of_input(
                lambda mu, logvar: np.sum(L.kl_standard_normal(mu, logvar)), [mu, logvar], i)
            expect_close_to_fd(check, name, got, numeric, case)
    return check.done()


# ---------------------------------------------------------------------------------------------
# negative log-likelihoods
# ---------------------------------------------------------------------------------------------


def check_bernoulli_nll(nll_fn):
    """Check ``bernoulli_nll(logits, x) -> nll`` of shape (batch,): ``-log p(x | logits)`` for
    p(x_i = 1) = sigmoid(logits_i), summed over pixels, x in [0, 1] (binary or grey). It must be
    finite and exact for large |logits| too (the last case has |logits| up to 800)."""
    check = Check("bernoulli_nll", "scratchvae.losses.bernoulli_nll")
    cases = [((4, 6), "binary", 3.0), ((1, 5), "grey", 3.0), ((5, 3), "grey", 1.0),
             ((3, 8), "binary", None)]
    for k, (shape, kind, scale) in enumerate(cases):
        rng = rng_for(check.exercise, k)
        if scale is None:  # the stability case
            logits = rng.choice([-1.0, 1.0], shape) * rng.uniform(40, 800, shape)
            logits[:, 0] = rng.uniform(-2, 2, shape[0])
        else:
            logits = scale * rng.standard_normal(shape)
        x = (rng.random(shape) < 0.5) * 1.0 if kind == "binary" else rng.uniform(0, 1, shape)
        label = " with large |logits| (up to 800)" if scale is None else ""
        case = f"case {k + 1}: logits {shape}, {kind} x{label}"
        got = check.call(nll_fn, {"logits": logits.copy(), "x": x.copy()}, case)
        expected = L.bernoulli_nll(logits, x)
        p = F.sigmoid(logits)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            naive = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)
            hints = {
                "sign: the NEGATIVE log-likelihood is >= 0": -expected,
                "mean over pixels vs sum? Sum over pixels (one value per example)":
                    expected / shape[1],
                "one value per example: sum over axis=-1 only": expected.sum(),
                "one value per example: sum over the pixels (axis=-1), not the batch (axis=0)":
                    np.sum(np.logaddexp(0, logits) - x * logits, axis=0),
                "-log p(x|a) = softplus(a) - x * a with the logits a, not x * sigmoid(a)":
                    np.sum(np.logaddexp(0, logits) - x * p, axis=-1),
                "stable softplus(a) = max(a, 0) + log1p(exp(-|a|)): the absolute value":
                    np.sum(np.maximum(logits, 0) + np.log1p(np.exp(-logits)) - x * logits,
                           axis=-1),
                "one value per example, not divided by the batch size":
                    expected / shape[0] if shape[0] > 1 else None,
                "the inputs are logits, not probabilities: p = sigmoid(logits)":
                    -np.sum(x * np.log(logits) + (1 - x) * np.log(1 - logits), axis=-1),
            }
        if scale is None and not np.all(np.isfinite(naive)):
            stable = ("numerically unstable for large |logits|: log(sigmoid(a)) underflows to "
                      "log(0). Write -log p(x|a) = softplus(a) - x * a, with the stable "
                      "softplus(a) = max(a, 0) + log1p(exp(-|a|)) (or np.logaddexp(0, a))")
            if isinstance(got, np.ndarray) and got.shape == expected.shape and (
                    not np.all(np.isfinite(got)) or not np.allclose(got, expected)):
                check.fail("wrong `nll` for large |logits|: expected "
                           f"{np.array2string(expected, precision=6)}, got "
                           f"{np.array2string(np.asarray(got), precision=6)}", case, stable)
        check.expect_array("nll", got, expected, case, hints,
                           extra=" (batch,): one value per example")
    return check.done()


def check_gaussian_nll(nll_fn):
    """Check ``gaussian_nll(x, mean, logvar) -> nll`` of shape (batch,):
    ``-log N(x | mean, diag(exp(logvar)))
    = 1/2 sum_i [log(2 pi) + logvar_i + (x_i - mean_i)^2 / exp(logvar_i)]``."""
    check = Check("gaussian_nll", "scratchvae.losses.gaussian_nll")
    for k, shape in enumerate([(4, 6), (1, 5), (5, 3), (2, 2)]):
        rng = rng_for(check.exercise, k)
        x = rng.uniform(0, 1, shape)
        mean = rng.uniform(0, 1, shape)
        logvar = rng.uniform(-3, 1, shape)
        case = f"case {k + 1}: x {shape}"
        got = check.call(nll_fn, {"x": x.copy(), "mean": mean.copy(), "logvar": logvar.copy()},
                         case)
        expected = L.gaussian_nll(x, mean, logvar)
        sq = (x - mean) ** 2
        log2pi = np.log(2 * np.pi)
        check.expect_array("nll", got, expected, case, {
            "missing the constant 1/2 * log(2 pi) per pixel":
                0.5 * np.sum(logvar + sq / np.exp(logvar), axis=-1),
            "variance vs standard deviation? logvar = log sigma^2, so divide by exp(logvar)":
                0.5 * np.sum(log2pi + logvar + sq / np.exp(logvar / 2), axis=-1),
            "variance vs standard deviation? logvar is already log sigma^2: the log-determinant "
            "term is logvar, not 2 * logvar":
                0.5 * np.sum(log2pi + 2 * logvar + sq / np.exp(2 * logvar), axis=-1),
            "divide the squared error by the variance exp(logvar) (multiply by exp(-logvar))":
                0.5 * np.sum(log2pi + logvar + sq * np.exp(logvar), axis=-1),
            "missing 1/2? -log N = 1/2 [log(2 pi) + logvar + (x - mean)^2 / exp(logvar)]":
                2 * expected,
            "sign: the NEGATIVE log-likelihood": -expected,
            "mean over pixels vs sum? Sum over pixels (one value per example)":
                expected / shape[1],
            "one value per example: sum over the pixels (axis=-1), not the batch (axis=0)":
                L.gaussian_nll(x.T, mean.T, logvar.T) if shape[0] > 1 else None,
            "logvar is log sigma^2: the log-determinant term is logvar, not logvar / 2":
                0.5 * np.sum(log2pi + logvar / 2 + sq / np.exp(logvar), axis=-1),
            "the constant is log(2 pi), not log(pi)":
                0.5 * np.sum(np.log(np.pi) + logvar + sq / np.exp(logvar), axis=-1),
            "square the error: (x - mean)**2 / exp(logvar)":
                0.5 * np.sum(log2pi + logvar + (x - mean) / np.exp(logvar), axis=-1),
        }, extra=" (batch,): one value per example")
    return check.done()


# ---------------------------------------------------------------------------------------------
# the whole one-hidden-layer VAE
# ---------------------------------------------------------------------------------------------

VAE_KEYS = ("encoder.0.W", "encoder.0.b", "mu.W", "mu.b", "logvar.W", "logvar.b",
            "decoder.0.W", "decoder.0.b", "decoder.1.W", "decoder.1.b")


def vae_init(n_in, n_hidden, n_latent, rng):
    """Float64 parameters of the homework's VAE (the keys of :data:`VAE_KEYS`)."""
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    sizes = {"encoder.0": (n_in, n_hidden), "mu": (n_hidden, n_latent),
             "logvar": (n_hidden, n_latent), "decoder.0": (n_latent, n_hidden),
             "decoder.1": (n_hidden, n_in)}
    params = {}
    for name, (a, b) in sizes.items():
        params[f"{name}.W"] = rng.standard_normal((a, b)) / np.sqrt(a)
        params[f"{name}.b"] = 0.1 * rng.standard_normal(b)
    return params


VAE_MISTAKES = {
    "var_as_std": "variance vs standard deviation? z = mu + exp(logvar / 2) * eps",
    "kl_no_half": "missing 1/2 in the KL? KL = 1/2 * sum(exp(logvar) + mu**2 - 1 - logvar)",
    "kl_sign": "sign of the KL? loss = reconstruction NLL + KL (the KL is added)",
    "recon_mean_pixels": "mean over pixels vs sum? The reconstruction term is summed over "
                         "pixels, like the KL over latent dimensions",
    "z_is_mu": "z = mu: sample z = mu + exp(logvar / 2) * eps (the eps argument)",
    "no_batch_mean": "the loss is a mean over the batch: divide by the batch size (once)",
    "kl_grad_no_batch_mean": "the KL term is averaged over the batch too: divide "
                             "kl_standard_normal_grad(mu, logvar) by the batch size before "
                             "adding it to dmu and dlogvar",
    "mu_no_kl": "mu feeds both z and the KL: add the KL's gradient (mu) to dmu",
    "mu_no_recon": "mu feeds both z and the KL: add the gradient through z (dz) to dmu",
    "logvar_no_kl": "logvar feeds both z and the KL: add the KL's gradient to dlogvar",
    "h_mu_only": "h feeds both heads: dh = dh from the mu head + dh from the logvar head",
}


def vae_reference(params, x, eps, mistake=None):
    """Loss and grads of the homework's VAE from the package's ops; ``mistake`` (a key of
    :data:`VAE_MISTAKES`) gives a known wrong variant instead, to recognise it."""
    m = mistake
    batch = x.shape[0]
    p = params
    pre_h, c1 = F.dense_forward(x, p["encoder.0.W"], p["encoder.0.b"])
    h, a1 = F.tanh_forward(pre_h)
    mu, c_mu = F.dense_forward(h, p["mu.W"], p["mu.b"])
    logvar, c_lv = F.dense_forward(h, p["logvar.W"], p["logvar.b"])
    std = np.exp(logvar) if m == "var_as_std" else np.exp(logvar / 2)
    z = mu if m == "z_is_mu" else mu + std * eps
    pre_g, c2 = F.dense_forward(z, p["decoder.0.W"], p["decoder.0.b"])
    g, a2 = F.tanh_forward(pre_g)
    logits, c3 = F.dense_forward(g, p["decoder.1.W"], p["decoder.1.b"])
    recon = L.bernoulli_nll(logits, x)
    kl_scale = {"kl_no_half": 2.0, "kl_sign": -1.0}.get(m, 1.0)
    kl = kl_scale * L.kl_standard_normal(mu, logvar)
    recon_scale = 1.0 / x.shape[1] if m == "recon_mean_pixels" else 1.0
    norm = 1.0 if m == "no_batch_mean" else 1.0 / batch
    loss = float(np.sum(recon_scale * recon + kl) * norm)

    dlogits = L.bernoulli_nll_grad(logits, x) * recon_scale * norm
    dg, dW3, db3 = F.dense_backward(dlogits, c3)
    dz, dW2, db2 = F.dense_backward(F.tanh_backward(dg, a2), c2)
    kl_norm = 1.0 if m == "kl_grad_no_batch_mean" else norm
    dmu_kl, dlogvar_kl = (kl_scale * kl_norm * v
                          for v in L.kl_standard_normal_grad(mu, logvar))
    if m == "z_is_mu":
        dmu_z, dlogvar_z = dz, np.zeros_like(dz)
    elif m == "var_as_std":
        dmu_z, dlogvar_z = dz, dz * eps * std
    else:
        dmu_z, dlogvar_z = reparameterize_backward(dz, ReparamCache(eps, std))
    dmu = (0 if m == "mu_no_recon" else dmu_z) + (0 if m == "mu_no_kl" else dmu_kl)
    dlogvar = dlogvar_z + (0 if m == "logvar_no_kl" else dlogvar_kl)
    dh_mu, dWmu, dbmu = F.dense_backward(dmu, c_mu)
    dh_lv, dWlv, dblv = F.dense_backward(dlogvar, c_lv)
    dh = dh_mu if m == "h_mu_only" else dh_mu + dh_lv
    _, dW1, db1 = F.dense_backward(F.tanh_backward(dh, a1), c1)
    grads = {"encoder.0.W": dW1, "encoder.0.b": db1, "mu.W": dWmu, "mu.b": dbmu,
             "logvar.W": dWlv, "logvar.b": dblv, "decoder.0.W": dW2, "decoder.0.b": db2,
             "decoder.1.W": dW3, "decoder.1.b": db3}
    return loss, grads


def _package_vae(params):
    """An ``sv.VAE`` (float64, numpy backend) holding copies of ``params``."""
    from scratchvae.models.vae import VAE

    n_in, n_hidden = params["encoder.0.W"].shape
    n_latent = params["mu.W"].shape[1]
    vae = VAE(n_in=n_in, hidden=(n_hidden,), n_latent=n_latent, likelihood="bernoulli",
              activation="tanh", dtype=np.float64, backend="numpy", rng=0)
    for key, value in params.items():
        vae.params[key][...] = value
    return vae


def check_vae_loss_and_grads(vae_loss_and_grads):
    """Check ``vae_loss_and_grads(params, x, eps) -> (loss, grads)`` for the one-hidden-layer
    VAE of this module's docstring (Bernoulli decoder, beta = 1), grads keyed like params."""
    check = Check("vae_loss_and_grads", "sv.VAE(...).loss_and_grads and finite differences",
                  allowed_text="none (call the functions you wrote above in this notebook)")
    for k, (batch, n_in, n_hidden, n_latent) in enumerate(
            [(4, 6, 5, 2), (1, 5, 3, 3), (3, 4, 4, 2)]):
        rng = rng_for(check.exercise, k)
        params = vae_init(n_in, n_hidden, n_latent, rng)
        x = (rng.random((batch, n_in)) < 0.5) * 1.0
        if k == 2:
            x = rng.uniform(0, 1, x.shape)  # grey values are allowed too
        eps = rng.standard_normal((batch, n_latent))
        case = f"case {k + 1}: x {x.shape}, hidden {n_hidden}, latent {n_latent}"
        args = {"params": {key: v.copy() for key, v in params.items()}, "x": x.copy(),
                "eps": eps.copy()}
        result = check.call(vae_loss_and_grads, args, case)
        loss, grads = check.unpack(result, ("loss", "grads"), case)
        exp_loss, exp_grads = _package_vae(params).loss_and_grads(x, eps=eps)
        variants = {m: vae_reference(params, x, eps, m) for m in VAE_MISTAKES}
        check.expect_scalar("loss", loss, exp_loss, case, {
            **{VAE_MISTAKES[m]: v[0] for m, v in variants.items()},
            "sign: the loss is the NEGATIVE ELBO, reconstruction NLL + KL (a positive number "
            "for binary pixels)": -exp_loss,
        })
        if not isinstance(grads, dict):
            check.fail(f"`grads` should be a dict keyed like params, got "
                       f"{type(grads).__name__}", case)
        missing = [key for key in VAE_KEYS if key not in grads]
        extra = [key for key in grads if key not in VAE_KEYS]
        if missing or extra:
            check.fail(f"`grads` must have the same keys as params; missing {missing}, "
                       f"unexpected {extra}", case)
        # check from the output backwards: the first wrong gradient is the most informative
        for key in reversed(VAE_KEYS):
            check.expect_array(f"grads['{key}']", grads[key], exp_grads[key], case,
                               {**{VAE_MISTAKES[m]: v[1][key] for m, v in variants.items()},
                                **gradient_hints(exp_grads[key], batch)},
                               extra=f" (the same as params['{key}'])")
        expect_param_grads_close_to_fd(check, grads, params,
                                       lambda p: vae_reference(p, x, eps)[0], VAE_KEYS, case)
    return check.done()
