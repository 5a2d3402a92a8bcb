"""sv.Classifier: the softmax classifier used to judge pictures (shape accuracy, AE holes)."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.commands.common import SPRITES_FIXED
from scratchvae.gradcheck import check_model
from scratchvae.models.classifier import softmax_cross_entropy, softmax_cross_entropy_grad


def test_softmax_cross_entropy_matches_its_definition_and_its_gradient_is_softmax_minus_one_hot():
    rng = np.random.default_rng(0)
    logits, y = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(softmax_cross_entropy(logits, y), -np.log(p[np.arange(5), y]), rtol=1e-12)
    h, numeric = 1e-6, np.zeros_like(logits)
    for idx in np.ndindex(*logits.shape):
        up, down = logits.copy(), logits.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (softmax_cross_entropy(up, y).sum() - softmax_cross_entropy(down, y).sum()) / (2 * h)
    assert np.max(np.abs(numeric - softmax_cross_entropy_grad(logits, y))) < 1e-8


def test_classifier_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    model = sv.Classifier(n_in=6, n_classes=3, hidden=(5, 4), dtype="float64", backend="numpy",
                          rng=0)
    x, y = rng.random((7, 6)), rng.integers(0, 3, size=7)
    assert check_model(model, x, y=y).max_rel_error < 1e-7


def test_classifier_learns_the_shape_of_true_upright_sprites():
    train = sv.data.sprites(4000, rng=10, fixed=SPRITES_FIXED)
    test = sv.data.sprites(500, rng=11, fixed=SPRITES_FIXED)
    judge = sv.Classifier(n_in=1024, n_classes=4, hidden=(128,), rng=0)
    history = sv.fit(judge, train.x, y_train=train.labels, epochs=5, batch_size=32, lr=2e-3,
                     rng=0, progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert judge.accuracy(test.x, test.labels) > 0.9
    probs = judge.predict_proba(test.x[:10])
    assert probs.shape == (10, 4) and np.allclose(probs.sum(axis=1), 1.0)


def test_classifier_rejects_missing_or_out_of_range_labels():
    model = sv.Classifier(n_in=4, n_classes=3, hidden=(2,), backend="numpy")
    x = np.zeros((2, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="y is required"):
        model.loss_and_grads(x)
    with pytest.raises(ValueError, match=r"labels in \[0, 2\]"):
        model.loss_and_grads(x, y=np.array([0, 3]))
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        sv.Classifier(n_in=4, n_classes=1)
