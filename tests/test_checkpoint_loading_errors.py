"""Damaged checkpoints give a ValueError naming the file, never AttributeError, RecursionError,
TypeError or a bare NumPy error; parameters holding NaN are refused (issue 18, item 7)."""

import json
import zipfile

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.checkpoint import CONFIG_KEY, load_checkpoint


@pytest.fixture
def good(tmp_path):
    model = sv.VAE(n_in=6, hidden=(4,), n_latent=2, backend="numpy")
    adam = sv.optim.Adam(model.params, backend="numpy")
    _, grads = model.loss_and_grads(np.full((2, 6), 0.5), rng=0)
    adam.step(grads)
    return sv.save(model, tmp_path / "good.npz", optimizer=adam, metadata={"epoch": 1})


def _entries(path):
    with np.load(path) as npz:
        return {name: npz[name] for name in npz.files}


def _with_header_text(path, out, edit):
    entries = _entries(path)
    entries[CONFIG_KEY] = np.frombuffer(edit(entries[CONFIG_KEY].tobytes().decode()).encode(),
                                        dtype=np.uint8)
    np.savez(out, **entries)
    return out


def _with_header(path, out, edit):
    return _with_header_text(path, out, lambda text: json.dumps(edit(json.loads(text))))


def _with_arrays(path, out, **arrays):
    entries = _entries(path)
    entries.update({key.replace("__", "/"): value for key, value in arrays.items()})
    np.savez(out, **entries)
    return out


def _expect_refused(path, problem):
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert type(info.value) is ValueError
    assert f"{path} is not a valid scratchvae checkpoint" in message, message
    assert problem in message, message


def test_a_zip_member_that_is_not_npy_is_refused(good, tmp_path):
    bad = tmp_path / "text_member.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
        out.writestr("param/notes.txt", "hello")
    _expect_refused(bad, "'param/notes.txt' is not a .npy array")


def test_json_nested_100k_deep_is_refused(good, tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    bad = _with_header_text(good, tmp_path / "deep.npz",
                            lambda text: text.replace('"metadata": {', f'"deep": {deep}, '
                                                      '"metadata": {'))
    _expect_refused(bad, "nested too deeply")


def test_a_5000_digit_integer_is_refused_naming_the_file(good, tmp_path):
    bad = _with_header_text(good, tmp_path / "digits.npz",
                            lambda text: text.replace('"epoch": 1', '"epoch": ' + "9" * 5000))
    _expect_refused(bad, "cannot be read")


@pytest.mark.parametrize("value", [["VAE"], {"a": 1}, 3, None])
def test_a_model_class_that_is_not_a_name_is_refused(good, tmp_path, value):
    bad = _with_header(good, tmp_path / "cls.npz", lambda h: {**h, "model_class": value})
    _expect_refused(bad, "is not a scratchvae model class")


@pytest.mark.parametrize("name, value, problem", [
    ("optim__m.mu.W", np.full((4, 2), "x"), "'m.mu.W' must be a float32 or float64 array"),
    ("optim__v.mu.b", np.array([np.nan, 0.0]), "'v.mu.b' contains NaN"),
    ("optim__m.mu.b", np.array([1.0, np.inf]), "'m.mu.b' contains NaN or inf"),
    ("optim__step", np.array("seven"), "'step' must be one integer"),
    ("optim__step", np.array([1, 2]), "optimizer state 'step' is int64 (2,)"),
])
def test_bad_optimizer_state_is_refused_naming_the_file(good, tmp_path, name, value, problem):
    _expect_refused(_with_arrays(good, tmp_path / "state.npz", **{name: value}), problem)


def test_parameters_holding_nan_are_refused_on_load(good, tmp_path):
    entries = _entries(good)
    nan_params = {key.replace("/", "__"): np.full_like(value, np.nan)
                  for key, value in entries.items() if key.startswith("param/")}
    _expect_refused(_with_arrays(good, tmp_path / "nan.npz", **nan_params), "holds NaN or inf")
    one = {"param__decoder.0.b": np.where(np.arange(4) == 2, np.inf,
                                          entries["param/decoder.0.b"])}
    _expect_refused(_with_arrays(good, tmp_path / "inf.npz", **one),
                    "'decoder.0.b' holds NaN or inf")


@pytest.mark.parametrize("metadata, problem", [
    ({"epoch": [1]}, "'epoch' must be an integer >= 0"),
    ({"epoch": -3}, "'epoch' must be an integer >= 0"),
    ({"epoch": 1, "seed": "zero"}, "'seed' must be an integer >= 0"),
    ({"epoch": 1, "history": [1, 2]}, "'history' must be a dict of lists"),
])
def test_resuming_from_bad_metadata_is_a_value_error_naming_the_file(good, tmp_path, metadata,
                                                                     problem):
    bad = _with_header(good, tmp_path / "meta.npz", lambda h: {**h, "metadata": metadata})
    model = sv.VAE(n_in=6, hidden=(4,), n_latent=2, backend="numpy")
    with pytest.raises(ValueError, match=f"meta.npz: metadata {problem}"):
        sv.fit(model, np.full((4, 6), 0.5), epochs=2, checkpoint=bad, resume=True,
               progress=False)


def test_the_good_checkpoint_still_loads(good):
    saved = load_checkpoint(good)
    assert saved.optimizer.step_count == 1 and saved.metadata == {"epoch": 1}
