"""A softmax classifier (an MLP), used as a judge of pictures: is this decoded image a "4"?

    logits = mlp(x)                       x (batch, n_in) -> logits (batch, K)
    q(y | x) = softmax(logits)
    loss = 1/B sum_n -log q(y_n | x_n)    the softmax cross-entropy, averaged over the batch

Gradient of one example's cross-entropy with respect to its logits (the classic result):

    d(-log softmax(l)_y) / dl_j = softmax(l)_j - [j == y]

The notebooks and the benchmarks train it on real images and then ask how often it recognises
the class of a model's reconstructions or samples (the shape of a sprite, the digit of an MNIST
image), and how confident it is on decoded random codes (an autoencoder's holes). It trains with
``sv.fit`` like every model (``needs_labels = True``: fit passes ``y=``).

Parameter keys: "net.<i>.W/b".
"""

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.layers import mlp
from scratchvae.mathutils import check_labels, log_softmax, softmax
from scratchvae.models.base import Model
from scratchvae.validation import as_generator, check_positive_int, check_sizes


def softmax_cross_entropy(logits, y):
    """Per-example ``-log softmax(logits)[y]``: logits (batch, K), y (batch,) ints -> (batch,)."""
    return -log_softmax(logits)[np.arange(len(y)), y]


def softmax_cross_entropy_grad(logits, y):
    """Gradient of ``softmax_cross_entropy`` summed over the batch: ``softmax(logits) - one_hot(y)``,
    (batch, K)."""
    dlogits = softmax(logits)
    dlogits[np.arange(len(y)), y] -= 1
    return dlogits


class Classifier(Model):
    """An MLP softmax classifier with K classes, trained by the mean softmax cross-entropy.

    n_in: input size. n_classes: K. hidden: hidden-layer widths (activation between them).
    dtype, backend, rng (initial weights) as in the other models.
    """

    needs_labels = True

    def __init__(self, n_in=784, n_classes=10, hidden=(256,), activation="relu",
                 dtype=np.float32, backend=DEFAULT_BACKEND, rng=0):
        self._setup(dtype, backend)
        self.n_in = check_positive_int("n_in", n_in)
        self.n_classes = check_positive_int("n_classes", n_classes)
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.hidden = check_sizes("hidden", hidden)
        self.activation = activation
        self._config = dict(n_in=self.n_in, n_classes=self.n_classes, hidden=list(self.hidden),
                            activation=activation)
        self.networks = {
            "net": mlp((self.n_in, *self.hidden, self.n_classes), activation=activation,
                       rng=as_generator(rng), dtype=self.dtype, backend=backend),
        }

    def logits(self, x):
        """x (batch, n_in) -> logits (batch, n_classes)."""
        return self.networks["net"].forward(self._check_x(x))

    def predict_proba(self, x):
        """q(y|x): x (batch, n_in) -> class probabilities (batch, n_classes), rows sum to 1."""
        return softmax(self.logits(x).astype(np.float64))

    def predict(self, x):
        """The most probable class: (batch,) int64."""
        return np.argmax(self.logits(x), axis=1).astype(np.int64)

    def accuracy(self, x, y):
        """Fraction of the rows of x whose predicted class equals y."""
        y = check_labels("y", y, self.n_classes, batch=len(x))
        return float(np.mean(self.predict(x) == y))

    def loss_and_grads(self, x, y=None, rng=None):
        """Mean softmax cross-entropy of the batch and its gradients (keys of ``params``).

        x: (batch, n_in); y: (batch,) labels in [0, n_classes). ``rng`` is unused (the loss
        has no noise); it is accepted so ``sv.fit`` can call every model the same way.
        """
        if y is None:
            raise ValueError("y is required: the classifier learns from labelled examples")
        x = self._check_x(x)
        y = check_labels("y", y, self.n_classes, batch=len(x))
        net = self.networks["net"]
        logits = net.forward(x)
        loss = float(np.mean(softmax_cross_entropy(logits.astype(np.float64), y)))
        dlogits = softmax_cross_entropy_grad(logits.astype(np.float64), y) / len(x)
        net.backward(dlogits.astype(self.dtype), need_dx=False)
        self.last_loss_terms = {"cross_entropy": loss}
        return loss, self._collect_grads()
