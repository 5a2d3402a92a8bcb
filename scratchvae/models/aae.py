"""The adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow & Frey 2015), by hand.

A deterministic autoencoder whose codes are pushed toward a chosen prior p(z) by a
discriminator D, instead of by a KL term. Three losses, each minimised in turn on every batch:

    code    z = f(x)                     encoder (linear last layer), x (batch, n_in) -> (batch, n_code)
    recon   l(x, g(z))                   as in :class:`scratchvae.Autoencoder` (loss "bce" or "mse")
    D(z)  = sigmoid(a(z))                discriminator MLP, a: (n, n_code) -> (n, 1) logits

    1. reconstruction   L_rec = 1/B sum_n l(x_n, g(f(x_n)))                   updates f and g
    2. discriminator    L_D   = 1/M sum_m -log D(z'_m) + 1/B sum_n -log(1 - D(f(x_n)))
                        z'_m ~ p(z) ("real"), f(x_n) ("fake")                 updates D
    3. generator        L_G   = 1/B sum_n -log D(f(x_n))   (non-saturating)   updates f

With logits a, -log D = softplus(-a) and -log(1 - D) = softplus(a): both are the Bernoulli
negative log-likelihood of a target (1 for prior samples, 0 for codes), so the same stable kernel
computes them and their gradient sigmoid(a) - target.

When D cannot tell codes from prior samples, the aggregate posterior q(z) = E_x[delta(z - f(x))]
matches p(z), and decoding z ~ p(z) gives images: ``sample``.

Priors: "gaussian" N(0, I); "mixture" a mixture of ``MIXTURE_COMPONENTS`` Gaussians (std
``MIXTURE_STD``) with means on a circle of radius ``MIXTURE_RADIUS`` in the first two code
dimensions (0 in the others), as in the paper's figure 4.

Parameter keys: "encoder.<i>.W/b", "decoder.<i>.W/b", "discriminator.<i>.W/b". Each
``*_loss_and_grads`` returns grads for the parameters its step updates only (a subset of
``params``; :meth:`param_group` names them). ``train_step`` (used by ``sv.fit``) runs the three
steps with three Adam optimizers the model owns (created on first use, see ``make_optimizers``).
"""

import numpy as np

from scratchvae.functional import sigmoid
from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.layers import mlp
from scratchvae.models.autoencoder import Autoencoder
from scratchvae.optim import Adam, Optimizer
from scratchvae.validation import (
    as_generator,
    check_array,
    check_choice,
    check_positive_int,
    check_sizes,
)

PRIORS = ("gaussian", "mixture")
MIXTURE_COMPONENTS = 10
MIXTURE_RADIUS = 3.0
MIXTURE_STD = 0.4
GROUPS = {
    "autoencoder": ("encoder", "decoder"),     # updated by the reconstruction step
    "discriminator": ("discriminator",),       # updated by the discriminator step
    "encoder": ("encoder",),                   # updated by the generator step
}


def sample_prior(prior, n, n_code, rng, dtype=np.float64):
    """n draws from the prior, shape (n, n_code) (see the module docstring for the priors)."""
    rng = as_generator(rng)
    z = rng.standard_normal((n, n_code))
    if prior == "mixture":
        component = rng.integers(MIXTURE_COMPONENTS, size=n)
        angle = 2 * np.pi * component / MIXTURE_COMPONENTS
        z *= MIXTURE_STD
        z[:, 0] += MIXTURE_RADIUS * np.cos(angle)
        if n_code > 1:
            z[:, 1] += MIXTURE_RADIUS * np.sin(angle)
    return z.astype(dtype)


