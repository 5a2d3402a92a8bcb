"""The denoising autoencoder (Vincent et al. 2008, 2010): reconstruct clean x from a corrupted x.

    x_tilde ~ M_D(x_tilde | x)                  corruption, drawn explicitly (the ``noise_mask``)
    x_hat   = f(g(x_tilde))                     the autoencoder applied to the corrupted input
    loss    = 1/B sum_n l(x_n, x_hat_n)         compared with the CLEAN x, never with x_tilde

The corruption M_D is a pure function of x and one explicit random draw, the ``noise_mask``
(shape (batch, n_in), like x), so a loss is a deterministic function of (params, x, noise_mask):

    noise="gaussian"     noise_mask: standard-normal noise n;   x_tilde = x + level * n
                         (additive, no clipping: level is the noise standard deviation, >= 0)
    noise="masking"      noise_mask: keep mask m in {0, 1};     x_tilde = x * m
                         (each pixel dropped to 0 with probability level, in [0, 1])
    noise="salt_pepper"  noise_mask: s in {-1, 0, +1};          x_tilde = 0 where s = -1,
                         1 where s = +1, x where s = 0 (each pixel picked with probability level,
                         in [0, 1], then set to 0 or 1 by a fair coin)

The draws are Bernoulli per pixel, so the fraction of pixels changed is level on average.
"""

import numbers

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.models.autoencoder import Autoencoder
from scratchvae.validation import as_generator, check_array, check_choice

NOISES = ("gaussian", "masking", "salt_pepper")
DEFAULT_LEVELS = {"gaussian": 0.3, "masking": 0.25, "salt_pepper": 0.1}
"""level used when none is given: noise std for "gaussian", fraction of pixels for the others."""


# ---------------------------------------------------------------------------------------------
# corruptions: pure functions of x and an explicit draw
# ---------------------------------------------------------------------------------------------


def corrupt_gaussian(x, noise, level):
    """Additive isotropic Gaussian noise: ``x_tilde = x + level * noise``, noise ~ N(0, I).

    x, noise: (batch, n_in) -> x_tilde (batch, n_in). Values may leave [0, 1] (no clipping).
    """
    return x + x.dtype.type(level) * noise


def corrupt_masking(x, keep_mask):
    """Masking noise: ``x_tilde = x * keep_mask``, keep_mask in {0, 1} (0 = pixel forced to 0)."""
    return x * keep_mask


def corrupt_salt_pepper(x, flips):
    """Salt-and-pepper noise: ``x_tilde = 0 where flips = -1, 1 where flips = +1, x where 0``."""
    one, zero = x.dtype.type(1), x.dtype.type(0)
    return np.where(flips > 0, one, np.where(flips < 0, zero, x))


def draw_gaussian(shape, rng, dtype=np.float64):
    """Standard-normal noise of the given shape, the noise_mask of ``noise="gaussian"``."""
    return as_generator(rng).standard_normal(shape).astype(dtype)


def draw_keep_mask(shape, level, rng, dtype=np.float64):
    """0/1 keep mask: each entry is 0 with probability ``level`` (the drop rate), else 1."""
    return (as_generator(rng).random(shape) >= level).astype(dtype)


def draw_salt_pepper(shape, level, rng, dtype=np.float64):
    """Entries in {-1, 0, +1}: with probability ``level`` an entry is picked and set to -1 (pepper,
    pixel -> 0) or +1 (salt, pixel -> 1) with equal probability; otherwise 0 (pixel kept)."""
    rng = as_generator(rng)
    picked = rng.random(shape) < level
    sign = np.where(rng.random(shape) < 0.5, -1, 1)
    return (picked * sign).astype(dtype)


CORRUPTIONS = {
    "gaussian": lambda x, noise_mask, level: corrupt_gaussian(x, noise_mask, level),
    "masking": lambda x, noise_mask, level: corrupt_masking(x, noise_mask),
    "salt_pepper": lambda x, noise_mask, level: corrupt_salt_pepper(x, noise_mask),
}
DRAWS = {
    "gaussian": lambda shape, level, rng, dtype: draw_gaussian(shape, rng, dtype),
    "masking": draw_keep_mask,
    "salt_pepper": draw_salt_pepper,
}
ALLOWED_VALUES = {"masking": (0, 1), "salt_pepper": (-1, 0, 1)}


