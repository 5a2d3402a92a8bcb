"""The machinery every checker shares: call a student's function safely, compare, explain.

A check runs the student's function on fresh random cases (float64, fixed seeds), AFTER which it
computes the reference answer on its own copies of the inputs, so nothing the student's function
can see holds the expected values. Each result is checked in this order: it returned at all
(``NotImplementedError`` -> :class:`NotImplementedYet`), the inputs are unchanged, the return
type, the shape, the dtype, finiteness, then the values element by element. A failure raises
:class:`HomeworkCheckError` (an ``AssertionError``) whose message names the exercise, the case,
the output, the element, expected vs got, and a HINT when the wrong answer matches a known
mistake (each checker passes the values those mistakes would give).

The student's function runs under :class:`PackageCallWatch`: an exercise is to be written with
NumPy, so a call into scratchvae's own code (the reference the answer is compared with) fails
the check, except the calls the exercise allows (e.g. ``vae.encode`` in ``elbo_terms``) and the
callbacks the checker hands over (the ``f`` of ``numerical_gradient``).
"""

import numbers
import os
import sys
import threading

import numpy as np

from scratchvae.homework._mistakes import IN_PLACE


class HomeworkCheckError(AssertionError):
    """A student's function gave a wrong answer; the message says which output, where and why.

    In a notebook, IPython shows the message alone (``_render_traceback_``), not a traceback
    through the checker's code: the checker's source holds the answers."""

    def _render_traceback_(self):  # IPython shows these lines instead of a traceback
        return f"{type(self).__name__}: {self}".splitlines()


class NotImplementedYet(HomeworkCheckError):
    """The function still raises ``NotImplementedError`` (the released stub): not a wrong answer,
    just not attempted yet. A subclass of :class:`HomeworkCheckError`, so ``except AssertionError``
    catches both; graders tell them apart by the class name."""


PACKAGE_DIR = os.path.dirname(os.path.dirname(__file__)) + os.sep
"""The folder of the scratchvae package (as its code objects name it): code in it is the
reference a student must not call."""


def _code_of(fn):
    """The code object run by calling ``fn`` (a function, bound method or property), or None."""
    fn = getattr(fn, "fget", fn)
    fn = getattr(fn, "__func__", fn)
    return getattr(fn, "__code__", None)


def _property_codes(obj):
    """Code of every property getter of ``obj``'s class, if that class is scratchvae's own:
    reading ``vae.params`` is using the object, not calling its reference code."""
    cls = type(obj)
    if not cls.__module__.startswith("scratchvae"):
        return set()
    return {_code_of(value) for klass in cls.__mro__ for value in vars(klass).values()
            if isinstance(value, property)}


def _is_package_code(code):
    return code.co_filename.startswith(PACKAGE_DIR)


class PackageCallWatch:
    """A ``sys.setprofile`` hook that records calls into scratchvae's code while it is active.

    Recorded are the package functions called from outside the package, i.e. by the watched
    code itself (what they call in turn is their business), except: the code of ``allowed``
    callables (and everything under them), module bodies run by an import, and ``__getattr__``
    (the lazy attributes of ``scratchvae`` and the renamed-name aliases): looking a name up is
    not calling the reference. ``calls`` lists the dotted names in the order first called.
    Calls made from C code without a Python frame in between (``map(f, ...)``) count as calls
    from the watched code, and so do calls from threads it starts. Student code can switch a
    profiler off; the grader (:mod:`scratchvae.homework.grade`) does not rely on this watch.
    """

    def __init__(self, allowed=()):
        self.allowed = {code for code in map(_code_of, allowed) if code is not None}
        self.calls = []
        self._allowed_frame = None
        self._home = None
        self._previous = None

    def _profile(self, frame, event, arg):
        if self._allowed_frame is not None:  # inside an allowed call: ignore until it returns
            if event == "return" and frame is self._allowed_frame:
                self._allowed_frame = None
            return
        if event != "call":
            return
        code = frame.f_code
        if code in self.allowed:
            self._allowed_frame = frame
            return
        caller = frame.f_back
        from_package = (caller is not None and caller is not self._home
                        and _is_package_code(caller.f_code))
        if (_is_package_code(code) and not from_package
                and code.co_name not in ("<module>", "__getattr__")
                and code is not PackageCallWatch.__exit__.__code__):  # the watch switching off
            module = frame.f_globals.get("__name__", "scratchvae")
            name = f"{module}.{getattr(code, 'co_qualname', code.co_name)}"
            if name not in self.calls:
                self.calls.append(name)

    def __enter__(self):
        self._home = sys._getframe(1)  # the checker's frame that calls the watched function
        self._previous = sys.getprofile()
        self._previous_threads = threading.getprofile()
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)  # threads the watched code starts are watched too
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._previous)
        threading.setprofile(self._previous_threads)
        self._home = None
        return False


