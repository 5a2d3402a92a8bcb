"""The semi-supervised VAE "M2" (Kingma, Rezende, Mohamed & Welling 2014), backpropagated by hand.

A conditional VAE over (x, y) whose label is observed for a few examples and latent for the rest,
plus a classifier q(y|x) that infers the missing labels:

    p(y) = 1/K (uniform),  p(z) = N(0, I),  p(x | y, z): decoder with input [z, one_hot(y)]
    q(z | x, y) = N(mu(x, y), diag(exp(logvar(x, y))))          encoder with input [x, one_hot(y)]
    q(y | x)    = softmax(classifier(x))                         an MLP classifier, K classes

    labelled   -L(x, y) = -log p(x | z, y) + KL(q(z|x,y) || N(0, I)) - log p(y),   z ~ q(z|x,y)
    unlabelled -U(x)    = sum_y q(y|x) (-L(x, y)) - H(q(y|x)),   H(q) = -sum_y q(y|x) log q(y|x)
    classifier  -log q(y | x) on the labelled examples, weighted by alpha

Labels: y (batch,) ints in [0, K), and y = -1 marks an unlabelled example, so one batch may mix
both. The loss of a batch with B examples, B_l of them labelled, is

    loss = 1/B [ sum_{labelled} -L(x, y) + sum_{unlabelled} -U(x) ]
           + alpha * 1/B_l sum_{labelled} -log q(y | x)                 (term absent if B_l = 0)

Choice of alpha. The paper maximises J^alpha = sum_{x,y labelled} L + sum_{x unlabelled} U
+ alpha * E_{labelled}[log q(y|x)] over the whole data set (N examples) with alpha = 0.1 * N.
Dividing J^alpha by N gives a mean over all examples plus 0.1 times the *mean* over the labelled
examples: exactly the loss above with alpha = 0.1 (the default), each term estimated on the
batch. So alpha here is the paper's alpha / N; the weight of one labelled example's
classification loss relative to one example's generative loss is alpha * B / B_l.

The unlabelled term needs -L(x, y) for every y: each unlabelled example is tiled K times (one
row per label), and its rows' upstream gradients are weighted by q(y|x). The noise is
eps (K, batch, n_latent): eps[y, n] is the noise of the pair (x_n, y); a labelled example uses
only eps[y_n, n].

Gradient through the classifier, per unlabelled example with a_y = -L(x, y), q = softmax(l):

    d(-U)/dl_j = q_j (g_j - sum_y q_y g_y),    g_y = a_y + log q_y

Parameter keys: "classifier.<i>.W/b" plus those of :class:`scratchvae.CVAE`.
"""

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND
from scratchvae.layers import mlp
from scratchvae.losses import kl_standard_normal, kl_standard_normal_grad
from scratchvae.mathutils import check_labels, log_softmax, one_hot, softmax
from scratchvae.models.cvae import CVAE
from scratchvae.reparam import reparameterize, reparameterize_backward
from scratchvae.validation import as_generator, check_array, check_nonnegative_number, check_sizes

UNLABELLED = -1
"""The label value that marks an unlabelled example."""


