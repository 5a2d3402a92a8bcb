"""KL warm-up: the KL weight of each step."""


def kl_warmup_beta(beta, epoch, step, steps_per_epoch, warmup_epochs):
    """Linear KL warm-up (Sonderby et al. 2016), per step:

        beta_t = beta * min(1, (epoch + step / steps_per_epoch) / warmup_epochs)

    epoch and step are 0-based, so the very first step uses beta_t = 0 and beta_t reaches the
    model's beta at the first step of epoch ``warmup_epochs``. ``warmup_epochs = 0``: no warm-up.
    """
    if warmup_epochs <= 0:
        return float(beta)
    progress = (epoch + step / steps_per_epoch) / warmup_epochs
    return float(beta) * min(1.0, progress)


def step_beta(traits, base_beta, epoch, step, steps_per_epoch, warmup_epochs):
    """The ``beta=`` to pass to this step's loss: None (the model's own) without warm-up."""
    if not warmup_epochs or not traits.has_kl_weight:
        return None
    return kl_warmup_beta(base_beta, epoch, step, steps_per_epoch, warmup_epochs)
