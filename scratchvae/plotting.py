"""Figures for autoencoders and VAEs: image grids, reconstructions, samples, the 2-D latent
manifold, latent traversals, interpolations, latent scatter plots and loss curves.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot: no global figure
state is kept and it works headless (no display needed, as in the command line). Save it with
``fig.savefig("out.png")``. In a Jupyter kernel every figure made in a cell is shown once: where
it is displayed (``display(fig)``, or as the cell's last expression), else at the end of the cell,
like pyplot's inline figures (so ``plt.show()`` or more code after it does not lose it).

Images are rows of an array ``(n, prod(image_shape))`` (or already shaped ``(n, *image_shape)``).
``image_shape`` is ``(H, W)`` for grey images or ``(C, H, W)`` for colour (CIFAR-10: (3, 32, 32));
colour images are transposed to ``(H, W, C)`` for ``imshow``. Values are clipped to [0, 1].

Grids are drawn as one mosaic image per axes (one ``imshow``), which is much faster than one
axes per image and keeps the figure small.
"""

import math

import numpy as np

from scratchvae.validation import as_generator, check_array, check_positive_int

__all__ = ["norm_ppf", "tile_images", "image_grid", "reconstructions", "samples",
           "latent_manifold_2d", "latent_traversal", "interpolation", "latent_scatter",
           "loss_curves", "latent_size"]


# ---------------------------------------------------------------------------------------------
# the standard normal inverse CDF (scipy is not a dependency)
# ---------------------------------------------------------------------------------------------

# Acklam's rational approximation of Phi^-1 (relative error < 1.15e-9), coefficients as published
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)
_P_LOW = 0.02425


