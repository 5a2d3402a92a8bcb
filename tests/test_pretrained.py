"""sv.pretrained: the small shipped checkpoints are loadable, small, and made by the script's recipe."""

from pathlib import Path

import numpy as np
import pytest
from project_scripts import load_script

import scratchvae as sv

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sv.pretrained.NAMES)
def test_each_shipped_model_loads_is_small_and_holds_the_scripts_recipe(name):
    script = load_script("scripts/make_pretrained.py")
    path = sv.pretrained.path(name)
    assert path.stat().st_size < 3_000_000
    with np.load(path, allow_pickle=False) as arrays:  # no pickle anywhere in the file
        assert len(arrays.files) > 0
    model = sv.pretrained.load(name, backend="numpy")
    recipe = sv.pretrained.metadata(name)["recipe"]
    assert recipe == dict(script.COMMON, **script.RECIPES[name])
    expected_class = sv.VAE if recipe["model"] == "vae" else sv.Autoencoder
    assert type(model) is expected_class
    x, _ = sv.data.load("mnist10k", split="test", root=ROOT.parent / "shared" / "data") if (
        ROOT.parent / "shared" / "data" / "mnist").is_dir() else (np.zeros((4, 784), np.float32), None)
    assert model.reconstruct(x[:4]).shape == (4, 784)


def test_the_script_has_a_recipe_for_every_shipped_name_and_no_other():
    assert set(load_script("scripts/make_pretrained.py").RECIPES) == set(sv.pretrained.NAMES)


def test_unknown_name_is_a_clear_value_error():
    with pytest.raises(ValueError, match="name must be one of 'vae-mnist-5d'"):
        sv.pretrained.load("vae-cifar")
