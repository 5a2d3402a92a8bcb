"""The importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016), backpropagated by hand.

Same networks as the VAE; a tighter bound. Draw k samples z_i ~ q(z|x) and weigh each:

    z_i   = mu + exp(logvar / 2) * eps_i,     eps_i ~ N(0, I),   i = 1..k
    log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x)
    L_k(x)  = log (1/k) sum_i w_i  = log_mean_exp_i(log w_i)     (computed stably, max first)

E[L_k] <= E[L_{k+1}] <= log p(x), and L_k -> log p(x) as k -> infinity. L_1 is the ELBO.
With eps held fixed, log q(z_i|x) = log N(eps_i; 0, I) - 1/2 sum_j logvar_j. The gradient is a
weighted sum of the single-sample gradients, with the normalised importance weights:

    dL_k/dtheta = sum_i w~_i * dlog w_i/dtheta,     w~_i = w_i / sum_j w_j = softmax_i(log w_i)

Backprop runs once through all k samples: the batch is tiled k times (k*B rows through the
decoder) and each row's upstream gradient is scaled by its weight w~_i / B.

For k = 1 the IWAE *is* the VAE: ``loss_and_grads`` and ``bound`` then use the VAE's estimator
with the analytic KL (same expectation as log w_1, lower variance), so for the same eps they
return exactly the VAE's loss, gradients and ELBO.

Shapes: x (batch, n_in); eps (k, batch, n_latent) (sample index first); log w (k, batch);
bound (batch,). Parameter keys as in :class:`scratchvae.VAE`.
"""

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.losses import gaussian_nll
from scratchvae.mathutils import log_mean_exp, log_standard_normal, logsumexp, softmax
from scratchvae.models.vae import VAE
from scratchvae.reparam import reparameterize, reparameterize_backward, std_from_logvar
from scratchvae.validation import as_generator, check_array, check_positive_int

ROWS_PER_CHUNK = 10000
"""``IWAE.bound`` without eps decodes about this many (sample, example) rows at a time."""


def log_weights(nll, z, eps, logvar):
    """``log w = -nll + log p(z) - log q(z|x)`` for z = mu + exp(logvar/2) * eps.

    log p(z) = log N(z; 0, I);  log q(z|x) = log N(eps; 0, I) - 1/2 sum_j logvar_j.
    nll: (k, batch) = -log p(x|z); z, eps: (k, batch, n_latent); logvar: (batch, n_latent).
    Returns (k, batch).
    """
    log_q = log_standard_normal(eps) - 0.5 * np.sum(logvar, axis=-1)
    return -nll + log_standard_normal(z) - log_q


def log_importance_weights(model, x, eps):
    """log w_i for any VAE-like model (``encode``, ``decode``, ``reconstruction_nll``).

    x: (batch, n_in); eps: (k, batch, n_latent). Returns (k, batch). No gradients, no caches
    needed: use it to evaluate a plain :class:`scratchvae.VAE` with the same estimator.
    """
    mu, logvar = model.encode(x)
    k, batch = eps.shape[:2]
    z = mu + std_from_logvar(logvar) * eps
    decoded = model.decode(z.reshape(k * batch, -1))
    x_tiled = np.tile(x, (k, 1))
    nll = model.reconstruction_nll(x_tiled, decoded).reshape(k, batch)
    return log_weights(nll, z, eps, logvar)


