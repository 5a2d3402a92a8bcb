"""Gradient checking: compare a hand-written backward pass with central finite differences.

One checker for everything (ops, layers, whole models), in float64, with a random upstream
gradient (an all-ones upstream gradient hides transposes), one relative-error formula, and it
raises :class:`GradientCheckError` when the error is over tolerance. A NaN or inf anywhere (in
the analytic gradient, in the finite differences, in the loss) is a failure, never a pass.

    df/dx_i  ~  ( f(x + h e_i) - f(x - h e_i) ) / (2 h)        error O(h^2)
"""

from dataclasses import dataclass, field

import numpy as np

from scratchvae.validation import as_generator, check_array

DEFAULT_H = 1e-5
DEFAULT_TOL = 1e-7


class GradientCheckError(AssertionError):
    """The analytic gradient disagrees with finite differences beyond the tolerance."""


def _partial_derivatives(f, x, flat_indices, h):
    """Central differences of scalar f(x) with respect to the given flat entries of x."""
    flat = x.reshape(-1)  # a view: writes go to x
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so it can be perturbed in place")
    derivatives = np.zeros(len(flat_indices), dtype=np.float64)
    for j, i in enumerate(flat_indices):
        original = flat[i]
        flat[i] = original + h
        f_plus = float(f(x))
        flat[i] = original - h
        f_minus = float(f(x))
        flat[i] = original  # restore exactly
        derivatives[j] = (f_plus - f_minus) / (2 * h)
    return derivatives


CHECKABLE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""Dtypes :func:`numerical_grad` perturbs. float16 is refused: h = 1e-5 is below its resolution
(x + h == x for |x| >= 0.03), so every derivative would come out 0. Integers cannot be perturbed."""


def _check_checkable(name, x):
    """Raise ValueError unless ``x`` is a float32 or float64 ndarray and can be perturbed."""
    if not isinstance(x, np.ndarray) or isinstance(x, np.ma.MaskedArray):
        raise ValueError(f"{name} must be a float32 or float64 numpy array, got "
                         f"{type(x).__name__}")
    if x.dtype not in CHECKABLE_DTYPES:
        raise ValueError(
            f"{name} must be a float32 or float64 array (float64 for a gradient check), got "
            f"dtype {x.dtype}: finite differences cannot be taken in "
            f"{'float16 (h is below its resolution)' if x.dtype == np.float16 else x.dtype}")


def numerical_grad(f, x, h=DEFAULT_H):
    """Central-difference gradient of the scalar function ``f(x)`` with respect to the array x.

    ``x`` is perturbed in place, one entry at a time, and restored exactly afterwards, so ``f``
    may read x through a closure (e.g. a model parameter). x: float32 or float64 (ValueError
    for float16, integers and anything else, see :data:`CHECKABLE_DTYPES`). Returns a float64
    array shaped like x; an entry is NaN or inf where f was not finite.
    """
    _check_checkable("x", x)
    if not (isinstance(h, (int, float, np.floating)) and np.isfinite(h) and h > 0):
        raise ValueError(f"h must be a finite number > 0, got {h!r}")
    return _partial_derivatives(f, x, range(x.size), h).reshape(x.shape)


def rel_error(a, b):
    """Relative error ``max_i |a_i - b_i| / max(max_i |a_i|, max_i |b_i|)`` (infinity norms).

    The norm-wise form does not blow up on entries whose true value is (almost) zero, where an
    element-wise ratio |a_i - b_i| / (|a_i| + |b_i|) measures only finite-difference noise.
    Two all-zero arrays have error 0. A NaN or inf in either array gives inf: an error no
    tolerance accepts (NumPy's max would carry the NaN, Python's ``max`` could skip it).
    """
    a = check_array("a", a, kind="real", finite=False).astype(np.float64, copy=False)
    b = check_array("b", b, kind="real", finite=False).astype(np.float64, copy=False)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    if scale == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / scale)


@dataclass
class GradEntry:
    """The check of one gradient: its name, error and the index where it is worst."""

    name: str
    rel_error: float
    worst_index: tuple
    analytic: float
    numeric: float
    shape: tuple

    def __str__(self):
        return (
            f"{self.name:<24} {str(self.shape):<14} rel_error {self.rel_error:.2e}  worst at "
            f"{self.worst_index}: analytic {self.analytic:+.6e} numeric {self.numeric:+.6e}"
        )


@dataclass
class GradReport:
    """All entries of one check; ``max_rel_error`` is the worst of them."""

    entries: list = field(default_factory=list)
    tol: float = DEFAULT_TOL

    @property
    def max_rel_error(self):
        """The worst error; inf when any entry's error is NaN or inf (never skipped)."""
        errors = np.array([e.rel_error for e in self.entries], dtype=np.float64)
        if errors.size == 0:
            return 0.0
        if not np.all(np.isfinite(errors)):
            return float("inf")
        return float(np.max(errors))

    @property
    def passed(self):
        worst = self.max_rel_error
        return bool(np.isfinite(worst) and worst < self.tol)

    def __str__(self):
        lines = [str(e) for e in self.entries]
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"max rel_error {self.max_rel_error:.2e} (tol {self.tol:.0e}): {verdict}")
        return "\n".join(lines)


