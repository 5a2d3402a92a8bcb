"""load(): names, splits, binarization, sprites as a dataset, and the argument checks."""

import numpy as np
import pytest

import scratchvae as sv


def test_sprites_load_is_generated_with_documented_seeds():
    x, y = sv.data.load("sprites", split="test")
    ds = sv.data.sprites(2000, rng=1)
    assert x.shape == (2000, 1024) and x.dtype == np.float32
    np.testing.assert_array_equal(x, ds.x)
    np.testing.assert_array_equal(y, ds.labels)
    x_small, _ = sv.data.load("sprites", split="train", n=300, size=64)
    np.testing.assert_array_equal(x_small, sv.data.sprites(300, rng=0, size=64).x)
    x_all, y_all = sv.data.load("sprites", split="all", n=10)
    assert x_all.shape == (20, 1024) and y_all.shape == (20,)


def test_load_split_of_sprites_reports_the_image_shape():
    d = sv.data.load_split("sprites", n=16, size=64)
    assert d.image_shape == (64, 64) and d.x_train.shape == (16, 4096)
    assert d.class_names == ("square", "ellipse", "heart", "triangle")


def test_dynamic_binarization_draws_from_the_rng_given(shared_data):
    x, _ = sv.data.load("mnist10k", split="test", root=shared_data)
    a, _ = sv.data.load("mnist10k", split="test", root=shared_data, binarize="dynamic", rng=1)
    b, _ = sv.data.load("mnist10k", split="test", root=shared_data, binarize="dynamic", rng=1)
    c, _ = sv.data.load("mnist10k", split="test", root=shared_data, binarize="dynamic", rng=2)
    assert a.dtype == np.float32 and set(np.unique(a)) == {0.0, 1.0}
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.mean() - x.mean()) < 0.002  # E[binarized] = x
    assert (a[x == 0] == 0).all() and (a[x == 1] == 1).all()


def test_static_binarization_is_the_same_every_time(shared_data):
    a, _ = sv.data.load("mnist10k", split="train", root=shared_data, binarize="static")
    b, _ = sv.data.load("mnist10k", split="train", root=shared_data, binarize="static", rng=9)
    np.testing.assert_array_equal(a, b)
    t, _ = sv.data.load("mnist10k", split="test", root=shared_data, binarize="static")
    both, _ = sv.data.load("mnist10k", split="all", root=shared_data, binarize="static")
    np.testing.assert_array_equal(both, np.concatenate([a, t]))


def test_binarize_helper_samples_bernoulli_pixels():
    x = np.full((200, 500), 0.3, dtype=np.float32)
    xb = sv.data.binarize(x, rng=0)
    assert xb.dtype == np.float32 and xb.shape == x.shape
    assert abs(xb.mean() - 0.3) < 0.005
    np.testing.assert_array_equal(xb, sv.data.binarize(x, rng=0))
    with pytest.raises(ValueError, match=r"x must have values in \[0.0, 1.0\]"):
        sv.data.binarize(x + 1, rng=0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"name must be one of .*'mnist'.*'sprites'.*got 'mnst'"):
        sv.data.load("mnst")
    with pytest.raises(ValueError, match="split must be one of"):
        sv.data.load("sprites", split="validation")
    with pytest.raises(ValueError, match="binarize must be one of"):
        sv.data.load("sprites", binarize="yes")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['size'\] for dataset 'mnist'"):
        sv.data.load("mnist", size=32)


def test_registry_describes_every_dataset():
    for name, info in sv.data.DATASETS.items():
        assert info.name == name
        assert sum(info.splits.values()) > 0
        assert info.n_features == int(np.prod(info.image_shape))
        for remote in info.files:
            assert remote.urls and all(u.endswith("/" + remote.name) for u in remote.urls)
            assert remote.md5 is None or len(remote.md5) == 32
    assert sv.data.get_info("cifar10").n_classes == 10
    assert sv.data.get_info("frey-face").n_classes is None
