"""The fused Numba conv layers (kernels.conv_jit) against their NumPy twins (kernels.conv_reference).

Same style as tests/test_kernels.py: every activation, float64 (norm-wise relative error
< 1e-10: every value is a sum of products) and float32 (< 1e-5); inputs in both memory orders
the layers hand each other (plain NCHW and the batch-innermost views the Numba layers return);
and whole-model gradient checks with the Numba backend.
"""

import numpy as np
import pytest
from test_kernels import ACTIVATIONS, DTYPES, _assert_same

import scratchvae as sv
from scratchvae.gradcheck import check_model
from scratchvae.kernels import conv_jit
from scratchvae.kernels import conv_reference as ref

#: (N, C_in, H, W, C_out, kernel, stride, padding, output_padding of the transposed conv)
LAYER_CONFIGS = [
    (2, 3, 7, 6, 4, 3, 2, 1, (1, 0)),
    (3, 2, 8, 8, 5, 4, 2, 1, 0),
    (1, 1, 5, 5, 2, 3, 1, 0, 0),
    (4, 2, 6, 9, 3, 2, 2, 0, 1),
]


def _batch_innermost(x):
    """The same values as an (N, C, H, W) view of (C, H, W, N) memory (what conv_jit returns)."""
    view = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    assert np.array_equal(view, x) and (x.shape[0] == 1 or not view.flags.c_contiguous)
    return view


def _layer_arrays(cfg, dtype, transposed, seed=0):
    N, C_in, H, W, C_out, k, _, _, _ = cfg
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C_in, H, W)).astype(dtype)
    shape = (C_in, C_out, k, k) if transposed else (C_out, C_in, k, k)
    weights = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(C_out).astype(dtype)
    return x, weights, b


def _check_pair(jit_pair, ref_pair, args, dtype, seed):
    """Forward and backward (with and without dx) of the jit op equal the reference's."""
    out, cache = jit_pair[0](*args)
    out_ref, cache_ref = ref_pair[0](*args)
    _assert_same(out, out_ref, dtype, reduction=True)  # sums of products: a norm-wise error
    dout = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    for layout in (np.ascontiguousarray, _batch_innermost):
        dx, dW, db = jit_pair[1](layout(dout), cache)
        dx_ref, dW_ref, db_ref = ref_pair[1](dout, cache_ref)
        _assert_same(dx, dx_ref, dtype, reduction=True)
        _assert_same(dW, dW_ref, dtype, reduction=True)
        _assert_same(db, db_ref, dtype, reduction=True)
    no_dx, dW, _ = jit_pair[1](dout, cache, need_dx=False)
    assert no_dx is None
    _assert_same(dW, dW_ref, dtype, reduction=True)


CONV2D = (conv_jit.conv2d_act_forward, conv_jit.conv2d_act_backward)
CONV2D_REF = (ref.conv2d_act_forward, ref.conv2d_act_backward)
TRANSPOSED = (conv_jit.conv_transpose2d_act_forward, conv_jit.conv_transpose2d_act_backward)
TRANSPOSED_REF = (ref.conv_transpose2d_act_forward, ref.conv_transpose2d_act_backward)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", LAYER_CONFIGS)
def test_conv2d_act_matches_reference_for_every_activation_and_layout(cfg, dtype):
    x, weights, b = _layer_arrays(cfg, dtype, transposed=False)
    stride, padding = cfg[6], cfg[7]
    for i, activation in enumerate(ACTIVATIONS):
        for layout in (np.ascontiguousarray, _batch_innermost):
            args = (layout(x), weights, b, stride, padding, activation)
            _check_pair(CONV2D, CONV2D_REF, args, dtype, seed=i)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", LAYER_CONFIGS)
def test_conv_transpose2d_act_matches_reference_for_every_activation_and_layout(cfg, dtype):
    x, weights, b = _layer_arrays(cfg, dtype, transposed=True)
    stride, padding, output_padding = cfg[6], cfg[7], cfg[8]
    for i, activation in enumerate(ACTIVATIONS):
        for layout in (np.ascontiguousarray, _batch_innermost):
            args = (layout(x), weights, b, stride, padding, output_padding, activation)
            _check_pair(TRANSPOSED, TRANSPOSED_REF, args, dtype, seed=i)


def test_conv_act_rejects_a_dout_of_the_wrong_shape():
    x, weights, b = _layer_arrays(LAYER_CONFIGS[0], np.float64, transposed=False)
    out, cache = conv_jit.conv2d_act_forward(x, weights, b, 2, 1, "relu")
    with pytest.raises(ValueError, match="dout must have the output's shape"):
        conv_jit.conv2d_act_backward(np.ones(out.shape[:-1]), cache)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_numba_convvae_gradients_match_finite_differences(likelihood):
    model = sv.ConvVAE(image_shape=(1, 8, 6), n_latent=3, channels=(2, 3), likelihood=likelihood,
                       beta=0.7, dtype=np.float64, backend="numba", rng=0)
    for p in model.params.values():
        p *= 3.0  # larger gradients, well above the finite-difference noise (see test_conv_models)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.05, 0.95, size=(2, model.n_in))
    eps = rng.standard_normal((2, model.n_latent))
    assert check_model(model, x, eps=eps).max_rel_error < 1e-7
