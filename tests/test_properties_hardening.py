"""Property-based tests (Hypothesis) of issue 28's rules (item 6): the dtype rule of
reparameterize, a gradient checker that no NaN or inf gets past, IDX headers bounded by the
declared-size limit, the optimizer state rule, temporary-file names that only a dead writer's
match, and case-insensitive dataset names. Bounded like tests/test_properties.py, whose settings
(BOUNDED) and dtypes (ANY_DTYPE) they use."""

import os

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_properties import ANY_DTYPE, BOUNDED

import scratchvae as sv
from scratchvae.checkpoint import _is_stale_temporary
from scratchvae.cli import build_parser
from scratchvae.commands.common import DATASETS
from scratchvae.data import DataError
from scratchvae.data.idx import parse_idx
from scratchvae.data.limits import MAX_DECLARED_BYTES, declared_bytes
from scratchvae.evaluate import MAX_IMPORTANCE_SAMPLES, importance_sampled_nll
from scratchvae.gradcheck import GradEntry, GradientCheckError, GradReport, check_op, rel_error
from scratchvae.reparam import reparameterize

SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
FLOAT64 = st.floats(-3, 3, allow_nan=False)
NON_FINITE = st.sampled_from([np.nan, np.inf, -np.inf])


@BOUNDED
@given(st.data(), SHAPES, st.integers(0, 2))
def test_reparameterize_takes_float32_float64_and_refuses_every_other_dtype(data, shape, which):
    dtype = data.draw(ANY_DTYPE)
    args = [np.zeros(shape), np.zeros(shape), np.ones(shape)]
    args[which] = data.draw(hnp.arrays(dtype, shape))
    if dtype in (np.float32, np.float64):
        with np.errstate(all="ignore"):  # any values: this property is about dtypes only
            z, _ = reparameterize(*args, check_finite=False)
        assert z.shape == shape
    else:
        name = ("mu", "logvar", "eps")[which]
        with pytest.raises(ValueError, match=f"^{name} must be a float32 or float64 array"):
            reparameterize(*args)


def _scale(x, w):
    return x * w, None


@BOUNDED
@given(st.data(), SHAPES)
def test_check_op_fails_whenever_a_gradient_holds_a_non_finite_value(data, shape):
    x = data.draw(hnp.arrays(np.float64, shape, elements=FLOAT64))
    w = data.draw(hnp.arrays(np.float64, shape, elements=FLOAT64))
    index = tuple(data.draw(st.integers(0, n - 1)) for n in shape)
    which = data.draw(st.integers(0, 1))
    bad = data.draw(NON_FINITE)

    def backward(dout, _cache):
        grads = [dout * w, dout * x]
        grads[which] = grads[which].copy()
        grads[which][index] = bad
        return tuple(grads)

    with pytest.raises(GradientCheckError):
        check_op(_scale, backward, [x, w])
    check_op(_scale, lambda dout, _c: (dout * w, dout * x), [x, w])  # the honest one passes


@BOUNDED
@given(st.data(), SHAPES)
def test_rel_error_is_inf_exactly_when_an_entry_is_not_finite(data, shape):
    a = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(allow_nan=True,
                                                                    allow_infinity=True)))
    b = data.draw(hnp.arrays(np.float64, shape, elements=FLOAT64))
    with np.errstate(all="ignore"):
        error = rel_error(a, b)
    if np.all(np.isfinite(a)):
        assert np.isfinite(error) and error >= 0
    else:
        assert error == np.inf


@BOUNDED
@given(st.lists(st.one_of(st.floats(0, 1e-9), NON_FINITE), min_size=1, max_size=6))
def test_a_report_passes_only_when_every_error_is_finite_and_small(errors):
    report = GradReport(entries=[GradEntry(f"p{i}", e, (0,), 0.0, 0.0, (1,))
                                 for i, e in enumerate(errors)])
    assert report.passed == all(np.isfinite(e) for e in errors)


@BOUNDED
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6),
       st.sampled_from([0x08, 0x0B, 0x0D, 0x0E]), st.integers(0, 64))
def test_idx_headers_give_the_declared_array_or_a_data_error(dims, code, n_data):
    header = bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    itemsize = {0x08: 1, 0x0B: 2, 0x0D: 4, 0x0E: 8}[code]
    try:
        array = parse_idx(header + bytes(n_data), name="h.idx")
    except DataError as err:
        assert str(err).startswith("h.idx: ")
        if declared_bytes(dims, itemsize) > MAX_DECLARED_BYTES:
            assert "limit" in str(err)
    else:
        assert array.shape == tuple(dims) and array.nbytes == n_data


@BOUNDED
@given(st.data())
def test_adam_state_loads_exactly_when_v_is_finite_and_non_negative(data):
    vae = sv.VAE(n_in=3, hidden=(2,), n_latent=1, backend="numpy", dtype=np.float64)
    adam = sv.optim.Adam(vae.params, backend="numpy")
    state = adam.state_dict()
    key = data.draw(st.sampled_from(sorted(k for k in state if k.startswith("v."))))
    state[key] = data.draw(hnp.arrays(np.float64, state[key].shape,
                                      elements=st.floats(allow_nan=True, allow_infinity=True)))
    if np.all(np.isfinite(state[key])) and np.all(state[key] >= 0):
        adam.load_state_dict(state)
        np.testing.assert_array_equal(adam.v[key[2:]], state[key])
    else:
        with pytest.raises(ValueError, match=f"optimizer state {key!r}"):
            adam.load_state_dict(state)


@BOUNDED
@given(st.text(alphabet="0123456789abcdefxyz.-", max_size=30))
def test_only_our_temporary_names_are_ever_stale(middle):
    ours = middle.partition(".")
    is_ours = len(middle) == 12 and all(c in "0123456789abcdef" for c in middle) or (
        ours[0].isdigit() and len(ours[2]) == 12 and all(c in "0123456789abcdef" for c in ours[2]))
    if not is_ours:
        assert not _is_stale_temporary(middle)


@BOUNDED
@given(st.text(alphabet="0123456789abcdef", min_size=12, max_size=12))
def test_a_live_writers_temporary_is_never_stale(token):
    assert not _is_stale_temporary(f"{os.getpid()}.{token}")
    assert not _is_stale_temporary(f"{os.getppid()}.{token}")


@BOUNDED
@given(st.sampled_from(DATASETS), st.data())
def test_dataset_names_parse_in_any_case(name, data):
    mixed = "".join(c.upper() if data.draw(st.booleans()) else c for c in name)
    assert build_parser().parse_args(["train", "--dataset", mixed]).dataset == name


@BOUNDED
@given(st.integers(MAX_IMPORTANCE_SAMPLES + 1, 10**18))
def test_every_k_above_the_maximum_is_refused_before_any_work(k):
    vae = sv.VAE(n_in=2, hidden=(2,), n_latent=1, backend="numpy")
    with pytest.raises(ValueError, match="k must be at most"):
        importance_sampled_nll(vae, np.full((1, 2), 0.5, np.float32), k=k, progress=False)


@BOUNDED
@given(st.floats(0, 10, allow_nan=False), st.sampled_from([float, np.float32, np.float64]))
def test_active_units_takes_any_non_negative_number_type(threshold, kind):
    assume(np.isfinite(kind(threshold)))
    vae = sv.VAE(n_in=2, hidden=(2,), n_latent=2, backend="numpy")
    count, variances = sv.evaluate.active_units(vae, np.eye(2, dtype=np.float32),
                                                threshold=kind(threshold))
    assert 0 <= count <= 2 and variances.shape == (2,)
