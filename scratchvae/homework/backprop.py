"""Checkers for homework 1: backward passes of the dense layer and the activations, and a
gradient checker of the student's own (numerical gradient and relative error).

Each backward exercise has the package's signature ``name_backward(dout, cache)``; the checker
builds the cache with the package's forward (``scratchvae.functional``), so the cache fields are
the documented ones: ``DenseCache(x, W)``, ``ActivationCache(x, out)``.
"""

import numpy as np

from scratchvae import functional as F
from scratchvae.gradcheck import rel_error as _rel_error
from scratchvae.homework._core import (
    Check,
    expect_close_to_fd,
    finite_difference_grad_of_input,
    rng_for,
)
from scratchvae.homework._mistakes import expect_in_order

_REF = "scratchvae.functional and finite differences"


def _op_fd(forward, inputs, i, dout):
    """d/d inputs[i] of sum(forward(*inputs)[0] * dout), by central differences."""
    return finite_difference_grad_of_input(lambda *args: np.sum(forward(*args)[0] * dout), inputs, i)


# ---------------------------------------------------------------------------------------------
# dense
# ---------------------------------------------------------------------------------------------

DENSE_SHAPES = [(3, 3, 3), (4, 5, 3), (1, 6, 2), (7, 2, 5)]  # (batch, n_in, n_out); one square


def check_dense_backward(dense_backward):
    """Check ``dense_backward(dout, cache) -> (dx, dW, db)`` for ``out = x @ W + b``,
    with ``cache = DenseCache(x, W)`` from :func:`scratchvae.functional.dense_forward`."""
    check = Check("dense_backward", _REF)
    for k, (batch, n_in, n_out) in enumerate(DENSE_SHAPES):
        rng = rng_for(check.exercise, k)
        x = rng.standard_normal((batch, n_in))
        W = rng.standard_normal((n_in, n_out))
        b = rng.standard_normal(n_out)
        dout = rng.standard_normal((batch, n_out))
        case = f"case {k + 1}: x {x.shape}, W {W.shape}, dout {dout.shape}"
        _, cache = F.dense_forward(x.copy(), W.copy(), b.copy())
        result = check.call(dense_backward, {"dout": dout.copy(), "cache": cache}, case,
                            mutation_hint="don't write into dout or the cache",
                            crash_hint="check the shapes: dx = dout @ W.T has x's shape, "
                                       "dW = x.T @ dout has W's shape (did you transpose W?)")
        dx, dW, db = check.unpack(result, ("dx", "dW", "db"), case)
        ex, eW, eb = F.dense_backward(dout, F.DenseCache(x, W))
        expect_in_order(check, (dx, dW, db), (ex, eW, eb), ("dx", "dW", "db"), case)
        square = n_in == n_out
        per_batch = ("don't divide by the batch size in a layer's backward: it returns the "
                     "gradient of sum(out * dout); the batch mean is taken once, in the loss")
        check.expect_array("dx", dx, ex, case, {
            "did you transpose W? dx = dout @ W.T has x's shape (batch, n_in)":
                dout @ W if square else None,
            "did you forget dout? dx = dout @ W.T": np.ones_like(dout) @ W.T,
            per_batch: ex / batch,
            "sign: dx = dout @ W.T (the gradient, not its negative)": -ex,
            "dx = dout @ W.T has x's shape (batch, n_in), not W's": eW,
        }, extra=" (the same as x)")
        check.expect_array("dW", dW, eW, case, {
            "did you transpose? dW = x.T @ dout has W's shape (n_in, n_out)": dout.T @ x,
            per_batch: x.T @ dout / batch,
            "sign: dW = x.T @ dout (the gradient, not its negative)": -eW,
            "did you forget dout? dW = x.T @ dout": x.T @ np.ones_like(dout),
            "dW = x.T @ dout has W's shape (n_in, n_out), not x's": ex,
            "dW is the gradient of sum(out * dout) alone: no weight-decay term (+ W) here":
                eW + W,
            "dW = x.T @ dout sums x[n, i] * dout[n, j] over the examples n (a matrix product), "
            "not the outer product of the two sums": np.outer(x.sum(axis=0), dout.sum(axis=0))
            if batch > 1 else None,
        }, extra=" (the same as W)")
        check.expect_array("db", db, eb, case, {
            "sum the bias gradient over the batch: db = dout.sum(axis=0)": dout,
            "sum over axis 0 (the batch), not axis 1": dout.sum(axis=1),
            "sum, don't average: b is added to every example, so every example contributes "
            "its full dout to db": dout.mean(axis=0),
            "db = dout.sum(axis=0) has b's shape (n_out,): no keepdims": dout.sum(
                axis=0, keepdims=True),
            "sign: db = dout.sum(axis=0)": -eb,
            "sum over axis 0 only: db = dout.sum(axis=0) has b's shape (n_out,), one value per "
            "output": dout.sum(),
        }, extra=" (the same as b)")
        for name, got, i in (("dx", dx, 0), ("dW", dW, 1), ("db", db, 2)):
            numeric = _op_fd(F.dense_forward, [x, W, b], i, dout)
            expect_close_to_fd(check, name, got, numeric, case)
    return check.done()


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------

