"""One mistake every multi-output exercise shares: the right values in the wrong order.

``expect_in_order`` runs before the outputs are compared one by one, so a student who returns
``(dW, dx, db)`` for ``(dx, dW, db)`` reads "swapped" instead of two unrelated value errors.
"""

import numpy as np


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
