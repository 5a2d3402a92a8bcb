"""One dtype rule for the public entry points, the same on both backends (issue 18, item 3):
arrays of numbers must be float32 or float64; integer images are converted by the data
loaders, never silently; bool, integer, complex, object, string and masked arrays are refused
with a ValueError naming the argument. Class labels are integer arrays, checked in their own
dtype (a uint64 of 2**64 - 1 is not the unlabelled marker -1)."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae import conv, losses
from scratchvae.kernels import get_conv_backend
from scratchvae.validation import check_array

BACKENDS = ["numpy", "numba"]
FLOAT_RULE = "must be a float32 or float64 array"


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv2d_forward_refuses_integer_images_instead_of_wrapping(backend):
    x = np.full((1, 1, 3, 3), 200, dtype=np.uint8)
    W = np.full((1, 1, 1, 1), 2, dtype=np.uint8)
    ops = get_conv_backend(backend)
    with pytest.raises(ValueError, match=f"^x {FLOAT_RULE}, got dtype uint8"):
        ops.conv2d_act_forward(x, W, np.zeros(1, np.uint8), 1, 0, "identity")
    with pytest.raises(ValueError, match=f"^x {FLOAT_RULE}, got dtype uint8"):
        conv.conv2d_forward(x, W, np.zeros(1, np.uint8))
    # converted explicitly, the same numbers give 400 (not 144)
    out, _ = ops.conv2d_act_forward(x.astype(np.float32), W.astype(np.float32),
                                    np.zeros(1, np.float32), 1, 0, "identity")
    assert np.all(out == 400)


def test_dense_forward_refuses_integer_inputs():
    x, W, b = np.full((1, 2), 200, np.uint8), np.full((2, 1), 2, np.uint8), np.zeros(1, np.uint8)
    with pytest.raises(ValueError, match=f"^x {FLOAT_RULE}, got dtype uint8"):
        sv.functional.dense_forward(x, W, b)
    out, _ = sv.functional.dense_forward(x.astype(float), W.astype(float), b.astype(float))
    assert out[0, 0] == 800


@pytest.mark.parametrize("function, args, name", [
    (losses.mse_grad, (np.zeros((1, 2), np.uint8), np.full((1, 2), 2, np.uint8)), "x_hat"),
    (losses.mse, (np.zeros((1, 2)), np.ones((1, 2), np.int64)), "x"),
    (losses.bernoulli_nll, (np.zeros((1, 2), np.complex128), np.ones((1, 2))), "logits"),
    (losses.gaussian_nll, (np.ones((1, 2)), np.zeros((1, 2), bool), 0.0), "mean"),
    (losses.kl_standard_normal, (np.zeros((1, 2), object), np.zeros((1, 2))), "mu"),
    (losses.kl_standard_normal_grad, (np.zeros((1, 2)), np.array([["a", "b"]])), "logvar"),
])
def test_losses_refuse_non_float_arrays_naming_the_argument(function, args, name):
    with pytest.raises(ValueError, match=f"^{name} {FLOAT_RULE}"):
        function(*args)


def test_mse_grad_on_converted_uint8_gives_the_true_negative_value():
    x_hat, x = np.zeros((1, 1), np.uint8), np.ones((1, 1), np.uint8)
    assert losses.mse_grad(x_hat.astype(np.float32), x.astype(np.float32))[0, 0] == -2


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optimizer", ["Adam", "SGD"])
def test_optimizers_refuse_integer_parameters(backend, optimizer):
    params = {"W": np.arange(6, dtype=np.int64).reshape(2, 3)}
    kwargs = {"backend": backend} if optimizer == "Adam" else {}
    with pytest.raises(ValueError, match=rf"^params\['W'\] {FLOAT_RULE}, got dtype int64"):
        getattr(sv.optim, optimizer)(params, **kwargs)
    assert np.array_equal(params["W"], np.arange(6).reshape(2, 3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_optimizer_step_refuses_complex_gradients(backend):
    params = {"W": np.zeros((2, 3))}
    adam = sv.optim.Adam(params, backend=backend)
    with pytest.raises(ValueError, match=rf"^grads\['W'\] {FLOAT_RULE}, got dtype complex128"):
        adam.step({"W": np.ones((2, 3), np.complex128)})


@pytest.mark.parametrize("backend", BACKENDS)
def test_optimizer_step_takes_nested_lists_as_float_arrays(backend):
    params = {"W": np.zeros((2, 2))}
    sv.optim.Adam(params, backend=backend).step({"W": [[1.0, 1.0], [1.0, 1.0]]})
    np.testing.assert_allclose(params["W"], -1e-3)
    with pytest.raises(ValueError, match="^grads must be a dict"):
        sv.optim.SGD(params).step([np.ones((2, 2))])


def _model(backend):
    return sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend=backend, dtype=np.float64)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 4), np.complex128), f"{FLOAT_RULE}, got dtype complex128"),
    (np.zeros((2, 4), bool), f"{FLOAT_RULE}, got dtype bool"),
    (np.zeros((2, 4), np.uint8), f"{FLOAT_RULE}, got dtype uint8 .convert integer images"),
    (np.ma.masked_array(np.array([[0.5, np.nan, 0.5, 0.5]] * 2), mask=[[0, 1, 0, 0]] * 2),
     "must be a plain numpy array, got a masked array"),
])
def test_models_refuse_the_same_arrays_on_both_backends(backend, x, message):
    model = _model(backend)
    for call in (model.loss_and_grads, model.encode, model.elbo):
        with pytest.raises(ValueError, match=f"^x {message}"):
            call(x)
    with pytest.raises(ValueError, match=f"^x_train {message}"):
        sv.fit(model, x, epochs=1, progress=False)
    with pytest.raises(ValueError, match=f"^x {message}"):
        sv.evaluate.evaluate_elbo(model, x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_m2_labels_uint64_max_is_out_of_range_not_unlabelled(backend):
    model = sv.M2(n_in=4, n_classes=3, hidden=(3,), n_latent=2, backend=backend,
                  dtype=np.float64)
    x = np.full((2, 4), 0.5)
    with pytest.raises(ValueError, match=r"^y must hold -1 \(unlabelled\) or labels in \[0, 2\], "
                                         r"got 18446744073709551615"):
        model.loss_and_grads(x, y=np.array([0, 2**64 - 1], dtype=np.uint64), rng=0)
    for bad, message in [(np.array([0.0, 1.0]), "integer class labels"),
                         (np.array([True, False]), "integer class labels"),
                         (np.array([0, 3]), "got 3"), (np.array([0, -2]), "got -2")]:
        with pytest.raises(ValueError, match=message):
            model.loss_and_grads(x, y=bad, rng=0)
    # the documented marker and any integer dtype in range are fine
    unlabelled = model.loss_and_grads(x, y=np.array([-1, 1], dtype=np.int8), rng=0)[0]
    assert np.isfinite(unlabelled)
    assert np.isfinite(model.loss_and_grads(x, y=np.array([0, 2], np.uint64), rng=0)[0])


def test_check_array_kinds():
    assert check_array("a", np.zeros(2, np.float32)).dtype == np.float32
    assert check_array("a", [0.5, 1.0]).dtype == np.float64          # lists of floats are fine
    assert check_array("y", np.arange(3, dtype=np.uint16), kind="integer").dtype == np.uint16
    assert check_array("img", np.arange(3, dtype=np.uint8), kind="real").dtype == np.uint8
    for value, kind in [(np.arange(3), "float"), (np.zeros(2), "integer"),
                        (np.zeros(2, bool), "real"), (np.zeros(2, np.complex64), "real")]:
        with pytest.raises(ValueError, match="^a must be"):
            check_array("a", value, kind=kind)
