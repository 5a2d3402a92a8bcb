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
    from scratchvae.homework.backprop import IN_PLACE

    for name, hint in IN_PLACE.items():
        others = {"relu": "x > 0", "sigmoid": "out * (1 - out)", "tanh": "1 - out**2"}
        assert others[name] in hint
        assert all(others[o] not in hint for o in others if o != name)
