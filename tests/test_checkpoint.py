"""Checkpoints: exact round trips, optimizer state, atomic writes, refusal of bad files."""

import json
import pickle
import zipfile

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.checkpoint import CONFIG_KEY, load_checkpoint


def perturbed(model, seed=5):
    """Give the model parameters that a freshly built one (rng=0) would not have."""
    rng = np.random.default_rng(seed)
    for value in model.params.values():
        value += rng.standard_normal(value.shape).astype(value.dtype)
    return model


MODELS = {
    "vae_bernoulli": lambda: sv.VAE(12, (6,), 3, backend="numpy"),
    "vae_gaussian": lambda: sv.VAE(12, (6, 5), 2, likelihood="gaussian", beta=0.5,
                                   logvar_range=(-4.0, 1.0), backend="numpy"),
    "vae_gaussian_fixed_float64": lambda: sv.VAE(12, (), 3, likelihood="gaussian_fixed",
                                                 sigma=0.3, activation="tanh",
                                                 dtype=np.float64, backend="numpy"),
    "ae_mse": lambda: sv.Autoencoder(12, (6,), 3, backend="numpy"),
    "ae_bce_float64": lambda: sv.Autoencoder(12, (), 3, loss="bce", activation="identity",
                                             dtype=np.float64, backend="numpy"),
    "dae_masking": lambda: sv.DenoisingAutoencoder(12, (6,), 3, noise="masking", level=0.4,
                                                   backend="numpy"),
    "dae_salt_pepper_bce": lambda: sv.DenoisingAutoencoder(
        12, (6,), 3, noise="salt_pepper", level=0.2, loss="bce", backend="numpy"),
    "dae_gaussian": lambda: sv.DenoisingAutoencoder(12, (6,), 3, noise="gaussian", level=0.7,
                                                    backend="numpy"),
}


def batch(n=5, n_in=12, seed=0):
    return np.random.default_rng(seed).random((n, n_in)).astype(np.float32)


def assert_same_params(a, b):
    assert list(a.params) == list(b.params)
    for key, value in a.params.items():
        assert b.params[key].dtype == value.dtype, key
        assert b.params[key].shape == value.shape, key
        assert b.params[key].tobytes() == value.tobytes(), key


@pytest.fixture
def vae_path(tmp_path):
    model = perturbed(sv.VAE(12, (6,), 3, backend="numpy"))
    path = tmp_path / "vae.npz"
    sv.save(model, path, metadata={"epoch": 1})
    return path, model


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_is_exact(tmp_path, name):
    model = perturbed(MODELS[name]())
    path = sv.save(model, tmp_path / "model.npz")
    loaded = sv.load(path)
    assert type(loaded) is type(model)
    assert loaded.config() == model.config()
    assert loaded.backend == model.backend and loaded.dtype == model.dtype
    assert_same_params(model, loaded)
    x = batch()
    kwargs = {"noise_mask": model.sample_noise_mask(x.shape, rng=1)} if "noise_mask" in (
        model.noise_arguments) else ({"rng": 1} if model.noise_arguments else {})
    assert loaded.loss_and_grads(x, **kwargs)[0] == model.loss_and_grads(x, **kwargs)[0]


def test_loaded_params_are_the_live_layer_arrays(vae_path):
    path, _ = vae_path
    loaded = sv.load(path)
    loaded.params["mu.W"][...] = 0
    assert np.all(loaded.networks["mu"].params["W"] == 0)


def test_backend_is_preserved_and_can_be_overridden(tmp_path):
    model = perturbed(sv.Autoencoder(12, (6,), 3, backend="numba"))
    path = sv.save(model, tmp_path / "ae.npz")
    assert sv.load(path).backend == "numba"
    overridden = sv.load(path, backend="numpy")
    assert overridden.backend == "numpy"
    assert_same_params(model, overridden)
    with pytest.raises(ValueError, match="backend must be one of"):
        sv.load(path, backend="cuda")