def _entry(name, analytic, numeric):
    analytic = check_array(f"gradient {name!r}", analytic, kind="real",
                           finite=False).astype(np.float64, copy=False)
    if analytic.shape != numeric.shape:
        raise GradientCheckError(
            f"gradient {name!r} has shape {analytic.shape}, but the quantity it belongs to has "
            f"shape {numeric.shape}"
        )
    diff = np.abs(analytic - numeric)
    diff[~(np.isfinite(analytic) & np.isfinite(numeric))] = np.inf  # a NaN is the worst entry
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    worst = tuple(int(i) for i in worst)
    return GradEntry(
        name=name,
        rel_error=rel_error(analytic, numeric),
        worst_index=worst,
        analytic=float(analytic[worst]) if diff.size else 0.0,
        numeric=float(numeric[worst]) if diff.size else 0.0,
        shape=analytic.shape,
    )


def _require_float64(name, array):
    if array.dtype != np.float64:
        raise ValueError(
            f"{name} is {array.dtype}; gradient checks need float64. In float32 the rounding error "
            "of f(x +- h) (about 1e-7 * |f|) divided by 2h swamps the difference being measured, "
            "so even a correct gradient shows errors near 1e-2. Build the model or inputs with "
            "dtype=np.float64."
        )


def _raise_if_failed(report, what):
    if not report.passed:
        raise GradientCheckError(f"gradient check of {what} failed:\n{report}")
    return report


def check_op(forward, backward, inputs, rng=0, h=DEFAULT_H, tol=DEFAULT_TOL, names=None,
             wrt=None):
    """Check ``backward`` of an op pair against finite differences of ``forward``.

    forward(*inputs) -> (out, cache); backward(dout, cache) -> gradient(s) with respect to the
    inputs, in order (a single array for one input). The scalar checked is
    ``L = sum(out * dout)`` with ``dout`` drawn from ``rng`` (a random upstream gradient), so
    dL/dinput = backward(dout, cache). wrt: indices of the inputs the gradients belong to
    (default: the first len(gradients) inputs, e.g. (mu, logvar) of reparameterize but not eps).
    Returns a :class:`GradReport`; raises :class:`GradientCheckError` when over ``tol``.
    """
    rng = as_generator(rng)
    inputs = [np.array(a, dtype=np.float64, copy=True) if isinstance(a, np.ndarray) else a
              for a in inputs]
    for i, a in enumerate(inputs):
        if isinstance(a, np.ndarray):
            _require_float64(f"input {i}", a)
    out, cache = forward(*inputs)
    out = np.asarray(out)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    if isinstance(grads, np.ndarray):
        grads = (grads,)
    wrt = tuple(range(len(grads))) if wrt is None else tuple(wrt)
    if len(wrt) != len(grads):
        raise ValueError(f"backward returned {len(grads)} gradients but wrt names {len(wrt)} inputs")
    names = names or [f"input {i}" for i in range(len(inputs))]
    report = GradReport(tol=tol)
    for grad, i in zip(grads, wrt):
        def loss(_x):
            return np.sum(np.asarray(forward(*inputs)[0]) * dout)

        numeric = numerical_grad(loss, inputs[i], h=h)
        report.entries.append(_entry(names[i], grad, numeric))
    return _raise_if_failed(report, getattr(forward, "__name__", "op"))


def check_model(model, x, h=DEFAULT_H, tol=DEFAULT_TOL, max_entries=None, rng=0,
                method="loss_and_grads", **loss_kwargs):
    """Check every gradient of ``model.<method>(x, **loss_kwargs)`` against finite differences.

    The model must be float64 and its loss deterministic: pass the noise explicitly (``eps=`` for
    a VAE, ``noise_mask=`` for a denoising AE) or an int ``rng=`` seed in ``loss_kwargs``.
    Every parameter is perturbed entry by entry (or ``max_entries`` random entries of each, drawn
    with ``rng``, for larger models). Returns a :class:`GradReport` with one entry per parameter
    (its worst index and both values); raises :class:`GradientCheckError` when over ``tol``.
    """
    for key, value in model.params.items():
        _require_float64(f"parameter {key!r}", value)
    compute = getattr(model, method)
    loss, grads = compute(x, **loss_kwargs)
    loss_again, _ = compute(x, **loss_kwargs)
    if not np.isfinite(float(loss)):
        raise GradientCheckError(f"{type(model).__name__}.{method} returned the loss {loss}; a "
                                 "gradient check needs a finite loss")
    if float(loss) != float(loss_again):
        raise ValueError(
            f"{method} is not deterministic ({loss} then {loss_again}): pass the noise explicitly "
            "(eps=..., noise_mask=...) or an int rng seed so every evaluation draws the same noise"
        )
    grads = {k: np.array(v, dtype=np.float64) for k, v in grads.items()}
    pick = as_generator(rng)
    report = GradReport(tol=tol)
    for key, param in model.params.items():
        if key not in grads:
            raise GradientCheckError(f"{method} returned no gradient for parameter {key!r}")

        def loss_fn(_p):
            return compute(x, **loss_kwargs)[0]

        if max_entries is None or param.size <= max_entries:
            numeric = numerical_grad(loss_fn, param, h=h)
            report.entries.append(_entry(key, grads[key], numeric))
        else:
            idx = pick.choice(param.size, size=max_entries, replace=False)
            numeric = _partial_derivatives(loss_fn, param, idx, h)
            entry = _entry(key, grads[key].reshape(-1)[idx], numeric)
            entry.shape = param.shape
            entry.worst_index = tuple(
                int(i) for i in np.unravel_index(idx[entry.worst_index[0]], param.shape)
            )
            report.entries.append(entry)
    return _raise_if_failed(report, f"{type(model).__name__}.{method}")
