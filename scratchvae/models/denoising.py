"""The denoising autoencoder (Vincent et al. 2008, 2010): reconstruct clean x from a corrupted x.

    x_tilde ~ M_D(x_tilde | x)                  corruption, drawn explicitly (the ``noise_mask``)
    x_hat   = f(g(x_tilde))                     the autoencoder applied to the corrupted input
    loss    = 1/B sum_n l(x_n, x_hat_n)         compared with the CLEAN x, never with x_tilde

The corruption M_D is a pure function of x and one explicit random draw, the ``noise_mask``
(shape (batch, n_in), like x), so a loss is a deterministic function of (params, x, noise_mask).
The corruptions themselves (gaussian, masking, salt_pepper) are pure ops in
:mod:`scratchvae.corruption`; :class:`Corrupts` gives a model its corruption (the denoising VAE
uses it too).
"""

import numpy as np

from scratchvae.corruption import (  # noqa: F401  (re-exported: the names used to live here)
    ALLOWED_VALUES,
    CORRUPTIONS,
    DEFAULT_LEVELS,
    NOISE_SAMPLERS,
    NOISES,
    check_level,
    check_noise_mask,
    corrupt_gaussian,
    corrupt_masking,
    corrupt_salt_pepper,
)
from scratchvae.deprecation import renamed_attributes, warn_renamed
from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.models.autoencoder import Autoencoder
from scratchvae.validation import as_generator, check_choice

__getattr__ = renamed_attributes(__name__, {
    "DRAWS": "scratchvae.corruption:NOISE_SAMPLERS",
    "draw_gaussian": "scratchvae.corruption:sample_gaussian_noise",
    "draw_keep_mask": "scratchvae.corruption:sample_keep_mask",
    "draw_salt_pepper": "scratchvae.corruption:sample_salt_pepper",
})


class Corrupts:
    """What a denoising model adds to its base model: a corruption M_D(x_tilde | x).

    Sets ``noise`` and ``level`` (:meth:`_set_corruption`); gives ``sample_noise_mask``,
    ``corrupt`` and ``_corrupted`` (the noise_mask checked or drawn, then applied). Used by
    :class:`DenoisingAutoencoder` and :class:`scratchvae.DenoisingVAE`.
    """

    def _set_corruption(self, noise, level):
        self.noise = check_choice("noise", noise, NOISES)
        self.level = check_level(self.noise, level)

    def sample_noise_mask(self, shape, rng=None):
        """One draw of the noise_mask for this model's noise type (see :mod:`scratchvae.corruption`).

        shape: usually x.shape; rng: int seed or Generator. Returns an array of the model dtype.
        """
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        return NOISE_SAMPLERS[self.noise](shape, self.level, as_generator(rng), self.dtype)

    def draw_noise(self, shape, rng=None):
        """Deprecated alias of :meth:`sample_noise_mask`."""
        warn_renamed(f"{type(self).__name__}.draw_noise", "sample_noise_mask")
        return self.sample_noise_mask(shape, rng)

    def corrupt(self, x, noise_mask=None, rng=None):
        """x_tilde = M_D(x, noise_mask): x (batch, n_in) -> x_tilde (batch, n_in).

        noise_mask: the explicit draw (shape of x; see :mod:`scratchvae.corruption` for each
        noise type), or None to draw one from ``rng``.
        """
        return self._corrupted(self._check_x(x), noise_mask, rng)

    def _corrupted(self, x, noise_mask, rng):
        """x_tilde for a checked x: the given noise_mask (checked) or a fresh draw from rng."""
        if noise_mask is None:
            noise_mask = self.sample_noise_mask(x.shape, rng)
        else:
            noise_mask = check_noise_mask(self.noise, noise_mask, x.shape, self.dtype)
        return CORRUPTIONS[self.noise](x, noise_mask, self.level)


class DenoisingAutoencoder(Corrupts, Autoencoder):
    """Autoencoder trained to undo a corruption of its input (see the module docstring).

    Same arguments as :class:`Autoencoder` plus noise ("gaussian", "masking" or "salt_pepper")
    and level (gaussian: noise std, >= 0; masking: drop probability; salt_pepper: probability a
    pixel is set to 0 or 1; None picks ``DEFAULT_LEVELS[noise]``). Corruption is used in
    training only: ``encode``/``reconstruct`` take the input as given (pass ``corrupt(x)`` to
    denoise a corrupted image).
    """

    noise_arguments = ("noise_mask",)

    def __init__(self, n_in=784, hidden=(256,), n_code=32, noise="gaussian", level=None,
                 loss="mse", activation="relu", dtype=np.float32, backend=DEFAULT_BACKEND,
                 rng=0):
        self._set_corruption(noise, level)
        self._build(rng, dtype, backend, n_in=n_in, hidden=hidden, n_code=n_code, loss=loss,
                    activation=activation, noise=self.noise, level=self.level)

    # -- loss and gradient -------------------------------------------------------------------

    def loss(self, x, noise_mask=None, rng=None):
        """Per-example loss l(x, f(g(x_tilde))) against the clean x, shape (batch,)."""
        x = self._check_x(x, binary_range=self.binary_input)
        x_tilde = self._corrupted(x, noise_mask, rng)
        return self._per_example(x, self._decoder_out(x_tilde))

    def loss_and_grads(self, x, noise_mask=None, rng=None):
        """Batch mean of the denoising loss and its gradient with respect to ``params``.

            x_tilde = M_D(x, noise_mask);   loss = 1/B sum_n l(x_n, f(g(x_tilde_n)))

        The target is the clean x. x: (batch, n_in) (in [0, 1] for loss="bce"); noise_mask:
        the explicit corruption draw with the shape of x, or None to draw it from ``rng``.
        Returns (loss, grads) keyed like ``params``. The batch mean is taken here only.
        """
        x = self._check_x(x, binary_range=self.binary_input)
        x_tilde = self._corrupted(x, noise_mask, rng)
        return self._loss_and_grads(x_tilde, x)