RTOL = 1e-6
"""Relative tolerance for comparing float64 answers (a correct float64 answer is ~1e-13 off)."""


def describe_shapes(args):
    """'dout (4, 3), cache.x (4, 5)' for the array arguments of one case."""
    parts = []
    for name, value in _arrays(args):
        parts.append(f"{name} {tuple(value.shape)}")
    for name, value in args.items():
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)


def _arrays(args, prefix=""):
    """(dotted name, array) for every ndarray in a dict / tuple / NamedTuple / list tree."""
    items = args.items() if isinstance(args, dict) else None
    if items is None and hasattr(args, "_fields"):
        items = zip(args._fields, args)
    if items is None and isinstance(args, (tuple, list)):
        items = ((str(i), v) for i, v in enumerate(args))
    if items is None:
        return
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, np.ndarray):
            yield name, value
        elif isinstance(value, (dict, tuple, list)):
            yield from _arrays(value, prefix=f"{name}.")


def _snapshot(args):
    return {name: (value, value.copy()) for name, value in _arrays(args)}


class Check:
    """One exercise's check: ``call`` the student's function, ``expect`` its outputs, ``done``."""

    def __init__(self, exercise, reference, allowed=(), allowed_text="none"):
        self.exercise = exercise
        self.reference = reference
        self.allowed = tuple(allowed)
        self.allowed_text = allowed_text
        self.n_cases = 0

    # -- failing ----------------------------------------------------------------------------

    def fail(self, message, case=None, hint=None):
        where = f" [{case}]" if case else ""
        text = f"{self.exercise}{where}: {message}"
        if hint:
            text += f"\n  HINT: {hint}"
        raise HomeworkCheckError(text)

    # -- calling ----------------------------------------------------------------------------

    def call(self, fn, args, case, input_rtol=0.0, mutation_hint=IN_PLACE, mutable=(),
             crash_hint=None, allowed=(), count=True):
        """Call ``fn(*args.values())`` and return its result; ``args`` maps names to values.

        Raises NotImplementedYet for a stub, HomeworkCheckError for any other exception, when
        the function called scratchvae's own code (other than the exercise's allowed calls and
        ``allowed``, e.g. a callback among the args), and when it changed one of its array
        inputs (beyond ``input_rtol``, relative to the input's largest entry); arguments named
        in ``mutable`` (e.g. the params an optimizer step updates) are not checked.
        ``mutation_hint`` is shown then (default: the general in-place hint ``IN_PLACE``).
        ``crash_hint`` is shown when the function raises. ``count``: whether this call is a
        test case of its own in the success line (a chained call is part of one).
        """
        if not callable(fn):
            self.fail(f"expected a function, got {type(fn).__name__} {fn!r}")
        self.n_cases += count
        before = _snapshot({k: v for k, v in args.items() if k not in mutable})
        result = self.run(fn, list(args.values()), case, crash_hint, allowed,
                          shapes=describe_shapes(args))
        for name, (live, copy) in before.items():
            if live.shape != copy.shape or not _close(live, copy, input_rtol):
                diff = np.abs(np.asarray(live, dtype=np.float64) - copy)
                idx = tuple(int(i) for i in np.unravel_index(int(np.nanargmax(
                    np.where(np.isnan(diff), np.inf, diff))), copy.shape)) if copy.size else ()
                self.fail(
                    f"your function changed its input `{name}` in place (at index {idx}: was "
                    f"{float(copy[idx]):.10g}, now {float(live[idx]):.10g}). Leave the inputs as they "
                    "are: compute a new array instead of writing into one you were given.",
                    case, mutation_hint,
                )
        return result

    def run(self, fn, args, case=None, crash_hint=None, allowed=(), shapes=""):
        """``fn(*args)`` watched for calls into the package (see :meth:`call`), no input check."""
        allowed = (*self.allowed, *allowed, *(a for a in args if callable(a)))
        if getattr(fn, "runs_in_student_process", False):  # the grader's proxy of the function:
            allowed += (type(fn).__call__,)  # its code sends the call to the student's process
        properties = set().union(*(_property_codes(a) for a in args))
        watch = PackageCallWatch(allowed)
        watch.allowed |= properties
        crash = None
        with watch:
            try:
                result = fn(*args)
            except NotImplementedError:
                crash = "stub"
            except HomeworkCheckError:
                raise
            except Exception as err:  # the student's code crashed: say where, on which inputs
                crash = err
        if watch.calls:
            self.fail(
                f"your function called the package's own implementation "
                f"({', '.join(watch.calls[:3])}). This exercise is to be written with NumPy: "
                "the check compares your answer with that code, so calling it proves nothing. "
                f"Package calls allowed in this exercise: {self.allowed_text}.", case)
        if crash == "stub":
            raise NotImplementedYet(
                f"{self.exercise}: not implemented yet (the function still raises "
                "NotImplementedError: replace `# YOUR CODE HERE` and the raise with your code)"
            ) from None
        if crash is not None:
            self.fail(f"your function raised {type(crash).__name__}: {crash}"
                      + (f"\n  on inputs {shapes}" if shapes else ""), case, crash_hint)
        return result

    # -- comparing --------------------------------------------------------------------------

    def unpack(self, result, names, case):
        """Check that ``result`` is a tuple of len(names) things and return it as a tuple."""
        want = f"{len(names)} values ({', '.join(names)})"
        if isinstance(result, np.ndarray) or not isinstance(result, (tuple, list)):
            self.fail(f"should return {want} as a tuple, got a single "
                      f"{type(result).__name__}", case)
        if len(result) != len(names):
            self.fail(f"should return {want}, got {len(result)} values", case)
        return tuple(result)

    def expect_array(self, what, got, expected, case, hints=None, rtol=RTOL, atol=None,
                     extra="", fallback_hint=None):
        """``got`` must be a float ndarray shaped like ``expected`` with the same values.

        hints: {hint text: the value that known mistake gives}; the first one ``got`` matches
        (shape and values) is added to the failure message, else ``fallback_hint`` when the
        values are wrong.
        """
        expected = np.asarray(expected, dtype=np.float64)
        hints = hints or {}
        if not isinstance(got, np.ndarray):
            kind = type(got).__name__
            self.fail(
                f"`{what}` should be a NumPy array of shape {expected.shape}, got {kind}"
                + (" (a tuple? return the arrays separately)" if isinstance(got, tuple) else ""),
                case, _match_hint(got, hints),
            )
        if got.shape != expected.shape:
            self.fail(f"`{what}` has shape {got.shape}, but it should have shape "
                      f"{expected.shape}{extra}", case, _match_hint(got, hints))
        if not np.issubdtype(got.dtype, np.floating):
            self.fail(f"`{what}` has dtype {got.dtype}, expected a float64 array", case,
                      _match_hint(got, hints) or (
                          "a boolean or integer array: did you forget to multiply by the "
                          "upstream gradient?" if got.dtype == bool else None))
        if got.dtype != np.float64:
            self.fail(f"`{what}` has dtype {got.dtype}, expected float64 (the inputs are "
                      "float64: don't convert to float32)", case)
        if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
            self.fail(f"`{what}` contains nan or inf (first at {what}{list(bad)}: expected "
                      f"{expected[bad]:.6g}, got {got[bad]})", case, _match_hint(got, hints))
        bad = _wrong(got, expected, rtol, atol)
        if bad.any():
            diff = np.where(bad, np.abs(got - expected), -1.0)
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), got.shape))
            where = f"{what}[{', '.join(map(str, idx))}]" if idx else what
            self.fail(
                f"wrong `{what}`: {int(bad.sum())} of {bad.size} entries differ; worst at "
                f"{where}: expected {expected[idx]:.8g}, got {got[idx]:.8g}",
                case, _match_hint(got, hints) or fallback_hint,
            )

    def expect_scalar(self, what, got, expected, case, hints=None, rtol=RTOL, atol=None,
                      integer=False):
        """``got`` must be one real number (Python or NumPy scalar, or a 0-d array)."""
        hints = hints or {}
        kind = "an int" if integer else "a float"
        if isinstance(got, np.ndarray) and got.ndim > 0:
            self.fail(f"`{what}` should be a single number ({kind}), got an array of shape "
                      f"{got.shape}", case, _match_hint(got, hints))
        if isinstance(got, bool) or not isinstance(got, (numbers.Real, np.ndarray)):
            self.fail(f"`{what}` should be {kind}, got {type(got).__name__} {got!r}", case,
                      _match_hint(got, hints))
        if integer and not isinstance(got, numbers.Integral):
            self.fail(f"`{what}` should be an int (a count), got {type(got).__name__} {got!r}",
                      case, _match_hint(got, hints)
                      or "use // for integer division: n * (n + 1) // 2 is an int")
        value = float(got)
        if not np.isfinite(value) and np.isfinite(expected):
            self.fail(f"`{what}` is {value}, expected {expected:.8g}", case,
                      _match_hint(got, hints))
        if _wrong(np.array(value), np.array(float(expected)), rtol, atol).any():
            self.fail(f"wrong `{what}`: expected {expected:.8g}, got {value:.8g}", case,
                      _match_hint(got, hints))

    def done(self, note=""):
        """Print the one success line."""
        cases = f"{self.n_cases} test case{'s' if self.n_cases != 1 else ''}"
        print(f"[PASS] {self.exercise}: {cases} agree with {self.reference}"
              + (f" {note}" if note else "") + ".")


