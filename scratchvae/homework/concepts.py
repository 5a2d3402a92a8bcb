"""Checkers for homework 4: the numeric parts of the lecture questions.

- why the encoder outputs a mean and a DIAGONAL covariance: count the parameters;
- MSE is the Gaussian negative log-likelihood with a fixed covariance sigma^2 I, up to a scale
  and a constant; the scale fixes how much the KL weighs (an equivalent beta);
- the ELBO's two terms evaluated as in the lectures: z sampled from q(z|x), never z = mu.
"""

import numpy as np

from scratchvae import losses as L
from scratchvae.homework._core import Check, rng_for
from scratchvae.reparam import reparameterize

COVARIANCES = ("diag", "full")


def check_n_gaussian_params(n_gaussian_params):
    """Check ``n_gaussian_params(d, covariance) -> int``: the number of numbers an encoder must
    output to describe N(mu, Sigma) in d dimensions; covariance "diag" (mu and the d variances)
    or "full" (mu and a symmetric positive-definite d x d Sigma, e.g. via its Cholesky factor)."""
    check = Check("n_gaussian_params", "d + d (diag) and d + d (d + 1) / 2 (full)")
    for k, (d, cov) in enumerate([(1, "diag"), (20, "diag"), (1, "full"), (2, "full"),
                                  (20, "full"), (784, "full")]):
        case = f"case {k + 1}: d={d}, covariance={cov!r}"
        got = check.call(n_gaussian_params, {"d": d, "covariance": cov}, case)
        expected = 2 * d if cov == "diag" else d + d * (d + 1) // 2
        hints = {"diag": {"don't forget the d means: the encoder outputs mu AND the variances": d,
                          "a diagonal covariance has d free numbers, not d^2": d + d * d,
                          "that is the count for a FULL covariance; a diagonal one has d "
                          "variances, so 2d in all": d + d * (d + 1) // 2},
                 "full": {"a covariance matrix is symmetric: it has d (d + 1) / 2 free entries, "
                          "not d^2": d + d * d,
                          "don't forget the d means": d * (d + 1) // 2,
                          "a full covariance has d (d + 1) / 2 free entries, not d": 2 * d}}[cov]
        if expected in hints.values():
            hints = {h: v for h, v in hints.items() if v != expected}
        check.expect_scalar("n_params", got, expected, case, hints, rtol=0, atol=0,
                            integer=True)
    return check.done()


def check_gaussian_fixed_nll(gaussian_fixed_nll):
    """Check ``gaussian_fixed_nll(x, x_hat, sigma) -> nll`` of shape (batch,): the negative
    log-likelihood of x under N(x_hat, sigma^2 I),
    ``||x - x_hat||^2 / (2 sigma^2) + d/2 * log(2 pi sigma^2)`` (d pixels per example)."""
    check = Check("gaussian_fixed_nll", "scratchvae.losses.gaussian_nll with logvar = "
                  "2 log(sigma)")
    for k, (shape, sigma) in enumerate([((4, 6), 0.1), ((1, 5), 1.0), ((3, 8), 0.5),
                                        ((2, 3), 2.0)]):
        rng = rng_for(check.exercise, k)
        x = rng.uniform(0, 1, shape)
        x_hat = rng.uniform(0, 1, shape)
        case = f"case {k + 1}: x {shape}, sigma={sigma}"
        got = check.call(gaussian_fixed_nll, {"x": x.copy(), "x_hat": x_hat.copy(),
                                              "sigma": sigma}, case)
        expected = L.gaussian_nll(x, x_hat, 2 * np.log(sigma))
        sq = np.sum((x - x_hat) ** 2, axis=-1)
        d = shape[1]
        const = 0.5 * d * np.log(2 * np.pi * sigma ** 2)
        check.expect_array("nll", got, expected, case, {
            "variance vs standard deviation? divide the squared error by 2 sigma^2, "
            "not 2 sigma": sq / (2 * sigma) + const,
            "variance vs standard deviation? the constant is d/2 log(2 pi sigma^2)":
                sq / (2 * sigma ** 2) + 0.5 * d * np.log(2 * np.pi * sigma),
            "missing the constant d/2 * log(2 pi sigma^2) (it does not change the optimum, but "
            "it is part of the NLL, in nats)": sq / (2 * sigma ** 2),
            "missing 1/2? -log N(x | x_hat, sigma^2 I) = ||x - x_hat||^2 / (2 sigma^2) + ...":
                sq / sigma ** 2 + const,
            "mean over pixels vs sum? The NLL sums over pixels": expected / d,
            "sign: the NEGATIVE log-likelihood": -expected,
            "the constant is d/2 * log(2 pi sigma^2), inside the log: d/2 log(2 pi) + "
            "d log(sigma)": sq / (2 * sigma ** 2) + 0.5 * d * np.log(2 * np.pi) * sigma ** 2,
            "the constant is d/2 * log(2 pi sigma^2) = d/2 log(2 pi) + d log(sigma): the "
            "log(2 pi) counts once per pixel too":
                sq / (2 * sigma ** 2) + d * np.log(sigma) + 0.5 * np.log(2 * np.pi),
            "one value per example: sum over the pixels (axis=-1) only": expected.sum(),
        } if sigma != 1.0 else {
            "missing the constant d/2 * log(2 pi sigma^2)": sq / (2 * sigma ** 2),
            "missing 1/2?": sq / sigma ** 2 + const,
            "mean over pixels vs sum? The NLL sums over pixels": expected / d,
            "sign: the NEGATIVE log-likelihood": -expected,
        }, extra=" (batch,): one value per example")
    return check.done()


def check_equivalent_beta(equivalent_beta):
    """Check ``equivalent_beta(sigma) -> float``: the weight beta for which
    ``||x - x_hat||^2 + beta * KL`` has the same minimisers as the Gaussian NLL with fixed sigma
    plus the KL, i.e. ``beta = 2 sigma^2`` (multiply NLL + KL by 2 sigma^2, drop the constant)."""
    check = Check("equivalent_beta", "2 sigma^2")
    for k, sigma in enumerate([0.1, 0.5, 1.0, 2.0, 0.03]):
        case = f"case {k + 1}: sigma={sigma}"
        got = check.call(equivalent_beta, {"sigma": sigma}, case)
        expected = 2 * sigma ** 2
        hints = {
            "missing factor 2: the NLL is ||x - x_hat||^2 / (2 sigma^2)": sigma ** 2,
            "variance vs standard deviation? beta = 2 sigma^2": 2 * sigma,
            "inverted: multiplying NLL + KL by 2 sigma^2 turns the NLL into ||x - x_hat||^2 and "
            "the KL's weight into 2 sigma^2": 1 / (2 * sigma ** 2),
            "beta = 2 sigma^2: the factor that turns ||x - x_hat||^2 / (2 sigma^2) into "
            "||x - x_hat||^2 (you inverted it, and sigma is squared)": 1 / (2 * sigma),
            "beta = 2 sigma^2: multiply by 2 sigma^2, not by sigma^2 / 2": sigma ** 2 / 2,
        }
        check.expect_scalar("beta", got, expected, case,
                            {h: v for h, v in hints.items() if not np.isclose(v, expected)})
    return check.done()


def _small_vae(likelihood, k):
    from scratchvae.models.vae import VAE

    return VAE(n_in=12, hidden=(8,), n_latent=3, likelihood=likelihood, activation="tanh",
               dtype=np.float64, backend="numpy", rng=k, sigma=0.3)


def check_elbo_terms(elbo_terms):
    """Check ``elbo_terms(vae, x, eps) -> (recon, kl)``, each (batch,): for an ``sv.VAE``,
    ``recon = -log p(x | z)`` with ``z = mu + exp(logvar / 2) * eps`` SAMPLED from q(z|x), and
    ``kl = KL(q(z|x) || N(0, I))``, so that ``-(recon + kl)`` is the per-example ELBO."""
    check = Check("elbo_terms", "vae.encode / vae.decode / vae.reconstruction_nll",
                  allowed=(L.kl_standard_normal,),
                  allowed_text="vae.encode, vae.decode, vae.reconstruction_nll and "
                               "sv.losses.kl_standard_normal")
    for k, (likelihood, batch) in enumerate([("bernoulli", 5), ("gaussian_fixed", 4),
                                             ("bernoulli", 1), ("gaussian", 3)]):
        rng = rng_for(check.exercise, k)
        vae = _small_vae(likelihood, k)
        x = (rng.random((batch, vae.n_in)) < 0.4) * 1.0
        eps = rng.standard_normal((batch, vae.n_latent))
        params_before = {key: v.copy() for key, v in vae.params.items()}
        case = f"case {k + 1}: likelihood={likelihood!r}, x {x.shape}"
        result = check.call(elbo_terms, {"vae": vae, "x": x.copy(), "eps": eps.copy()}, case,
                            allowed=(vae.encode, vae.decode, vae.reconstruction_nll))
        for key, value in vae.params.items():
            if not np.array_equal(value, params_before[key]):
                check.fail(f"your function changed vae.params['{key}']: evaluating the ELBO "
                           "must not change the model", case)
        recon, kl = check.unpack(result, ("recon", "kl"), case)
        mu, logvar = vae.encode(x)
        z, _ = reparameterize(mu, logvar, eps)
        exp_recon = vae.reconstruction_nll(x, vae.decode(z))
        exp_kl = L.kl_standard_normal(mu, logvar)
        z_var = mu + np.exp(logvar) * eps
        check.expect_array("recon", recon, exp_recon, case, {
            "z = mu is not the ELBO: sample z = mu + exp(logvar / 2) * eps":
                vae.reconstruction_nll(x, vae.decode(mu)),
            "variance vs standard deviation? z = mu + exp(logvar / 2) * eps":
                vae.reconstruction_nll(x, vae.decode(z_var)),
            "mean over pixels vs sum? -log p(x|z) sums over pixels": exp_recon / vae.n_in,
            "sign: recon is the NEGATIVE log-likelihood": -exp_recon,
            "one value per example: don't average recon over the batch":
                np.full_like(exp_recon, exp_recon.mean()) if batch > 1 else None,
        }, extra=" (batch,): one value per example",
            fallback_hint="recon = vae.reconstruction_nll(x, vae.decode(z)) with z = mu + "
                          "exp(logvar / 2) * eps, the eps you are given (no draws of your own)")
        check.expect_array("kl", kl, exp_kl, case, _kl_hints_short(mu, logvar),
                           extra=" (batch,): one value per example")
        elbo = vae.elbo(x, eps=eps)
        if not np.allclose(-(np.asarray(recon) + np.asarray(kl)), elbo, rtol=1e-9):
            check.fail("-(recon + kl) does not equal vae.elbo(x, eps=eps)", case)
    return check.done("(and -(recon + kl) equals vae.elbo)")


def _kl_hints_short(mu, logvar):
    exact = L.kl_standard_normal(mu, logvar)
    return {
        "missing 1/2 in the KL?": 2 * exact,
        "sign of the KL? It is >= 0": -exact,
        "mean over latent dimensions vs sum?": exact / mu.shape[-1],
        "-log sigma instead of -log sigma^2 = -logvar?":
            0.5 * np.sum(np.exp(logvar) + mu * mu - 1 - logvar / 2, axis=-1),
        "one KL per example: sum over the latent dimensions (axis=-1) only, not the batch too":
            exact.sum(),
        "one KL per example: sum over the latent dimensions (axis=-1), not over the batch "
        "(axis=0)": 0.5 * np.sum(np.exp(logvar) + mu * mu - 1 - logvar, axis=0),
    }
