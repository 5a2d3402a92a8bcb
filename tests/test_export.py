"""Export to (and import from) the PyTorch examples VAE layout."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.export import STATE_KEYS, from_pytorch_example, to_pytorch_example


def relu(a):
    return np.maximum(a, 0)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def pytorch_example_forward(state, x, eps):
    """pytorch/examples vae/main.py, VAE.forward, written with NumPy (Linear: x @ W.T + b)."""
    def fc(name, a):
        return a @ state[f"{name}.weight"].T + state[f"{name}.bias"]

    h1 = relu(fc("fc1", x))
    mu, logvar = fc("fc21", h1), fc("fc22", h1)
    z = mu + eps * np.exp(0.5 * logvar)
    return sigmoid(fc("fc4", relu(fc("fc3", z)))), mu, logvar, z


def small_vae(**kwargs):
    vae = sv.VAE(784, (16,), 3, backend="numpy", **kwargs)
    rng = np.random.default_rng(4)
    for value in vae.params.values():  # biases away from their tiny defaults too
        value += 0.1 * rng.standard_normal(value.shape).astype(value.dtype)
    return vae


def test_export_has_pytorch_example_names_shapes_and_dtype():
    vae = sv.VAE(784, (400,), 20, backend="numpy", dtype=np.float64)
    state = to_pytorch_example(vae)
    assert {k: v.shape for k, v in state.items()} == {
        "fc1.weight": (400, 784), "fc1.bias": (400,),
        "fc21.weight": (20, 400), "fc21.bias": (20,),
        "fc22.weight": (20, 400), "fc22.bias": (20,),
        "fc3.weight": (400, 20), "fc3.bias": (400,),
        "fc4.weight": (784, 400), "fc4.bias": (784,),
    }
    assert tuple(state) == STATE_KEYS
    for value in state.values():
        assert value.dtype == np.float32 and value.flags.c_contiguous
    np.testing.assert_array_equal(state["fc21.weight"], vae.params["mu.W"].T.astype(np.float32))
    np.testing.assert_array_equal(state["fc4.bias"], vae.params["decoder.1.b"].astype(np.float32))


def test_pytorch_style_forward_of_export_equals_vae_encode_and_decode():
    vae = small_vae()
    state = to_pytorch_example(vae)
    rng = np.random.default_rng(0)
    x = rng.random((5, 784)).astype(np.float32)
    eps = rng.standard_normal((5, 3)).astype(np.float32)
    x_hat, mu, logvar, z = pytorch_example_forward(state, x, eps)
    mu_ref, logvar_ref = vae.encode(x)
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logvar, logvar_ref, rtol=1e-5, atol=1e-5)
    z_ref = vae.reparameterize(mu_ref, logvar_ref, eps)
    np.testing.assert_allclose(z, z_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x_hat, sv.functional.sigmoid(vae.decode(z_ref)), rtol=1e-5,
                               atol=1e-6)
    assert np.ptp(x_hat) > 0.1  # a forward that is not constant


def test_export_is_a_copy():
    vae = small_vae()
    before = vae.params["encoder.0.b"].copy()
    state = to_pytorch_example(vae)
    state["fc1.bias"][...] = 0
    state["fc1.weight"][...] = 0
    np.testing.assert_array_equal(vae.params["encoder.0.b"], before)
    assert np.any(vae.params["encoder.0.W"] != 0)


def test_round_trip_through_pytorch_layout_is_exact():
    vae = small_vae()
    back = from_pytorch_example(to_pytorch_example(vae), backend="numpy")
    assert back.config() == vae.config()
    for key, value in vae.params.items():
        assert back.params[key].tobytes() == value.tobytes(), key
    again = to_pytorch_example(back)
    for key, value in to_pytorch_example(vae).items():
        assert again[key].tobytes() == value.tobytes()


def test_from_pytorch_example_reads_sizes_from_shapes():
    rng = np.random.default_rng(1)
    state = {"fc1.weight": rng.standard_normal((7, 10)), "fc1.bias": np.zeros(7),
             "fc21.weight": rng.standard_normal((2, 7)), "fc21.bias": np.zeros(2),
             "fc22.weight": rng.standard_normal((2, 7)), "fc22.bias": np.ones(2),
             "fc3.weight": rng.standard_normal((7, 2)), "fc3.bias": np.zeros(7),
             "fc4.weight": rng.standard_normal((10, 7)), "fc4.bias": np.zeros(10)}
    vae = from_pytorch_example(state, dtype=np.float64, backend="numpy")
    assert (vae.n_in, vae.hidden, vae.n_latent) == (10, (7,), 2)
    np.testing.assert_array_equal(vae.params["encoder.0.W"], state["fc1.weight"].T)
    np.testing.assert_array_equal(vae.params["logvar.b"], np.ones(2))


@pytest.mark.parametrize("make, problem", [
    (lambda: sv.VAE(20, (8,), 2, likelihood="gaussian", backend="numpy"), "likelihood"),
    (lambda: sv.VAE(20, (8, 6), 2, backend="numpy"), "one hidden layer"),
    (lambda: sv.VAE(20, (), 2, backend="numpy"), "one hidden layer"),
    (lambda: sv.VAE(20, (8,), 2, activation="tanh", backend="numpy"), "relu"),
    (lambda: sv.Autoencoder(20, (8,), 2, backend="numpy"), "got a Autoencoder"),
])
def test_other_architectures_are_rejected(make, problem):
    with pytest.raises(ValueError, match=f"vae must be a sv.VAE.*{problem}"):
        to_pytorch_example(make())


def test_bad_state_dicts_are_rejected():
    state = to_pytorch_example(small_vae())
    missing = {k: v for k, v in state.items() if k != "fc22.bias"}
    with pytest.raises(ValueError, match=r"missing \['fc22.bias'\]"):
        from_pytorch_example(missing)
    with pytest.raises(ValueError, match=r"unexpected \['fc5.weight'\]"):
        from_pytorch_example({**state, "fc5.weight": np.zeros((2, 2))})
    wrong = {**state, "fc3.weight": np.zeros((16, 4), dtype=np.float32)}
    with pytest.raises(ValueError, match=r"state_dict\['fc3.weight'\] must have shape \(16, 3\)"):
        from_pytorch_example(wrong)
    with pytest.raises(ValueError, match="fc1.bias.*1-D float array"):
        from_pytorch_example({**state, "fc1.bias": np.zeros((16, 1))})
    with pytest.raises(ValueError, match="state_dict must be a dict"):
        from_pytorch_example([1, 2])
