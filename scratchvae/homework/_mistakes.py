"""Mistakes every exercise can make, and the hints that name them.

- the right values returned in the wrong order (:func:`expect_in_order`, run before the outputs
  are compared one by one, so a swapped return reads "swapped", not two unrelated errors);
- an input changed in place (:data:`IN_PLACE`, the hint of
  ``Check.call`` unless a check gives a more specific one);
- a gradient that is negated, zero, or off by the batch size (:func:`gradient_hints`, for the
  whole-model exercises' gradient dicts).
"""

import numpy as np

IN_PLACE = ("an augmented assignment (`a -= b`, `a *= b`, `a **= 2`), `a[...] = ...` or "
            "`out=a` writes into the array you were given: compute a new one (`c = a - b`)")


def _same(a, b):
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def expect_in_order(check, got, expected, names, case):
    """Fail with a hint when two outputs are each other's expected value (a swapped return).

    got, expected: tuples of arrays in the documented order; names: their names.
    """
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if (not _same(expected[i], expected[j]) and _same(got[i], expected[j])
                    and _same(got[j], expected[i])):
                check.fail(f"`{names[i]}` and `{names[j]}` are swapped: you returned "
                           f"{names[j]}'s value first", case,
                           f"swap the two outputs back: return ({', '.join(names)}) in that "
                           "order")


def gradient_hints(expected, batch):
    """{hint: candidate} for one entry of a gradient dict: its negative, zero, and the batch
    mean applied twice or not at all."""
    hints = {
        "sign: the gradients of the loss (to be subtracted by gradient descent), not of the "
        "ELBO or its negative": -expected,
        "this gradient is all zeros: did you forget to compute it (or to add its parts)?":
            np.zeros_like(expected) if np.any(expected) else None,
    }
    if batch > 1:
        hints["divided by the batch size twice? The loss is a mean over the batch: 1/batch "
              "appears once, in the gradient of the loss"] = expected / batch
        hints["the loss is a mean over the batch, so this gradient carries 1/batch too"] = (
            expected * batch)
    return hints