def _close(a, b, rtol):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if rtol == 0:
        return bool(np.array_equal(a, b, equal_nan=True))
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-300)
    return bool(np.all(np.abs(a - b) <= rtol * scale))


def _wrong(got, expected, rtol, atol):
    """Boolean mask of entries outside atol + rtol * |expected| (nan counts as wrong)."""
    got = np.asarray(got, dtype=np.float64)
    if atol is None:
        atol = 1e-8 * max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    ok = np.abs(got - expected) <= atol + rtol * np.abs(expected)
    return ~ok


def _match_hint(got, hints):
    """The first hint whose candidate value ``got`` equals (shape and values), else None."""
    try:
        got_arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    for hint, candidate in hints.items():
        if candidate is None:
            continue
        cand = np.asarray(candidate, dtype=np.float64)
        if cand.shape != got_arr.shape:
            continue
        with np.errstate(invalid="ignore"):
            if np.allclose(got_arr, cand, rtol=1e-6, atol=1e-9, equal_nan=True):
                return hint
    return None


def finite_difference_grad(f, x, h=1e-5):
    """Central-difference gradient of scalar ``f`` at ``x`` (float64), x itself untouched."""
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        f_plus = float(f(x))
        flat[i] = old - h
        f_minus = float(f(x))
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def finite_difference_grad_of_input(f, inputs, i):
    """Central-difference gradient of the scalar ``f(*inputs)`` with respect to ``inputs[i]``,
    the other inputs held at their values."""
    def f_of_input_i(value):
        args = list(inputs)
        args[i] = value
        return f(*args)
    return finite_difference_grad(f_of_input_i, inputs[i])


def expect_close_to_fd(check, what, got, numeric, case, tol=1e-6):
    """The second oracle: the (already shape-checked) gradient against finite differences."""
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = max(float(np.max(np.abs(numeric))), float(np.max(np.abs(got))), 1e-12)
    err = float(np.max(np.abs(got - numeric))) / scale
    if err > tol:
        diff = np.abs(got - numeric)
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
        check.fail(f"`{what}` disagrees with finite differences (relative error {err:.2e}); "
                   f"worst at {what}{list(idx)}: finite differences give {numeric[idx]:.8g}, "
                   f"you give {got[idx]:.8g}", case)


def expect_param_grads_close_to_fd(check, grads, params, loss_of, keys, case):
    """Every ``grads[key]`` against central differences of ``loss_of(params)``, one parameter
    array at a time (the others held at their values)."""
    for key in keys:
        def f(value, key=key):
            p = dict(params)
            p[key] = value
            return loss_of(p)
        expect_close_to_fd(check, f"grads['{key}']", grads[key],
                           finite_difference_grad(f, params[key]), case)


def rng_for(exercise, case_index):
    """A fixed Generator per (exercise, case): the same cases every run, different per exercise."""
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(exercise)) * 1000 + case_index
    return np.random.default_rng(seed)
