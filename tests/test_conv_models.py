"""Conv layers and ConvVAE: whole-model gradient checks, shapes for odd image sizes, backends,
config round trips, and that a few optimizer steps lower the loss."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.conv_layers import Conv2d, ConvTranspose2d, Flatten, Reshape
from scratchvae.gradcheck import check_model, rel_error
from scratchvae.layers import Sequential


def _tiny(likelihood="bernoulli", shape=(1, 8, 6), backend="numpy", **kwargs):
    return sv.ConvVAE(image_shape=shape, n_latent=3, channels=(2, 3), likelihood=likelihood,
                      dtype=np.float64, backend=backend, rng=0, **kwargs)


def _sharpen(model, scale=3.0):
    """Scale the initial weights up: a tiny model's gradients at the default init (~1e-4) sit
    close to the finite-difference rounding floor (eps_machine * |loss| / h ~ 1e-9), which adds
    ~1e-7 of pure noise to the relative error; larger weights give larger gradients."""
    for p in model.params.values():
        p *= scale
    return model


def _data(model, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 0.95, size=(batch, model.n_in))
    eps = rng.standard_normal((batch, model.n_latent))
    return x, eps


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_fixed"])
def test_convvae_gradients_match_finite_differences(likelihood):
    model = _sharpen(_tiny(likelihood, beta=0.7))
    x, eps = _data(model)
    report = check_model(model, x, eps=eps)
    assert report.max_rel_error < 1e-7
    assert set(report_key.name for report_key in report.entries) == set(model.params)


def test_convvae_gradients_match_finite_differences_odd_sizes_and_kernel_3():
    model = _sharpen(sv.ConvVAE(image_shape=(2, 7, 5), n_latent=2, channels=(2, 2),
                                kernel_size=3, dtype=np.float64, backend="numpy", rng=1))
    x, eps = _data(model, seed=1)
    assert check_model(model, x, eps=eps).max_rel_error < 1e-7


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 28, 20), (3, 32, 32), (1, 28, 21), (1, 9, 7)])
def test_convvae_decoder_returns_the_image_shape(shape):
    model = sv.ConvVAE(image_shape=shape, n_latent=4, channels=(4, 8), dtype=np.float32,
                       backend="numpy", rng=0)
    x = np.random.default_rng(0).uniform(size=(3, int(np.prod(shape)))).astype(np.float32)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 4)
    assert model.decode(mu).shape == (3, model.n_in)
    assert model.reconstruct(x).shape == (3, model.n_in)
    assert model.sample(5, rng=0).shape == (5, model.n_in)
    assert model.images(x).shape == (3, *shape)
    loss, grads = model.loss_and_grads(x, rng=0)
    assert np.isfinite(loss) and set(grads) == set(model.params)
    assert all(grads[k].shape == model.params[k].shape for k in grads)
    assert all(grads[k].dtype == np.float32 for k in grads)


def test_convvae_numba_backend_matches_numpy():
    x, eps = _data(_tiny(), batch=3)
    results = []
    for backend in ("numpy", "numba"):
        model = _tiny("gaussian", backend=backend)
        results.append(model.loss_and_grads(x, eps=eps))
    (loss_np, grads_np), (loss_nb, grads_nb) = results
    assert abs(loss_np - loss_nb) < 1e-12 * abs(loss_np)
    assert max(rel_error(grads_np[k], grads_nb[k]) for k in grads_np) < 1e-12


def test_convvae_config_rebuilds_the_same_model():
    model = _tiny("gaussian_fixed", shape=(3, 8, 8), sigma=0.2, kernel_size=3)
    rebuilt = type(model)(**model._config, dtype=np.float64, backend="numpy")
    assert rebuilt.config() == model.config()
    assert all(np.array_equal(model.params[k], rebuilt.params[k]) for k in model.params)


def test_convvae_checkpoint_round_trip_is_exact(tmp_path):
    model = _tiny("gaussian")
    path = tmp_path / "convvae.npz"
    sv.save(model, path)
    loaded = sv.load(path)
    assert type(loaded) is sv.ConvVAE and loaded.image_shape == model.image_shape
    x, eps = _data(model)
    assert loaded.loss_and_grads(x, eps=eps)[0] == model.loss_and_grads(x, eps=eps)[0]


def test_convvae_elbo_samples_z_and_is_per_example():
    model = _tiny()
    x, _ = _data(model, batch=4)
    elbo = model.elbo(x, rng=0)
    assert elbo.shape == (4,)
    assert np.array_equal(elbo, model.elbo(x, rng=0))
    assert not np.array_equal(elbo, model.elbo(x, rng=1))  # z is sampled, not set to mu


def test_convvae_adam_steps_lower_the_loss():
    ds = sv.data.sprites(n=64, rng=0)
    side = int(np.sqrt(ds.x.shape[1]))
    model = sv.ConvVAE(image_shape=(1, side, side), n_latent=4, channels=(4, 8), rng=0,
                       backend="numpy")
    opt = sv.optim.Adam(model.params, lr=3e-3)
    first = model.loss_and_grads(ds.x, rng=0)[0]
    for step in range(15):
        _, grads = model.loss_and_grads(ds.x, rng=step)
        opt.step(grads)
    assert model.loss_and_grads(ds.x, rng=0)[0] < 0.9 * first


def test_convvae_rejects_bad_arguments_with_named_errors():
    with pytest.raises(ValueError, match="image_shape must be"):
        sv.ConvVAE(image_shape=(28, 28))
    with pytest.raises(ValueError, match="too small"):
        sv.ConvVAE(image_shape=(1, 4, 4), channels=(2, 2, 2), backend="numpy")
    with pytest.raises(ValueError, match="likelihood must be one of"):
        sv.ConvVAE(likelihood="poisson", backend="numpy")
    model = _tiny()
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 48\)"):
        model.loss_and_grads(np.zeros((2, 47)), rng=0)


def test_conv_layers_in_sequential_backprop_twice_without_accumulating():
    rng = np.random.default_rng(0)
    net = Sequential(Reshape((2, 6, 5)), Conv2d(2, 3, 3, stride=2, padding=1, activation="tanh"),
                     ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=(1, 0)),
                     Flatten())
    x = rng.standard_normal((4, 60))
    out = net.forward(x)
    assert out.shape == (4, 60)
    dout = rng.standard_normal(out.shape)
    dx1 = net.backward(dout)
    grads1 = {k: v.copy() for k, v in net.grads.items()}
    dx2 = net.backward(dout)
    assert np.array_equal(dx1, dx2)
    assert set(grads1) == {"1.W", "1.b", "2.W", "2.b"}
    assert all(np.array_equal(grads1[k], net.grads[k]) for k in grads1)


def test_conv_layer_with_input_grad_false_returns_no_dx_and_same_weight_grads():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1, 7, 7))
    full = Conv2d(1, 2, 4, stride=2, padding=1, activation="relu", rng=3)
    skip = Conv2d(1, 2, 4, stride=2, padding=1, activation="relu", rng=3, input_grad=False)
    dout = rng.standard_normal(full.forward(x).shape)
    skip.forward(x)
    assert full.backward(dout).shape == x.shape
    assert skip.backward(dout) is None
    assert np.array_equal(full.grads["W"], skip.grads["W"])


def test_sequential_asks_a_layer_for_dx_only_when_a_layer_before_it_has_parameters(monkeypatch):
    # one mechanism for every layer: backward(dout, need_dx); Reshape first has no parameters,
    # so with need_dx=False the first conv skips its dx product, the second does not
    rng = np.random.default_rng(2)
    net = Sequential(Reshape((1, 8, 8)), Conv2d(1, 2, 4, stride=2, padding=1, rng=0),
                     Conv2d(2, 3, 4, stride=2, padding=1, activation="tanh", rng=1), Flatten())
    x = rng.standard_normal((3, 64))
    dout = rng.standard_normal(net.forward(x).shape)
    asked = []

    def recording(layer):
        real = layer.backward

        def backward(d, need_dx=True):
            asked.append((type(layer).__name__, need_dx))
            return real(d, need_dx)

        return backward

    for layer in net.layers:
        monkeypatch.setattr(layer, "backward", recording(layer))
    assert net.backward(dout, need_dx=False) is None
    assert asked == [("Flatten", True), ("Conv2d", True), ("Conv2d", False), ("Reshape", False)]
    grads = dict(net.grads)
    assert net.backward(dout).shape == x.shape  # the caller wants dx: every layer is asked
    assert all(np.array_equal(grads[key], net.grads[key]) for key in grads)


def test_conv_layers_are_reexported_by_layers_module():
    from scratchvae import layers

    assert layers.Conv2d is Conv2d and layers.ConvTranspose2d is ConvTranspose2d
    assert layers.Flatten is Flatten and layers.Reshape is Reshape


def test_conv_layer_init_bound_follows_pytorch():
    conv = Conv2d(3, 8, 4, rng=0)
    deconv = ConvTranspose2d(8, 3, 4, rng=0)
    assert conv.params["W"].shape == (8, 3, 4, 4) and deconv.params["W"].shape == (8, 3, 4, 4)
    assert np.abs(conv.params["W"]).max() <= 1 / np.sqrt(3 * 16)
    assert np.abs(deconv.params["W"]).max() <= 1 / np.sqrt(3 * 16)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3, H, W\)"):
        conv.forward(np.zeros((2, 2, 5, 5)))


def test_registry_builds_convvae_for_grey_and_colour_image_shapes():
    from scratchvae.registry import build_model

    grey = build_model("convvae", 28 * 20, (28, 20), {"backend": "numpy", "latent": 5})
    colour = build_model("convvae", 3072, (3, 32, 32), {"backend": "numpy",
                                                        "likelihood": "gaussian_fixed"})
    assert grey.image_shape == (1, 28, 20) and grey.n_latent == 5
    assert colour.image_shape == (3, 32, 32) and colour.likelihood == "gaussian_fixed"
    with pytest.raises(ValueError, match="needs the data's image_shape"):
        build_model("convvae", 784, None, {"backend": "numpy"})