def test_file_layout_is_param_optim_and_utf8_json_config(tmp_path):
    model = perturbed(sv.VAE(12, (6,), 3, backend="numpy"))
    opt = sv.optim.SGD(model.params, lr=0.1, momentum=0.5)
    path = sv.save(model, tmp_path / "m.npz", optimizer=opt, metadata={"note": "é"})
    with np.load(path, allow_pickle=False) as npz:
        names = set(npz.files)
        header = json.loads(npz[CONFIG_KEY].tobytes().decode("utf-8"))
        assert npz[CONFIG_KEY].dtype == np.uint8
        assert npz["param/encoder.0.W"].tobytes() == model.params["encoder.0.W"].tobytes()
    assert names == ({CONFIG_KEY} | {f"param/{k}" for k in model.params}
                     | {"optim/step"} | {f"optim/velocity.{k}" for k in model.params})
    assert header["format"] == "scratchvae-checkpoint" and header["version"] == 1
    assert header["scratchvae_version"] == sv.__version__
    assert header["model_class"] == "VAE" and header["model_config"] == model.config()
    assert header["optimizer_class"] == "SGD"
    assert header["optimizer_config"] == {"lr": 0.1, "momentum": 0.5}
    assert header["metadata"] == {"note": "é"}


def test_metadata_round_trips(tmp_path, vae_path):
    _, model = vae_path
    metadata = {"epoch": 7, "loss": 101.25, "dataset": "mnist", "done": False, "best": None,
                "history": {"train_loss": [3.5, 2.25]}, "np_scalar": np.float32(0.5),
                "np_array": np.arange(3)}
    path = sv.save(model, tmp_path / "meta.npz", metadata=metadata)
    ckpt = load_checkpoint(path)
    assert ckpt.optimizer is None
    assert ckpt.metadata == {**metadata, "np_scalar": 0.5, "np_array": [0, 1, 2]}
    assert load_checkpoint(sv.save(model, tmp_path / "none.npz")).metadata == {}


# -- optimizer state -------------------------------------------------------------------------------


def train(model, opt, steps, x):
    for _ in range(steps):
        _, grads = model.loss_and_grads(x, rng=opt.step_count)  # same noise at the same step
        opt.step(grads)


@pytest.mark.parametrize("make_opt", [
    lambda params: sv.optim.Adam(params, lr=1e-2, betas=(0.8, 0.95), eps=1e-7),
    lambda params: sv.optim.SGD(params, lr=1e-2, momentum=0.9),
], ids=["adam", "sgd"])
def test_training_continues_bit_identically_after_reload(tmp_path, make_opt):
    x = batch(8)
    model = sv.VAE(12, (6,), 3, backend="numpy")
    opt = make_opt(model.params)
    train(model, opt, 3, x)
    path = sv.save(model, tmp_path / "run.npz", optimizer=opt)
    train(model, opt, 3, x)  # three more steps without reloading

    ckpt = load_checkpoint(path)
    assert type(ckpt.optimizer) is type(opt)
    assert ckpt.optimizer.config() == opt.config()
    assert ckpt.optimizer.params is ckpt.model.params
    assert ckpt.optimizer.step_count == 3
    train(ckpt.model, ckpt.optimizer, 3, x)  # three more steps after reloading
    assert ckpt.optimizer.step_count == opt.step_count == 6
    assert_same_params(model, ckpt.model)
    for key, value in opt.state_dict().items():
        assert np.asarray(ckpt.optimizer.state_dict()[key]).tobytes() == np.asarray(
            value).tobytes()


def test_optimizer_of_another_model_is_rejected(tmp_path):
    model = sv.VAE(12, (6,), 3, backend="numpy")
    other = sv.Autoencoder(12, (6,), 3, backend="numpy")
    with pytest.raises(ValueError, match="optimizer must be built on this model's params"):
        sv.save(model, tmp_path / "x.npz", optimizer=sv.optim.Adam(other.params))
    assert not (tmp_path / "x.npz").exists()