ACT_SHAPES = [(4, 5), (6,), (2, 3, 4), (1, 1)]


def _away_from_zero(rng, shape, low=0.1, high=3.0):
    """Values with low <= |x| <= high: ReLU's kink at 0 is never within reach of the checks."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


ACTIVATION_IN_PLACE = {
    "relu": "e.g. `dout[x <= 0] = 0` writes into dout: use `dx = dout * (x > 0)` instead",
    "sigmoid": "e.g. `dout *= out * (1 - out)` writes into dout (and `out *= ...` into the "
               "cache): use `dx = dout * out * (1 - out)`, a new array",
    "tanh": "e.g. `dout *= 1 - out**2` writes into dout (and `out **= 2` into the cache): "
            "use `dx = dout * (1 - out**2)`, a new array",
}
"""The hint for a backward that changed dout or the cache, per activation."""


def _check_activation(name, student, forward, backward, hints_for, draw):
    check = Check(f"{name}_backward", _REF)
    for k, shape in enumerate(ACT_SHAPES):
        rng = rng_for(check.exercise, k)
        x = draw(rng, shape)
        dout = rng.standard_normal(shape)
        case = f"case {k + 1}: x {x.shape}"
        _, cache = forward(x.copy())
        result = check.call(student, {"dout": dout.copy(), "cache": cache}, case,
                            mutation_hint=ACTIVATION_IN_PLACE[name])
        if isinstance(result, tuple) and len(result) == 1:
            check.fail("should return the array dx itself, not a 1-tuple (dx,)", case)
        out = forward(x)[0]
        expected = backward(dout, forward(x)[1])
        check.expect_array("dx", result, expected, case, hints_for(x, out, dout),
                           extra=" (the same as x)")
        expect_close_to_fd(check, "dx", result, _op_fd(forward, [x], 0, dout), case)
    return check.done()


def check_relu_backward(relu_backward):
    """Check ``relu_backward(dout, cache) -> dx`` for ``out = max(x, 0)``,
    ``cache = ActivationCache(x, out)`` (inputs kept away from the kink at 0)."""
    def hints(x, out, dout):
        return {
            "the gradient is taken from `out` (dout * out): the derivative of max(x, 0) is 1 "
            "where x > 0 and 0 elsewhere, an indicator, not the output": dout * out,
            "multiply the mask by dout (chain rule): dx = dout * (x > 0)": (x > 0) * 1.0,
            "the mask is reversed: the gradient passes where x > 0": dout * (x < 0),
            "ReLU applied to dout? The mask comes from the input x, not from dout":
                np.maximum(dout, 0),
            "the mask comes from the input x, not from dout: dx = dout * (x > 0)":
                dout * (dout > 0),
            "the derivative of max(x, 0) is 1 where x > 0 and 0 elsewhere, not sign(x)":
                dout * np.sign(x),
        }
    return _check_activation("relu", relu_backward, F.relu_forward, F.relu_backward, hints,
                             _away_from_zero)


def check_sigmoid_backward(sigmoid_backward):
    """Check ``sigmoid_backward(dout, cache) -> dx`` for ``out = 1 / (1 + exp(-x))``."""
    def hints(x, out, dout):
        return {
            "use out = sigmoid(x), not x: dx = dout * out * (1 - out)": dout * x * (1 - x),
            "missing factor (1 - out): d sigmoid/dx = out * (1 - out)": dout * out,
            "missing factor out: d sigmoid/dx = out * (1 - out)": dout * (1 - out),
            "multiply by dout (chain rule)": out * (1 - out),
            "sign: d sigmoid/dx = out * (1 - out), which is positive": -dout * out * (1 - out),
            "that is tanh's derivative (1 - out**2); sigmoid's is out * (1 - out)":
                dout * (1 - out * out),
            "out is already sigmoid(x): use it as it is, don't apply sigmoid to it again":
                dout * F.sigmoid(out) * (1 - F.sigmoid(out)),
            "no factor 1/2: d sigmoid/dx = out * (1 - out)": dout * out * (1 - out) / 2,
            "(1 - out), not (1 + out): d sigmoid/dx = out * (1 - out)": dout * out * (1 + out),
        }
    return _check_activation("sigmoid", sigmoid_backward, F.sigmoid_forward, F.sigmoid_backward,
                             hints, lambda rng, shape: rng.uniform(-4, 4, shape))


def check_tanh_backward(tanh_backward):
    """Check ``tanh_backward(dout, cache) -> dx`` for ``out = tanh(x)``."""
    def hints(x, out, dout):
        return {
            "use out = tanh(x), not x: dx = dout * (1 - out**2)": dout * (1 - x * x),
            "square the output: d tanh/dx = 1 - tanh(x)**2": dout * (1 - out),
            "multiply by dout (chain rule)": 1 - out * out,
            "sign: d tanh/dx = 1 - out**2, not 1 + out**2": dout * (1 + out * out),
            "out is already tanh(x): dx = dout * (1 - out**2), don't apply tanh to it again":
                dout * (1 - np.tanh(out) ** 2),
            "that is sigmoid's derivative out * (1 - out); tanh's is 1 - out**2":
                dout * out * (1 - out),
            "square the whole of 1/cosh(x): d tanh/dx = 1/cosh(x)**2 = 1 - out**2":
                dout / np.cosh(x),
            "square only out: 1 - out**2, not (1 - out)**2": dout * (1 - out) ** 2,
        }
    return _check_activation("tanh", tanh_backward, F.tanh_forward, F.tanh_backward, hints,
                             lambda rng, shape: rng.uniform(-2.5, 2.5, shape))


# ---------------------------------------------------------------------------------------------
# the student's own gradient checker
# ---------------------------------------------------------------------------------------------

H_CHECK = 1e-4
"""The step the checker passes as ``h``: large enough that a one-sided difference (error ~ h)
is clearly wrong, small enough that the central difference (error ~ h^2) is clearly right."""


def _test_functions(rng, shape):
    """Smooth scalar functions with known gradients, coupling the entries of x."""
    c = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    n = int(np.prod(shape))
    A = rng.standard_normal((n, n))
    A = A @ A.T / n + np.eye(n)
    return [
        ("f(x) = sum(c * exp(x))", lambda x: float(np.sum(c * np.exp(x))),
         lambda x: c * np.exp(x)),
        ("f(x) = 1/2 x^T A x + sum(sin(x))",
         lambda x: float(0.5 * x.reshape(-1) @ A @ x.reshape(-1) + np.sum(np.sin(x))),
         lambda x: (A @ x.reshape(-1)).reshape(x.shape) + np.cos(x)),
    ]


def check_numerical_gradient(numerical_gradient):
    """Check ``numerical_gradient(f, x, h=1e-5) -> grad``: the central-difference gradient
    ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` of a scalar function, one entry at a time, shaped
    like x, with x unchanged afterwards. Called with ``h=1e-4`` on smooth functions."""
    check = Check("numerical_gradient", "the exact gradients of smooth test functions")
    shapes = [(5,), (3, 4), (2, 3, 2)]
    for k, shape in enumerate(shapes):
        rng = rng_for(check.exercise, k)
        x = rng.uniform(-1.5, 1.5, shape)
        for j, (label, f, grad) in enumerate(_test_functions(rng, shape)):
            case = f"case {2 * k + j + 1}: {label}, x {shape}"
            x_in = x.copy()
            got = check.call(numerical_gradient, {"f": f, "x": x_in, "h": H_CHECK}, case,
                             input_rtol=1e-12,
                             mutation_hint="restore x[i] to its original value after "
                                           "evaluating f(x + h) and f(x - h)")
            exact = grad(x)
            one_sided = np.zeros_like(x)
            flat = x.copy().reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + H_CHECK
                f_plus = f(flat.reshape(shape))
                flat[i] = old
                one_sided.reshape(-1)[i] = (f_plus - f(flat.reshape(shape))) / H_CHECK
            all_at_once = np.full(shape, (f(x + H_CHECK) - f(x - H_CHECK)) / (2 * H_CHECK))
            check.expect_array("grad", got, exact, case, {
                "one-sided difference? use the central difference "
                "(f(x + h) - f(x - h)) / (2 * h): its error is ~h^2 instead of ~h": one_sided,
                "divide by 2 * h: the two points x + h and x - h are 2h apart": 2 * exact,
                "perturb one entry at a time (x[i] += h), not the whole array (x + h)":
                    all_at_once,
                "`/ 2 * h` multiplies by h: write `/ (2 * h)`": exact * H_CHECK ** 2,
                "sign: (f(x + h) - f(x - h)) / (2 * h), not (f(x - h) - f(x + h)) / (2 * h)":
                    -exact,
                "return the gradient in x's shape: grad.reshape(x.shape)": exact.reshape(-1),
            }, rtol=1e-6, atol=1e-7 * float(np.max(np.abs(exact))), extra=" (the same as x)")
    _check_uses_h(check, numerical_gradient)
    return check.done("(central differences, x restored; the last one with h = 0.1, against "
                      "the central difference at that step)")


H_LARGE = 0.1
"""A step so large that the central difference differs visibly from the exact gradient."""


def _check_uses_h(check, numerical_gradient):
    """One more case with h = H_LARGE: the answer must be the central difference at THAT step,
    ``c exp(x) sinh(h) / h`` for f = sum(c exp(x)), not the exact gradient of a fixed tiny step."""
    rng = rng_for(check.exercise, 99)
    x = rng.uniform(-1.0, 1.0, (2, 3))
    x[0, 0] = 0.0  # a relative step x * (1 + h) does not move a zero entry
    c = rng.uniform(0.5, 1.5, x.shape)
    case = f"case 7: f(x) = sum(c * exp(x)), x {x.shape}, h={H_LARGE} (a large step on purpose)"
    got = check.call(numerical_gradient, {
        "f": lambda v: float(np.sum(c * np.exp(v))), "x": x.copy(), "h": H_LARGE}, case,
        input_rtol=1e-12)
    exact = c * np.exp(x)
    expected = exact * np.sinh(H_LARGE) / H_LARGE
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = exact * np.sinh(H_LARGE * x) / (H_LARGE * x)
    check.expect_array("grad", got, expected, case, {
        "use the step h you are given (here h = 0.1): the check compares with the central "
        "difference at that h, (f(x + h) - f(x - h)) / (2 * h), not with the exact gradient":
            exact,
        "step by h itself, x[i] + h, not by a fraction of x[i] (x[i] * (1 + h))": relative,
    }, rtol=1e-6, extra=" (the same as x)")


def check_rel_error(rel_error):
    """Check ``rel_error(a, b) -> float``: ``max|a - b| / max(max|a|, max|b|)``, and 0.0 when
    both arrays are all zeros (the norm-wise relative error of :mod:`scratchvae.gradcheck`)."""
    check = Check("rel_error", "scratchvae.gradcheck.rel_error")
    cases = []
    for k, shape in enumerate([(5,), (3, 4), (2, 2, 3)]):
        rng = rng_for(check.exercise, k)
        a = rng.standard_normal(shape)
        cases.append((a, a + 1e-3 * rng.standard_normal(shape)))
        cases.append((a, rng.standard_normal(shape) * 3))
    cases.append((np.array([0.0, 2.0, -1.0]), np.array([0.0, 2.0, -1.0])))   # equal
    cases.append((np.array([1e-9, -2.0]), np.array([0.0, -2.0 + 1e-6])))     # a true zero
    cases.append((np.zeros((2, 3)), np.zeros((2, 3))))                       # 0 / 0 -> 0
    tiny = 1e-10 * rng_for(check.exercise, 50).standard_normal(4)
    cases.append((tiny, tiny * (1 + 1e-3)))                                  # scale-free
    for k, (a, b) in enumerate(cases):
        case = f"case {k + 1}: a {a.shape}"
        got = check.call(rel_error, {"a": a.copy(), "b": b.copy()}, case)
        expected = _rel_error(a, b)
        d = a - b
        scale_a = np.max(np.abs(a))
        ratio = np.abs(d) / np.where(d == 0, 1.0, np.abs(a) + np.abs(b))
        with np.errstate(divide="ignore", invalid="ignore"):
            hints = {
                "both arrays are zero: return 0.0 (0 / 0 must not give nan)":
                    np.nan if not (np.any(a) or np.any(b)) else None,
                "divide by the larger of the two scales, max(max|a|, max|b|), so that "
                "rel_error(a, b) == rel_error(b, a)": np.max(np.abs(d)) / scale_a,
                "missing abs(): the largest |a - b|, not the largest a - b":
                    np.max(d) / max(scale_a, np.max(np.abs(b))),
                "that is the element-wise ratio |a_i - b_i| / (|a_i| + |b_i|); use the norm-wise "
                "formula, which does not blow up where the true value is 0":
                    np.max(ratio),
                "both arrays are zero: they are equal, so return 0.0, not 1":
                    1.0 if not (np.any(a) or np.any(b)) else None,
                "no floor on the denominator (like max(..., 1e-8)): the relative error is "
                "scale-free, so arrays of size 1e-10 that differ by 0.1% give 1e-3":
                    np.max(np.abs(d)) / max(scale_a, np.max(np.abs(b)), 1e-8)
                    if max(scale_a, np.max(np.abs(b))) < 1e-8 else None,
                "the largest |a - b| (max), not the 2-norm: max|a - b| / max(max|a|, max|b|)":
                    np.linalg.norm(d) / max(np.linalg.norm(a), np.linalg.norm(b))
                    if np.any(d) else None,
                "the largest |a - b| (max), not the mean":
                    np.mean(np.abs(d)) / max(scale_a, np.max(np.abs(b))) if np.any(d) else None,
                "divide by the larger scale, max(max|a|, max|b|), not their sum":
                    np.max(np.abs(d)) / (scale_a + np.max(np.abs(b))) if np.any(d) else None,
            }
        check.expect_scalar("rel_error", got, expected, case, hints, rtol=1e-9, atol=1e-15)
    got_ab = check.run(rel_error, [cases[1][0], cases[1][1]])
    got_ba = check.run(rel_error, [cases[1][1], cases[1][0]])
    if float(got_ab) != float(got_ba):
        check.fail(f"rel_error(a, b) = {got_ab} but rel_error(b, a) = {got_ba}: it must be "
                   "symmetric")
    return check.done()
