"""The undercomplete autoencoder: an encoder g and a decoder f trained to reconstruct their input
(g encodes and f decodes, as in the lecture's L_AE = 1/n sum ||x - f(g(x))||^2).

    code  = g(x)                  encoder MLP, linear last layer: x (batch, n_in) -> (batch, n_code)
    x_hat = f(code)               decoder MLP mirroring the encoder: -> (batch, n_in)
    loss  = 1/B sum_n l(x_n, x_hat_n)     the batch mean, taken in loss_and_grads only

with the per-example reconstruction loss l summed over pixels:

    loss="mse":  l = ||x - x_hat||^2 = sum_i (x_i - x_hat_i)^2   (L_AE = 1/n sum ||x - f(g(x))||^2)
                 the decoder's last layer is linear (identity), so x_hat is the network output.
    loss="bce":  l = sum_i softplus(a_i) - x_i a_i  with logits a = decoder output and
                 x_hat = sigmoid(a); this is the binary cross-entropy, x must lie in [0, 1].

Why a linear output for "mse": with ``activation="identity"`` (and any ``hidden``, e.g. ``()``)
the whole model is then a linear map, and a linear autoencoder trained with squared error
spans the same subspace as the top ``n_code`` principal components (Baldi & Hornik 1989), which
notebook 01 shows. For images in [0, 1], ``loss="bce"`` keeps x_hat in [0, 1].

Parameter keys: "encoder.<i>.W/b" and "decoder.<i>.W/b", W (n_in, n_out), b (n_out,).
"""

import numpy as np

from scratchvae.deprecation import warn_renamed
from scratchvae.functional import ACTIVATIONS, sigmoid
from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.layers import mlp
from scratchvae.losses import bernoulli_nll, mse, mse_grad
from scratchvae.models.base import Model
from scratchvae.validation import (
    as_generator,
    check_array,
    check_choice,
    check_positive_int,
    check_sizes,
)

LOSSES = ("mse", "bce")