def check_level(noise, level):
    """``level`` as a float: >= 0 for "gaussian" (a std), in [0, 1] for the others (a fraction)."""
    if level is None:
        return DEFAULT_LEVELS[noise]
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not np.isfinite(level):
        raise ValueError(f"level must be a finite number, got {level!r}")
    level = float(level)
    if noise == "gaussian" and level < 0:
        raise ValueError(f"level (the noise std for noise='gaussian') must be >= 0, got {level}")
    if noise != "gaussian" and not 0 <= level <= 1:
        raise ValueError(
            f"level (the fraction of pixels corrupted for noise={noise!r}) must be in [0, 1], "
            f"got {level}"
        )
    return level


class DenoisingAutoencoder(Autoencoder):
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
        self.noise = check_choice("noise", noise, NOISES)
        self.level = check_level(self.noise, level)
        self._build(rng, dtype, backend, n_in=n_in, hidden=hidden, n_code=n_code, loss=loss,
                    activation=activation, noise=self.noise, level=self.level)

    # -- the corruption M_D(x_tilde | x) ----------------------------------------------------

    def draw_noise(self, shape, rng=None):
        """One draw of the noise_mask for this model's noise type (see module docstring).

        shape: usually x.shape; rng: int seed or Generator. Returns an array of the model dtype.
        """
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        return DRAWS[self.noise](shape, self.level, as_generator(rng), self.dtype)

    def corrupt(self, x, noise_mask=None, rng=None):
        """x_tilde = M_D(x, noise_mask): x (batch, n_in) -> x_tilde (batch, n_in).

        noise_mask: the explicit draw (shape of x; see the module docstring for each noise
        type), or None to draw one from ``rng``.
        """
        x = self._check_x(x)
        return self._corrupt(x, self._noise_mask(noise_mask, rng, x.shape))

    # -- loss and gradient -------------------------------------------------------------------

    def loss(self, x, noise_mask=None, rng=None):
        """Per-example loss l(x, f(g(x_tilde))) against the clean x, shape (batch,)."""
        x = self._check_x(x, binary_range=self.loss_name == "bce")
        x_tilde = self._corrupt(x, self._noise_mask(noise_mask, rng, x.shape))
        return self._per_example(x, self._forward_raw(x_tilde))

    def loss_and_grads(self, x, noise_mask=None, rng=None):
        """Batch mean of the denoising loss and its gradient with respect to ``params``.

            x_tilde = M_D(x, noise_mask);   loss = 1/B sum_n l(x_n, f(g(x_tilde_n)))

        The target is the clean x. x: (batch, n_in) (in [0, 1] for loss="bce"); noise_mask:
        the explicit corruption draw with the shape of x, or None to draw it from ``rng``.
        Returns (loss, grads) keyed like ``params``. The batch mean is taken here only.
        """
        x = self._check_x(x, binary_range=self.loss_name == "bce")
        x_tilde = self._corrupt(x, self._noise_mask(noise_mask, rng, x.shape))
        return self._loss_and_grads(x_tilde, x)

    # -- internals ---------------------------------------------------------------------------

    def _corrupt(self, x, noise_mask):
        return CORRUPTIONS[self.noise](x, noise_mask, self.level)

    def _noise_mask(self, noise_mask, rng, shape):
        """The given noise_mask checked (shape, allowed values), or a fresh draw from rng."""
        if noise_mask is None:
            return self.draw_noise(shape, rng)
        noise_mask = check_array("noise_mask", noise_mask, ndim=2, shape=shape)
        allowed = ALLOWED_VALUES.get(self.noise)
        if allowed is not None and not np.all(np.isin(noise_mask, allowed)):
            bad = noise_mask[~np.isin(noise_mask, allowed)].reshape(-1)[0]
            raise ValueError(
                f"noise_mask for noise={self.noise!r} must hold only values in {allowed}, "
                f"got {bad!r}"
            )
        return noise_mask.astype(self.dtype, copy=False)
