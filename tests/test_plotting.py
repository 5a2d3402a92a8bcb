"""Plotting: every function returns a Figure with the expected axes and images, all finite."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

import scratchvae as sv
from scratchvae import plotting


def tiny_vae(n_in=64, n_latent=3):
    return sv.VAE(n_in=n_in, hidden=(8,), n_latent=n_latent, backend="numpy", rng=0)


def images_of(fig):
    return [im for ax in fig.axes for im in ax.images]


def assert_finite_figure(fig, n_axes, n_images):
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    found = images_of(fig)
    assert len(found) == n_images
    for im in found:
        assert np.all(np.isfinite(im.get_array()))
    fig.canvas.draw()  # renders headless without error


def test_norm_ppf_matches_known_quantiles():
    assert plotting.norm_ppf(0.975) == pytest.approx(1.959963984540054, rel=1e-15, abs=0)
    assert plotting.norm_ppf(0.5) == 0.0
    assert plotting.norm_ppf(0.8413447460685429) == pytest.approx(1.0, rel=1e-14)
    assert plotting.norm_ppf(1e-10) == pytest.approx(-6.361340902404056, rel=1e-13)
    p = np.array([0.001, 0.01, 0.2, 0.7, 0.99, 0.999])
    x = plotting.norm_ppf(p)
    phi = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(phi, p, rtol=1e-13)
    assert plotting.norm_ppf(0.0) == -math.inf and plotting.norm_ppf(1.0) == math.inf
    with pytest.raises(ValueError, match="p must be probabilities"):
        plotting.norm_ppf(1.5)


def test_tile_images_places_every_image_in_a_padded_grid():
    images = np.arange(5 * 6).reshape(5, 6) / 30  # five 2x3 images
    grid = plotting.tile_images(images, (2, 3), nrow=3, pad=1)
    assert grid.shape == (2 * 3 - 1, 3 * 4 - 1)  # two rows of 2x3 images, three columns
    np.testing.assert_array_equal(grid[0:2, 4:7], images[1].reshape(2, 3))
    np.testing.assert_array_equal(grid[3:5, 4:7], images[4].reshape(2, 3))
    assert np.all(grid[3:5, 8:11] == 1.0)  # the empty sixth cell is padding


def test_image_grid_returns_one_axes_with_one_mosaic():
    images = np.random.default_rng(0).random((10, 64))
    fig = plotting.image_grid(images, (8, 8), nrow=5, title="x")
    assert_finite_figure(fig, 1, 1)
    assert images_of(fig)[0].get_array().shape == (2 * 9 - 1, 5 * 9 - 1)


def test_colour_images_are_shown_as_height_width_channels():
    rng = np.random.default_rng(0)
    chw = rng.random((4, 3, 5, 6))
    fig = plotting.image_grid(chw.reshape(4, -1), (3, 5, 6), nrow=4, pad=0)
    assert_finite_figure(fig, 1, 1)
    shown = np.asarray(images_of(fig)[0].get_array())
    assert shown.shape == (5, 24, 3)
    np.testing.assert_allclose(shown[:, 6:12], chw[1].transpose(1, 2, 0))


def test_image_functions_reject_a_wrong_image_shape():
    with pytest.raises(ValueError, match="images must have shape"):
        plotting.image_grid(np.zeros((3, 10)), (3, 3))
    with pytest.raises(ValueError, match="image_shape"):
        plotting.image_grid(np.zeros((3, 9)), (3, 3, 1, 1))


def test_reconstructions_has_an_original_and_a_reconstruction_axes():
    vae = tiny_vae()
    x = np.random.default_rng(0).random((6, 64))
    fig = plotting.reconstructions(x, vae.reconstruct(x), (8, 8))
    assert_finite_figure(fig, 2, 2)
    assert [ax.get_title() for ax in fig.axes] == ["original", "reconstruction"]
    with pytest.raises(ValueError, match="one image per original"):
        plotting.reconstructions(x, x[:3], (8, 8))


def test_samples_shows_n_decoded_prior_draws():
    fig = plotting.samples(tiny_vae(), (8, 8), n=12, rng=0, nrow=4)
    assert_finite_figure(fig, 1, 1)
    assert images_of(fig)[0].get_array().shape == (3 * 9 - 1, 4 * 9 - 1)


def test_latent_manifold_2d_decodes_an_n_by_n_grid_of_normal_quantiles(monkeypatch):
    vae = tiny_vae()
    seen = []
    real = vae.decode
    monkeypatch.setattr(vae, "decode", lambda z: seen.append(np.array(z)) or real(z))
    fig = plotting.latent_manifold_2d(vae, (8, 8), n=5, dims=(0, 2))
    assert_finite_figure(fig, 1, 1)
    assert images_of(fig)[0].get_array().shape == (40, 40)
    z = seen[0]
    assert z.shape == (25, 3) and np.all(z[:, 1] == 0)
    expected = plotting.norm_ppf((np.arange(5) + 0.5) / 5)
    np.testing.assert_allclose(z[:5, 0], expected, rtol=1e-6)     # first row: z0 increases
    np.testing.assert_allclose(z[::5, 2], expected[::-1], rtol=1e-6)  # z2 decreases downwards


def test_latent_traversal_has_one_row_per_dim_and_one_column_per_value():
    vae = tiny_vae(n_latent=4)
    x = np.random.default_rng(0).random(64)
    fig = plotting.latent_traversal(vae, x, (8, 8), dims=[0, 3], values=[-2, 0, 2])
    assert_finite_figure(fig, 1, 1)
    assert images_of(fig)[0].get_array().shape == (2 * 9 - 1, 3 * 9 - 1)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["z0", "z3"]


def test_interpolation_shows_both_ends_and_the_steps_between():
    vae = tiny_vae()
    x = np.random.default_rng(0).random((2, 64))
    fig = plotting.interpolation(vae, x[0], x[1], (8, 8), steps=5)
    assert_finite_figure(fig, 1, 1)
    assert images_of(fig)[0].get_array().shape == (8, 7 * 9 - 1)


def test_latent_scatter_draws_one_collection_per_class():
    rng = np.random.default_rng(0)
    mu, labels = rng.standard_normal((50, 3)), rng.integers(0, 4, 50)
    fig = plotting.latent_scatter(mu, labels, class_names=["a", "b", "c", "d"])
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    collections = fig.axes[0].collections
    assert len(collections) == 4
    assert sum(len(c.get_offsets()) for c in collections) == 50
    assert np.all(np.isfinite(np.concatenate([c.get_offsets() for c in collections])))
    assert len(plotting.latent_scatter(mu).axes[0].collections) == 1


def test_loss_curves_plots_losses_and_terms_per_epoch():
    history = sv.fit(tiny_vae(), np.random.default_rng(0).random((40, 64)), epochs=2,
                     batch_size=20, x_val=np.random.default_rng(1).random((10, 64)),
                     progress=False)
    fig = plotting.loss_curves(history)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2  # train_loss, val_loss
    assert len(fig.axes[1].lines) == 4  # train/val reconstruction and kl
    for line in fig.axes[0].lines + fig.axes[1].lines:
        assert np.all(np.isfinite(line.get_ydata())) and len(line.get_xdata()) == 2
    assert len(plotting.loss_curves({"train_loss": [3.0, 2.0]}).axes) == 1
    with pytest.raises(ValueError, match="history must be"):
        plotting.loss_curves({})


def agg_renderer(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def test_reconstructions_suptitle_does_not_overlap_the_row_titles():
    x = np.random.default_rng(0).random((6, 64))
    fig = plotting.reconstructions(x, x, (8, 8), title="a long title over both rows")
    renderer = agg_renderer(fig)
    suptitle = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        row_title = ax.title.get_window_extent(renderer)
        assert suptitle.y0 >= row_title.y1, (suptitle, row_title)   # above, not overlapping
        assert not suptitle.overlaps(ax.get_window_extent(renderer))


def test_latent_scatter_puts_its_legend_outside_the_data():
    rng = np.random.default_rng(0)
    fig = plotting.latent_scatter(rng.normal(size=(300, 2)), labels=np.repeat(np.arange(3), 100))
    renderer = agg_renderer(fig)
    ax = fig.axes[0]
    assert not ax.get_legend().get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def test_figures_stay_out_of_pyplot_outside_a_kernel():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = plotting.image_grid(np.zeros((4, 64)), (8, 8))
    assert plt.get_fignums() == before and not plotting._pending
    assert not hasattr(fig, "_ipython_display_")


# In a Jupyter kernel each figure made in a cell is shown exactly once, whatever follows it.
KERNEL_CELLS = [
    # (cell source, number of PNG outputs expected)
    ("import numpy as np, matplotlib.pyplot as plt, scratchvae as sv\n%matplotlib inline", 0),
    ("sv.plotting.image_grid(np.zeros((4, 64)), (8, 8))", 1),                       # cell value
    ("sv.plotting.image_grid(np.zeros((4, 64)), (8, 8))\nplt.show()\nprint('after')", 1),
    ("fig = sv.plotting.image_grid(np.zeros((4, 64)), (8, 8))\ndisplay(fig)\nx = 1", 1),
    ("fig = sv.plotting.image_grid(np.zeros((4, 64)), (8, 8))\ndisplay(fig)\nfig", 2),  # asked twice
    ("for k in range(2):\n    sv.plotting.image_grid(np.zeros((4, 64)), (8, 8))", 2),
    ("sv.plotting.image_grid(np.zeros((4, 64)), (8, 8));", 1),                      # ; hides no figure
    ("x = 2", 0),                                                                   # nothing left over
]


def test_in_a_kernel_every_figure_made_in_a_cell_is_shown_once():
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src, _ in KERNEL_CELLS])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    for cell, (src, expected) in zip(nb.cells, KERNEL_CELLS):
        pngs = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(pngs) == expected, (src, cell.outputs)
        assert all(o.get("output_type") != "error" for o in cell.outputs), cell.outputs
    after = nb.cells[2].outputs
    assert [o.get("output_type") for o in after][0] == "stream"   # printed first, figure at the end
