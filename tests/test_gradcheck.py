"""The gradient checker itself: it passes right gradients and catches wrong ones."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae import functional as F
from scratchvae.gradcheck import (
    GradientCheckError,
    check_model,
    check_op,
    numerical_grad,
    rel_error,
)


def test_numerical_grad_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5])
    grad = numerical_grad(lambda v: np.sum(v**3), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-9)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])  # restored exactly


def test_rel_error_formula():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
    with pytest.raises(ValueError, match="same shape"):
        rel_error(np.zeros(2), np.zeros(3))


def _dense_backward_without_transpose(dout, cache):
    x, W = cache
    dx, dW, db = F.dense_backward(dout, cache)
    return dout @ W, dW, db  # W not transposed: only shape-compatible when W is square


def test_check_op_catches_a_missing_transpose_with_a_random_upstream_gradient():
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 4)), rng.standard_normal(4)
    with pytest.raises(GradientCheckError, match="input 0"):
        check_op(F.dense_forward, _dense_backward_without_transpose, [x, W, b], rng=0)


def test_check_op_catches_an_unsummed_bias_gradient():
    def backward(dout, cache):
        dx, dW, _ = F.dense_backward(dout, cache)
        return dx, dW, dout.mean(axis=0)

    rng = np.random.default_rng(1)
    args = [rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)]
    with pytest.raises(GradientCheckError):
        check_op(F.dense_forward, backward, args, rng=0)


def test_check_model_refuses_float32_and_explains_why():
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy", dtype=np.float32)
    with pytest.raises(ValueError, match="gradient checks need float64"):
        check_model(vae, np.zeros((2, 4)), eps=np.zeros((2, 2)))


def test_check_model_refuses_a_nondeterministic_loss():
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy", dtype=np.float64)
    with pytest.raises(ValueError, match="not deterministic"):
        check_model(vae, np.full((2, 4), 0.5))  # no eps, no rng: fresh noise every call


def test_check_model_reports_the_parameter_and_index_of_a_wrong_gradient():
    vae = sv.VAE(n_in=5, hidden=(4,), n_latent=2, backend="numpy", dtype=np.float64,
                 activation="tanh")
    original = vae.loss_and_grads

    def wrong(x, **kwargs):
        loss, grads = original(x, **kwargs)
        grads["decoder.0.W"] = grads["decoder.0.W"].copy()
        grads["decoder.0.W"][1, 2] += 0.1
        return loss, grads

    vae.loss_and_grads = wrong
    rng = np.random.default_rng(0)
    with pytest.raises(GradientCheckError, match=r"decoder\.0\.W .* worst at \(1, 2\)"):
        check_model(vae, rng.uniform(size=(3, 5)), eps=rng.standard_normal((3, 2)))


def test_check_model_with_sampled_entries_matches_full_check():
    vae = sv.VAE(n_in=6, hidden=(5,), n_latent=2, backend="numpy", dtype=np.float64,
                 activation="tanh")
    rng = np.random.default_rng(0)
    x, eps = rng.uniform(size=(3, 6)), rng.standard_normal((3, 2))
    report = check_model(vae, x, eps=eps, max_entries=4)
    assert report.max_rel_error < 1e-7 and len(report.entries) == len(vae.params)


# -- the checker cannot pass a NaN or inf, and refuses dtypes it cannot check (issue 28, item 3)


def _scale_pair(a, b):
    """out = (2a, 3b) stacked; backward (2 dout[0], 3 dout[1])."""
    return np.stack([2 * a, 3 * b]), None


def test_check_op_fails_when_a_later_gradient_is_nan():
    # Python's max(1e-12, nan) is 1e-12: a NaN after a good entry used to pass
    def backward(dout, _cache):
        return 2 * dout[0], np.full_like(dout[1], np.nan)

    a, b = np.random.default_rng(0).standard_normal((2, 3, 4))
    with pytest.raises(GradientCheckError, match="input 1.*inf"):
        check_op(_scale_pair, backward, [a, b])


def test_check_op_fails_when_a_gradient_holds_inf():
    def backward(dout, _cache):
        db = 3 * dout[1]
        db[1, 2] = np.inf
        return 2 * dout[0], db

    a, b = np.random.default_rng(1).standard_normal((2, 3, 4))
    with pytest.raises(GradientCheckError, match=r"worst at \(1, 2\)"):
        check_op(_scale_pair, backward, [a, b])


def test_check_op_fails_when_the_forward_pass_is_nan_under_perturbation():
    # the numerical gradient is NaN where the forward is NaN: a failure, not a pass
    def forward(x):
        return np.where(x > 0.5, np.nan, 2 * x), None

    def backward(dout, _cache):
        return 2 * dout

    x = np.array([0.1, 0.2, 0.5 - 1e-6])
    with pytest.raises(GradientCheckError):
        check_op(forward, backward, [x])


class _TwoParameterModel:
    """loss = sum(a^2) + sum(b^2); its loss_and_grads returns a NaN gradient for b."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.params = {"a": rng.standard_normal(3), "b": rng.standard_normal(4)}

    def loss_and_grads(self, x):
        loss = float(np.sum(self.params["a"] ** 2) + np.sum(self.params["b"] ** 2))
        return loss, {"a": 2 * self.params["a"], "b": np.full(4, np.nan)}


def test_check_model_fails_on_a_nan_gradient_array():
    with pytest.raises(GradientCheckError, match="'b'|b .*inf"):
        check_model(_TwoParameterModel(), x=None)


def test_check_model_fails_on_a_nan_loss():
    model = _TwoParameterModel()
    model.params["a"][0] = np.nan
    with pytest.raises(GradientCheckError, match="finite loss"):
        check_model(model, x=None)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.int8, np.bool_, np.complex128])
def test_numerical_grad_refuses_dtypes_it_cannot_check(dtype):
    x = np.ones(3, dtype=dtype)
    with pytest.raises(ValueError, match=f"x must be a float32 or float64.*{np.dtype(dtype)}"):
        numerical_grad(lambda v: float(np.sum(v.real ** 2)), x)


def test_rel_error_and_the_report_treat_nan_as_the_worst_error():
    assert rel_error(np.array([1.0, np.nan]), np.array([1.0, 2.0])) == np.inf
    assert rel_error(np.array([1.0, 2.0]), np.array([np.inf, 2.0])) == np.inf
    from scratchvae.gradcheck import GradEntry, GradReport

    report = GradReport(entries=[GradEntry("a", 1e-12, (0,), 1.0, 1.0, (1,)),
                                 GradEntry("b", float("nan"), (0,), 1.0, 1.0, (1,))])
    assert report.max_rel_error == np.inf
    assert not report.passed


@pytest.mark.parametrize("bad", [np.zeros(2, complex), np.array(["a", "b"]), np.zeros(2, object)])
def test_rel_error_refuses_arrays_that_are_not_real_numbers(bad):
    with pytest.raises(ValueError, match="^a must be an array of real numbers"):
        rel_error(bad, np.zeros(2))


def test_check_op_refuses_a_complex_gradient_instead_of_dropping_its_imaginary_part():
    def forward(x):
        return 2 * x, None

    with pytest.raises(ValueError, match="gradient 'input 0' must be an array of real numbers"):
        check_op(forward, lambda dout, _c: (2 * dout).astype(complex), [np.ones(3)])
