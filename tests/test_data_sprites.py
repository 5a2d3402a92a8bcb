"""Procedural sprites: deterministic, binary, and each factor moves the image the way it says."""

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.data import FACTOR_NAMES, FACTOR_RANGES, render_sprites, sprites

N_SHAPES = len(sv.data.SHAPE_NAMES)


def one(shape, scale=1.0, rotation=0.0, pos_x=0.5, pos_y=0.5):
    return [shape, scale, rotation, pos_x, pos_y]


def images(factors, size):
    return render_sprites(np.array(factors, dtype=float), size=size).reshape(-1, size, size)


def centroid(img):
    rows, cols = np.nonzero(img)
    return rows.mean(), cols.mean()


def test_sprites_returns_the_documented_fields():
    ds = sprites(50, rng=0)
    assert ds.x.shape == (50, 32 * 32) and ds.x.dtype == np.float32
    assert set(np.unique(ds.x)) <= {0.0, 1.0}
    assert ds.factors.shape == (50, 5)
    assert ds.factor_names == ("shape", "scale", "rotation", "pos_x", "pos_y")
    assert ds.image_shape == (32, 32) and len(ds) == 50
    assert ds.shape_names == ("square", "ellipse", "heart", "triangle")
    np.testing.assert_array_equal(ds.labels, ds.factors[:, 0])
    assert ds.labels.dtype == np.int64
    assert set(ds.factor_ranges) == set(FACTOR_NAMES)
    assert (ds.x.sum(axis=1) > 0).all()  # every image shows a shape


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not():
    a, b, c = sprites(300, rng=7), sprites(300, rng=7), sprites(300, rng=8)
    assert a.x.tobytes() == b.x.tobytes() and a.factors.tobytes() == b.factors.tobytes()
    assert a.x.tobytes() != c.x.tobytes()
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    assert sprites(20, rng=g1).x.tobytes() == sprites(20, rng=g2).x.tobytes()


def test_render_sprites_reproduces_the_dataset_from_its_factors():
    ds = sprites(200, rng=1, size=32)
    np.testing.assert_array_equal(render_sprites(ds.factors, size=32), ds.x)


def test_size_64_is_supported():
    ds = sprites(40, rng=0, size=64)
    assert ds.x.shape == (40, 4096) and ds.image_shape == (64, 64)
    # same factors, finer grid: the covered fraction of the image is about the same
    small = render_sprites(ds.factors, size=32)
    np.testing.assert_allclose(ds.x.mean(axis=1), small.mean(axis=1), rtol=0.25)


def test_sampled_factors_cover_their_declared_ranges():
    f = sprites(4000, rng=0).factors
    assert np.array_equal(np.unique(f[:, 0]), np.arange(N_SHAPES))
    counts = np.bincount(f[:, 0].astype(int))
    assert counts.min() > 0.2 * len(f)  # shapes are drawn uniformly
    for col, name in enumerate(FACTOR_NAMES[1:], start=1):
        low, high = FACTOR_RANGES[name]
        width = high - low
        assert low <= f[:, col].min() < low + 0.01 * width, name
        assert high - 0.01 * width < f[:, col].max() <= high, name
        assert abs(f[:, col].mean() - (low + high) / 2) < 0.03 * width, name  # uniform
    corr = np.corrcoef(f[:, 1:].T)
    assert np.abs(corr - np.eye(4)).max() < 0.06  # drawn independently


@pytest.mark.parametrize("shape", range(N_SHAPES))
@pytest.mark.parametrize("axis", ["pos_x", "pos_y"])
def test_centroid_follows_the_position_factor(shape, axis):
    size = 32
    values = np.linspace(0, 1, 9)
    rotation = 0.7
    factors = [one(shape, 0.8, rotation, **{axis: v}) for v in values]
    cents = np.array([centroid(img) for img in images(factors, size)])
    coord = cents[:, 1] if axis == "pos_x" else cents[:, 0]  # column for x, row for y
    other = cents[:, 0] if axis == "pos_x" else cents[:, 1]
    assert np.all(np.diff(coord) > 0)  # pos_x: left to right; pos_y: top to bottom
    span = size - 2 * (size / 4 + 1)  # centre range from the documented geometry
    np.testing.assert_allclose(coord - coord[0], values * span, atol=0.75)
    assert np.ptp(other) < 0.75  # the other coordinate stays put


