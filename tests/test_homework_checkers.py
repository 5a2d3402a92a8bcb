"""The homework checkers' own oracles and the hints issue 30 asked for (beyond the mutant
catalogue in homework_mutants.py, which test_homework.py runs)."""

import numpy as np
import pytest

import scratchvae.homework as hw
from scratchvae import conv


def _failure(exercise, fn, *extra):
    try:
        hw.checker(exercise)(fn, *extra)
    except hw.HomeworkCheckError as err:
        return str(err)
    return None


def test_transposed_conv_backward_oracle_equals_the_package_backward():
    from scratchvae.homework.transposed_conv import LAYER_CASES, _layer_case, stamps_backward

    for k in range(len(LAYER_CASES)):
        x, W, b, stride, padding, _ = _layer_case("oracle", k)
        out, cache = conv.conv_transpose2d_forward(x, W, b, stride, padding)
        dout = np.random.default_rng(k).standard_normal(out.shape)
        for got, expected in zip(stamps_backward(dout, x, W, stride, padding),
                                 conv.conv_transpose2d_backward(dout, cache)):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mistake", ["no_shift", "no_stride", "assign_dW"])
def test_each_transposed_conv_backward_mistake_differs_from_the_right_answer(mistake):
    # a hint's candidate that equals the right answer in every case could never be shown
    from scratchvae.homework.transposed_conv import LAYER_CASES, _layer_case, stamps_backward

    differs = []
    for k in range(len(LAYER_CASES)):
        x, W, b, stride, padding, _ = _layer_case("oracle", k)
        out = conv.conv_transpose2d_forward(x, W, b, stride, padding)[0]
        dout = np.random.default_rng(k).standard_normal(out.shape)
        right = stamps_backward(dout, x, W, stride, padding)
        wrong = stamps_backward(dout, x, W, stride, padding, mistake)
        differs.append(any(a.shape != b.shape or not np.allclose(a, b)
                           for a, b in zip(right, wrong)))
    assert any(differs)


def test_activation_in_place_hints_name_their_own_function():
    from scratchvae.homework.backprop import ACTIVATION_IN_PLACE

    for name, hint in ACTIVATION_IN_PLACE.items():
        others = {"relu": "x > 0", "sigmoid": "out * (1 - out)", "tanh": "1 - out**2"}
        assert others[name] in hint
        assert all(others[o] not in hint for o in others if o != name)


def test_log_mean_exp_checker_rejects_the_global_max_and_names_it():
    from scratchvae.homework.importance import _far_apart_case

    log_w = _far_apart_case(np.random.default_rng(0))
    column_max = log_w.max(axis=0)
    assert np.ptp(column_max) > 745  # a global max sends an example's exp(...) to 0
    assert column_max[2] != log_w[0, 2] and np.ptp(log_w[:, 2]) > 1500

    def global_max(log_w):
        m = log_w.max()
        with np.errstate(divide="ignore"):
            return m + np.log(np.mean(np.exp(log_w - m), axis=0))

    message = _failure("log_mean_exp", global_max)
    assert message is not None and "each example's own max" in message


def test_iwae_bound_reference_is_the_mean_of_consecutive_groups():
    from scratchvae.homework.importance import iwae_bound_reference
    from scratchvae.mathutils import log_mean_exp

    log_w = np.random.default_rng(1).normal(-100, 20, (12, 3))
    for k in (1, 2, 3, 4, 6, 12):
        brute = np.mean([log_mean_exp(log_w[g * k:(g + 1) * k], axis=0)
                         for g in range(12 // k)], axis=0)
        np.testing.assert_allclose(iwae_bound_reference(log_w, k), brute, rtol=1e-13)
    np.testing.assert_allclose(iwae_bound_reference(log_w, 1), log_w.mean(axis=0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iwae_bound_on_the_shipped_model_rises_with_k(seed):
    # the curve the checker prints: L_k of vae-mnist-5d on its own digits, every step up
    from scratchvae.homework.importance import MODEL_KS, _model_log_weights, iwae_bound_reference

    log_w = _model_log_weights(seed)
    curve = np.array([iwae_bound_reference(log_w, k).mean() for k in MODEL_KS])
    assert np.all(np.diff(curve) > 0), curve
    assert -160 < curve[0] < -110 and 2 < curve[-1] - curve[0] < 7, curve
