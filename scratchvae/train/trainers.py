"""How one batch trains a model: the trainers ``fit`` steps, one per kind of training.

    GradientTrainer      loss, grads = model.loss_and_grads(x_batch, ...)
                         (the guard looks at the loss) then optimizer.step(grads)
    AdversarialTrainer   the adversarial autoencoder's three steps with its three optimizers
    TrainStepTrainer     an outside object's own ``train_step(x, y, optimizer, rng)``

Each has ``step(xb, yb, rng, beta, guard) -> (loss, terms)``, ``optimizer`` (what a checkpoint
saves as the optimizer, or None), ``state_arrays()`` (the optimizer buffers the guard checks
before saving), ``restore(saved, path)`` (optimizer state from a loaded checkpoint) and
``close()``. :func:`make_trainer` picks one from the model's declared ``training``.
"""

from scratchvae.optim import Optimizer
from scratchvae.train.evaluation import call_loss
from scratchvae.train.interface import loss_terms


def make_trainer(model, traits, optimizer, lr, threads):
    """The trainer of ``model`` (``traits`` from :func:`scratchvae.train.interface.traits_of`);
    ``threads``: data-parallel threads of a gradient-trained model (1: the model itself)."""
    if traits.training == "gradient":
        if optimizer is None:
            from scratchvae.optim import Adam

            optimizer = Adam(model.params, lr=lr, backend=traits.backend)
        from scratchvae.parallel import for_training

        return GradientTrainer(model, traits, optimizer, for_training(model, threads))
    if traits.training == "adversarial":
        return AdversarialTrainer(model, optimizer, lr)
    return TrainStepTrainer(model, optimizer)


class GradientTrainer:
    """``loss, grads = stepper.loss_and_grads(...)``; the guard sees the loss; then
    ``optimizer.step(grads)``. ``stepper`` is the model or its data-parallel copies."""

    def __init__(self, model, traits, optimizer, stepper):
        self.model, self.traits, self.optimizer, self.stepper = model, traits, optimizer, stepper

    def step(self, xb, yb, rng, beta, guard):
        loss, grads = call_loss(self.stepper, self.traits, xb, yb, rng, beta)
        loss = float(loss)
        guard.check_values({"loss": loss})
        self.optimizer.step(grads)
        return loss, loss_terms(self.model)

    def state_arrays(self):
        """The buffers of a :mod:`scratchvae.optim` optimizer ({} for another object, whose
        state fit cannot see)."""
        if not isinstance(self.optimizer, Optimizer):
            return {}
        return {"optimizer state": self.optimizer.state_dict()}

    def restore(self, saved, path):
        """Load the checkpoint's optimizer state into this run's optimizer."""
        if saved.optimizer is None:
            raise ValueError(f"checkpoint {path} holds no optimizer state, so it cannot be "
                             "resumed exactly; load it with sv.load and train with "
                             "initial_epoch instead")
        if type(saved.optimizer) is not type(self.optimizer):
            raise ValueError(f"checkpoint {path} holds {type(saved.optimizer).__name__} state, "
                             f"but optimizer is {type(self.optimizer).__name__}")
        self.optimizer.load_state_dict(saved.optimizer.state_dict())

    def close(self):
        if self.stepper is not self.model:
            self.stepper.close()


class AdversarialTrainer:
    """The adversarial autoencoder's training: on every batch its ``train_step`` (reconstruction,
    discriminator, generator steps) with the three Adam optimizers it owns
    (``model.owned_optimizers()``, made here with ``optimizer.lr`` if an optimizer is given,
    else ``lr``). They stay with the model between ``fit`` calls and are saved with it by
    ``sv.save`` (the model's interface: ``owned_optimizers``, ``set_owned_optimizers``); none
    is saved apart."""

    optimizer = None

    def __init__(self, model, optimizer, lr):
        self.model = model
        if not model.owned_optimizers():
            model.make_optimizers(lr=lr if optimizer is None else optimizer.lr)

    def step(self, xb, yb, rng, beta, guard):
        values = self.model.train_step(xb, yb, None, rng)
        guard.check_values(values, applied=True)
        return values["loss"], {k: v for k, v in values.items() if k != "loss"}

    def state_arrays(self):
        return {f"model.optimizers[{group!r}] state": opt.state_dict()
                for group, opt in self.model.owned_optimizers().items()}

    def restore(self, saved, path):
        """Bind the checkpoint's three optimizers to this model's parameter groups."""
        from scratchvae.optim import rebind

        owned = saved.model.owned_optimizers()
        if not owned:
            raise ValueError(f"checkpoint {path} holds no state of the adversarial "
                             "autoencoder's optimizers, so it cannot be resumed exactly")
        self.model.set_owned_optimizers({group: rebind(opt, self.model.param_group(group))
                                         for group, opt in owned.items()})

    def close(self):
        pass


class TrainStepTrainer:
    """An outside object's ``train_step(x_batch, y_batch, optimizer, rng) -> dict of floats``
    (with "loss"): it updates its parameters itself, so the guard sees its values after."""

    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer

    def step(self, xb, yb, rng, beta, guard):
        values = self.model.train_step(xb, yb, self.optimizer, rng)
        if not isinstance(values, dict) or "loss" not in values:
            raise ValueError("train_step must return a dict of floats with a 'loss' entry, got "
                             f"{values!r}")
        values = {key: float(value) for key, value in values.items()}
        guard.check_values(values, applied=True)
        return values["loss"], {k: v for k, v in values.items() if k != "loss"}

    state_arrays = GradientTrainer.state_arrays
    restore = GradientTrainer.restore

    def close(self):
        pass