class LinearGaussianToy:
    """A linear-Gaussian latent-variable model whose log p(x) is exact, with a fixed proposal.

        p(z) = N(0, I_L),   p(x | z) = N(A z + c, s^2 I_D)   =>   p(x) = N(c, A A^T + s^2 I)
        exact posterior p(z | x) = N(m(x), S),  S = (I + A^T A / s^2)^-1,  m(x) = S A^T (x - c) / s^2
        proposal q(z | x) = N(m(x) + shift, diag(std_scale^2 * diag(S)))

    With shift = 0, std_scale = 1 and L = 1, q is the exact posterior and every importance
    weight equals p(x): log w = log p(x) for every sample. Otherwise L_k < log p(x) and the gap
    closes as k grows. It has ``encode``, ``decode`` and ``reconstruction_nll`` like a VAE, so
    :func:`log_importance_weights` and ``sv.evaluate.importance_sampled_nll`` accept it.

    n_in (D), n_latent (L), s: observation noise std; shift, std_scale: how wrong q is;
    rng: seed for A ~ N(0, 1) and c ~ N(0, 1). Everything float64.
    """

    likelihood = "gaussian"
    dtype = np.dtype(np.float64)

    def __init__(self, n_in=2, n_latent=1, s=0.5, shift=0.0, std_scale=1.0, rng=0):
        self.n_in = check_positive_int("n_in", n_in)
        self.n_latent = check_positive_int("n_latent", n_latent)
        self.s, self.shift, self.std_scale = float(s), float(shift), float(std_scale)
        rng = as_generator(rng)
        self.A = rng.standard_normal((self.n_in, self.n_latent))
        self.c = rng.standard_normal(self.n_in)
        self.S = np.linalg.inv(np.eye(self.n_latent) + self.A.T @ self.A / self.s**2)

    def log_px(self, x):
        """Exact log p(x) = log N(x; c, A A^T + s^2 I) per example, (batch,)."""
        x = check_array("x", x, ndim=2, shape=(None, self.n_in))
        cov = self.A @ self.A.T + self.s**2 * np.eye(self.n_in)
        chol = np.linalg.cholesky(cov)
        r = np.linalg.solve(chol, (x - self.c).T)                 # L^-1 (x - c), (D, batch)
        log_det = 2 * np.sum(np.log(np.diag(chol)))
        return -0.5 * (np.sum(r * r, axis=0) + log_det + self.n_in * np.log(2 * np.pi))

    def sample_x(self, n, rng=0):
        """n draws of x from p(x) = N(c, A A^T + s^2 I): (n, n_in)."""
        rng = as_generator(rng)
        z = rng.standard_normal((n, self.n_latent))
        return z @ self.A.T + self.c + self.s * rng.standard_normal((n, self.n_in))

    def encode(self, x):
        """q(z|x) = N(mu, diag(exp(logvar))): x (batch, n_in) -> (mu, logvar) (batch, n_latent)."""
        x = check_array("x", x, ndim=2, shape=(None, self.n_in))
        mu = (x - self.c) @ self.A @ self.S.T / self.s**2 + self.shift
        logvar = np.log(self.std_scale**2 * np.diag(self.S))
        return mu, np.broadcast_to(logvar, mu.shape).copy()

    def decode(self, z):
        """p(x|z) = N(A z + c, s^2 I): z (batch, n_latent) -> (mean, logvar) (batch, n_in)."""
        mean = z @ self.A.T + self.c
        return mean, np.full_like(mean, 2 * np.log(self.s))

    def reconstruction_nll(self, x, decoded):
        """-log p(x|z) per example, (batch,)."""
        mean, logvar = decoded
        return gaussian_nll(x, mean, logvar)


