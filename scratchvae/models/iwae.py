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
from scratchvae.mathutils import log_mean_exp, log_standard_normal, softmax
from scratchvae.models.vae import VAE
from scratchvae.reparam import ReparamCache, reparameterize_backward, std_from_logvar
from scratchvae.validation import as_generator, check_array, check_positive_int

MAX_ROWS = 8192
"""``bound`` evaluates at most this many (sample, example) rows per decoder call."""


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


def k_sample_bound(model, x, k, rng=0, eps=None, max_rows=MAX_ROWS):
    """Per-example L_k(x) = log (1/k) sum_i w_i for any VAE-like model, shape (batch,).

    The k samples are drawn from ``rng`` in chunks of at most ``max_rows // batch`` samples
    (so k = 5000 fits in memory) and combined with a stable log-sum-exp; or pass
    ``eps`` (k, batch, n_latent) explicitly. L_k with large k estimates log p(x).
    """
    x = model._check_x(x, binary_range=model.likelihood == "bernoulli")
    batch, n_latent = x.shape[0], model.n_latent
    if eps is not None:
        eps = _check_eps(eps, eps.shape[0] if np.ndim(eps) == 3 else None, batch, n_latent,
                         model.dtype)
        return log_mean_exp(log_importance_weights(model, x, eps), axis=0)
    k = check_positive_int("k", k)
    rng = as_generator(rng)
    chunk = max(1, max_rows // batch)
    running = None  # log sum_i w_i over the samples seen so far, (batch,)
    for start in range(0, k, chunk):
        n = min(chunk, k - start)
        eps_chunk = rng.standard_normal((n, batch, n_latent)).astype(model.dtype)
        log_w = log_importance_weights(model, x, eps_chunk)
        part = log_mean_exp(log_w, axis=0) + np.log(n)  # log sum over this chunk
        running = part if running is None else np.logaddexp(running, part)
    return running - np.log(k)


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
        x = self._check_x(x, binary_range=self.likelihood == "bernoulli")
        eps = self._noise_k(eps, rng, self.k, x.shape[0])
        return log_importance_weights(self, x, eps)

    def bound(self, x, k=None, rng=0, eps=None):
        """Per-example L_k(x) = log (1/k) sum_i w_i with z_i ~ q(z|x), shape (batch,).

        k: number of samples (default: the model's k); rng: int seed or Generator; eps:
        (k, batch, n_latent) to fix the noise. k = 1 gives the VAE's ELBO (analytic KL).
        """
        k = self.k if k is None else check_positive_int("k", k)
        if k == 1:
            if eps is not None:
                x = self._check_x(x)
                eps = self._noise_k(eps, None, 1, x.shape[0])[0]
            return self.elbo(x, rng=rng, eps=eps)
        return k_sample_bound(self, x, k, rng=rng, eps=eps)

    # -- the loss and its gradient -----------------------------------------------------------

    def loss_and_grads(self, x, eps=None, rng=None):
        """Mean over the batch of -L_k(x) and its gradient (normalised importance weights).

            loss   = -1/B sum_n log (1/k) sum_i w_{i,n}
            dloss  = -1/B sum_n sum_i w~_{i,n} dlog w_{i,n},   w~_{i,n} = softmax_i(log w_{i,n})

        x: (batch, n_in); eps: (k, batch, n_latent) standard-normal noise (sample index first),
        or None to draw it from ``rng``. Returns (loss, grads) keyed like ``params``.
        ``last_loss_terms``: "reconstruction" and "kl" are the batch means of -log p(x|z_i) and
        log q(z_i|x) - log p(z_i) averaged over the k samples (their sum is the k = 1 loss,
        which is >= the IWAE loss).
        """
        x = self._check_x(x, binary_range=self.likelihood == "bernoulli")
        batch, k = x.shape[0], self.k
        eps = self._noise_k(eps, rng, k, batch)
        if k == 1:
            return super().loss_and_grads(x, eps=eps[0])

        # forward: the batch tiled k times, one decoder call for all k * B rows
        mu, logvar = self._encode(x)
        std = std_from_logvar(logvar)
        z = mu + std * eps                                          # (k, B, L)
        raw = self.networks["decoder"].forward(z.reshape(k * batch, self.n_latent))
        nll, draw = self._reconstruction_and_grad(np.tile(x, (k, 1)), raw, scale=1.0)
        nll = nll.reshape(k, batch)
        log_w = log_weights(nll, z, eps, logvar)                    # (k, B)
        bound = log_mean_exp(log_w, axis=0)                         # (B,)
        loss = -float(np.mean(bound))
        self.last_loss_terms = {"reconstruction": float(np.mean(nll)),
                                "kl": float(np.mean(-nll - log_w))}

        # backward: d loss / d log w_i = -w~_i / B; each sample's gradient is weighted by it
        c = softmax(log_w.T).T / batch                              # (k, B), columns sum to 1/B
        draw = draw * c.reshape(k * batch, 1)                       # through -log p(x|z_i)
        dz = self.networks["decoder"].backward(draw).reshape(k, batch, self.n_latent)
        dz = dz + c[..., None] * z                                  # through -log p(z_i)
        dmu, dlogvar = reparameterize_backward(dz, ReparamCache(eps, std))
        # mu and logvar are shared by the k samples: sum their gradients; log q(z_i|x) adds
        # -1/2 per logvar entry (with eps fixed it depends on logvar only)
        dmu = dmu.sum(axis=0)
        dlogvar = dlogvar.sum(axis=0) - 0.5 * c.sum(axis=0)[:, None]
        dh = self.networks["mu"].backward(dmu) + self.networks["logvar"].backward(dlogvar)
        self.networks["encoder"].backward(dh, need_dx=False)
        return loss, self._collect_grads()

    # -- internals ---------------------------------------------------------------------------

    def _noise_k(self, eps, rng, k, batch):
        if eps is None:
            return as_generator(rng).standard_normal((k, batch, self.n_latent)).astype(self.dtype)
        return _check_eps(eps, k, batch, self.n_latent, self.dtype)


def _check_eps(eps, k, batch, n_latent, dtype):
    eps = check_array("eps", eps, ndim=3, shape=(k, batch, n_latent))
    return eps.astype(dtype, copy=False)
