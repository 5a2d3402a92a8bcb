"""Numba kernels (scratchvae.kernels.jit) against the NumPy ops they twin (kernels.reference).

Every kernel is checked on batch 1, odd sizes and non-contiguous inputs, in float64 (relative
error < 1e-12 elementwise, < 1e-10 for sums) and float32 (< 1e-5). The wrappers hand the
kernels C-contiguous arrays, so these tests compile each kernel for two dtypes only. The op
registry itself (every twin registered under an op name, same signature, same cache) is
tested in tests/test_op_registry.py.
"""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.functional import ACTIVATIONS as FUNCTIONAL_ACTIVATIONS
from scratchvae.gradcheck import check_model, rel_error
from scratchvae.kernels import jit
from scratchvae.kernels import reference as ref

DTYPES = [np.float64, np.float32]
ACTIVATIONS = list(FUNCTIONAL_ACTIVATIONS)  # an activation added to functional is tested here
#: (elementwise, reduction) relative-error tolerance per dtype
TOL = {np.float64: (1e-12, 1e-10), np.float32: (1e-5, 1e-5)}


def _elementwise_error(actual, expected):
    """max_i |a_i - b_i| / |b_i|, with |b_i| floored at 1e-6 max|b| (exact zeros stay exact)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    floor = max(1e-6 * float(np.max(np.abs(expected), initial=0.0)), np.finfo(float).tiny)
    return float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), floor),
                        initial=0.0))


def _assert_same(actual, expected, dtype, reduction=False):
    assert actual.dtype == np.dtype(dtype), (actual.dtype, dtype)
    elementwise_tol, reduction_tol = TOL[dtype]
    if reduction:  # sums may cancel: a norm-wise relative error
        assert rel_error(actual, expected) < reduction_tol
    else:
        assert _elementwise_error(actual, expected) < elementwise_tol


def _non_contiguous(a):
    """The same values in a transposed-and-strided view (not C-contiguous)."""
    big = np.zeros((a.shape[1], 2 * a.shape[0]), dtype=a.dtype)
    big[:, ::2] = a.T
    view = big[:, ::2].T
    assert np.array_equal(view, a) and (a.size == 1 or not view.flags.c_contiguous)
    return view


def _dense_cases(dtype):
    """(x, W, b) for batch 1, odd sizes, and non-contiguous x and W."""
    rng = np.random.default_rng(0)
    cases = []
    for batch, n_in, n_out in [(1, 3, 4), (7, 13, 5), (33, 17, 31)]:
        x = (2 * rng.standard_normal((batch, n_in))).astype(dtype)
        W = rng.standard_normal((n_in, n_out)).astype(dtype)
        b = rng.standard_normal(n_out).astype(dtype)
        cases.append((x, W, b))
    x, W, b = cases[-1]
    cases.append((_non_contiguous(x), _non_contiguous(W), b[::-1]))
    return cases


def _pre_out(cache):
    """(pre, out) of a dense_act cache."""
    act_cache = cache.act_cache
    return act_cache.x, getattr(act_cache, "out", None)


def test_the_numba_kernels_know_exactly_the_activations_of_functional():
    assert list(jit.ACTIVATION_CODES) == list(FUNCTIONAL_ACTIVATIONS)
    assert jit.LEAKY_SLOPE is sv.functional.LEAKY_SLOPE


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_numba_scalar_activations_equal_the_one_activation_table(activation, dtype):
    # jit._act / jit._act_grad are the scalar twins of functional.ACTIVATIONS, name by name
    x = np.concatenate([np.linspace(-30, 30, 121), [0.0, -1e-3, 1e-3]]).astype(dtype)
    forward, backward = FUNCTIONAL_ACTIVATIONS[activation]
    out, cache = forward(x)
    code = jit.ACTIVATION_CODES[activation]
    act = np.array([jit._act.py_func(v, code) for v in x])
    grad = np.array([jit._act_grad.py_func(p, o, code) for p, o in zip(x, out)])
    np.testing.assert_allclose(act, out, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
    np.testing.assert_allclose(grad, backward(np.ones_like(x), cache),
                               rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_act_forward_matches_reference_for_every_activation(dtype):
    for x, W, b in _dense_cases(dtype):
        for activation in ACTIVATIONS:
            out, cache = jit.dense_act_forward(x, W, b, activation)
            out_ref, cache_ref = ref.dense_act_forward(x, W, b, activation)
            _assert_same(_pre_out(cache)[0], _pre_out(cache_ref)[0], dtype)
            _assert_same(out, out_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_act_backward_matches_reference_with_and_without_dx(dtype):
    rng = np.random.default_rng(1)
    for x, W, b in _dense_cases(dtype):
        for activation in ACTIVATIONS:
            out, cache = ref.dense_act_forward(x, W, b, activation)
            dout = rng.standard_normal(out.shape).astype(dtype)
            for need_dx in (True, False):
                dx, dW, db = jit.dense_act_backward(_non_contiguous(dout), cache, need_dx)
                dx_ref, dW_ref, db_ref = ref.dense_act_backward(dout, cache, need_dx)
                _assert_same(dW, dW_ref, dtype, reduction=True)
                _assert_same(db, db_ref, dtype, reduction=True)
                if need_dx:
                    _assert_same(dx, dx_ref, dtype, reduction=True)
                else:
                    assert dx is None and dx_ref is None


def _sparse(x, density, rng):
    """x with all but about ``density`` of its values set to exactly 0 (like MNIST's pixels)."""
    x = np.array(x)
    x[rng.uniform(size=x.shape) >= density] = 0
    return x


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_x_kernels_equal_dense_products_at_every_density(dtype):
    rng = np.random.default_rng(8)
    for batch, n_in, n_out in [(1, 3, 4), (7, 13, 5), (33, 17, 31), (20, 784, 400)]:
        for density in (0.0, 0.05, 0.2, 0.6, 1.0):
            x = _sparse(rng.uniform(size=(batch, n_in)), density, rng).astype(dtype)
            W = rng.standard_normal((n_in, n_out)).astype(dtype)
            dpre = rng.standard_normal((batch, n_out)).astype(dtype)
            for xx in (x, _non_contiguous(x)):
                _assert_same(jit.sparse_x_matmul(xx, W), ref.sparse_x_matmul(x, W), dtype,
                             reduction=True)
                _assert_same(jit.sparse_x_weight_grad(xx, dpre), ref.sparse_x_weight_grad(x, dpre),
                             dtype, reduction=True)
    assert not jit.sparse_x_matmul(np.zeros((2, 3), dtype), np.ones((3, 4), dtype)).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_row_pairs_kernel_equals_dense_product_for_every_row_count_and_overlap(dtype):
    # the weight gradient's kernel: rows two at a time over the union of their nonzeros; odd
    # row counts (the last row alone), unions of every length mod 4, pairs with one row all 0
    rng = np.random.default_rng(11)
    for n_rows in (1, 2, 3, 8, 9):
        for n_inner in (1, 4, 5, 6, 7, 40):
            for density in (0.0, 0.1, 0.5, 1.0):
                a = _sparse(rng.uniform(size=(n_rows, n_inner)), density, rng).astype(dtype)
                a[rng.uniform(size=n_rows) < 0.3] = 0  # some rows all zero
                B = rng.standard_normal((n_inner, 9)).astype(dtype)
                out = np.full((n_rows, 9), np.nan, dtype=dtype)  # every entry must be written
                jit._sparse_row_pairs_times_dense_kernel(a, B, out)
                _assert_same(out, a.astype(np.float64) @ B.astype(np.float64), dtype,
                             reduction=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_layer_on_sparse_x_takes_the_sparse_path_and_matches_reference(dtype, monkeypatch):
    rng = np.random.default_rng(9)
    x = _sparse(rng.uniform(size=(16, 50)), 0.15, rng).astype(dtype)
    assert jit._is_sparse(x) and not jit._is_sparse(rng.uniform(size=(4, 5)))
    monkeypatch.setattr(jit, "blas_threads", lambda: 1)  # the sparse path is for one BLAS thread
    W = rng.standard_normal((50, 12)).astype(dtype)
    b = rng.standard_normal(12).astype(dtype)
    calls = []

    def recorded(name, kernel):
        def call(*args):
            calls.append(name)
            return kernel(*args)
        return call

    for name in ("sparse_x_matmul", "sparse_x_weight_grad"):
        monkeypatch.setattr(jit, name, recorded(name, getattr(jit, name)))
    for activation in ACTIVATIONS:
        out, cache = jit.dense_act_forward(x, W, b, activation, sparse_x=None)  # automatic
        assert cache.sparse_x
        out_ref, cache_ref = ref.dense_act_forward(x, W, b, activation)
        _assert_same(_pre_out(cache)[0], _pre_out(cache_ref)[0], dtype, reduction=True)
        _assert_same(out, out_ref, dtype, reduction=True)
        dout = rng.standard_normal(out.shape).astype(dtype)
        _, dW, db = jit.dense_act_backward(dout, cache, need_dx=False)
        _, dW_ref, db_ref = ref.dense_act_backward(dout, cache_ref, need_dx=False)
        _assert_same(dW, dW_ref, dtype, reduction=True)
        _assert_same(db, db_ref, dtype, reduction=True)
    assert calls.count("sparse_x_matmul") == calls.count("sparse_x_weight_grad") == len(ACTIVATIONS)
    calls.clear()  # an explicit sparse_x=False takes BLAS's dense products, whatever x is
    out, cache = jit.dense_act_forward(x, W, b, "relu", sparse_x=False)
    jit.dense_act_backward(np.ones_like(out), cache, need_dx=False)
    assert calls == [] and not cache.sparse_x


def test_sparse_path_only_with_one_blas_thread_and_judged_on_the_first_rows():
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(10)
    x = _sparse(rng.uniform(size=(40, 50)), 0.15, rng)
    with threadpool_limits(limits=1, user_api="blas"):
        assert jit.blas_threads() == 1
        assert jit._use_sparse(x)
    with threadpool_limits(limits=2, user_api="blas"):
        assert jit.blas_threads() == 2
        assert not jit._use_sparse(x)
    dense_tail = x.copy()
    dense_tail[jit.SPARSE_CHECK_ROWS:] = 1.0  # only the first rows are counted
    assert jit._is_sparse(dense_tail)
    dense_head = x.copy()
    dense_head[:jit.SPARSE_CHECK_ROWS] = 1.0
    assert not jit._is_sparse(dense_head)


def _latent_cases(dtype):
    rng = np.random.default_rng(2)
    cases = []
    for shape in [(1, 1), (5, 3), (9, 20)]:
        mu, logvar, eps = (rng.standard_normal(shape).astype(dtype) for _ in range(3))
        cases.append((mu, logvar, eps))
    mu, logvar, eps = cases[-1]
    cases.append((_non_contiguous(mu), logvar, _non_contiguous(eps)))
    return cases


@pytest.mark.parametrize("dtype", DTYPES)
def test_reparam_kl_forward_and_backward_match_reference(dtype):
    rng = np.random.default_rng(3)
    for mu, logvar, eps in _latent_cases(dtype):
        z, std, kl = jit.reparam_kl_forward(mu, logvar, eps)
        z_ref, std_ref, kl_ref = ref.reparam_kl_forward(mu, logvar, eps)
        _assert_same(z, z_ref, dtype)
        _assert_same(std, std_ref, dtype)
        _assert_same(kl, kl_ref, dtype, reduction=True)
        assert kl.shape == (mu.shape[0],)
        dz = _non_contiguous(rng.standard_normal(mu.shape).astype(dtype))
        got = jit.reparam_kl_backward(dz, mu, logvar, eps, std, 0.37)
        want = ref.reparam_kl_backward(dz, mu, logvar, eps, std_ref, 0.37)
        for g, w in zip(got, want):
            _assert_same(g, w, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bernoulli_nll_and_grad_match_reference(dtype):
    rng = np.random.default_rng(4)
    shapes = [(1, 1), (3, 7), (4, 1100)]  # 1100 pixels: rows longer than one 512-pixel segment
    for shape in shapes:
        logits = (4 * rng.standard_normal(shape)).astype(dtype)
        x = rng.uniform(size=shape).astype(dtype)
        x[:, ::3] = np.round(x[:, ::3])  # binary and grey pixels
        for lg, xx in [(logits, x), (_non_contiguous(logits), _non_contiguous(x))]:
            nll, dlogits = jit.bernoulli_nll_and_grad(lg, xx, 0.25)
            nll_ref, dlogits_ref = ref.bernoulli_nll_and_grad(lg, xx, 0.25)
            _assert_same(nll, nll_ref, dtype, reduction=True)
            # sigmoid(l) - x cancels where the model is right: in float32, one rounding of
            # sigmoid (which NumPy and libm may do differently) is then a large elementwise
            # change, so float32 is compared norm-wise there
            _assert_same(dlogits, dlogits_ref, dtype, reduction=dtype == np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_nll_and_grad_match_reference_for_full_and_scalar_logvar(dtype):
    rng = np.random.default_rng(5)
    for shape in [(1, 1), (3, 7), (6, 33)]:
        x, mean = (rng.uniform(size=shape).astype(dtype) for _ in range(2))
        logvar = rng.uniform(-3, 1, size=shape).astype(dtype)
        for lv in [logvar, _non_contiguous(logvar), np.asarray(-1.5, dtype=dtype)]:
            got = jit.gaussian_nll_and_grad(_non_contiguous(x), mean, lv, 0.5)
            want = ref.gaussian_nll_and_grad(x, mean, lv, 0.5)
            _assert_same(got[0], want[0], dtype, reduction=True)
            _assert_same(got[1], want[1], dtype)
            assert got[2].shape == np.shape(lv)
            _assert_same(got[2], want[2], dtype, reduction=lv.ndim == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scaled_sum_into_matches_reference_in_place(dtype):
    rng = np.random.default_rng(11)
    for shape in [(1,), (7, 13), (3, 4, 5)]:
        target = rng.standard_normal(shape).astype(dtype)
        source = rng.standard_normal(shape).astype(dtype)
        got, want = target.copy(), target.copy()
        jit.scaled_sum_into(got, source, 0.25, 0.75)
        ref.scaled_sum_into(want, source, 0.25, 0.75)
        _assert_same(got, want, dtype)
        np.testing.assert_allclose(want, 0.25 * target + 0.75 * source, rtol=1e-6)
        assert got.dtype == dtype
    with pytest.raises(ValueError, match="C-contiguous"):
        jit.scaled_sum_into(np.zeros((4, 4), dtype)[:, ::2], np.zeros((4, 2), dtype), 1, 1)
    with pytest.raises(ValueError, match="same shape"):
        jit.scaled_sum_into(np.zeros(3, dtype), np.zeros(4, dtype), 1, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_update_matches_reference_in_place_including_strided_params(dtype):
    rng = np.random.default_rng(6)
    for shape in [(1,), (7, 13), (40_000,)]:
        p0 = rng.standard_normal(shape).astype(dtype)
        states = {}
        for name in ("jit", "ref"):
            states[name] = [p0.copy(), np.zeros_like(p0), np.zeros_like(p0)]
        # the jit parameter is a strided view into a bigger array: it must be updated in place
        holder = np.zeros((2,) + shape, dtype=dtype)
        holder[1] = p0
        states["jit"][0] = holder[1] if len(shape) == 1 else _non_contiguous(p0)
        for step in range(1, 6):
            grad = rng.standard_normal(shape).astype(dtype)
            jit.adam_update(*states["jit"][:1], grad, *states["jit"][1:], 1e-2, 0.9, 0.999,
                            1e-8, step)
            ref.adam_update(*states["ref"][:1], grad, *states["ref"][1:], 1e-2, 0.9, 0.999,
                            1e-8, step)
        for got, want in zip(states["jit"], states["ref"]):
            # among 32k float32 values a few land near 0, where one rounding is a large
            # elementwise change: the long vector is compared norm-wise
            _assert_same(got, want, dtype, reduction=got.size > 1000)
        assert not np.array_equal(states["jit"][0], p0)  # the update happened in place


@pytest.mark.parametrize("dtype", DTYPES)
def test_teaching_matmul_equals_blas_product(dtype):
    rng = np.random.default_rng(7)
    for n, k, m in [(1, 1, 1), (3, 5, 2), (37, 300, 270), (130, 17, 513)]:
        a = rng.standard_normal((n, k)).astype(dtype)
        b = rng.standard_normal((k, m)).astype(dtype)
        c = jit.matmul(a, b)
        assert c.shape == (n, m)
        _assert_same(c, a @ b, dtype, reduction=True)
    c = jit.matmul(_non_contiguous(a), b[:, ::-1])
    _assert_same(c, a @ b[:, ::-1], dtype, reduction=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernels_stay_finite_and_silent_for_extreme_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0, 1e4, -1e4, 80.0, -800.0]], dtype=dtype)
    x = np.array([[1.0, 1.0, 0.5, 0.0, 0.0, 1.0, 1.0]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        nll, dlogits = jit.bernoulli_nll_and_grad(logits, x, 1.0)
        outs = [jit.dense_act_forward(logits, np.eye(7, dtype=dtype), np.zeros(7, dtype), act)
                for act in ACTIVATIONS]
        backs = [jit.dense_act_backward(np.ones_like(logits), cache) for _, cache in outs]
    assert np.all(np.isfinite(nll)) and np.all(np.isfinite(dlogits))
    assert np.all([np.isfinite(a).all() for out, cache in outs for a in (out, *_pre_out(cache))
                   if a is not None])
    assert np.all([np.isfinite(a).all() for back in backs for a in back])
    # softplus(1e4) - 1e4 = 0; softplus(-1e4) + 1e4 = 1e4; log 2; softplus(1e4) = 1e4; ...
    expected = 0 + 1e4 + np.log(2) + 1e4 + 0 + np.log1p(np.exp(-80.0)) + 800.0
    assert abs(float(nll[0]) - expected) / expected < TOL[dtype][1]
    np.testing.assert_array_equal(dlogits[0, :2], np.array([0, -1], dtype=dtype))


def _train_losses(backend, likelihood, dtype, steps=20):
    """Losses of ``steps`` Adam steps on a small VAE, everything seeded identically."""
    vae = sv.VAE(n_in=12, hidden=(9,), n_latent=3, likelihood=likelihood, dtype=dtype,
                 backend=backend, rng=0)
    opt = sv.optim.Adam(vae.params, lr=1e-2, backend=backend)
    data = np.random.default_rng(1).uniform(size=(40, 12)).astype(dtype)
    rng = np.random.default_rng(2)
    losses = []
    for _ in range(steps):
        batch = data[rng.integers(0, len(data), size=8)]
        loss, grads = vae.loss_and_grads(batch, rng=rng)
        opt.step(grads)
        losses.append(loss)
    return np.array(losses), vae


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_vae_training_gives_the_same_losses_with_either_backend(likelihood, dtype):
    losses_numba, vae_numba = _train_losses("numba", likelihood, dtype)
    losses_numpy, vae_numpy = _train_losses("numpy", likelihood, dtype)
    assert vae_numba.kernels is jit and vae_numpy.kernels is ref
    assert losses_numba[-1] < losses_numba[0]  # it trains
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert np.max(np.abs(losses_numba - losses_numpy) / np.abs(losses_numpy)) < tol
    for key, value in vae_numba.params.items():
        assert value.dtype == np.dtype(dtype)
        assert rel_error(value, vae_numpy.params[key]) < 10 * tol


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_numba_backend_gradients_match_finite_differences(likelihood):
    vae = sv.VAE(n_in=6, hidden=(5,), n_latent=2, likelihood=likelihood, beta=0.7,
                 activation="tanh", dtype=np.float64, backend="numba", rng=3)
    rng = np.random.default_rng(8)
    x = rng.uniform(size=(4, 6))
    report = check_model(vae, x, eps=rng.standard_normal((4, 2)))
    assert vae.kernels is jit
    assert report.max_rel_error < 1e-7


def _run_python(code, **env):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_jit_compiles_nothing():
    code = (
        "import json\n"
        "from numba.core.registry import CPUDispatcher\n"
        "import scratchvae.kernels.jit as jit\n"
        "kernels = {n: v for n, v in vars(jit).items() if isinstance(v, CPUDispatcher)}\n"
        "print(json.dumps({n: len(k.signatures) for n, k in kernels.items()}))\n"
    )
    compiled = _run_python(code)
    assert len(compiled) >= 8  # every kernel is a dispatcher ...
    assert all(count == 0 for count in compiled.values()), compiled  # ... none compiled yet


def test_disable_jit_runs_the_same_kernels_as_plain_python():
    code = (
        "import json, numpy as np\n"
        "from numba.core.registry import CPUDispatcher\n"
        "from scratchvae.kernels import jit, reference as ref\n"
        "from scratchvae.gradcheck import rel_error\n"
        "rng = np.random.default_rng(0)\n"
        "a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))\n"
        "x = rng.uniform(size=(5, 3))\n"
        "out, cache = jit.dense_act_forward(a, b, np.ones(3), 'softplus')\n"
        "pre = cache.act_cache.x\n"
        "errors = [rel_error(out, ref.dense_act_forward(a, b, np.ones(3), 'softplus')[0]),\n"
        "          rel_error(jit.matmul(a, b), a @ b),\n"
        "          rel_error(jit.bernoulli_nll_and_grad(pre, x, 1.0)[0],\n"
        "                    ref.bernoulli_nll_and_grad(pre, x, 1.0)[0])]\n"
        "plain = not isinstance(jit._matmul_kernel, CPUDispatcher)\n"
        "print(json.dumps({'errors': errors, 'plain_python': plain}))\n"
    )
    result = _run_python(code, NUMBA_DISABLE_JIT="1")
    assert result["plain_python"]
    assert max(result["errors"]) < 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_backward_gives_dx_in_the_memory_order_of_x(dtype):
    rng = np.random.default_rng(11)
    x_t = rng.standard_normal((30, 6)).astype(dtype)  # memory (n_in, batch): x is its transpose
    x = x_t.T
    W = rng.standard_normal((30, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    out, cache = jit.dense_act_forward(x, W, b, "relu")
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx, dW, db = jit.dense_act_backward(dout, cache)
    out_r, cache_r = ref.dense_act_forward(x, W, b, "relu")
    dx_r, dW_r, db_r = ref.dense_act_backward(dout, cache_r)
    assert dx.flags.f_contiguous and not dx.flags.c_contiguous
    for got, want in ((dx, dx_r), (dW, dW_r), (db, db_r)):
        _assert_same(got, want, dtype, reduction=True)
    _, cache_c = jit.dense_act_forward(np.ascontiguousarray(x), W, b, "relu")
    dx_c, _, _ = jit.dense_act_backward(dout, cache_c)
    assert dx_c.flags.c_contiguous
    _assert_same(dx_c, dx_r, dtype, reduction=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_layer_batch_innermost_gives_the_same_numbers_in_column_major_memory(dtype,
                                                                                  activation):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((9, 7)).astype(dtype)
    W = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    out, cache = jit.dense_act_forward(x, W, b, activation, batch_innermost=True)
    pre = _pre_out(cache)[0]
    assert out.flags.f_contiguous and pre.flags.f_contiguous
    assert not out.flags.c_contiguous
    out_r, cache_r = ref.dense_act_forward(x, W, b, activation, batch_innermost=True)
    _assert_same(out, out_r, dtype, reduction=True)
    _assert_same(pre, _pre_out(cache_r)[0], dtype, reduction=True)
    # the gradient a conv layer hands back is batch-innermost too (a transposed view)
    dout = np.ascontiguousarray(rng.standard_normal((5, 9)).astype(dtype)).T
    grads = jit.dense_act_backward(dout, cache)
    grads_r = ref.dense_act_backward(dout, cache_r)
    for got, want in zip(grads, grads_r):
        _assert_same(got, want, dtype, reduction=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_kernel_is_finite_wherever_the_numpy_op_is(dtype):
    # logvar beyond exp's range (-89 overflows exp(-logvar) in float32, -710 in float64) and
    # diff = 0 gave NaN (0 * inf) in the kernel; the NumPy op is finite there (issue 28)
    extreme = -100.0 if dtype == np.float32 else -1000.0
    x = np.array([[0.5, 0.5, 0.5, 0.5000001, 0.25]], dtype=dtype)
    mean = np.array([[0.5, 0.5, 0.5, 0.5, 0.5]], dtype=dtype)
    for lv_value in (extreme, -89.5, -709.0, 80.0, 700.0):
        logvar = np.full_like(x, lv_value)
        with np.errstate(over="ignore"):
            want = ref.gaussian_nll_and_grad(x, mean, logvar, 0.5)
            got = jit.gaussian_nll_and_grad(x, mean, logvar, 0.5)
        for g, w in zip(got, want):
            finite = np.isfinite(w)
            assert np.array_equal(np.isfinite(g), finite), (lv_value, g, w)
            np.testing.assert_allclose(g[finite], w[finite], rtol=1e-5 if dtype == np.float32
                                       else 1e-12)
        assert np.isfinite(got[0]).all() == np.isfinite(want[0]).all()
    # diff == 0 at the extreme: every output finite (the pixel's term is log 2pi + logvar)
    logvar = np.full((1, 3), extreme, dtype=dtype)
    same = np.full((1, 3), 0.5, dtype=dtype)
    nll, dmean, dlogvar = jit.gaussian_nll_and_grad(same, same, logvar, 1.0)
    assert np.isfinite(nll).all() and np.isfinite(dmean).all() and np.isfinite(dlogvar).all()
    np.testing.assert_allclose(nll, 1.5 * (np.log(2 * np.pi) + extreme), rtol=1e-6)
