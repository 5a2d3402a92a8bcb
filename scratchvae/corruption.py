"""Corruptions of the input, M_D(x_tilde | x), as pure functions of x and one explicit draw.

Used by the denoising autoencoder and the denoising VAE. A corruption is split in two: a sampler
draws the ``noise_mask`` (shape of x) from a Generator, and a pure function applies it, so a
loss is a deterministic function of (params, x, noise_mask):

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

from scratchvae.validation import as_generator, check_array

NOISES = ("gaussian", "masking", "salt_pepper")
DEFAULT_LEVELS = {"gaussian": 0.3, "masking": 0.25, "salt_pepper": 0.1}
"""level used when none is given: noise std for "gaussian", fraction of pixels for the others."""


# ---------------------------------------------------------------------------------------------
# applying a draw: x, noise_mask -> x_tilde
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


# ---------------------------------------------------------------------------------------------
# sampling a draw: the noise_mask of each noise type
# ---------------------------------------------------------------------------------------------


def sample_gaussian_noise(shape, rng, dtype=np.float64):
    """Standard-normal noise of the given shape, the noise_mask of ``noise="gaussian"``."""
    return as_generator(rng).standard_normal(shape).astype(dtype)


def sample_keep_mask(shape, level, rng, dtype=np.float64):
    """0/1 keep mask: each entry is 0 with probability ``level`` (the drop rate), else 1."""
    return (as_generator(rng).random(shape) >= level).astype(dtype)


def sample_salt_pepper(shape, level, rng, dtype=np.float64):
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
"""noise -> corrupt(x, noise_mask, level)."""

NOISE_SAMPLERS = {
    "gaussian": lambda shape, level, rng, dtype: sample_gaussian_noise(shape, rng, dtype),
    "masking": sample_keep_mask,
    "salt_pepper": sample_salt_pepper,
}
"""noise -> sample(shape, level, rng, dtype): one noise_mask."""

ALLOWED_VALUES = {"masking": (0, 1), "salt_pepper": (-1, 0, 1)}
"""The values a noise_mask may hold (gaussian: any finite value)."""


# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------


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


def check_noise_mask(noise, noise_mask, shape, dtype):
    """``noise_mask`` checked for shape and allowed values, as ``dtype``."""
    noise_mask = check_array("noise_mask", noise_mask, ndim=2, shape=shape)
    allowed = ALLOWED_VALUES.get(noise)
    if allowed is not None and not np.all(np.isin(noise_mask, allowed)):
        bad = noise_mask[~np.isin(noise_mask, allowed)].reshape(-1)[0]
        raise ValueError(
            f"noise_mask for noise={noise!r} must hold only values in {allowed}, got {bad!r}"
        )
    return noise_mask.astype(dtype, copy=False)
