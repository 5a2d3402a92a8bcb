"""Property-based tests (Hypothesis) of the public functions, the data readers and the
checkpoint loader (issue 18, item 9): random shapes, dtypes, values, truncations and bit flips
either give a correct result or the documented error (ValueError / DataError naming the file),
never another exception, a NaN or a hang.

Bounded for CI: few examples per property, no deadline (the machine is shared), no example
database; the whole file runs in well under a minute on one core.
"""

import gzip
import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_data_cifar import binary_tarball, tiny_cifar
from test_data_frey import MI_INT8, MI_INT32, MI_UINT32, MX_DOUBLE, element, mat5

import scratchvae as sv
from scratchvae import losses
from scratchvae.checkpoint import load_checkpoint
from scratchvae.data import DataError, read_cifar10, read_mat
from scratchvae.data.idx import parse_idx, read_idx
from scratchvae.validation import check_array

BOUNDED = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])

ANY_DTYPE = st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(),
                      hnp.floating_dtypes(), hnp.complex_number_dtypes())
SMALL_SHAPES = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=5)


# ---------------------------------------------------------------------------------------------
# the dtype rule and the losses
# ---------------------------------------------------------------------------------------------


@BOUNDED
@given(hnp.arrays(ANY_DTYPE, SMALL_SHAPES))
def test_check_array_accepts_exactly_float32_and_float64(array):
    if array.dtype in (np.float32, np.float64):
        out = check_array("a", array, finite=False)
        assert out.dtype == array.dtype
    else:
        with pytest.raises(ValueError, match=f"^a must be a float32 or float64 array, got dtype "
                                             f"{array.dtype}"):
            check_array("a", array, finite=False)


@BOUNDED
@given(hnp.arrays(ANY_DTYPE, (2, 3)), st.sampled_from(["mse", "mse_grad", "bernoulli_nll"]))
def test_losses_give_a_result_or_a_value_error_for_any_dtype(array, name):
    other = np.full((2, 3), 0.5)
    try:
        with np.errstate(over="ignore"):   # finite inputs near the float's limit may overflow
            result = getattr(losses, name)(array, other)   # to inf: a result, not an error
    except ValueError:
        assert array.dtype not in (np.float32, np.float64) or not np.all(np.isfinite(array))
        return
    assert array.dtype in (np.float32, np.float64)
    assert np.asarray(result).shape in ((2,), (2, 3))


@BOUNDED
@given(hnp.arrays(np.float64, (3, 4), elements=st.floats(-1e6, 1e6)),
       st.floats(-1e4, 700.0))
def test_gaussian_nll_at_the_mean_is_exact_for_any_logvar(x, logvar):
    value = losses.gaussian_nll(x, x, np.full_like(x, logvar))
    np.testing.assert_allclose(value, 0.5 * 4 * (losses.LOG_2PI + logvar), rtol=1e-12)
    dmean, dlogvar = losses.gaussian_nll_grad(x, x, np.full_like(x, logvar))
    assert np.all(dmean == 0) and np.all(dlogvar == 0.5)


@BOUNDED
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                 st.booleans(), st.sampled_from(["0.1", None])),
       st.sampled_from(["lr", "eps"]))
def test_adam_accepts_exactly_the_finite_positive_numbers(value, name):
    params = {"W": np.zeros((2, 2))}
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and np.isfinite(float(value)) and value > 0)
    if ok:
        assert getattr(sv.optim.Adam(params, backend="numpy", **{name: value}), name) == value
    else:
        with pytest.raises(ValueError, match=f"^{name} must be"):
            sv.optim.Adam(params, backend="numpy", **{name: value})


# ---------------------------------------------------------------------------------------------
# models: random shapes and values, both backends agree on what is refused
# ---------------------------------------------------------------------------------------------


_VAES = {}


def _vae(backend):
    if backend not in _VAES:
        _VAES[backend] = sv.VAE(n_in=5, hidden=(4,), n_latent=2, backend=backend,
                                dtype=np.float64, rng=0)
    return _VAES[backend]


@BOUNDED
@given(hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.complex64, np.bool_]),
                  hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
                  elements=st.integers(0, 1)))
def test_vae_loss_is_finite_or_both_backends_give_the_same_value_error(x):
    outcomes = []
    for backend in ("numpy", "numba"):
        try:
            loss, grads = _vae(backend).loss_and_grads(x, rng=0)
        except ValueError as err:
            outcomes.append(("error", str(err)))
        else:
            assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())
            outcomes.append(("ok", round(float(loss), 6)))
    assert outcomes[0] == outcomes[1]
    ok = x.dtype in (np.float32, np.float64) and x.ndim == 2 and x.shape[1] == 5 and len(x)
    assert (outcomes[0][0] == "ok") == bool(ok)


LABEL_DTYPES = [np.int8, np.int64, np.uint8, np.uint64]


