"""A convolutional VAE: the VAE of :mod:`scratchvae.models.vae` with conv networks.

    encoder   x (batch, C*H*W) -> image (C, H, W) -> [Conv2d stride 2 + act] * len(channels)
              -> flatten -> Dense heads mu, logvar (batch, n_latent)
    decoder   z -> Dense + act -> reshape (channels[-1], h, w)
              -> [ConvTranspose2d stride 2 + act] * (len(channels) - 1)
              -> ConvTranspose2d stride 2 to C channels (2C for likelihood="gaussian": mean, logvar)
              -> flatten (batch, C*H*W)  (logits, or the Gaussian head's pre-activations)

Construction goes through ``VAE._setup_vae`` (the shared options) and builds the conv
networks instead of the MLPs. Everything else (the reparameterization, the KL, the
likelihoods, the Gaussian head with its bounded log-variance, loss_and_grads, elbo, sample,
reconstruct) is inherited from ``VAE`` unchanged: only the networks differ. Each stride-2
conv halves H and W (rounding down for kernel_size 4, up for 3 or 5); the decoder's transposed
convs double them back, with ``output_padding`` chosen per layer and axis so odd sizes come back
exactly (28 -> 14 -> 7 -> 14 -> 28, 28 x 20 -> 7 x 5 -> 28 x 20, 32 -> 8 -> 32).

Parameter keys: "encoder.<i>.W/b" (conv layers; index 0 is the reshape), "mu.W/b",
"logvar.W/b", "decoder.<i>.W/b" (index 0 the dense layer, then transposed convs).
"""

import numpy as np

from scratchvae.conv import conv2d_output_size, conv_transpose2d_output_size
from scratchvae.conv_layers import Conv2d, ConvTranspose2d, Flatten, Reshape
from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.layers import Dense, Sequential
from scratchvae.models.vae import VAE, ClampedDense
from scratchvae.validation import (
    as_generator,
    check_positive_int,
    check_sizes,
)


class ConvVAE(VAE):
    """Variational autoencoder with a convolutional encoder and a transposed-conv decoder.

    image_shape: (C, H, W) of one image; x is passed flat, (batch, C*H*W), in C-H-W order like
    ``sv.data`` returns it. n_latent: size of z. channels: output channels of the stride-2 convs
    (the decoder mirrors them). likelihood: "bernoulli" (binary-ish images: MNIST, sprites),
    "gaussian" (learned per-pixel variance, logvar in ``logvar_range``) or "gaussian_fixed"
    (sigma fixed; natural images such as CIFAR-10). beta: weight of the KL term. kernel_size of
    every conv (4 by default: divisible by the stride 2, which avoids checkerboard artifacts).
    activation of the hidden layers; dtype float32/float64; backend "numba"/"numpy" for both the
    conv and the dense kernels; rng: seed or Generator for the initial weights.
    """

    def __init__(self, image_shape=(1, 28, 28), n_latent=20, channels=(32, 64),
                 likelihood="bernoulli", beta=1.0, kernel_size=4, activation="relu",
                 dtype=np.float32, backend=DEFAULT_BACKEND, rng=0, sigma=0.1,
                 logvar_range=(-6.0, 2.0)):
        self._setup_vae(dtype, backend, n_latent, likelihood, beta, activation, sigma,
                        logvar_range)
        self.image_shape = check_sizes("image_shape", image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {image_shape!r}")
        self.channels = check_sizes("channels", channels)
        if not self.channels:
            raise ValueError("channels must name at least one conv layer, got ()")
        self.n_in = int(np.prod(self.image_shape))
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self._config = dict(image_shape=list(self.image_shape), channels=list(self.channels),
                            kernel_size=self.kernel_size, **self._vae_config())
        rng = as_generator(rng)
        common = dict(rng=rng, dtype=self.dtype, backend=backend)
        k, act = self.kernel_size, self.activation
        pad = (k - 1) // 2
        sizes = self._feature_sizes(pad)  # [(H, W), (H1, W1), ..., (h, w)]

        C = self.image_shape[0]
        encoder = [Reshape(self.image_shape)]
        c_prev = C
        for c in self.channels:
            # (the image needs no gradient: Sequential.backward(need_dx=False) skips the first dx)
            encoder.append(Conv2d(c_prev, c, k, stride=2, padding=pad, activation=act, **common))
            c_prev = c
        encoder.append(Flatten())
        h, w = sizes[-1]
        n_features = self.channels[-1] * h * w
        self.feature_shape = (self.channels[-1], h, w)

        c_out = 2 * C if self.likelihood == "gaussian" else C
        # batch_innermost: the transposed conv after it reads its output without a copy
        decoder = [Dense(self.n_latent, n_features, activation=act, batch_innermost=True,
                         **common),
                   Reshape(self.feature_shape)]
        targets = list(reversed(self.channels[:-1])) + [c_out]
        c_prev = self.channels[-1]
        for i, c in enumerate(targets):
            (h_in, w_in), (h_out, w_out) = sizes[-1 - i], sizes[-2 - i]
            output_padding = (h_out - conv_transpose2d_output_size(h_in, k, 2, pad),
                              w_out - conv_transpose2d_output_size(w_in, k, 2, pad))
            last = i == len(targets) - 1
            decoder.append(ConvTranspose2d(c_prev, c, k, stride=2, padding=pad,
                                           output_padding=output_padding,
                                           activation="identity" if last else act, **common))
            c_prev = c
        decoder.append(Flatten())

        self.networks = {
            "encoder": Sequential(*encoder),
            "mu": Dense(n_features, self.n_latent, **common),
            "logvar": ClampedDense(n_features, self.n_latent, **common),
            "decoder": Sequential(*decoder),
        }

    def _feature_sizes(self, pad):
        """(H, W) after each stride-2 conv; checks the decoder can return to every size."""
        k = self.kernel_size
        sizes = [self.image_shape[1:]]
        for _ in self.channels:
            h, w = sizes[-1]
            if min(h, w) + 2 * pad < k:
                raise ValueError(
                    f"image_shape {self.image_shape} is too small for {len(self.channels)} "
                    f"stride-2 convs with kernel_size {k} (channels={self.channels}): the "
                    f"feature map shrinks to {h} x {w}"
                )
            sizes.append((conv2d_output_size(h, k, 2, pad), conv2d_output_size(w, k, 2, pad)))
        for (h, w), (h_out, w_out) in zip(sizes[1:], sizes[:-1]):
            for size, target in ((h, h_out), (w, w_out)):
                extra = target - ((size - 1) * 2 - 2 * pad + k)
                if not 0 <= extra < 2:
                    raise ValueError(
                        f"kernel_size {k} cannot map {size} back to {target} with a stride-2 "
                        f"transposed conv (image_shape {self.image_shape}); use kernel_size 3 or 4"
                    )
        return sizes

    def images(self, x):
        """Flat rows (batch, C*H*W) -> images (batch, C, H, W) (for plotting)."""
        return np.asarray(x).reshape((-1, *self.image_shape))
