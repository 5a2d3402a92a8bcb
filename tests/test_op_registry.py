"""The op registry: one op, one contract (issue 27).

The NumPy backend is a table of the readable ops themselves (``kernels.reference.OPS``); every
Numba twin is registered under the same op name (``jit.OPS``, ``conv_jit.OPS``), takes the same
arguments and returns the same NamedTuple cache, so either backend's cache feeds either
backward. The tests below iterate over the registry: a twin that is not registered, or
registered but not tested here, fails.
"""

import inspect

import numpy as np
import pytest
from test_kernels import ACTIVATIONS, DTYPES, _assert_same

from scratchvae import conv, functional, losses, reparam
from scratchvae.kernels import conv_jit, jit
from scratchvae.kernels import reference as ref

NUMBA_OPS = {**jit.OPS, **conv_jit.OPS}
MATH_MODULES = {m.__name__ for m in (functional, conv, reparam, losses)}


def _params(function):
    """(name, kind, default) of every parameter but the conv ops' deprecated ``backend``."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()
            if p.name != "backend"]


def _public_functions(module):
    return {name for name, value in vars(module).items()
            if inspect.isfunction(value) and value.__module__ == module.__name__
            and not name.startswith("_")}


def test_every_op_has_a_numba_twin_under_its_name_and_every_twin_an_op():
    assert set(NUMBA_OPS) == set(ref.OPS)
    assert not set(jit.OPS) & set(conv_jit.OPS)
    assert set(jit.KERNELS) == set(ref.EXPRESSIONS)


def test_the_numpy_backend_is_the_readable_ops_themselves():
    for name, op in ref.OPS.items():
        assert op.__module__ in MATH_MODULES, (name, op.__module__)
        assert getattr(ref, name) is op  # what model.kernels.<name> runs on "numpy"
    assert ref.dense_act_forward is functional.dense_act_forward
    assert ref.conv2d_act_backward is conv.conv2d_act_backward
    assert ref.reparam_kl_forward is reparam.reparam_kl_forward
    assert ref.bernoulli_nll_and_grad is losses.bernoulli_nll_and_grad


def test_the_numba_modules_hold_no_unregistered_public_function():
    assert _public_functions(jit) == set(jit.OPS) | set(jit.KERNELS)
    assert _public_functions(conv_jit) == set(conv_jit.OPS)
    for name, twin in NUMBA_OPS.items():
        module = jit if name in jit.OPS else conv_jit
        assert getattr(module, name) is twin


@pytest.mark.parametrize("name", sorted(ref.OPS))
def test_each_twin_takes_the_arguments_of_its_op(name):
    assert _params(NUMBA_OPS[name]) == _params(ref.OPS[name])


@pytest.mark.parametrize("name", sorted(ref.EXPRESSIONS))
def test_each_kernel_without_an_op_takes_the_arguments_of_its_numpy_expression(name):
    assert _params(jit.KERNELS[name]) == _params(ref.EXPRESSIONS[name])


# ---------------------------------------------------------------------------------------------
# each twin equal to its op, with the same cache
# ---------------------------------------------------------------------------------------------


def _assert_same_cache(got, want, dtype):
    """The same NamedTuple type, field by field; arrays equal to the tolerance of the dtype."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, tuple) and hasattr(want, "_fields"):
        for field, g, w in zip(want._fields, got, want):
            try:
                _assert_same_cache(g, w, dtype)
            except AssertionError as err:
                raise AssertionError(f"cache field {field}: {err}") from err
    elif isinstance(want, np.ndarray):
        assert got.shape == want.shape
        _assert_same(got, want, dtype, reduction=True)
    else:
        assert got == want


def _assert_same_outputs(got, want, dtype):
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            assert g.shape == np.shape(w)
            _assert_same(np.asarray(g), np.asarray(w), dtype, reduction=True)


def _rng(seed=0):
    return np.random.default_rng(seed)