class Autoencoder(Model):
    """Undercomplete MLP autoencoder (deterministic: no noise, no sampling).

    n_in: pixels per example; hidden: hidden-layer widths of the encoder (the decoder mirrors
    them; ``()`` for none); n_code: size of the code (the bottleneck, ``n_code < n_in``);
    loss: "mse" (squared error, linear output) or "bce" (Bernoulli cross-entropy on logits,
    x in [0, 1]); activation: of the hidden layers, any name in
    ``scratchvae.functional.ACTIVATIONS`` ("identity" gives a linear autoencoder); the code
    layer and the decoder's output layer are linear. dtype float32 or float64; backend "numba" or
    "numpy"; rng: seed or Generator for the initial weights.
    """

    has_decoder = True

    def __init__(self, n_in=784, hidden=(256,), n_code=32, loss="mse", activation="relu",
                 dtype=np.float32, backend=DEFAULT_BACKEND, rng=0):
        self._build(rng, dtype, backend, n_in=n_in, hidden=hidden, n_code=n_code, loss=loss,
                    activation=activation)

    def _build(self, rng, dtype, backend, n_in, hidden, n_code, loss, activation, **extra):
        """Check the shared arguments, build both networks; ``extra`` goes into the config."""
        self._setup(dtype, backend)
        self.n_in = check_positive_int("n_in", n_in)
        self.hidden = check_sizes("hidden", hidden)
        self.n_code = check_positive_int("n_code", n_code)
        self.loss_name = check_choice("loss", loss, LOSSES)
        self.activation = check_choice("activation", activation, tuple(ACTIVATIONS))
        self._config = dict(n_in=self.n_in, hidden=list(self.hidden), n_code=self.n_code,
                            loss=self.loss_name, activation=self.activation, **extra)
        # one Generator for both networks, so the two never start from the same weights
        common = dict(rng=as_generator(rng), dtype=self.dtype, backend=backend)
        self.networks = {
            "encoder": mlp((self.n_in, *self.hidden, self.n_code), self.activation, **common),
            "decoder": mlp((self.n_code, *self.hidden[::-1], self.n_in), self.activation,
                           **common),
        }

    @property
    def binary_input(self):
        """x must lie in [0, 1] for the cross-entropy loss."""
        return self.loss_name == "bce"

    # -- forward -----------------------------------------------------------------------------

    @property
    def latent_size(self):
        """The size of the code, ``n_code``."""
        return self.n_code

    def encode(self, x):
        """code = g(x): x (batch, n_in) -> code (batch, n_code)."""
        x = self._check_x(x)
        return self.networks["encoder"].forward(x)

    def decode(self, code):
        """The decoder's output f(code): code (batch, n_code) -> (batch, n_in).

        As in every model, ``decode`` returns the parameters of the reconstruction as the
        network outputs them: logits a for loss="bce" (x_hat = sigmoid(a)), x_hat itself for
        loss="mse". :meth:`mean_image` turns it into the image x_hat.
        """
        code = check_array("code", code, ndim=2, shape=(None, self.n_code))
        return self.networks["decoder"].forward(code.astype(self.dtype, copy=False))

    def decode_logits(self, code):
        """Deprecated alias of :meth:`decode` (which now returns the logits for "bce")."""
        warn_renamed("Autoencoder.decode_logits", "Autoencoder.decode")
        return self.decode(code)

    def mean_image(self, decoded):
        """x_hat from ``decode``'s output: sigmoid(logits) for "bce", the output itself for "mse"."""
        return sigmoid(decoded) if self.loss_name == "bce" else decoded

    def reconstruct(self, x):
        """x_hat = f(g(x)), shape (batch, n_in) (probabilities in [0, 1] for "bce")."""
        return self.mean_image(self.decode(self.encode(x)))

    forward = reconstruct

    # -- loss and gradient -------------------------------------------------------------------

    def loss(self, x, rng=None):
        """Per-example reconstruction loss l(x, f(g(x))), shape (batch,) (see module docstring).

        ``rng`` is accepted (and unused) so every model shares the same call.
        """
        x = self._check_x(x, binary_range=self.binary_input)
        return self._per_example(x, self._decoder_out(x))

    def loss_and_grads(self, x, rng=None):
        """Batch mean of the reconstruction loss and its gradient with respect to ``params``.

            loss = 1/B sum_n l(x_n, f(g(x_n)))

        x: (batch, n_in) (in [0, 1] for "bce"). The autoencoder is deterministic; ``rng`` is
        accepted so that training code can call every model the same way. The batch mean is
        taken here and only here. Returns (loss, grads) with grads keyed like ``params``;
        ``last_loss_terms["reconstruction"]`` holds the loss afterwards.
        """
        x = self._check_x(x, binary_range=self.binary_input)
        return self._loss_and_grads(x, x)

    # -- internals ---------------------------------------------------------------------------

    def _decoder_out(self, x_in):
        """Decoder output (logits for "bce", x_hat for "mse") for the input x_in; layers cache."""
        code = self.networks["encoder"].forward(x_in)
        return self.networks["decoder"].forward(code)

    def _per_example(self, x_target, decoder_out):
        if self.loss_name == "bce":
            return bernoulli_nll(decoder_out, x_target)
        return mse(decoder_out, x_target)

    def _loss_and_grads(self, x_in, x_target):
        """Reconstruct ``x_in`` and compare with ``x_target`` (the clean x for a denoising AE).

        Read it top to bottom: the forward pass through the layers' ops, the loss (the
        backend's ``bernoulli_nll_and_grad`` for "bce", ``losses.mse`` / ``mse_grad`` for
        "mse"), then the backward pass in reverse order.
        """
        net = self.networks
        batch = x_target.shape[0]
        # forward: code = g(x_in), decoder output (logits for "bce", x_hat for "mse")
        code = net["encoder"].forward(x_in)
        decoder_out = net["decoder"].forward(code)
        # loss: per-example reconstruction loss, averaged over the batch (here only)
        if self.loss_name == "bce":
            per_example, ddecoder_out = self.kernels.bernoulli_nll_and_grad(
                decoder_out, x_target, 1.0 / batch, check_finite=False)
        else:
            per_example = mse(decoder_out, x_target, check_finite=False)
            ddecoder_out = mse_grad(decoder_out, x_target, check_finite=False) / batch
        loss = float(np.mean(per_example))
        self.last_loss_terms = {"reconstruction": loss}
        # backward, in reverse order
        dcode = net["decoder"].backward(ddecoder_out.astype(self.dtype, copy=False))
        net["encoder"].backward(dcode, need_dx=False)
        return loss, self._collect_grads()
