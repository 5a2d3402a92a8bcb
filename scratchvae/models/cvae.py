"""The conditional VAE (Sohn, Lee & Yan 2015): a VAE whose encoder and decoder both see a label.

    label     c = one_hot(y)                           y (batch,) ints in [0, n_classes)
    encoder   q(z | x, y) = N(mu(x, c), diag(exp(logvar(x, c))))      input [x, c]
    sample    z = mu + exp(logvar / 2) * eps,   eps ~ N(0, I)
    decoder   p(x | z, y)                                              input [z, c]
    prior     p(z) = N(0, I)   (independent of y)
    loss      mean over the batch of  -ELBO_beta(x | y) = -log p(x | z, y) + beta * KL(q(z|x,y) || N(0, I))

Because the decoder is told the label, z is free to hold everything else ("style"): encode a
digit with its own label and decode the same z with another label to redraw it as that class.

Shapes: x (batch, n_in); y (batch,); mu, logvar, eps, z (batch, n_latent). Parameter keys as in
:class:`scratchvae.VAE` ("encoder.<i>.W/b", "mu.W/b", "logvar.W/b", "decoder.<i>.W/b"); the first
encoder layer has n_in + n_classes inputs and the first decoder layer n_latent + n_classes.
"""

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.losses import kl_standard_normal
from scratchvae.mathutils import labels_for, one_hot
from scratchvae.models.vae import VAE
from scratchvae.validation import as_generator, check_array, check_positive_int, check_sizes