class M2(CVAE):
    """Semi-supervised VAE (M2): a CVAE plus a classifier q(y|x); see the module docstring.

    n_in, n_classes, hidden, n_latent, likelihood, beta, activation, dtype, backend, rng, sigma,
    logvar_range: as in :class:`scratchvae.CVAE`. alpha: weight of the mean classification
    loss on the labelled examples of a batch (0.1 is the paper's choice, see above).
    classifier_hidden: hidden widths of q(y|x) (default: ``hidden``).
    ``needs_labels = True``: ``sv.fit`` passes ``y=``; use -1 for unlabelled examples.
    """

    needs_labels = True
    noise_arguments = ("eps",)

    def __init__(self, n_in=784, n_classes=10, hidden=(500,), n_latent=50, alpha=0.1,
                 classifier_hidden=None, likelihood="bernoulli", beta=1.0, activation="relu",
                 dtype=np.float32, backend=DEFAULT_BACKEND, rng=0, sigma=0.1,
                 logvar_range=(-6.0, 2.0)):
        rng = as_generator(rng)
        super().__init__(n_in=n_in, n_classes=n_classes, hidden=hidden, n_latent=n_latent,
                         likelihood=likelihood, beta=beta, activation=activation, dtype=dtype,
                         backend=backend, rng=rng, sigma=sigma, logvar_range=logvar_range)
        self.alpha = check_nonnegative_number("alpha", alpha)
        self.classifier_hidden = (self.hidden if classifier_hidden is None
                                  else check_sizes("classifier_hidden", classifier_hidden))
        self._config.update(alpha=self.alpha, classifier_hidden=list(self.classifier_hidden))
        self.networks["classifier"] = mlp(
            (self.n_in, *self.classifier_hidden, self.n_classes), activation,
            rng=rng, dtype=self.dtype, backend=backend)

    # -- the classifier q(y|x) -------------------------------------------------------------

    def classify(self, x):
        """q(y|x): x (batch, n_in) -> class probabilities (batch, n_classes), rows sum to 1."""
        x = self._check_x(x)
        return softmax(self.networks["classifier"].forward(x))

    def predict(self, x):
        """The most probable class under q(y|x): (batch,) int64."""
        return np.argmax(self.classify(x), axis=1)

    def accuracy(self, x, y):
        """Fraction of examples whose predicted class equals y (labels in [0, n_classes))."""
        x = self._check_x(x)
        y = check_labels("y", y, self.n_classes, batch=x.shape[0])
        return float(np.mean(self.predict(x) == y))

    # -- the two bounds, per example ------------------------------------------------------

    def labelled_bound(self, x, y, rng=0, eps=None):
        """L(x, y) = log p(x | z, y) - KL(q(z|x,y) || N(0, I)) + log p(y), z ~ q(z|x,y). (batch,).

        eps: (batch, n_latent) or None to draw it from ``rng``. beta = 1.
        """
        return self.elbo(x, y, rng=rng, eps=eps) - np.log(self.n_classes)

    def unlabelled_bound(self, x, rng=0, eps=None):
        """U(x) = sum_y q(y|x) L(x, y) + H(q(y|x)), shape (batch,). beta = 1.

        eps: (n_classes, batch, n_latent) (eps[y] is the noise for label y) or None.
        """
        x = self._check_x(x, binary_range=self.binary_input)
        eps = self._noise_classes(eps, rng, x.shape[0])
        q = self.classify(x)
        bounds = np.stack([self.labelled_bound(x, np.full(x.shape[0], k), eps=eps[k])
                           for k in range(self.n_classes)], axis=1)          # (batch, K)
        entropy = -np.sum(q * np.log(np.maximum(q, np.finfo(q.dtype).tiny)), axis=1)
        return np.sum(q * bounds, axis=1) + entropy

    # -- the loss and its gradient -----------------------------------------------------------

    def loss_and_grads(self, x, y=None, eps=None, rng=None, beta=None):
        """The semi-supervised loss of the module docstring and its gradient.

        x: (batch, n_in); y: (batch,) labels in [0, n_classes) or -1 for unlabelled (None: all
        unlabelled); eps: (n_classes, batch, n_latent) or None to draw it from ``rng``; beta:
        the KL weight (None: ``self.beta``).
        Returns (loss, grads) keyed like ``params``. ``last_loss_terms`` holds the three parts
        of the loss ("labelled", "unlabelled", "classification"); they add up to it.
        """
        net = self.networks
        beta = self._kl_weight(beta)
        x = self._check_x(x, binary_range=self.binary_input)
        batch, K, L = x.shape[0], self.n_classes, self.n_latent
        y = (np.full(batch, UNLABELLED) if y is None
             else check_labels("y", y, K, batch=batch, allow_unlabelled=True))
        eps = self._noise_classes(eps, rng, batch)
        lab, unl = np.flatnonzero(y != UNLABELLED), np.flatnonzero(y == UNLABELLED)
        n_lab, n_unl = len(lab), len(unl)

        # rows of the CVAE part: one per labelled example, K per unlabelled one (label k)
        rows_n = np.concatenate([lab, np.tile(unl, K)])
        rows_y = np.concatenate([y[lab], np.repeat(np.arange(K), n_unl)])
        x_rows, c, eps_rows = x[rows_n], one_hot(rows_y, K, dtype=self.dtype), eps[rows_y, rows_n]
        h = net["encoder"].forward(np.concatenate([x_rows, c], axis=1))
        mu = net["mu"].forward(h)
        logvar = net["logvar"].forward(h)
        z, reparam_cache = reparameterize(mu, logvar, eps_rows, check_finite=False)
        kl = kl_standard_normal(mu, logvar, check_finite=False)
        decoder_out = net["decoder"].forward(np.concatenate([z, c], axis=1))
        decoded, head_cache = self._decoder_head(decoder_out)
        nll, ddecoded = self._nll_and_grad(x_rows, decoded, scale=1.0)
        neg_L = nll + beta * kl + np.log(K)                         # -L(x, y) per row

        # the classifier q(y|x), on every example
        log_q = log_softmax(net["classifier"].forward(x))                # (batch, K)
        q = np.exp(log_q)
        q_unl, log_q_unl = q[unl], log_q[unl]
        neg_L_unl = neg_L[n_lab:].reshape(K, n_unl).T                    # (n_unl, K)
        neg_U = np.sum(q_unl * (neg_L_unl + log_q_unl), axis=1)          # sum q(-L) - H
        cross_entropy = -log_q[lab, y[lab]]                              # -log q(y|x)
        terms = {"labelled": float(np.sum(neg_L[:n_lab])) / batch,
                 "unlabelled": float(np.sum(neg_U)) / batch,
                 "classification": self.alpha * float(np.mean(cross_entropy)) if n_lab else 0.0}
        loss = sum(terms.values())
        self.last_loss_terms = terms

        # backward, classifier: d(-U)/dlogits = q (g - sum q g), g = -L + log q; and CE
        dlogits = np.zeros_like(log_q)
        g = neg_L_unl + log_q_unl
        dlogits[unl] = q_unl * (g - np.sum(q_unl * g, axis=1, keepdims=True)) / batch
        if n_lab:
            dlogits[lab] = self.alpha / n_lab * (q[lab] - one_hot(y[lab], K, dtype=self.dtype))
        net["classifier"].backward(dlogits, need_dx=False)

        # backward, CVAE part: each row's gradient is weighted by 1/B (labelled) or q(y|x)/B
        weight = np.concatenate([np.ones(n_lab, dtype=self.dtype), q_unl.T.reshape(-1)]) / batch
        ddecoder_out = self._decoder_head_backward(ddecoded, head_cache)
        dz = net["decoder"].backward(ddecoder_out * weight[:, None])[:, :L]
        dmu_z, dlogvar_z = reparameterize_backward(dz, reparam_cache)
        dmu_kl, dlogvar_kl = kl_standard_normal_grad(mu, logvar, check_finite=False)
        # mu and logvar feed both z and the KL: their gradients add (KL weighted per row)
        dmu = dmu_z + beta * weight[:, None] * dmu_kl
        dlogvar = dlogvar_z + beta * weight[:, None] * dlogvar_kl
        dh = net["mu"].backward(dmu) + net["logvar"].backward(dlogvar)
        net["encoder"].backward(dh, need_dx=False)
        return loss, self._collect_grads()

    # -- internals ---------------------------------------------------------------------------

    def _noise_classes(self, eps, rng, batch):
        shape = (self.n_classes, batch, self.n_latent)
        if eps is None:
            return as_generator(rng).standard_normal(shape).astype(self.dtype)
        return check_array("eps", eps, ndim=3, shape=shape).astype(self.dtype, copy=False)