class IWAE(VAE):
    """Importance-weighted autoencoder trained on L_k (see the module docstring).

    Same arguments as :class:`scratchvae.VAE` (without beta: a bound needs beta = 1), plus k,
    the number of importance samples per example used in training.
    """

    noise_arguments = ("eps",)

    def __init__(self, n_in=784, hidden=(400,), n_latent=20, k=5, likelihood="bernoulli",
                 activation="relu", dtype=np.float32, backend=DEFAULT_BACKEND, rng=0,
                 sigma=0.1, logvar_range=(-6.0, 2.0)):
        self.k = check_positive_int("k", k)
        super().__init__(n_in=n_in, hidden=hidden, n_latent=n_latent, likelihood=likelihood,
                         beta=1.0, activation=activation, dtype=dtype, backend=backend, rng=rng,
                         sigma=sigma, logvar_range=logvar_range)
        config = {key: value for key, value in self._config.items() if key != "beta"}
        self._config = {**{k_: config[k_] for k_ in ("n_in", "hidden", "n_latent")},
                        "k": self.k, **config}

    # -- the bound ---------------------------------------------------------------------------

    def log_weights(self, x, eps=None, rng=0):
        """log w_i = log p(x, z_i) - log q(z_i|x) for the model's k samples, shape (k, batch).

        eps: (k, batch, n_latent), or None to draw it from ``rng``.
        """
        x = self._check_x(x, binary_range=self.binary_input)
        eps = self._noise_k(eps, rng, self.k, x.shape[0])
        return log_importance_weights(self, x, eps)

    def bound(self, x, k=None, rng=0, eps=None):
        """Per-example L_k(x) = log (1/k) sum_i w_i with z_i ~ q(z|x), shape (batch,).

        k: number of samples (default: the model's k; large k, e.g. 5000, estimates log p(x),
        drawn in chunks of ``ROWS_PER_CHUNK`` decoded rows); rng: int seed or Generator;
        eps: (k, batch, n_latent) to fix the noise. k = 1 gives the VAE's ELBO (analytic KL).
        """
        k = self.k if k is None else check_positive_int("k", k)
        x = self._check_x(x, binary_range=self.binary_input)
        if k == 1:
            eps = None if eps is None else self._noise_k(eps, None, 1, x.shape[0])[0]
            return self.elbo(x, rng=rng, eps=eps)
        if eps is not None:
            eps = self._noise_k(eps, None, k, x.shape[0])
            return log_mean_exp(log_importance_weights(self, x, eps), axis=0)
        # no eps given: draw the k samples in chunks of about ROWS_PER_CHUNK decoded rows and
        # add up the chunks' sum_i w_i in log space (log(a + b) = logaddexp(log a, log b))
        rng = as_generator(rng)
        per_chunk = max(1, ROWS_PER_CHUNK // x.shape[0])
        log_sum_w = np.full(x.shape[0], -np.inf)
        for start in range(0, k, per_chunk):
            eps = self._noise_k(None, rng, min(per_chunk, k - start), x.shape[0])
            log_w = log_importance_weights(self, x, eps).astype(np.float64)
            log_sum_w = np.logaddexp(log_sum_w, logsumexp(log_w, axis=0))
        return log_sum_w - np.log(k)

    # -- the loss and its gradient -----------------------------------------------------------

    def loss_and_grads(self, x, eps=None, rng=None, beta=None):
        """Mean over the batch of -L_k(x) and its gradient (normalised importance weights).

            loss   = -1/B sum_n log (1/k) sum_i w_{i,n}
            dloss  = -1/B sum_n sum_i w~_{i,n} dlog w_{i,n},   w~_{i,n} = softmax_i(log w_{i,n})

        x: (batch, n_in); eps: (k, batch, n_latent) standard-normal noise (sample index first),
        or None to draw it from ``rng``. Returns (loss, grads) keyed like ``params``. beta: used
        by k = 1 only (the VAE's loss with that KL weight); L_k for k > 1 has no KL weight.
        ``last_loss_terms``: "reconstruction" and "kl" are the batch means of -log p(x|z_i) and
        log q(z_i|x) - log p(z_i) averaged over the k samples (their sum is the k = 1 loss,
        which is >= the IWAE loss).
        """
        x = self._check_x(x, binary_range=self.binary_input)
        batch, k = x.shape[0], self.k
        eps = self._noise_k(eps, rng, k, batch)
        if k == 1:
            return super().loss_and_grads(x, eps=eps[0], beta=beta)

        net = self.networks
        # forward: the encoder once, k samples per example, one decoder call for all k * B rows
        h = net["encoder"].forward(x)
        mu = net["mu"].forward(h)
        logvar = net["logvar"].forward(h)
        z, reparam_cache = reparameterize(*np.broadcast_arrays(mu, logvar, eps),
                                          check_finite=False)              # (k, B, L)
        decoder_out = net["decoder"].forward(z.reshape(k * batch, self.n_latent))
        decoded, head_cache = self._decoder_head(decoder_out)
        nll, ddecoded = self._nll_and_grad(np.tile(x, (k, 1)), decoded, scale=1.0)
        nll = nll.reshape(k, batch)
        log_w = log_weights(nll, z, eps, logvar)                    # (k, B)
        bound = log_mean_exp(log_w, axis=0)                         # (B,)
        loss = -float(np.mean(bound))
        self.last_loss_terms = {"reconstruction": float(np.mean(nll)),
                                "kl": float(np.mean(-nll - log_w))}

        # backward: d loss / d log w_i = -w~_i / B; each sample's gradient is weighted by it
        c = softmax(log_w.T).T / batch                              # (k, B), columns sum to 1/B
        ddecoder_out = self._decoder_head_backward(ddecoded, head_cache)
        ddecoder_out = ddecoder_out * c.reshape(k * batch, 1)       # through -log p(x|z_i)
        dz = net["decoder"].backward(ddecoder_out).reshape(k, batch, self.n_latent)
        dz = dz + c[..., None] * z                                  # through -log p(z_i)
        dmu, dlogvar = reparameterize_backward(dz, reparam_cache)
        # mu and logvar are shared by the k samples: sum their gradients; log q(z_i|x) adds
        # -1/2 per logvar entry (with eps fixed it depends on logvar only)
        dmu = dmu.sum(axis=0)
        dlogvar = dlogvar.sum(axis=0) - 0.5 * c.sum(axis=0)[:, None]
        dh = net["mu"].backward(dmu) + net["logvar"].backward(dlogvar)
        net["encoder"].backward(dh, need_dx=False)
        return loss, self._collect_grads()

    # -- internals ---------------------------------------------------------------------------

    def _noise_k(self, eps, rng, k, batch):
        if eps is None:
            return as_generator(rng).standard_normal((k, batch, self.n_latent)).astype(self.dtype)
        eps = check_array("eps", eps, ndim=3, shape=(k, batch, self.n_latent))
        return eps.astype(self.dtype, copy=False)

