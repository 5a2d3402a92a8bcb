"""The denoising VAE (Im, Ahn, Memisevic & Bengio 2017): a VAE whose encoder sees a corrupted x.

    x_tilde ~ p(x_tilde | x)         the denoising autoencoder's corruption, drawn explicitly
                                     (``noise_mask``; gaussian, masking or salt_pepper, the
                                     ops of :mod:`scratchvae.corruption`)
    encoder q(z | x_tilde) = N(mu(x_tilde), diag(exp(logvar(x_tilde))))
    sample  z = mu + exp(logvar / 2) * eps
    decoder p(x | z)                 reconstructs the CLEAN x

The training objective is the denoising variational lower bound of Im et al. (their L_cvae):

    L_dvae(x) = E_{p(x_tilde|x)} E_{q(z|x_tilde)} [ log p(x, z) - log q(z | x_tilde) ]
              = E_{p(x_tilde|x)} [ E_{q(z|x_tilde)} log p(x | z) - KL(q(z|x_tilde) || N(0, I)) ]

It is a lower bound on log p(x): for each x_tilde the inner term is an ELBO of x with the
proposal q(z|x_tilde), and an average of lower bounds is a lower bound. (Im et al. show it is
also <= the ELBO of the mixture proposal q~(z|x) = E_{p(x_tilde|x)} q(z|x_tilde).) One sample
of x_tilde and one of z per example estimate it; the loss is its batch mean with beta on the KL.

Shapes: x, noise_mask (batch, n_in); mu, logvar, eps, z (batch, n_latent). Parameter keys as in
:class:`scratchvae.VAE`. ``encode``, ``elbo`` and ``reconstruct`` take the input as given (pass
``corrupt(x)`` to denoise a corrupted image); ``elbo`` is then the plain (clean-input) ELBO.
"""

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.losses import kl_standard_normal
from scratchvae.models.denoising import Corrupts
from scratchvae.models.vae import VAE
from scratchvae.validation import as_generator


class DenoisingVAE(Corrupts, VAE):
    """VAE trained on the denoising variational bound (see the module docstring).

    Same arguments as :class:`scratchvae.VAE` plus noise ("gaussian", "masking" or
    "salt_pepper") and level (gaussian: noise std, >= 0; masking: drop probability;
    salt_pepper: probability a pixel is set to 0 or 1; None: the DAE's default level).
    """

    noise_arguments = ("noise_mask", "eps")

    def __init__(self, n_in=784, hidden=(400,), n_latent=20, noise="gaussian", level=None,
                 likelihood="bernoulli", beta=1.0, activation="relu", dtype=np.float32,
                 backend=DEFAULT_BACKEND, rng=0, sigma=0.1, logvar_range=(-6.0, 2.0)):
        self._set_corruption(noise, level)
        super().__init__(n_in=n_in, hidden=hidden, n_latent=n_latent, likelihood=likelihood,
                         beta=beta, activation=activation, dtype=dtype, backend=backend, rng=rng,
                         sigma=sigma, logvar_range=logvar_range)
        self._config.update(noise=self.noise, level=self.level)

    # -- the loss and its gradient -----------------------------------------------------------

    def loss_and_grads(self, x, noise_mask=None, eps=None, rng=None, beta=None):
        """Batch mean of the negative denoising bound (beta-weighted) and its gradient.

            x_tilde_n = corrupt(x_n, noise_mask_n);   z_n = mu(x_tilde_n) + exp(logvar(x_tilde_n)/2) * eps_n
            loss      = 1/B sum_n [ -log p(x_n | z_n) + beta * KL(q(z | x_tilde_n) || N(0, I)) ]

        The target is the clean x. x: (batch, n_in); noise_mask: (batch, n_in), the corruption
        draw (see :mod:`scratchvae.corruption`); eps: (batch, n_latent). Either may be
        None: it is then drawn from ``rng`` (the noise_mask first, then eps). beta: the KL
        weight (None: ``self.beta``). Returns (loss, grads) keyed like ``params``; the batch
        mean is taken here.
        """
        x = self._check_x(x, binary_range=self.binary_input)
        rng = as_generator(rng) if noise_mask is None or eps is None else None
        x_tilde = self._corrupted(x, noise_mask, rng)
        # the VAE's loss with the encoder fed x_tilde and the CLEAN x as the decoder's target
        return self._loss_and_grads(x_tilde, x, eps, rng, beta)

    def denoising_bound(self, x, noise_mask=None, eps=None, rng=0):
        """Per-example one-sample estimate of L_dvae(x) (beta = 1), shape (batch,).

            log p(x | z) - KL(q(z | x_tilde) || N(0, I)),  x_tilde = corrupt(x),  z ~ q(z|x_tilde)
        """
        x = self._check_x(x, binary_range=self.binary_input)
        rng = as_generator(rng)
        x_tilde = self._corrupted(x, noise_mask, rng)
        mu, logvar = self._encode(x_tilde)
        z = self.reparameterize(mu, logvar, self._noise(eps, rng, mu.shape))
        return -(self.reconstruction_nll(x, self.decode(z)) + kl_standard_normal(mu, logvar))