class CVAE(VAE):
    """Conditional VAE: q(z|x, y), p(x|z, y), p(z) = N(0, I). See the module docstring.

    Same arguments as :class:`scratchvae.VAE` plus n_classes (the labels y are ints in
    [0, n_classes), one-hot encoded inside). ``needs_labels = True``: ``sv.fit`` passes
    ``y=`` batches to ``loss_and_grads``.
    """

    needs_labels = True

    def __init__(self, n_in=784, n_classes=10, hidden=(400,), n_latent=20,
                 likelihood="bernoulli", beta=1.0, activation="relu", dtype=np.float32,
                 backend=DEFAULT_BACKEND, rng=0, sigma=0.1, logvar_range=(-6.0, 2.0)):
        self.n_classes = check_positive_int("n_classes", n_classes)
        self._setup_vae(dtype, backend, n_latent, likelihood, beta, activation, sigma,
                        logvar_range)
        self.n_in = check_positive_int("n_in", n_in)
        self.hidden = check_sizes("hidden", hidden)
        self._config = dict(n_in=self.n_in, n_classes=self.n_classes, hidden=list(self.hidden),
                            **self._vae_config())
        # the encoder reads [x, one_hot(y)], the decoder [z, one_hot(y)]
        self.networks = self._mlp_networks(as_generator(rng), n_condition=self.n_classes)

    # -- the four steps, each told the label -----------------------------------------------

    def encode(self, x, y):
        """q(z|x, y): x (batch, n_in), y (batch,) -> (mu, logvar), each (batch, n_latent)."""
        x = self._check_x(x)
        return self._encode_xy(x, self._one_hot(y, x.shape[0]))

    def decode(self, z, y):
        """p(x|z, y)'s parameters: bernoulli: logits (batch, n_in); gaussian: (mean, logvar).

        z: (batch, n_latent); y: (batch,) labels or one int for every row.
        """
        z = check_array("z", z, ndim=2, shape=(None, self.n_latent)).astype(self.dtype,
                                                                              copy=False)
        c = self._one_hot(y, z.shape[0])
        decoder_out = self.networks["decoder"].forward(np.concatenate([z, c], axis=1))
        decoded, _ = self._decoder_head(decoder_out)
        return decoded

    def forward(self, x, y, eps=None, rng=None):
        """Encode, sample, decode: returns (decoded, mu, logvar)."""
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar, self._noise(eps, rng, mu.shape))
        return self.decode(z, y), mu, logvar

    # -- the loss and its gradient -----------------------------------------------------------

    def loss_and_grads(self, x, y, eps=None, rng=None, beta=None):
        """Mean over the batch of the beta-weighted negative conditional ELBO, and its gradient.

            loss = 1/B sum_n [ -log p(x_n | z_n, y_n) + beta * KL(q(z | x_n, y_n) || N(0, I)) ]
            z_n  = mu(x_n, y_n) + exp(logvar(x_n, y_n) / 2) * eps_n

        x: (batch, n_in); y: (batch,) int labels; eps: (batch, n_latent) or None to draw it
        from ``rng``; beta: the KL weight (None: ``self.beta``). Returns (loss, grads) keyed
        like ``params``; the batch mean is taken here.
        """
        ops, net = self.kernels, self.networks
        beta = self._kl_weight(beta)
        x = self._check_x(x, binary_range=self.binary_input)
        batch = x.shape[0]
        c = self._one_hot(y, batch)
        # forward: encoder on [x, c], its two heads, z with its KL, decoder on [z, c]
        h = net["encoder"].forward(np.concatenate([x, c], axis=1))
        mu = net["mu"].forward(h)
        logvar = net["logvar"].forward(h)
        eps = self._noise(eps, rng, mu.shape)
        z, std, kl = ops.reparam_kl_forward(mu, logvar, eps, check_finite=False)
        decoder_out = net["decoder"].forward(np.concatenate([z, c], axis=1))
        decoded, head_cache = self._decoder_head(decoder_out)
        # loss: per-example -log p(x|z, y) + beta * KL, averaged over the batch (here only)
        nll, ddecoded = self._nll_and_grad(x, decoded, scale=1.0 / batch)
        loss = float(np.mean(nll + beta * kl))
        self.last_loss_terms = {"reconstruction": float(np.mean(nll)), "kl": float(np.mean(kl))}

        # backward, in reverse order: the decoder's input is [z, c]; only z leads to parameters
        ddecoder_out = self._decoder_head_backward(ddecoded, head_cache)
        dz = net["decoder"].backward(ddecoder_out)[:, : self.n_latent]
        dmu, dlogvar = ops.reparam_kl_backward(dz, mu, logvar, eps, std, beta / batch)
        dh = net["mu"].backward(dmu) + net["logvar"].backward(dlogvar)
        net["encoder"].backward(dh, need_dx=False)
        return loss, self._collect_grads()

    def elbo(self, x, y, rng=0, eps=None):
        """Per-example conditional ELBO (beta = 1) with z sampled from q(z|x, y). Shape (batch,).

            ELBO(x | y) = log p(x | z, y) - KL(q(z|x, y) || N(0, I))
        """
        x = self._check_x(x, binary_range=self.binary_input)
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar, self._noise(eps, rng, mu.shape))
        return -(self.reconstruction_nll(x, self.decode(z, y)) + kl_standard_normal(mu, logvar))

    def sample(self, n, y=None, rng=0):
        """Decoder means for z ~ N(0, I) and the label(s) y: (n, n_in) images in [0, 1].

        y: one int (every sample of that class), an int array of n labels, or None for the
        classes in turn (0, 1, ..., n_classes - 1, 0, 1, ...).
        """
        n = check_positive_int("n", n)
        y = np.arange(n) % self.n_classes if y is None else y
        y = labels_for("y", y, n, self.n_classes)
        z = as_generator(rng).standard_normal((n, self.n_latent)).astype(self.dtype)
        return self.mean_image(self.decode(z, y))

    def reconstruct(self, x, y):
        """Decoder mean at z = mu(x, y) (pictures only; the ELBO samples z)."""
        mu, _ = self.encode(x, y)
        return self.mean_image(self.decode(mu, y))

    def transfer(self, x, y_from, y_to):
        """Style transfer: z = mu(x, y_from), decoded with the label(s) y_to. (batch, n_in)."""
        mu, _ = self.encode(x, y_from)
        return self.mean_image(self.decode(mu, y_to))

    # -- internals ---------------------------------------------------------------------------

    def _one_hot(self, y, batch):
        """y (one int, or (batch,) labels in [0, n_classes)) -> one-hot rows (batch, n_classes)."""
        return one_hot(labels_for("y", y, batch, self.n_classes), self.n_classes,
                       dtype=self.dtype)

    def _encode_xy(self, x, c):
        h = self.networks["encoder"].forward(np.concatenate([x, c], axis=1))
        return self.networks["mu"].forward(h), self.networks["logvar"].forward(h)
