"""The variational autoencoder (Kingma & Welling 2014), backpropagated by hand.

    encoder   q(z | x) = N(mu(x), diag(exp(logvar(x))))
    sample    z = mu + exp(logvar / 2) * eps,   eps ~ N(0, I)        (reparameterization)
    decoder   p(x | z): Bernoulli(sigmoid(logits(z)))   likelihood="bernoulli"
                        N(mean(z), diag(exp(logvar_x(z))))  likelihood="gaussian" (learned variance)
                        N(mean(z), sigma^2 I)              likelihood="gaussian_fixed"
    loss      mean over the batch of  -ELBO_beta(x) = -log p(x | z) + beta * KL(q(z|x) || N(0, I))

Shapes: x (batch, n_in); mu, logvar, eps, z (batch, n_latent). Parameter keys:
"encoder.<i>.W/b" (hidden layers), "mu.W/b", "logvar.W/b" (the two heads), "decoder.<i>.W/b".
"""

from typing import NamedTuple

import numpy as np

from scratchvae.functional import ACTIVATIONS as FUNCTIONAL_ACTIVATIONS
from scratchvae.functional import sigmoid, sigmoid_backward, sigmoid_forward
from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.layers import Dense, Sequential, mlp
from scratchvae.losses import bernoulli_nll, gaussian_nll, kl_standard_normal
from scratchvae.models.base import Model
from scratchvae.reparam import reparameterize
from scratchvae.validation import (
    as_generator,
    check_array,
    check_choice,
    check_nonnegative_number,
    check_number,
    check_positive_int,
    check_positive_number,
    check_sizes,
)

LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_fixed")
ACTIVATIONS = tuple(name for name in FUNCTIONAL_ACTIVATIONS if name != "identity")
"""Hidden-layer activations of a VAE: every one in ``functional.ACTIVATIONS`` but identity."""
ENCODER_LOGVAR_LIMIT = 30.0
"""The encoder's logvar is clamped to [-30, 30]: exp(30) ~ 1e13 keeps the KL, std and their
gradients finite in float32 (exp overflows float32 at 89 and float64 at 710)."""
LOGVAR_RANGE_LIMIT = 30.0
"""``logvar_range`` and ``2 log(sigma)`` of a Gaussian decoder must lie in [-30, 30] too."""


# ---------------------------------------------------------------------------------------------
# The Gaussian decoder's log-variance, kept in a safe range by a smooth, differentiable map
# ---------------------------------------------------------------------------------------------


class GaussianHeadCache(NamedTuple):
    """The cache of a Gaussian decoder head: the mean's sigmoid cache and the log-variance's
    bounded-map cache (None for gaussian_fixed)."""

    mean: tuple  # the cache of sigmoid_forward(pre_mean)
    logvar: tuple  # the cache of bounded_logvar_forward(pre_logvar), None for gaussian_fixed


class BoundedLogvarCache(NamedTuple):
    sig: np.ndarray
    width: float


def bounded_logvar_forward(pre, low, high):
    """``logvar = low + (high - low) * sigmoid(pre)``: any real pre maps into (low, high).

    A variance floor exp(low) stops the likelihood from rewarding a variance that shrinks to
    zero on pixels that never change (the MNIST border), where log p(x|z) would go to +inf.
    """
    sig = sigmoid(pre)
    return low + (high - low) * sig, BoundedLogvarCache(sig, high - low)


def bounded_logvar_backward(dlogvar, cache):
    """``dpre = dlogvar * (high - low) * sigmoid(pre) * (1 - sigmoid(pre))``."""
    sig, width = cache
    return dlogvar * width * sig * (1 - sig)


class ClampedDense(Dense):
    """The encoder's logvar head: a Dense layer whose output is clamped to [-limit, limit].

        logvar = clip(h @ W + b, -limit, limit)
        dpre   = dlogvar * [ -limit <= pre <= limit ]     (zero where the clamp is active)

    Inside the range it is the plain Dense layer (same values, same gradients), so a trained
    VAE never notices it; it only stops a diverging logvar from turning exp(logvar) into inf
    and the whole loss into NaN. Parameter keys and initialisation are those of Dense.
    """

    def __init__(self, n_in, n_out, limit=ENCODER_LOGVAR_LIMIT, **kwargs):
        super().__init__(n_in, n_out, **kwargs)
        self.limit = float(limit)
        self._inside = None

    def forward(self, x):
        pre = super().forward(x)
        self._inside = np.abs(pre) <= self.limit
        return np.clip(pre, -self.limit, self.limit)

    def backward(self, dout, need_dx=True):
        return super().backward(np.where(self._inside, dout, 0).astype(dout.dtype, copy=False),
                                need_dx)


