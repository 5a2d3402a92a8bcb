"""Procedural sprites: a dSprites-like dataset that the project generates itself.

Each image is one white shape on a black background (binary pixels), made from five
independent ground-truth factors, drawn uniformly and independently:

=========  =====================  ===================================================
factor     range                  meaning
=========  =====================  ===================================================
shape      {0, 1, 2, 3}           0 square, 1 ellipse, 2 heart, 3 triangle
scale      [0.5, 1.0]             size relative to the largest shape
rotation   [0, 2*pi)              radians, counterclockwise as displayed
pos_x      [0, 1]                 0 = leftmost position, 1 = rightmost
pos_y      [0, 1]                 0 = top, 1 = bottom (image row order)
=========  =====================  ===================================================

Geometry. Every shape is defined in its own coordinates ``(u, v)`` (v points up) and fits in the
unit disk. At scale 1 that disk has radius ``R = size / 4`` pixels; a shape is drawn with radius
``r = scale * R``. Its centre runs over ``[R + 1, size - R - 1]`` pixels on each axis, so every
shape at every factor value stays inside the image with a one-pixel empty border. A pixel
(row i, column j) is on when its centre ``(j + 0.5, i + 0.5)`` lies inside the shape:

    dx = (j + 0.5 - cx) / r,   dy = (cy - i - 0.5) / r        # v axis points up
    u  = cos(rotation) * dx + sin(rotation) * dy               # rotate the pixel by -rotation
    v  = -sin(rotation) * dx + cos(rotation) * dy

    square    max(|u|, |v|) <= 1/sqrt(2)                       (corners on the unit circle)
    ellipse   u**2 + (v / 0.6)**2 <= 1
    heart     (a**2 + b**2 - 1)**3 - a**2 * b**3 <= 0,  a = 1.25 u, b = 1.25 v + 0.25
    triangle  equilateral, vertices on the unit circle, one pointing up at rotation 0

Symmetries: a square looks the same after a quarter turn, an ellipse after a half turn, a
triangle after a third of a turn; the heart has none. Rotation is therefore only identifiable
modulo those angles (as in dSprites).

Rendering is vectorised over images and pixels (no Python loop over images) and runs in chunks
so memory stays bounded; all trigonometry is done in float64 on the per-image factors, the
per-pixel work is exact float32 arithmetic, so a seed gives the same bytes everywhere.
"""

from dataclasses import dataclass

import numpy as np

from scratchvae.validation import as_generator, check_array, check_positive_int

FACTOR_NAMES = ("shape", "scale", "rotation", "pos_x", "pos_y")
SHAPE_NAMES = ("square", "ellipse", "heart", "triangle")
FACTOR_RANGES = {
    "shape": (0, len(SHAPE_NAMES) - 1),
    "scale": (0.5, 1.0),
    "rotation": (0.0, 2 * np.pi),
    "pos_x": (0.0, 1.0),
    "pos_y": (0.0, 1.0),
}
MIN_SIZE = 16
RADIUS_FRACTION = 0.25  # radius of the unit disk at scale 1, as a fraction of the image size
_CHUNK_PIXELS = 1 << 21  # pixels rendered per vectorised chunk (about 8 MB of float32)


@dataclass(frozen=True, eq=False)
class Sprites:
    """A sprites dataset: images and the factors that made them.

    x: (n, size * size) float32 with values 0.0 or 1.0, images flattened in row order.
    factors: (n, 5) float64, columns in ``factor_names`` order (shape stored as 0.0 .. 3.0).
    labels: (n,) int64, the shape index (same as ``factors[:, 0]``).
    """

    x: np.ndarray
    factors: np.ndarray
    labels: np.ndarray
    image_shape: tuple
    factor_names: tuple = FACTOR_NAMES
    shape_names: tuple = SHAPE_NAMES
    factor_ranges: dict = None

    def __post_init__(self):
        if self.factor_ranges is None:
            object.__setattr__(self, "factor_ranges", dict(FACTOR_RANGES))

    def __len__(self):
        return len(self.x)

    def __repr__(self):
        return (f"Sprites(n={len(self)}, image_shape={self.image_shape}, "
                f"factor_names={self.factor_names})")


def sample_factors(n, rng=0, fixed=None):
    """Draw ``(n, 5)`` factors uniformly over their ranges (see the module docstring).

    fixed: optional dict ``{factor_name: value}`` holding some factors constant. All factors are
    drawn in the same order either way, so fixing one leaves the others' values unchanged.
    """
    n = check_positive_int("n", n)
    rng = as_generator(rng)
    factors = np.empty((n, len(FACTOR_NAMES)), dtype=np.float64)
    factors[:, 0] = rng.integers(0, len(SHAPE_NAMES), size=n)
    for col, name in enumerate(FACTOR_NAMES[1:], start=1):
        low, high = FACTOR_RANGES[name]
        factors[:, col] = rng.uniform(low, high, size=n)
    for name, value in (fixed or {}).items():
        if name not in FACTOR_NAMES:
            raise ValueError(f"fixed has unknown factor {name!r}; factors are {FACTOR_NAMES}")
        if name == "shape" and isinstance(value, str):
            if value not in SHAPE_NAMES:
                raise ValueError(f"fixed['shape'] must be one of {SHAPE_NAMES}, got {value!r}")
            value = SHAPE_NAMES.index(value)
        factors[:, FACTOR_NAMES.index(name)] = value
    _check_factors(factors)
    return factors