@pytest.mark.parametrize("shape", range(N_SHAPES))
def test_area_grows_with_scale_as_scale_squared(shape):
    scales = np.linspace(0.5, 1.0, 6)
    areas = images([one(shape, s, 0.3) for s in scales], 64).sum(axis=(1, 2))
    assert np.all(np.diff(areas) > 0)
    np.testing.assert_allclose(areas / areas[-1], scales**2, rtol=0.08)


@pytest.mark.parametrize("shape", range(N_SHAPES))
def test_rotation_changes_the_image_but_not_the_area(shape):
    angles = np.linspace(0, 2 * np.pi, 13)[:-1]
    imgs = images([one(shape, 1.0, a) for a in angles], 64)
    areas = imgs.sum(axis=(1, 2))
    np.testing.assert_allclose(areas, areas.mean(), rtol=0.04)
    # a square repeats every quarter turn, an ellipse every half, a triangle every third
    period = {0: np.pi / 2, 1: np.pi, 2: None, 3: 2 * np.pi / 3}[shape]
    changed = [a for a in angles[1:]
               if period is None or not np.isclose(a / period, np.round(a / period))]
    assert len(changed) >= 6
    for a, img in zip(angles, imgs):
        if a in changed:
            assert np.abs(img - imgs[0]).sum() > 0.1 * areas[0], a


def test_rotation_is_counterclockwise_as_displayed():
    # the heart's tip points down at rotation 0; a quarter turn counterclockwise points it right
    img0, img90 = images([one(2, 1.0, 0.0), one(2, 1.0, np.pi / 2)], 64)
    r0, c0 = centroid(img0)
    rows = np.nonzero(img0.any(axis=1))[0]
    assert rows.max() - r0 > r0 - rows.min()  # tip below the centroid
    r1, c1 = centroid(img90)
    cols = np.nonzero(img90.any(axis=0))[0]
    assert cols.max() - c1 > c1 - cols.min()  # tip right of the centroid


def test_the_four_shapes_differ_at_the_same_factors():
    imgs = images([one(k, 1.0, 0.0) for k in range(N_SHAPES)], 32).reshape(N_SHAPES, -1)
    for i in range(N_SHAPES):
        for j in range(i + 1, N_SHAPES):
            assert np.abs(imgs[i] - imgs[j]).sum() >= 10


@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes_stay_inside_the_image_at_every_extreme(size):
    factors = [one(k, 1.0, a, px, py)
               for k in range(N_SHAPES)
               for a in np.linspace(0, 2 * np.pi, 24, endpoint=False)
               for px in (0.0, 1.0) for py in (0.0, 1.0)]
    imgs = images(factors, size)
    border = np.concatenate([imgs[:, 0, :], imgs[:, -1, :], imgs[:, :, 0], imgs[:, :, -1]], 1)
    assert border.sum() == 0  # a one-pixel empty border: nothing was cut off
    centred = images([[f[0], 1.0, f[2], 0.5, 0.5] for f in factors], size)
    np.testing.assert_allclose(imgs.sum(axis=(1, 2)), centred.sum(axis=(1, 2)),
                               rtol=0.2 if size == 16 else 0.1)


def test_fixed_holds_factors_without_changing_the_others():
    free = sprites(100, rng=5)
    held = sprites(100, rng=5, fixed={"rotation": 0.0, "shape": "heart"})
    assert (held.factors[:, 2] == 0).all() and (held.labels == 2).all()
    np.testing.assert_array_equal(held.factors[:, [1, 3, 4]], free.factors[:, [1, 3, 4]])


@pytest.mark.parametrize(
    "factors, message",
    [
        ([[4, 1.0, 0, 0.5, 0.5]], "shape"),
        ([[0.5, 1.0, 0, 0.5, 0.5]], "shape"),
        ([[0, 1.2, 0, 0.5, 0.5]], "scale"),
        ([[0, 1.0, 0, -0.1, 0.5]], "pos_x"),
        ([[0, 1.0, 0, 0.5, 1.5]], "pos_y"),
        ([[0, 1.0, 0, 0.5]], "shape"),
        ([[0, 1.0, np.nan, 0.5, 0.5]], "NaN"),
    ],
)
def test_render_sprites_rejects_factors_out_of_range(factors, message):
    with pytest.raises(ValueError, match=message):
        render_sprites(factors)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="n must be a positive integer"):
        sprites(0)
    with pytest.raises(ValueError, match="size must be at least"):
        sprites(3, size=8)
    with pytest.raises(ValueError, match="unknown factor"):
        sprites(3, fixed={"colour": 1})