class AdversarialAutoencoder(Autoencoder):
    """Adversarial autoencoder (see the module docstring).

    n_in, hidden, n_code, loss, activation, dtype, backend, rng: as in
    :class:`scratchvae.Autoencoder` (loss defaults to "bce": x in [0, 1]). disc_hidden: hidden
    widths of the discriminator; prior: "gaussian" or "mixture".
    """

    #: ``sv.fit`` trains it with its own trainer (three steps and optimizers per batch)
    training = "adversarial"
    can_sample = True
    #: the networks each step updates (see :meth:`param_group`)
    param_groups = GROUPS

    def __init__(self, n_in=784, hidden=(512,), n_code=8, disc_hidden=(256,),
                 prior="gaussian", loss="bce", activation="relu", dtype=np.float32,
                 backend=DEFAULT_BACKEND, rng=0):
        self.prior = check_choice("prior", prior, PRIORS)
        self.disc_hidden = check_sizes("disc_hidden", disc_hidden)
        rng = as_generator(rng)
        self._build(rng, dtype, backend, n_in=n_in, hidden=hidden, n_code=n_code, loss=loss,
                    activation=activation, disc_hidden=list(self.disc_hidden), prior=self.prior)
        self.networks["discriminator"] = mlp((self.n_code, *self.disc_hidden, 1), activation,
                                             rng=rng, dtype=self.dtype, backend=backend)
        self.optimizers = None

    def sample_prior(self, n, rng=0):
        """n codes drawn from the prior p(z): (n, n_code)."""
        n = check_positive_int("n", n)
        return sample_prior(self.prior, n, self.n_code, rng, self.dtype)

    def sample(self, n, rng=0):
        """Decode n prior samples: (n, n_in) images x_hat (probabilities for loss="bce")."""
        return self.mean_image(self.decode(self.sample_prior(n, rng)))

    def discriminate(self, z):
        """D(z) = probability that z came from the prior: z (n, n_code) -> (n,)."""
        z = check_array("z", z, ndim=2, shape=(None, self.n_code)).astype(self.dtype, copy=False)
        logits = self.networks["discriminator"].forward(z)[:, 0]
        return sigmoid(logits)

    # -- the three losses ------------------------------------------------------------------

    def reconstruction_loss_and_grads(self, x, rng=None):
        """L_rec = 1/B sum_n l(x_n, g(f(x_n))) and its grads for the "autoencoder" group.

        x: (batch, n_in). ``rng`` is accepted (and unused) so every step takes the same call.
        """
        loss, grads = Autoencoder.loss_and_grads(self, x)
        return loss, self._group_grads(grads, "autoencoder")

    def discriminator_loss_and_grads(self, x, z_prior=None, rng=None):
        """L_D = mean_m -log D(z'_m) + mean_n -log(1 - D(f(x_n))) and its grads for "discriminator".

        x: (batch, n_in); z_prior: (m, n_code) samples of p(z) (the "real" examples), or None
        to draw batch of them from ``rng``. The encoder is not updated by this step.
        """
        x = self._check_x(x)
        z_fake = self.networks["encoder"].forward(x)
        if z_prior is None:
            z_prior = self.sample_prior(x.shape[0], as_generator(rng))
        z_prior = check_array("z_prior", z_prior, ndim=2, shape=(None, self.n_code))
        z_prior = z_prior.astype(self.dtype, copy=False)
        n_real, n_fake = z_prior.shape[0], z_fake.shape[0]
        # one pass through D for both sets: rows [z_prior; z_fake], targets [1; 0]
        logits = self.networks["discriminator"].forward(np.concatenate([z_prior, z_fake]))
        target = np.concatenate([np.ones((n_real, 1)), np.zeros((n_fake, 1))]).astype(self.dtype)
        nll, dlogits = self.kernels.bernoulli_nll_and_grad(logits, target, 1.0, check_finite=False)
        loss = float(np.mean(nll[:n_real]) + np.mean(nll[n_real:]))
        weight = np.concatenate([np.full(n_real, 1.0 / n_real), np.full(n_fake, 1.0 / n_fake)])
        self.networks["discriminator"].backward(dlogits * weight[:, None].astype(self.dtype),
                                                need_dx=False)
        return loss, self._group_grads(self._collect_grads(), "discriminator")

    def generator_loss_and_grads(self, x, rng=None):
        """L_G = mean_n -log D(f(x_n)) (the encoder fools D) and its grads for "encoder".

        x: (batch, n_in). D is held fixed: its gradients are not returned.
        """
        x = self._check_x(x)
        batch = x.shape[0]
        z = self.networks["encoder"].forward(x)
        logits = self.networks["discriminator"].forward(z)
        target = np.ones((batch, 1), dtype=self.dtype)
        nll, dlogits = self.kernels.bernoulli_nll_and_grad(logits, target, 1.0 / batch,
                                                            check_finite=False)
        dz = self.networks["discriminator"].backward(dlogits, need_dx=True)
        self.networks["encoder"].backward(dz, need_dx=False)
        return float(np.mean(nll)), self._group_grads(self._collect_grads(), "encoder")

    def loss_and_grads(self, x, rng=None):
        """The reconstruction loss with grads for every parameter (zeros for the discriminator,
        which L_rec does not depend on); used by ``sv.fit`` for the validation loss."""
        loss, grads = self.reconstruction_loss_and_grads(x)
        for key, value in self.param_group("discriminator").items():
            grads[key] = np.zeros_like(value)
        return loss, grads

    # -- training ------------------------------------------------------------------------------

    def make_optimizers(self, lr=1e-3, disc_lr=None, betas=(0.5, 0.999)):
        """Create the three Adam optimizers ``train_step`` uses (one per parameter group).

        lr: reconstruction and generator steps; disc_lr: discriminator (default: lr). beta1 =
        0.5 as is usual for adversarial training. Returns the dict, also kept in ``optimizers``.
        """
        disc_lr = lr if disc_lr is None else disc_lr
        self.optimizers = {
            name: Adam(self.param_group(name), lr=disc_lr if name == "discriminator" else lr,
                       betas=betas, backend=self.backend)
            for name in GROUPS
        }
        return self.optimizers

    def owned_optimizers(self):
        """The three optimizers of ``train_step`` (group -> Adam), {} before they are made."""
        return dict(self.optimizers or {})

    def set_owned_optimizers(self, optimizers):
        """Use ``optimizers`` (one per group of ``param_groups``, each built on
        ``param_group(group)``) in ``train_step``; {} forgets them (made again on first use)."""
        if not isinstance(optimizers, dict):
            raise ValueError(f"optimizers must be a dict group -> optimizer, got "
                             f"{type(optimizers).__name__}")
        if optimizers and set(optimizers) != set(GROUPS):
            raise ValueError(f"optimizers must have one optimizer per parameter group "
                             f"{sorted(GROUPS)}, got {sorted(optimizers)}")
        for group, optimizer in optimizers.items():
            params = self.param_group(group)
            if not isinstance(optimizer, Optimizer):
                raise ValueError(f"optimizers[{group!r}] must be a scratchvae.optim optimizer, "
                                 f"got {type(optimizer).__name__}")
            if set(optimizer.params) != set(params) or any(
                    optimizer.params[key] is not value for key, value in params.items()):
                raise ValueError(f"optimizers[{group!r}] must be built on "
                                 f"param_group({group!r}) of this model")
        self.optimizers = dict(optimizers) or None

    def train_step(self, x_batch, y_batch=None, optimizer=None, rng=None):
        """One round of the three steps on a batch; returns {"loss", "discriminator", "generator"}.

        "loss" is L_rec (what ``sv.fit`` reports). The model's own optimizers are used (made on
        first use with the learning rate of ``optimizer``, if given, else 1e-3); ``optimizer``
        itself and ``y_batch`` are ignored.
        """
        if self.optimizers is None:
            self.make_optimizers(lr=getattr(optimizer, "lr", 1e-3))
        rng = as_generator(rng)
        loss_rec, grads = self.reconstruction_loss_and_grads(x_batch)
        self.optimizers["autoencoder"].step(grads)
        loss_d, grads = self.discriminator_loss_and_grads(x_batch, rng=rng)
        self.optimizers["discriminator"].step(grads)
        loss_g, grads = self.generator_loss_and_grads(x_batch)
        self.optimizers["encoder"].step(grads)
        return {"loss": loss_rec, "discriminator": loss_d, "generator": loss_g}

    def _group_grads(self, grads, name):
        networks = GROUPS[name]
        return {key: value for key, value in grads.items() if key.split(".", 1)[0] in networks}
