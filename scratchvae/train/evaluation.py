"""The loss of a model on a data set, without training (fit's validation loss)."""

from scratchvae.train.history import EpochTotals
from scratchvae.train.interface import loss_terms
from scratchvae.validation import as_generator, check_positive_int


def call_loss(model, traits, xb, yb, rng, beta=None):
    """``model.loss_and_grads`` on one batch: ``y=`` for labelled models, ``beta=`` (the KL
    weight of this call) when given. The model itself is never changed."""
    kwargs = {"rng": rng}
    if traits.needs_labels:
        kwargs["y"] = yb
    if beta is not None:
        kwargs["beta"] = beta
    return model.loss_and_grads(xb, **kwargs)


def validation_loss(model, x, y=None, rng=0, batch_size=1000):
    """Mean loss of ``model`` over ``x`` with beta = 1, and the means of its loss terms.

    For a VAE this is the true negative ELBO in nats per example, with z sampled from q(z|x)
    (noise drawn from ``rng``; never z = mu): -log p(x|z) + KL(q(z|x) || N(0, I)). For an
    autoencoder it is its reconstruction loss; for a denoising autoencoder the loss on inputs
    corrupted with noise drawn from ``rng``. It calls ``model.loss_and_grads`` batch by batch
    (with ``beta=1.0`` for a model with a KL weight; gradients are discarded; parameters and
    ``model.beta`` are not changed) and weights each batch by its size. What it means for each
    model is in the model's registry entry (``scratchvae.models.MODELS``).

    Returns (loss, terms) with terms = batch-size-weighted means of ``model.last_loss_terms``.
    """
    from scratchvae.train.interface import traits_of

    return _validation_loss(model, traits_of(model), x, y, as_generator(rng),
                            check_positive_int("batch_size", batch_size))


def _validation_loss(model, traits, x, y, rng, batch_size):
    beta = 1.0 if traits.has_kl_weight else None
    totals = EpochTotals()
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        yb = None if y is None else y[start:start + batch_size]
        loss, _ = call_loss(model, traits, xb, yb, rng, beta)
        totals.add(float(loss), loss_terms(model), len(xb))
    return totals.mean_loss, totals.mean_terms
