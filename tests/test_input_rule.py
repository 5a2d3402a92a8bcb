"""One input rule everywhere (issue 28, item 5): reparameterize (the function and the model
method) takes float32/float64 arrays only, like every other op; active_units takes NumPy
scalars as numbers; a checkpoint whose Adam second moment is negative is refused at load."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.checkpoint import load_checkpoint
from scratchvae.reparam import reparameterize

GOOD = np.zeros((2, 3))
REFUSED = {
    "complex": (np.zeros((2, 3), np.complex128), "got dtype complex128"),
    "int": (np.zeros((2, 3), np.int64), "got dtype int64"),
    "bool": (np.zeros((2, 3), bool), "got dtype bool"),
    "float16": (np.zeros((2, 3), np.float16), "got dtype float16"),
    "object": (np.zeros((2, 3), object), "got dtype object"),
    "masked": (np.ma.zeros((2, 3)), "got a masked array"),
}


@pytest.mark.parametrize("position, name", [(0, "mu"), (1, "logvar"), (2, "eps")])
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_reparameterize_refuses_non_float_arrays_naming_the_argument(case, position, name):
    bad, message = REFUSED[case]
    args = [GOOD, GOOD, GOOD]
    args[position] = bad
    with pytest.raises(ValueError, match=f"^{name} .*{message}"):
        reparameterize(*args)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_model_method_reparameterize_refuses_them_too(case):
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=3, backend="numpy")
    bad, message = REFUSED[case]
    with pytest.raises(ValueError, match=f"^mu .*{message}"):
        vae.reparameterize(bad, GOOD, GOOD)


def test_reparameterize_still_takes_float32_and_float64():
    z, _ = reparameterize(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32),
                          np.ones((2, 3), np.float32))
    assert z.dtype == np.float32 and np.all(z == 1)


@pytest.mark.parametrize("threshold", [np.float32(0.5), np.float64(0.5), np.int64(0), 0.5])
def test_active_units_takes_numpy_scalars(threshold):
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy")
    x = np.random.default_rng(0).random((5, 4)).astype(np.float32)
    count, variances = sv.evaluate.active_units(vae, x, threshold=threshold)
    assert count == int(np.sum(variances > float(threshold)))


@pytest.mark.parametrize("threshold", [-0.1, np.nan, np.float32(np.inf), "0.5", True])
def test_active_units_refuses_a_threshold_that_is_not_a_finite_number_above_zero(threshold):
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy")
    with pytest.raises(ValueError, match="threshold must be"):
        sv.evaluate.active_units(vae, np.zeros((3, 4), np.float32), threshold=threshold)


def test_a_negative_adam_second_moment_is_refused_at_load(tmp_path):
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy")
    adam = sv.optim.Adam(vae.params, backend="numpy")
    adam.v["mu.W"][0, 0] = -1e-3  # a running mean of g^2 is never negative
    path = sv.save(vae, tmp_path / "negative_v.npz", optimizer=adam)
    with pytest.raises(ValueError, match=r"negative_v\.npz.*'v\.mu\.W' must have values >= 0"):
        load_checkpoint(path)


def test_load_state_dict_refuses_a_negative_second_moment_and_changes_nothing():
    vae = sv.VAE(n_in=4, hidden=(3,), n_latent=2, backend="numpy")
    adam = sv.optim.Adam(vae.params, backend="numpy")
    state = adam.state_dict()
    state["v.mu.W"] = -np.ones_like(state["v.mu.W"])
    state["step"] = np.array(5)
    with pytest.raises(ValueError, match="must have values >= 0"):
        adam.load_state_dict(state)
    assert adam.step_count == 0 and np.all(adam.v["mu.W"] == 0)
