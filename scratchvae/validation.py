"""Input checks shared by the public entry points.

Every check raises ``ValueError`` whose message names the argument, says what was expected and
what was given, so a student sees "x must have shape (batch, 784), got (784,)" instead of a
deep NumPy traceback or a silent NaN.
"""

import numbers

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_generator(rng, name="rng"):
    """Return a ``numpy.random.Generator``.

    An int seeds a fresh Generator (the same int gives the same draws); a Generator is used as
    it is; ``None`` gives a fresh, unseeded Generator. The global ``np.random`` state is never used.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{name} must be a non-negative int seed or a numpy Generator, got {rng}")
        return np.random.default_rng(int(rng))
    raise ValueError(
        f"{name} must be an int seed or a numpy.random.Generator, got {type(rng).__name__}"
    )


def check_choice(name, value, choices):
    """Raise unless ``value`` is one of ``choices``; the message lists the valid ones."""
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {valid}; got {value!r}")
    return value


def check_positive_int(name, value):
    """Raise unless ``value`` is an int > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_nonnegative_int(name, value):
    """Raise unless ``value`` is an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def check_sizes(name, values):
    """A tuple of positive ints (hidden layer sizes); an int is taken as a one-element tuple."""
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"{name} must be a tuple of positive integers, got {values!r}") from None
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise ValueError(f"{name} must be a tuple of positive integers, got {values!r}")
    return tuple(int(v) for v in values)


def check_dtype(name, dtype):
    """Resolve a float dtype: float32 or float64 only."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{name} must be float32 or float64, got {dtype!r}") from None
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{name} must be float32 or float64, got {resolved}")
    return resolved


def check_number(name, value, low=None, high=None, low_inclusive=True):
    """A finite real number (Python or NumPy scalar, not bool) in [low, high]; returns a float.

    ``low_inclusive=False`` makes the lower bound strict (value > low). NaN and inf are always
    refused: a learning rate of inf or a beta of NaN would poison every parameter at the first
    step, so the mistake is reported here, naming the argument.
    """
    lower = "" if low is None else f"{'>=' if low_inclusive else '>'} {low:g}"
    upper = "" if high is None else f"<= {high:g}"
    wanted = " and ".join(part for part in (lower, upper) if part)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number {wanted}".rstrip() + f", got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be a finite number {wanted}".rstrip() + f", got {value!r}")
    too_low = low is not None and (number < low if low_inclusive else number <= low)
    if too_low or (high is not None and number > high):
        raise ValueError(f"{name} must be a number {wanted}, got {value!r}")
    return number


def check_positive_number(name, value):
    """A finite real number > 0 (learning rates, sigma, eps); returned as a float."""
    return check_number(name, value, low=0.0, low_inclusive=False)


def check_nonnegative_number(name, value):
    """A finite real number >= 0 (beta, alpha, weights of loss terms); returned as a float."""
    return check_number(name, value, low=0.0)


#: what ``check_array(kind=...)`` accepts: the one dtype rule of the public entry points.
#: "float": float32 or float64 arrays (inputs, parameters, gradients, noise). Images stored as
#: integers are converted by the data loaders (``sv.data``), never silently here: uint8 * 2
#: wraps around, and an integer parameter cannot take a fractional step.
#: "integer": signed or unsigned integers, not bool (class labels).
#: "real": integers or floats, not bool (images to plot).
#: Complex, bool, object, string and masked arrays are refused by every kind.
ARRAY_KINDS = ("float", "integer", "real")


def _dtype_ok(dtype, kind):
    if dtype == np.bool_:
        return False
    if kind == "float":
        return dtype in (np.dtype(np.float32), np.dtype(np.float64))
    if kind == "integer":
        return np.issubdtype(dtype, np.integer)
    return np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)


_KIND_TEXT = {"float": "a float32 or float64 array",
              "integer": "an array of integers",
              "real": "an array of real numbers (integers or floats)"}