@BOUNDED
@given(st.sampled_from(LABEL_DTYPES).flatmap(lambda dtype: hnp.arrays(dtype, (3,), elements=(
    st.integers(-1, 3) | hnp.from_dtype(np.dtype(dtype))) if np.dtype(dtype).kind == "i"
    else (st.integers(0, 3) | hnp.from_dtype(np.dtype(dtype))))))
def test_m2_labels_are_used_or_refused_by_their_value(y):
    model = sv.M2(n_in=4, n_classes=3, hidden=(3,), n_latent=2, backend="numpy",
                  dtype=np.float64)
    in_range = all(-1 <= int(v) < 3 for v in y)
    if in_range:
        loss, _ = model.loss_and_grads(np.full((3, 4), 0.5), y=y, rng=0)
        assert np.isfinite(loss)
    else:
        with pytest.raises(ValueError, match="^y must hold -1"):
            model.loss_and_grads(np.full((3, 4), 0.5), y=y, rng=0)


# ---------------------------------------------------------------------------------------------
# readers and the checkpoint loader: truncations and bit flips
# ---------------------------------------------------------------------------------------------


def _damaged(data, cut, flips):
    """``data`` cut to ``cut`` bytes (if not None) with the bits ``flips`` (positions) flipped."""
    data = bytearray(data if cut is None else data[:cut])
    for position in flips:
        if data:
            data[position % len(data)] ^= 1 << (position % 8)
    return bytes(data)


DAMAGE = dict(cut=st.one_of(st.none(), st.integers(0, 4000)),
              flips=st.lists(st.integers(0, 10**6), max_size=3))

IDX_BYTES = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 4, 5, 6) + bytes(range(120))


@BOUNDED
@given(**DAMAGE, gz=st.booleans())
def test_damaged_idx_files_read_or_raise_data_error_naming_the_file(tmp_path, cut, flips, gz):
    path = tmp_path / ("x-idx3-ubyte.gz" if gz else "x-idx3-ubyte")
    payload = gzip.compress(IDX_BYTES, mtime=0) if gz else IDX_BYTES
    path.write_bytes(_damaged(payload, cut, flips))
    try:
        array = read_idx(path)
    except DataError as err:
        assert str(path) in str(err)
    else:
        assert array.size * array.itemsize <= len(IDX_BYTES) * 8


@BOUNDED
@given(st.binary(max_size=300))
def test_random_bytes_parse_as_idx_or_raise_data_error(data):
    try:
        parse_idx(data, name="<random>")
    except DataError as err:
        assert "<random>" in str(err)


def _mat_bytes():
    body = element(MI_UINT32, struct.pack("<II", MX_DOUBLE, 0))
    body += element(MI_INT32, struct.pack("<2i", 2, 3))
    body += element(MI_INT8, b"ff")
    body += element(9, np.arange(6, dtype="<f8").tobytes())
    return mat5(element(14, body, small=False))


@BOUNDED
@given(**DAMAGE)
def test_damaged_mat_files_read_or_raise_data_error_naming_the_file(tmp_path, cut, flips):
    path = tmp_path / "x.mat"
    path.write_bytes(_damaged(_mat_bytes(), cut, flips))
    try:
        variables = read_mat(path)
    except DataError as err:
        assert str(path) in str(err)
    else:
        assert all(isinstance(v, np.ndarray) and v.size <= 1000 for v in variables.values())


@pytest.fixture(scope="module")
def cifar_bytes(tmp_path_factory):
    path = binary_tarball(tmp_path_factory.mktemp("cifar") / "cifar-10-binary.tar.gz",
                          tiny_cifar())
    return path.read_bytes()


@BOUNDED
@given(**DAMAGE)
def test_damaged_cifar_archives_read_or_raise_data_error(tmp_path, cifar_bytes, cut, flips):
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(_damaged(cifar_bytes, None if cut is None else cut * 4, flips))
    try:
        images, labels = read_cifar10(path, "test")
    except DataError as err:
        assert str(path) in str(err)
    else:
        assert images.shape[0] == labels.shape[0] and labels.max() < 10


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    model = sv.VAE(n_in=6, hidden=(4,), n_latent=2, backend="numpy")
    buffer = io.BytesIO()
    path = sv.save(model, tmp_path_factory.mktemp("ckpt") / "model.npz",
                   optimizer=sv.optim.Adam(model.params, backend="numpy"),
                   metadata={"epoch": 3, "history": {"loss": [1.0]}})
    buffer.write(path.read_bytes())
    return buffer.getvalue()


@BOUNDED
@given(cut=st.one_of(st.none(), st.integers(0, 6000)),
       flips=st.lists(st.integers(0, 10**6), min_size=0, max_size=4))
def test_damaged_checkpoints_load_or_raise_value_error_naming_the_file(tmp_path,
                                                                        checkpoint_bytes, cut,
                                                                        flips):
    path = tmp_path / "model.npz"
    path.write_bytes(_damaged(checkpoint_bytes, cut, flips))
    try:
        saved = load_checkpoint(path)
    except ValueError as err:
        assert type(err) is ValueError and str(path) in str(err)
    else:
        assert all(np.all(np.isfinite(p)) for p in saved.model.params.values())