def _dense_arrays(dtype, sparse=False):
    rng = _rng(1)
    x = rng.uniform(size=(20, 30)).astype(dtype)
    if sparse:
        x[rng.uniform(size=x.shape) > 0.2] = 0
    W = rng.standard_normal((30, 7)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    return x, W, b


def _dense_settings():
    for activation in ACTIVATIONS:
        for sparse_x in (False, True):
            for batch_innermost in (False, True):
                yield activation, dict(sparse_x=sparse_x, batch_innermost=batch_innermost)


def case_dense_act_forward(dtype):
    for activation, hints in _dense_settings():
        x, W, b = _dense_arrays(dtype, sparse=hints["sparse_x"])
        out_j, cache_j = jit.dense_act_forward(x, W, b, activation, **hints)
        out_r, cache_r = ref.dense_act_forward(x, W, b, activation, **hints)
        _assert_same_outputs(out_j, out_r, dtype)
        _assert_same_cache(cache_j, cache_r, dtype)


def case_dense_act_backward(dtype):
    rng = _rng(2)
    for activation, hints in _dense_settings():
        x, W, b = _dense_arrays(dtype, sparse=hints["sparse_x"])
        out, cache_j = jit.dense_act_forward(x, W, b, activation, **hints)
        _, cache_r = ref.dense_act_forward(x, W, b, activation, **hints)
        dout = rng.standard_normal(out.shape).astype(dtype)
        for need_dx in (True, False):
            want = ref.dense_act_backward(dout, cache_r, need_dx)
            # either backend's cache feeds either backward
            _assert_same_outputs(jit.dense_act_backward(dout, cache_j, need_dx), want, dtype)
            _assert_same_outputs(jit.dense_act_backward(dout, cache_r, need_dx), want, dtype)
            _assert_same_outputs(ref.dense_act_backward(dout, cache_j, need_dx), want, dtype)


def _latent_arrays(dtype):
    rng = _rng(3)
    return tuple(rng.standard_normal((9, 5)).astype(dtype) for _ in range(3))


def case_reparam_kl_forward(dtype):
    mu, logvar, eps = _latent_arrays(dtype)
    _assert_same_outputs(jit.reparam_kl_forward(mu, logvar, eps),
                         ref.reparam_kl_forward(mu, logvar, eps), dtype)


def case_reparam_kl_backward(dtype):
    mu, logvar, eps = _latent_arrays(dtype)
    _, std, _ = ref.reparam_kl_forward(mu, logvar, eps)
    dz = _rng(4).standard_normal(mu.shape).astype(dtype)
    _assert_same_outputs(jit.reparam_kl_backward(dz, mu, logvar, eps, std, 0.3),
                         ref.reparam_kl_backward(dz, mu, logvar, eps, std, 0.3), dtype)


def case_bernoulli_nll_and_grad(dtype):
    rng = _rng(5)
    logits = (3 * rng.standard_normal((6, 40))).astype(dtype)
    x = rng.uniform(size=(6, 40)).astype(dtype)
    for check_finite in (True, False):
        _assert_same_outputs(
            jit.bernoulli_nll_and_grad(logits, x, 0.5, check_finite=check_finite),
            ref.bernoulli_nll_and_grad(logits, x, 0.5, check_finite=check_finite), dtype)


def case_gaussian_nll_and_grad(dtype):
    rng = _rng(6)
    x, mean = (rng.uniform(size=(6, 40)).astype(dtype) for _ in range(2))
    for logvar in (rng.uniform(-3, 1, size=(6, 40)).astype(dtype), np.asarray(-1.0, dtype)):
        _assert_same_outputs(jit.gaussian_nll_and_grad(x, mean, logvar, 0.5),
                             ref.gaussian_nll_and_grad(x, mean, logvar, 0.5), dtype)


IMAGE_SETTINGS = [  # (x shape, kernel, stride, padding)
    ((3, 2, 7, 6), 3, 2, 1),
    ((2, 3, 8, 8), 4, 2, 1),
    ((1, 1, 5, 5), 3, 1, 0),
]


def case_im2col(dtype):
    for shape, k, s, p in IMAGE_SETTINGS:
        x = _rng(7).standard_normal(shape).astype(dtype)
        _assert_same_outputs(conv_jit.im2col(x, k, k, s, p), ref.im2col(x, k, k, s, p), dtype)


def case_col2im(dtype):
    for shape, k, s, p in IMAGE_SETTINGS:
        cols = ref.im2col(np.zeros(shape, dtype), k, k, s, p)
        cols = _rng(8).standard_normal(cols.shape).astype(dtype)
        _assert_same_outputs(conv_jit.col2im(cols, shape, k, k, s, p),
                             ref.col2im(cols, shape, k, k, s, p), dtype)


def _conv_arguments(dtype, transposed):
    rng = _rng(9)
    for activation in ACTIVATIONS:
        x = rng.standard_normal((3, 2, 5, 6)).astype(dtype)
        if transposed:
            W = rng.standard_normal((2, 4, 4, 4)).astype(dtype)
            yield (x, W, rng.standard_normal(4).astype(dtype), 2, 1, (1, 0), activation)
        else:
            W = rng.standard_normal((4, 2, 3, 3)).astype(dtype)
            yield (x, W, rng.standard_normal(4).astype(dtype), 2, 1, activation)


def _conv_forward_case(name, dtype):
    for args in _conv_arguments(dtype, transposed="transpose" in name):
        out_j, cache_j = NUMBA_OPS[name](*args)
        out_r, cache_r = ref.OPS[name](*args)
        _assert_same_outputs(out_j, out_r, dtype)
        _assert_same_cache(cache_j, cache_r, dtype)


def _conv_backward_case(name, dtype):
    forward = name.replace("backward", "forward")
    for args in _conv_arguments(dtype, transposed="transpose" in name):
        out, cache_j = NUMBA_OPS[forward](*args)
        _, cache_r = ref.OPS[forward](*args)
        dout = _rng(10).standard_normal(out.shape).astype(dtype)
        for need_dx in (True, False):
            want = ref.OPS[name](dout, cache_r, need_dx)
            _assert_same_outputs(NUMBA_OPS[name](dout, cache_j, need_dx), want, dtype)
            _assert_same_outputs(NUMBA_OPS[name](dout, cache_r, need_dx), want, dtype)
            _assert_same_outputs(ref.OPS[name](dout, cache_j, need_dx), want, dtype)


OP_CASES = {
    "dense_act_forward": case_dense_act_forward,
    "dense_act_backward": case_dense_act_backward,
    "reparam_kl_forward": case_reparam_kl_forward,
    "reparam_kl_backward": case_reparam_kl_backward,
    "bernoulli_nll_and_grad": case_bernoulli_nll_and_grad,
    "gaussian_nll_and_grad": case_gaussian_nll_and_grad,
    "im2col": case_im2col,
    "col2im": case_col2im,
    **{name: (lambda dtype, name=name: _conv_forward_case(name, dtype))
       for name in ("conv2d_act_forward", "conv_transpose2d_act_forward")},
    **{name: (lambda dtype, name=name: _conv_backward_case(name, dtype))
       for name in ("conv2d_act_backward", "conv_transpose2d_act_backward")},
}


def test_every_registered_op_has_an_equality_case():
    assert set(OP_CASES) == set(ref.OPS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ref.OPS))