def _acklam(p):
    if p < _P_LOW:
        q = math.sqrt(-2 * math.log(p))
        return (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / \
               ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1)
    if p > 1 - _P_LOW:
        return -_acklam(1 - p)
    q = p - 0.5
    r = q * q
    return (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q / \
           (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)


def _ppf_scalar(p):
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    x = _acklam(p)
    # one Halley step on Phi(x) - p = 0, with Phi(x) = erfc(-x / sqrt 2) / 2: full double precision
    e = 0.5 * math.erfc(-x / math.sqrt(2)) - p
    u = e * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
    return x - u / (1 + x * u / 2)


def norm_ppf(p):
    """Inverse CDF of N(0, 1): the x with Phi(x) = p, for p in [0, 1] (scalar or array).

    Acklam's rational approximation (relative error 1.15e-9), refined by one Halley step on
    ``Phi(x) - p`` using ``math.erfc``, which brings it to double precision.
    ``norm_ppf(0.975) = 1.959963984540054``; ``norm_ppf(0) = -inf``, ``norm_ppf(1) = inf``.
    """
    arr = np.asarray(p, dtype=np.float64)
    if np.any(~(arr >= 0) | ~(arr <= 1)):
        raise ValueError(f"p must be probabilities in [0, 1], got values in "
                         f"[{np.nanmin(arr)}, {np.nanmax(arr)}] (or NaN)")
    out = np.array([_ppf_scalar(float(v)) for v in arr.ravel()]).reshape(arr.shape)
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------


def _check_image_shape(image_shape):
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or any(s <= 0 for s in shape):
        raise ValueError(f"image_shape must be (H, W) or (C, H, W) with positive sizes, got "
                         f"{image_shape!r}")
    if len(shape) == 3 and shape[0] not in (1, 3, 4):
        raise ValueError(f"image_shape (C, H, W) must have C = 1, 3 or 4 channels, got "
                         f"{image_shape!r}")
    return shape


def _as_images(images, image_shape, name="images"):
    """(n, prod(shape)) or (n, *shape) -> (n, H, W) grey or (n, H, W, C) colour, in [0, 1]."""
    shape = _check_image_shape(image_shape)
    images = check_array(name, images, kind="real")
    size = int(np.prod(shape))
    if images.ndim == 1 and images.size == size:
        images = images[None]
    if images.ndim < 2 or len(images) == 0 or images[0].size != size:
        raise ValueError(f"{name} must have shape (n, {size}) or (n, *{shape}) for image_shape "
                         f"{shape}, got {images.shape}")
    images = np.clip(images.reshape(len(images), *shape).astype(np.float64), 0.0, 1.0)
    if len(shape) == 3:
        images = images.transpose(0, 2, 3, 1)  # (n, C, H, W) -> (n, H, W, C)
        if shape[0] == 1:
            images = images[..., 0]
    return images


def tile_images(images, image_shape, nrow=None, pad=1, pad_value=1.0):
    """Arrange images in a grid, as one array: (rows * (H + pad) - pad, ncol * (W + pad) - pad
    [, C]). nrow: images per row (default: ceil(sqrt(n))). Empty cells are ``pad_value``."""
    return _tile(_as_images(images, image_shape), nrow, pad, pad_value)


def _tile(images, nrow=None, pad=1, pad_value=1.0):
    """tile_images for images already converted by :func:`_as_images`."""
    n, h, w = images.shape[:3]
    ncol = check_positive_int("nrow", nrow) if nrow is not None else math.ceil(math.sqrt(n))
    ncol = min(ncol, n)
    rows = math.ceil(n / ncol)
    grid = np.full((rows * (h + pad) - pad, ncol * (w + pad) - pad, *images.shape[3:]),
                   pad_value, dtype=np.float64)
    for i, image in enumerate(images):
        r, c = divmod(i, ncol)
        grid[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = image
    return grid


_pending = []          # figures made in the running Jupyter cell and not displayed yet
_hooked = []           # the IPython shell whose post_run_cell event shows them


def _kernel_shell():
    """The IPython shell of a Jupyter kernel, or None (plain Python, the CLI, a terminal
    IPython). IPython is never imported here: only looked up when something imported it."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if getattr(shell, "kernel", None) is not None else None


def _show_pending(result=None):
    """post_run_cell: display each figure the cell made that nothing displayed, in order."""
    from IPython.display import display

    figures, _pending[:] = list(_pending), []
    for fig in figures:
        if not getattr(fig, "_sv_displayed", False):
            display(fig)


def _display_png(fig):
    """Publish ``fig`` as a PNG (the cell's output) and mark it displayed."""
    from io import BytesIO

    from IPython.display import publish_display_data

    buffer = BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    fig._sv_displayed = True
    publish_display_data({"image/png": buffer.getvalue(), "text/plain": repr(fig)})


def _new_figure(**kwargs):
    """``Figure(**kwargs)``, not managed by pyplot; in a Jupyter kernel it is also queued to be
    shown at the end of the cell unless displayed before (see the module docstring)."""
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    shell = _kernel_shell()
    if shell is not None:
        fig._ipython_display_ = lambda: _display_png(fig)   # display(fig) and a cell's value
        _pending.append(fig)
        if shell not in _hooked:
            shell.events.register("post_run_cell", _show_pending)
            _hooked.append(shell)
    return fig


def _figure(width, height, nrows=1, ncols=1):
    """A Figure with a grid of axes and constrained layout (for plots with axis labels)."""
    fig = _new_figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _mosaic_figure(grids, titles, left=0.1, bottom=0.1, min_side=2.0, max_side=7.0,
                   suptitle=None):
    """A Figure with one axes per mosaic, stacked top to bottom, sized so one image pixel is
    square and the figure is between ``min_side`` and ``max_side`` inches. Margins are fixed in
    inches (0.35 above each mosaic for its title, 0.4 more above all for ``suptitle``), so no
    layout engine has to run on save."""
    top, right = 0.35, 0.1
    head = 0.4 if suptitle else 0.0
    width_px = max(g.shape[1] for g in grids)
    height_px = sum(g.shape[0] for g in grids)
    scale = min(max(min_side / min(width_px, height_px), 0.03), max_side / max(width_px,
                                                                                height_px))
    width = width_px * scale + left + right
    height = height_px * scale + len(grids) * top + bottom + head
    fig = _new_figure(figsize=(width, height))
    if suptitle:
        fig.suptitle(suptitle, y=1 - 0.08 / height, va="top")
    y = height - head
    for grid, title in zip(grids, titles):
        h, w = grid.shape[0] * scale, grid.shape[1] * scale
        y -= top + h
        ax = fig.add_axes((left / width, y / height, w / width, h / height))
        _show_mosaic(ax, grid, title)
    return fig


def _show_mosaic(ax, grid, title=None):
    cmap = "gray" if grid.ndim == 2 else None
    ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize="medium")


def image_grid(images, image_shape, nrow=None, title=None, pad=1):
    """A Figure with the images in a grid (one axes, one mosaic image).

    images: (n, prod(image_shape)); image_shape: (H, W) or (C, H, W); nrow: images per row.
    """
    grid = tile_images(images, image_shape, nrow=nrow, pad=pad)
    return _mosaic_figure([grid], [title])


def reconstructions(originals, reconstructions, image_shape, nrow=None, title=None):
    """Originals above their reconstructions: a Figure with two axes ("original" and
    "reconstruction"), the same grid layout in each. Both arrays: (n, prod(image_shape))."""
    originals = _as_images(originals, image_shape, "originals")
    recon = _as_images(reconstructions, image_shape, "reconstructions")
    if len(originals) != len(recon):
        raise ValueError(f"reconstructions must have one image per original ({len(originals)}), "
                         f"got {len(recon)}")
    nrow = nrow if nrow is not None else min(len(originals), 16)
    top = _tile(originals, nrow)
    bottom = _tile(recon, nrow)
    return _mosaic_figure([top, bottom], ["original", "reconstruction"], suptitle=title)


# ---------------------------------------------------------------------------------------------
# model helpers: the same for VAEs (encode -> (mu, logvar)) and autoencoders (encode -> code),
# as the models declare it (scratchvae.models.base.Model: has_decoder, has_gaussian_encoder...)
# ---------------------------------------------------------------------------------------------


def _decoder_model(model):
    """``model`` if it is a package model with a decoder (``has_decoder``: encode, decode,
    mean_image), else a ValueError naming what it is."""
    from scratchvae.models.base import Model

    if not (isinstance(model, Model) and model.has_decoder):
        raise ValueError("model must be a scratchvae autoencoder or VAE (a model with "
                         f"encode, decode and mean_image), got {type(model).__name__}")
    return model


def latent_size(model):
    """The size of the model's latent: ``n_latent`` (a VAE's z) or ``n_code`` (an AE's code),
    as the model declares it (``model.latent_size``)."""
    return int(_decoder_model(model).latent_size)


def _latent_mean(model, x):
    """mu(x) for a VAE, the code f(x) for an autoencoder: (batch, n_latent)."""
    out = _decoder_model(model).encode(x)
    return out[0] if model.has_gaussian_encoder else out


def _decode_mean(model, z):
    """E[x | z]: the decoder mean image, (batch, n_in)."""
    model = _decoder_model(model)
    return model.mean_image(model.decode(np.asarray(z, dtype=model.dtype)))


def _one_example(x, name):
    x = check_array(name, x, kind="real")
    if x.ndim == 1:
        x = x[None]
    if len(x) != 1:
        x = x[:1]
    return x


# ---------------------------------------------------------------------------------------------
# model figures
# ---------------------------------------------------------------------------------------------


def samples(model, image_shape, n=64, rng=0, nrow=None, title="samples"):
    """A grid of ``model.sample(n, rng)``: decoder means for z ~ N(0, I) (a model that
    declares ``can_sample``: a VAE or the adversarial autoencoder)."""
    from scratchvae.models.base import Model

    if not (isinstance(model, Model) and model.can_sample):
        raise ValueError("model must be a scratchvae model that can sample (a VAE or the "
                         f"adversarial autoencoder), got {type(model).__name__}")
    n = check_positive_int("n", n)
    return image_grid(model.sample(n, rng=as_generator(rng)), image_shape, nrow=nrow,
                      title=title)


def latent_manifold_2d(model, image_shape, n=20, dims=(0, 1), title=None):
    """The decoder over a 2-D grid of latent values (Kingma & Welling 2014, fig. 4).

    A uniform n x n grid on the unit square, p_i = (i + 1/2) / n, is mapped through the inverse
    CDF of N(0, 1), z_i = Phi^-1(p_i), so the grid covers equal prior mass per cell. Dimensions
    ``dims`` of z take those values, the others are 0. Rows go from high z[dims[1]] (top) to
    low. Returns a Figure with one axes showing the n x n mosaic of decoder means.
    """
    n = check_positive_int("n", n)
    n_latent = latent_size(model)
    d0, d1 = (int(d) for d in dims)
    if not (0 <= d0 < n_latent and 0 <= d1 < n_latent and d0 != d1):
        raise ValueError(f"dims must be two different latent dimensions in [0, {n_latent}), "
                         f"got {dims!r}")
    values = norm_ppf((np.arange(n) + 0.5) / n)
    z = np.zeros((n * n, n_latent))
    for row in range(n):
        for col in range(n):
            z[row * n + col, d0] = values[col]
            z[row * n + col, d1] = values[n - 1 - row]
    grid = tile_images(_decode_mean(model, z), image_shape, nrow=n, pad=0)
    return _mosaic_figure([grid], [title or f"decoder over z{d0}, z{d1} = Phi^-1(p)"],
                          min_side=4.0)


def latent_traversal(model, x, image_shape, dims=None, values=None, title=None):
    """Change one latent dimension at a time, starting from mu(x) of one example.

    Row r shows decode(z) with z = mu(x) and z[dims[r]] set to each of ``values`` (default
    ``linspace(-3, 3, 9)``); dims defaults to the first min(n_latent, 10) dimensions.
    Returns a Figure with one axes, the rows labelled z0, z1, ...
    """
    n_latent = latent_size(model)
    dims = list(range(min(n_latent, 10))) if dims is None else [int(d) for d in dims]
    if not dims or any(not 0 <= d < n_latent for d in dims):
        raise ValueError(f"dims must be latent dimensions in [0, {n_latent}), got {dims!r}")
    values = np.linspace(-3, 3, 9) if values is None else np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {values.shape}")
    mu = np.asarray(_latent_mean(model, _one_example(x, "x")), dtype=np.float64)[0]
    z = np.tile(mu, (len(dims) * len(values), 1))
    for r, d in enumerate(dims):
        z[r * len(values):(r + 1) * len(values), d] = values
    images = _decode_mean(model, z)
    grid = tile_images(images, image_shape, nrow=len(values))
    fig = _mosaic_figure([grid], [title or "latent traversal from mu(x)"], left=0.45,
                         bottom=0.3, min_side=3.0)
    ax = fig.axes[0]
    h = _check_image_shape(image_shape)[-2]
    ax.set_yticks([r * (h + 1) + h / 2 for r in range(len(dims))])
    ax.set_yticklabels([f"z{d}" for d in dims])
    w = _check_image_shape(image_shape)[-1]
    ax.set_xticks([c * (w + 1) + w / 2 for c in range(len(values))])
    ax.set_xticklabels([f"{v:.3g}" for v in values])
    return fig


def interpolation(model, x_a, x_b, image_shape, steps=10, title=None):
    """Decode points on the line between mu(x_a) and mu(x_b):

        z_t = (1 - t) mu(x_a) + t mu(x_b),   t = 0, 1/(steps-1), ..., 1

    Returns a Figure with one axes: x_a, the ``steps`` decoded images, x_b in one row.
    """
    steps = check_positive_int("steps", steps)
    xa, xb = _one_example(x_a, "x_a"), _one_example(x_b, "x_b")
    mu_a = np.asarray(_latent_mean(model, xa), dtype=np.float64)[0]
    mu_b = np.asarray(_latent_mean(model, xb), dtype=np.float64)[0]
    t = np.linspace(0.0, 1.0, steps)[:, None] if steps > 1 else np.zeros((1, 1))
    decoded = np.asarray(_decode_mean(model, (1 - t) * mu_a + t * mu_b), dtype=np.float64)
    row = np.concatenate([np.asarray(xa, np.float64).reshape(1, -1), decoded.reshape(steps, -1),
                          np.asarray(xb, np.float64).reshape(1, -1)])
    grid = tile_images(row, image_shape, nrow=len(row))
    return _mosaic_figure([grid], [title or "x_a, interpolation of mu in latent space, x_b"],
                          min_side=1.0)


def latent_scatter(mu, labels=None, dims=(0, 1), class_names=None, title=None,
                   max_points=10000):
    """Scatter plot of latent means: mu[:, dims[0]] against mu[:, dims[1]], coloured by label.

    mu: (n, n_latent) (e.g. ``model.encode(x)[0]``); labels: (n,) ints or None; class_names:
    legend text per class. At most ``max_points`` points are drawn (the first ones).
    Returns a Figure with one axes (one scatter collection per class, or one in all).
    """
    mu = check_array("mu", mu, ndim=2, kind="real")
    d0, d1 = (int(d) for d in dims)
    if mu.shape[1] < 2 and d0 != d1:
        raise ValueError(f"mu must have at least 2 latent dimensions, got shape {mu.shape}")
    if not (0 <= d0 < mu.shape[1] and 0 <= d1 < mu.shape[1]):
        raise ValueError(f"dims must be latent dimensions in [0, {mu.shape[1]}), got {dims!r}")
    mu = mu[:max_points]
    fig, axes = _figure(5.0 if labels is None else 5.8, 4.5)
    ax = axes[0, 0]
    if labels is None:
        ax.scatter(mu[:, d0], mu[:, d1], s=4, alpha=0.6)
    else:
        labels = check_array("labels", labels, ndim=1, kind="integer")[:max_points]
        if len(labels) != len(mu):
            raise ValueError(f"labels must have one entry per row of mu ({len(mu)}), got "
                             f"{len(labels)}")
        from matplotlib import colormaps

        classes = np.unique(labels)
        cmap = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, c in enumerate(classes):
            sel = labels == c
            name = class_names[int(c)] if class_names is not None else str(c)
            ax.scatter(mu[sel, d0], mu[sel, d1], s=4, alpha=0.6, color=cmap(i % cmap.N),
                       label=name)
        ax.legend(markerscale=3, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0.0)          # outside the axes: the legend covers no point
    ax.set_xlabel(f"mu[{d0}]")
    ax.set_ylabel(f"mu[{d1}]")
    ax.set_title(title or "latent means")
    return fig


def loss_curves(history, title=None):
    """Loss per epoch from ``fit``'s history: "train_loss" and "val_loss" on the left; the
    loss terms ("train_reconstruction", "val_kl", ...) on the right when present.
    Returns a Figure with one or two axes."""
    if not isinstance(history, dict) or not history.get("train_loss"):
        raise ValueError("history must be the dict returned by fit, with a non-empty "
                         "'train_loss' list")
    epochs = history.get("epoch") or list(range(1, len(history["train_loss"]) + 1))
    term_keys = [k for k in history
                 if k.startswith(("train_", "val_")) and k not in ("train_loss", "val_loss")
                 and len(history[k]) == len(epochs)]
    fig, axes = _figure(9.0 if term_keys else 5.0, 3.5, ncols=2 if term_keys else 1)
    ax = axes[0, 0]
    for key in ("train_loss", "val_loss"):
        if history.get(key) and len(history[key]) == len(epochs):
            ax.plot(epochs, history[key], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats per example)")
    ax.set_title(title or "loss")
    ax.legend()
    if term_keys:
        ax = axes[0, 1]
        for key in term_keys:
            style = "--" if key.startswith("val_") else "-"
            ax.plot(epochs, history[key], style, marker=".", label=key)
        ax.set_xlabel("epoch")
        ax.set_title("loss terms")
        ax.legend(fontsize="small")
    return fig