# -- atomic writes ---------------------------------------------------------------------------------


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch, vae_path):
    path, model = vae_path
    before = path.read_bytes()

    def failing_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="simulated"):
        sv.save(sv.Autoencoder(12, (6,), 3, backend="numpy"), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert_same_params(model, sv.load(path))
    assert sorted(p.name for p in path.parent.iterdir()) == ["vae.npz"]  # no temp file left


def test_save_creates_parent_folders_and_overwrites(tmp_path, vae_path):
    _, model = vae_path
    path = tmp_path / "runs" / "deep" / "model.npz"
    sv.save(model, path)
    changed = perturbed(model, seed=11)
    sv.save(changed, path)
    assert_same_params(changed, sv.load(str(path)))
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


# -- bad files ---------------------------------------------------------------------------------


def test_pickle_bearing_npz_is_rejected(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{CONFIG_KEY: np.frombuffer(b"{}", dtype=np.uint8)},
             payload=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="evil.npz.*'payload' holds a pickled object array"):
        sv.load(path)


def test_python_pickle_file_is_rejected(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"encoder.0.W": [1.0]}))
    with pytest.raises(ValueError, match="model.pkl.*pickle"):
        sv.load(path)


def test_truncated_file_is_rejected(tmp_path, vae_path):
    path, _ = vae_path
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.npz.*corrupt or truncated"):
        sv.load(truncated)


def test_corrupted_bytes_are_rejected(tmp_path, vae_path):
    path, _ = vae_path
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("param/encoder.0.W.npy")
    data[info.header_offset + 200] ^= 0xFF  # inside the array's bytes
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="flipped.npz.*corrupt"):
        sv.load(bad)


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (b"hello, I am a text file", "not a .npz"),
    (bytes(range(256)), "not a .npz"),
])
def test_foreign_files_are_rejected(tmp_path, content, problem):
    path = tmp_path / "foreign.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"foreign.npz.*{problem}"):
        sv.load(path)


def test_npz_without_config_and_npy_file_are_rejected(tmp_path):
    npz = tmp_path / "weights.npz"
    np.savez(npz, W=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="weights.npz.*no 'config.json'"):
        sv.load(npz)
    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="array.npy.*single-array .npy"):
        sv.load(npy)


def rewrite_header(src, dst, **changes):
    with np.load(src, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    header = json.loads(arrays[CONFIG_KEY].tobytes())
    header.update(changes)
    arrays[CONFIG_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(dst, **arrays)
    return dst


@pytest.mark.parametrize("changes, message", [
    ({"format": "something-else"}, "does not declare format"),
    ({"version": 2}, "newer scratchvae"),
    ({"model_class": "Sequential"}, "'Sequential' is not a scratchvae model class"),
    ({"model_class": "fit"}, "'fit' is not a scratchvae model class"),
    ({"model_config": {"n_in": -1}}, "cannot rebuild VAE"),
    ({"model_config": {"n_in": 12, "hidden": [7], "n_latent": 3, "backend": "numpy"}},
     "parameter 'encoder.0.W' is float32 \\(12, 6\\), expected float32 \\(12, 7\\)"),
    ({"optimizer_class": "Adam", "optimizer_config": {"lr": 0.1}}, "optimizer state keys"),
    ({"optimizer_class": "os"}, "'os' is not an optimizer"),
])
def test_inconsistent_header_is_rejected(tmp_path, vae_path, changes, message):
    path, _ = vae_path
    bad = rewrite_header(path, tmp_path / "bad.npz", **changes)
    with pytest.raises(ValueError, match=f"bad.npz.*{message}"):
        sv.load(bad)


def test_unknown_entries_are_rejected(tmp_path, vae_path):
    path, _ = vae_path
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    np.savez(tmp_path / "extra.npz", **arrays, stray=np.zeros(2))
    with pytest.raises(ValueError, match=r"extra.npz.*entries that are neither.*\['stray'\]"):
        sv.load(tmp_path / "extra.npz")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        sv.load(tmp_path / "nothing.npz")


def test_unsaveable_inputs_raise_value_error(tmp_path, vae_path):
    _, model = vae_path

    class MyVAE(sv.VAE):
        pass

    with pytest.raises(ValueError, match="public scratchvae model class"):
        sv.save(MyVAE(12, (6,), 3, backend="numpy"), tmp_path / "a.npz")
    with pytest.raises(ValueError, match="JSON"):
        sv.save(model, tmp_path / "b.npz", metadata={"f": object()})
    with pytest.raises(ValueError, match="metadata must be a dict"):
        sv.save(model, tmp_path / "c.npz", metadata=[1, 2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae.npz"]