def test_each_numba_twin_equals_its_numpy_op_with_the_same_cache(name, dtype):
    OP_CASES[name](dtype)


# ---------------------------------------------------------------------------------------------
# kernels with no op of their own: equal to the NumPy expression they replace
# ---------------------------------------------------------------------------------------------


def _same_in_place_update(name, dtype):
    """adam_update / scaled_sum_into: the same in-place result from both."""
    rng = _rng(11)
    arrays = [rng.standard_normal((13, 7)).astype(dtype) for _ in range(3)]
    if name == "adam_update":
        arrays[2] = np.abs(arrays[2])  # v >= 0
        args = (rng.standard_normal((13, 7)).astype(dtype), 1e-2, 0.9, 0.999, 1e-8, 3)
        states = {}
        for module in (jit.KERNELS, ref.EXPRESSIONS):
            param, m, v = (a.copy() for a in arrays)
            module[name](param, args[0], m, v, *args[1:])
            states[id(module)] = (param, m, v)
    else:
        states = {}
        for module in (jit.KERNELS, ref.EXPRESSIONS):
            target = arrays[0].copy()
            module[name](target, arrays[1], 0.25, 0.75)
            states[id(module)] = (target,)
    for got, want in zip(states[id(jit.KERNELS)], states[id(ref.EXPRESSIONS)]):
        _assert_same(got, want, dtype, reduction=True)


def _same_product(name, dtype):
    rng = _rng(12)
    a = rng.uniform(size=(20, 30)).astype(dtype)
    a[rng.uniform(size=a.shape) > 0.25] = 0
    b = rng.standard_normal((20, 9) if name == "sparse_x_weight_grad" else (30, 9)).astype(dtype)
    _assert_same(jit.KERNELS[name](a, b), ref.EXPRESSIONS[name](a, b), dtype, reduction=True)


KERNEL_CASES = {
    "sparse_x_matmul": _same_product,
    "sparse_x_weight_grad": _same_product,
    "matmul": _same_product,
    "adam_update": _same_in_place_update,
    "scaled_sum_into": _same_in_place_update,
}


def test_every_kernel_without_an_op_has_an_equality_case():
    assert set(KERNEL_CASES) == set(jit.KERNELS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(jit.KERNELS))
def test_each_kernel_without_an_op_equals_the_numpy_expression_it_replaces(name, dtype):
    KERNEL_CASES[name](name, dtype)
