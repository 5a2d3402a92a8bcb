"""Training: ``fit(model, x_train, ...)``, a short epoch loop, and the parts it calls.

One epoch, step by step (:mod:`scratchvae.train.loop`):

    1. shuffle:   order = rng_epoch.permutation(n)          (rng_epoch is described below)
    2. step:      the model's trainer (:mod:`scratchvae.train.trainers`) computes the loss
                  and, when it is finite, updates the parameters: for most models
                  loss, grads = model.loss_and_grads(x[order[i:i+B]], rng=rng_epoch), then
                  optimizer.step(grads); the adversarial autoencoder takes its three steps
    3. guard:     a NaN/inf loss stops training with NonFiniteError before the step is applied
                  (:mod:`scratchvae.train.guard`)
    4. after the epoch: history (:mod:`scratchvae.train.history`), every parameter checked,
       validation loss, every optimizer buffer checked, all before a checkpoint is written: a
       file holding NaN or inf is never written, so the checkpoint on disk is always the last good
       one (:mod:`scratchvae.train.checkpointing`); the epoch's line; callbacks.

Every argument is checked once, before the first step (:mod:`scratchvae.train.arguments`):
the data by the model's own rules (so the steps check shapes only), the checkpoint path, the
callbacks, the metadata. The guard looks at the loss every step (a float: free) and at the
parameters at the end of every epoch; a parameter that became NaN or inf in a step makes the
next step's loss NaN or inf, and the error then names the parameter.

Randomness and exact resume (:mod:`scratchvae.train.randomness`). Every epoch gets its own
Generator, derived from the seed and the epoch number only:

    rng_epoch(e) = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, e)))
    rng_val      = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))

So epoch e draws the same shuffle and the same noise whether training started at epoch 0 or was
resumed at epoch e. Training 5 epochs, saving, loading and training 5 more (``initial_epoch=5``,
or ``resume=True``) gives bit-identical parameters to 10 epochs in one go with the same seed.
(``rng`` must be an int seed for that; a Generator is used once to draw the seed.) The
validation noise is the same every epoch, so the validation curve shows the model changing, not
the noise.
"""

from scratchvae.train.evaluation import validation_loss
from scratchvae.train.guard import NonFiniteError
from scratchvae.train.loop import fit
from scratchvae.train.randomness import epoch_generator, minibatch_indices, validation_generator
from scratchvae.train.warmup import kl_warmup_beta

__all__ = ["fit", "NonFiniteError", "epoch_generator", "validation_generator",
           "kl_warmup_beta", "minibatch_indices", "validation_loss"]