def _check_factors(factors):
    factors = check_array("factors", factors, ndim=2, shape=(None, len(FACTOR_NAMES)),
                          dtype=np.float64, kind="real")
    shape = factors[:, 0]
    if np.any((shape != np.round(shape)) | (shape < 0) | (shape >= len(SHAPE_NAMES))):
        raise ValueError(f"factors[:, 0] (shape) must be integers 0..{len(SHAPE_NAMES) - 1} "
                         f"({', '.join(SHAPE_NAMES)}), got values {np.unique(shape)[:5]}")
    for col, name in enumerate(FACTOR_NAMES[1:], start=1):
        if name == "rotation":
            continue  # periodic: any finite angle is fine
        low, high = FACTOR_RANGES[name]
        values = factors[:, col]
        if values.size and (values.min() < low or values.max() > high):
            raise ValueError(f"factors[:, {col}] ({name}) must be in [{low}, {high}], got "
                             f"values in [{values.min():.4g}, {values.max():.4g}]")
    return factors


def _inside(shape_index, u, v):
    """Boolean mask of points (u, v) inside the canonical shape (all fit in the unit disk)."""
    if shape_index == 0:  # square, half side 1/sqrt(2): corners on the unit circle
        h = np.float32(np.sqrt(0.5))
        return np.maximum(np.abs(u), np.abs(v)) <= h
    if shape_index == 1:  # ellipse, semi-axes 1 and 0.6
        w = v * np.float32(1 / 0.6)
        return u * u + w * w <= 1
    if shape_index == 2:  # heart (x^2 + y^2 - 1)^3 <= x^2 y^3, scaled so its tip is at radius 1
        a = u * np.float32(1.25)
        b = v * np.float32(1.25) + np.float32(0.25)
        a2 = a * a
        s = a2 + b * b - 1
        return s * s * s <= a2 * (b * b * b)
    # triangle: three edges at distance 1/2 from the centre (inradius of circumradius 1)
    c = np.float32(np.sqrt(3) / 2)
    half_v = v * np.float32(0.5)
    cu = c * u
    return (v >= -0.5) & (half_v + cu <= 0.5) & (half_v - cu <= 0.5)


def render_sprites(factors, size=32):
    """Render images for given factor values: ``(n, 5)`` factors -> ``(n, size * size)`` float32.

    Columns of ``factors`` are (shape, scale, rotation, pos_x, pos_y) with the ranges in
    ``FACTOR_RANGES``; rotation may be any finite angle. Use it for latent traversals and
    disentanglement metrics: vary one column, keep the others.
    """
    size = check_positive_int("size", size)
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels, got {size}")
    factors = _check_factors(np.atleast_2d(np.asarray(factors, dtype=np.float64)))
    n = len(factors)
    shape = factors[:, 0].astype(np.int64)
    big_r = RADIUS_FRACTION * size
    low, high = big_r + 1.0, size - big_r - 1.0
    # per-image float64 geometry, then float32 for the per-pixel work
    r = factors[:, 1] * big_r
    cos = (np.cos(factors[:, 2]) / r).astype(np.float32)
    sin = (np.sin(factors[:, 2]) / r).astype(np.float32)
    cx = (low + factors[:, 3] * (high - low)).astype(np.float32)
    cy = (low + factors[:, 4] * (high - low)).astype(np.float32)
    centres = np.arange(size, dtype=np.float32) + np.float32(0.5)

    out = np.zeros((n, size * size), dtype=np.float32)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        for k in range(len(SHAPE_NAMES)):
            sel = start + np.flatnonzero(shape[start:stop] == k)
            if sel.size == 0:
                continue
            dx = centres[None, None, :] - cx[sel, None, None]   # (m, 1, size): columns
            dy = cy[sel, None, None] - centres[None, :, None]   # (m, size, 1): rows, v up
            c, s = cos[sel, None, None], sin[sel, None, None]
            u = c * dx + s * dy                                  # (m, size, size)
            v = c * dy - s * dx
            out[sel] = _inside(k, u, v).reshape(len(sel), -1)
    return out


def sprites(n, rng=0, size=32, fixed=None):
    """Generate ``n`` sprite images with their ground-truth factors.

    n: number of images. rng: int seed or ``numpy.random.Generator`` (same seed -> same bytes).
    size: image side in pixels (32 or 64 are the usual choices; any size >= 16 works).
    fixed: optional ``{factor_name: value}`` to hold factors constant, e.g.
    ``{"rotation": 0.0}`` or ``{"shape": "heart"}``.

    Returns a :class:`Sprites` with ``x`` (n, size*size) float32 in {0, 1}, ``factors`` (n, 5),
    ``labels`` (n,) int64 shape index, ``image_shape`` (size, size), ``factor_names``,
    ``shape_names`` and ``factor_ranges``.
    """
    factors = sample_factors(n, rng=rng, fixed=fixed)
    x = render_sprites(factors, size=size)
    return Sprites(x=x, factors=factors, labels=factors[:, 0].astype(np.int64),
                   image_shape=(size, size))