def check_array(name, value, ndim=None, shape=None, dtype=None, finite=True, low=None, high=None,
                kind="float"):
    """Validate an array argument and return it as an ndarray (no copy when already fine).

    kind: which dtypes are accepted, see :data:`ARRAY_KINDS` (default "float": float32 or
    float64 only; integer images must be converted first, e.g. ``x.astype(np.float32) / 255``).
    ndim: required number of dimensions. shape: tuple with ints or None (None = any size).
    dtype: if given, the (accepted) array is converted to it. finite: reject NaN/inf.
    low/high: inclusive value range.
    """
    if kind not in ARRAY_KINDS:
        raise ValueError(f"kind must be one of {ARRAY_KINDS}, got {kind!r}")
    value = _as_plain_array(name, value)
    if not _dtype_ok(value.dtype, kind):
        hint = ""
        if kind == "float" and np.issubdtype(value.dtype, np.integer):
            hint = " (convert integer images explicitly, e.g. x.astype(np.float32) / 255)"
        raise ValueError(f"{name} must be {_KIND_TEXT[kind]}, got dtype {value.dtype}{hint}")
    _check_shape(name, value, ndim, shape)
    if dtype is not None and value.dtype != dtype:
        value = value.astype(dtype)
    check_finite = finite and np.issubdtype(value.dtype, np.floating)
    if value.size and (check_finite or low is not None or high is not None):
        _check_values(name, value, check_finite, low, high)
    return value


def _as_plain_array(name, value):
    """``value`` as an ndarray; a masked array is refused (its mask would be ignored)."""
    if isinstance(value, np.ma.MaskedArray):
        raise ValueError(f"{name} must be a plain numpy array, got a masked array; fill the "
                         "masked entries first (e.g. x.filled(0.0))")
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except Exception:
        raise ValueError(f"{name} must be an array, got {type(value).__name__}") from None


def _check_shape(name, value, ndim, shape):
    """Raise unless ``value`` has ``ndim`` dimensions and matches ``shape`` (None = any)."""
    if ndim is not None and value.ndim != ndim:
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")" if shape else ""
        raise ValueError(
            f"{name} must be a {ndim}-D array {want}".rstrip()
            + f", got shape {value.shape}"
        )
    if shape is None:
        return
    for axis, (want, got) in enumerate(zip(shape, value.shape)):
        if want is not None and want != got:
            want_str = "(" + ", ".join("batch" if s is None else str(s) for s in shape) + ")"
            raise ValueError(
                f"{name} must have shape {want_str}, got {value.shape} "
                f"(axis {axis} is {got}, expected {want})"
            )


def _check_values(name, value, check_finite, low, high):
    """Raise when ``value`` holds NaN/inf (if ``check_finite``) or values outside [low, high]."""
    # one min and one max answer both questions: a NaN or an inf anywhere shows up in them
    vmin, vmax = value.min(), value.max()
    if check_finite and not (np.isfinite(vmin) and np.isfinite(vmax)):
        bad = np.argwhere(~np.isfinite(value))[0]
        raise ValueError(
            f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
            "expected finite values"
        )
    if (low is not None and vmin < low) or (high is not None and vmax > high):
        wanted = (f"in [{low}, {high}]" if low is not None and high is not None
                  else f">= {low}" if low is not None else f"<= {high}")
        raise ValueError(
            f"{name} must have values {wanted}, got values in "
            f"[{float(vmin):.4g}, {float(vmax):.4g}]"
        )


def check_same_shape(**arrays):
    """Raise unless all keyword arrays have the same shape; the message names each."""
    items = list(arrays.items())
    first_name, first = items[0]
    for name, arr in items[1:]:
        if np.shape(arr) != np.shape(first):
            shapes = ", ".join(f"{n} {np.shape(a)}" for n, a in items)
            raise ValueError(f"{name} must have the same shape as {first_name}; got {shapes}")