class VAE(Model):
    """Variational autoencoder with MLP encoder and decoder.

    n_in: pixels per example; hidden: hidden-layer widths of the encoder (the decoder mirrors
    them); n_latent: size of z; likelihood: "bernoulli" (decoder outputs logits), "gaussian"
    (per-pixel mean and log-variance, logvar in ``logvar_range``) or "gaussian_fixed" (mean only,
    fixed sigma); beta: weight of the KL term (beta-VAE; 1 is the ELBO); activation of the
    hidden layers; dtype float32 or float64; backend "numba" or "numpy"; rng: seed or Generator
    for the initial weights. sigma: the fixed decoder std of "gaussian_fixed" (2 log sigma in
    [-30, 30]); logvar_range: (low, high) of the "gaussian" decoder's logvar, within [-30, 30].
    The encoder's logvar is clamped to [-30, 30] (:class:`ClampedDense`), so the loss and its
    gradients stay finite in float32 and float64 even when the encoder diverges.
    """

    noise_arguments = ("eps",)
    has_kl_weight = True
    has_gaussian_encoder = True
    has_decoder = True
    can_sample = True

    def __init__(self, n_in=784, hidden=(400,), n_latent=20, likelihood="bernoulli", beta=1.0,
                 activation="relu", dtype=np.float32, backend=DEFAULT_BACKEND, rng=0,
                 sigma=0.1, logvar_range=(-6.0, 2.0)):
        self._setup_vae(dtype, backend, n_latent, likelihood, beta, activation, sigma,
                        logvar_range)
        self.n_in = check_positive_int("n_in", n_in)
        self.hidden = check_sizes("hidden", hidden)
        self._config = dict(n_in=self.n_in, hidden=list(self.hidden), **self._vae_config())
        self.networks = self._mlp_networks(as_generator(rng))

    @property
    def binary_input(self):
        """x must lie in [0, 1] for the Bernoulli likelihood."""
        return self.likelihood == "bernoulli"

    @property
    def latent_size(self):
        """The size of z, ``n_latent``."""
        return self.n_latent

    def _mlp_networks(self, rng, n_condition=0):
        """The four MLP networks; encoder and decoder also read ``n_condition`` extra inputs
        (the one-hot label of a conditional VAE; 0 for the plain VAE)."""
        common = dict(rng=rng, dtype=self.dtype, backend=self.backend)
        n_enc_in = self.n_in + n_condition
        h_last = self.hidden[-1] if self.hidden else n_enc_in
        n_out = 2 * self.n_in if self.likelihood == "gaussian" else self.n_in
        act = self.activation
        return {
            "encoder": mlp((n_enc_in, *self.hidden), act, act, **common)
            if self.hidden else Sequential(),
            "mu": Dense(h_last, self.n_latent, **common),
            "logvar": ClampedDense(h_last, self.n_latent, **common),
            "decoder": mlp((self.n_latent + n_condition, *self.hidden[::-1], n_out), act,
                           **common),
        }

    def _setup_vae(self, dtype, backend, n_latent, likelihood, beta, activation, sigma,
                   logvar_range):
        """Check and store what every VAE shares (the MLP VAE, the conv VAE, the extensions);
        the subclass then builds ``networks`` ("encoder", "mu", "logvar", "decoder")."""
        self._setup(dtype, backend)
        self.n_latent = check_positive_int("n_latent", n_latent)
        self.likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.beta = check_nonnegative_number("beta", beta)
        self.sigma = check_positive_number("sigma", sigma)
        limit = LOGVAR_RANGE_LIMIT
        if not -limit <= 2 * np.log(self.sigma) <= limit:
            raise ValueError(f"sigma must be in [exp(-{limit:g} / 2), exp({limit:g} / 2)] = "
                             f"[{np.exp(-limit / 2):.3g}, {np.exp(limit / 2):.3g}] so that "
                             f"1 / sigma^2 stays finite, got {sigma!r}")
        try:
            low, high = logvar_range
        except (TypeError, ValueError):
            raise ValueError(f"logvar_range must be a pair (low, high), got {logvar_range!r}") from None
        low = check_number("logvar_range[0]", low, -limit, limit)
        high = check_number("logvar_range[1]", high, -limit, limit)
        if not low < high:
            raise ValueError(f"logvar_range must be (low, high) with low < high, got {logvar_range}")
        self.logvar_range = (low, high)

    def _kl_weight(self, beta):
        """The KL weight of one loss_and_grads call: ``beta`` if given (>= 0), else self.beta."""
        return self.beta if beta is None else check_nonnegative_number("beta", beta)

    def _vae_config(self):
        """The shared options as JSON-friendly config entries."""
        return dict(n_latent=self.n_latent, likelihood=self.likelihood, beta=self.beta,
                    activation=self.activation, sigma=self.sigma,
                    logvar_range=list(self.logvar_range))

    # -- the four steps, named as in PyTorch ------------------------------------------------

    def encode(self, x):
        """q(z|x): x (batch, n_in) -> (mu, logvar), each (batch, n_latent)."""
        x = self._check_x(x)
        return self._encode(x)

    def reparameterize(self, mu, logvar, eps):
        """``z = mu + exp(logvar / 2) * eps`` (see :func:`scratchvae.reparam.reparameterize`)."""
        z, _ = reparameterize(mu, logvar, eps)
        return z

    def decode(self, z):
        """p(x|z)'s parameters. bernoulli: logits (batch, n_in); gaussian and gaussian_fixed:
        (mean, logvar), each (batch, n_in)."""
        z = check_array("z", z, ndim=2, shape=(None, self.n_latent)).astype(self.dtype, copy=False)
        decoder_out = self.networks["decoder"].forward(z)
        decoded, _ = self._decoder_head(decoder_out)
        return decoded

    def forward(self, x, eps=None, rng=None):
        """Encode, sample, decode: returns (decoded, mu, logvar) as ``decode`` gives it."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, self._noise(eps, rng, mu.shape))
        return self.decode(z), mu, logvar

    # -- the loss and its gradient -----------------------------------------------------------

    def loss_and_grads(self, x, eps=None, rng=None, beta=None):
        """Mean over the batch of the beta-weighted negative ELBO, and its gradient.

            loss = 1/B sum_n [ -log p(x_n | z_n) + beta * KL(q(z|x_n) || N(0, I)) ]
            z_n  = mu_n + exp(logvar_n / 2) * eps_n

        x: (batch, n_in); eps: (batch, n_latent) standard-normal noise, or None to draw it from
        ``rng``; beta: the KL weight of this call (None: ``self.beta``; ``sv.fit`` passes it for
        KL warm-up and beta = 1 for the validation -ELBO). Returns (loss, grads) with grads keyed
        like ``params``. The batch mean is taken here and only here; the per-example terms are
        summed over pixels and latent dimensions. ``last_loss_terms`` holds the batch means of
        the two terms afterwards.
        """
        x = self._check_x(x, binary_range=self.binary_input)
        return self._loss_and_grads(x, x, eps, rng, beta)

    def _loss_and_grads(self, x_encoded, x, eps, rng, beta):
        """The loss above with the encoder fed ``x_encoded`` and the decoder scored against x.

        For the VAE x_encoded is x; the denoising VAE passes the corrupted x_tilde. Read it top
        to bottom, like CS231n's ``TwoLayerNet.loss``: the forward pass through named ops, the
        loss, then the backward pass in reverse order. Each layer's forward/backward is the op
        pair ``dense_act_forward`` / ``dense_act_backward`` (conv ops in a ConvVAE); ``ops`` is
        the backend's op table (on "numpy", the functions of functional, reparam and losses).
        """
        ops, net = self.kernels, self.networks
        beta = self._kl_weight(beta)
        batch = x.shape[0]
        # forward: encoder, its two heads, the sample z with its KL term, decoder, likelihood
        h = net["encoder"].forward(x_encoded)
        mu = net["mu"].forward(h)
        logvar = net["logvar"].forward(h)
        eps = self._noise(eps, rng, mu.shape)
        z, std, kl = ops.reparam_kl_forward(mu, logvar, eps, check_finite=False)
        decoder_out = net["decoder"].forward(z)
        decoded, head_cache = self._decoder_head(decoder_out)  # logits, or (mean, logvar)
        # loss: per-example -log p(x|z) + beta * KL, averaged over the batch (here only)
        nll, ddecoded = self._nll_and_grad(x, decoded, scale=1.0 / batch)
        loss = float(np.mean(nll + beta * kl))
        self.last_loss_terms = {"reconstruction": float(np.mean(nll)), "kl": float(np.mean(kl))}

        # backward, in reverse order. mu and logvar are each used twice (by z and by the KL),
        # so reparam_kl_backward adds both paths (w = beta / B):
        #   dmu = dz + w * mu,   dlogvar = dz * eps * std / 2 + w * (exp(logvar) - 1) / 2
        ddecoder_out = self._decoder_head_backward(ddecoded, head_cache)
        dz = net["decoder"].backward(ddecoder_out)
        dmu, dlogvar = ops.reparam_kl_backward(dz, mu, logvar, eps, std, beta / batch)
        # h feeds both heads, so its gradient is the sum of what comes back from each
        dh = net["mu"].backward(dmu) + net["logvar"].backward(dlogvar)
        net["encoder"].backward(dh, need_dx=False)
        return loss, self._collect_grads()

    def elbo(self, x, rng=0, eps=None):
        """Per-example ELBO (beta = 1) with z sampled from q(z|x), never z = mu. Shape (batch,).

            ELBO(x) = log p(x | z) - KL(q(z|x) || N(0, I)),  z = mu + exp(logvar / 2) * eps
        """
        x = self._check_x(x, binary_range=self.binary_input)
        mu, logvar = self._encode(x)
        z = self.reparameterize(mu, logvar, self._noise(eps, rng, mu.shape))
        return -(self.reconstruction_nll(x, self.decode(z)) + kl_standard_normal(mu, logvar))

    def reconstruction_nll(self, x, decoded):
        """-log p(x | z) per example (batch,), given ``decoded = self.decode(z)``."""
        if self.likelihood == "bernoulli":
            return bernoulli_nll(decoded, x)
        mean, logvar = decoded
        return gaussian_nll(x, mean, logvar)

    def sample(self, n, rng=0):
        """Decoder means for z ~ N(0, I): (n, n_in) images in [0, 1] (not noisy draws)."""
        n = check_positive_int("n", n)
        z = as_generator(rng).standard_normal((n, self.n_latent)).astype(self.dtype)
        return self.mean_image(self.decode(z))

    def reconstruct(self, x):
        """Decoder mean at z = mu (for pictures only: this is not how the ELBO is evaluated)."""
        mu, _ = self.encode(x)
        return self.mean_image(self.decode(mu))

    def mean_image(self, decoded):
        """E[x | z] from ``decode``'s output: sigmoid(logits) or the Gaussian mean."""
        if self.likelihood == "bernoulli":
            return sigmoid(decoded)
        return decoded[0]

    # -- internals ---------------------------------------------------------------------------

    def _encode(self, x):
        h = self.networks["encoder"].forward(x)
        return self.networks["mu"].forward(h), self.networks["logvar"].forward(h)

    def _noise(self, eps, rng, shape):
        if eps is None:
            return as_generator(rng).standard_normal(shape).astype(self.dtype)
        eps = check_array("eps", eps, ndim=2, shape=shape)
        return eps.astype(self.dtype, copy=False)

    def _decoder_head(self, decoder_out):
        """Decoder output -> (p(x|z)'s parameters, the head's cache for
        :meth:`_decoder_head_backward`).

        bernoulli: the output is the logits. gaussian_fixed: mean = sigmoid(pre_mean), logvar =
        2 log sigma. gaussian: the output is [pre_mean, pre_logvar], mean = sigmoid(pre_mean),
        logvar = bounded_logvar_forward(pre_logvar).
        """
        if self.likelihood == "bernoulli":
            return decoder_out, None
        if self.likelihood == "gaussian_fixed":
            mean, mean_cache = sigmoid_forward(decoder_out)
            logvar = np.full_like(mean, 2.0 * np.log(self.sigma))
            return (mean, logvar), GaussianHeadCache(mean_cache, None)
        pre_mean, pre_logvar = decoder_out[:, : self.n_in], decoder_out[:, self.n_in:]
        mean, mean_cache = sigmoid_forward(pre_mean)
        logvar, logvar_cache = bounded_logvar_forward(pre_logvar, *self.logvar_range)
        return (mean, logvar), GaussianHeadCache(mean_cache, logvar_cache)

    def _decoder_head_backward(self, ddecoded, cache):
        """The gradient with respect to the decoder's output, from that of its parameters
        (dlogits, or (dmean, dlogvar)): the backward of :meth:`_decoder_head`."""
        if self.likelihood == "bernoulli":
            return ddecoded
        dmean, dlogvar = ddecoded
        dpre_mean = sigmoid_backward(dmean, cache.mean)  # through mean = sigmoid(pre_mean)
        if self.likelihood == "gaussian_fixed":
            return dpre_mean
        dpre_logvar = bounded_logvar_backward(dlogvar, cache.logvar)
        return np.concatenate([dpre_mean, dpre_logvar], axis=1)

    def _nll_and_grad(self, x, decoded, scale):
        """Per-example -log p(x|z) and ``scale`` times its gradient with respect to
        ``decoded`` (dlogits, or (dmean, dlogvar)): the backend's likelihood op."""
        if self.likelihood == "bernoulli":
            return self.kernels.bernoulli_nll_and_grad(decoded, x, scale, check_finite=False)
        mean, logvar = decoded
        nll, dmean, dlogvar = self.kernels.gaussian_nll_and_grad(x, mean, logvar, scale,
                                                                 check_finite=False)
        return nll, (dmean, dlogvar)
