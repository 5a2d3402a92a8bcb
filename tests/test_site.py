"""The course website in a real browser: every notebook page typesets its math, loads its figures
and links only to pages that exist, with no request leaving localhost.

The site is built by README's command (``python -m sphinx docs site``) and served from a local
HTTP server; Debian's chromium (``apt-get install chromium``) is driven by Playwright's Python
package (``pip install -e ".[docs]"``), never by a browser Playwright downloads itself.

Which site is tested:
- ``SCRATCHVAE_SITE=<folder>``: an already built site (CI builds it once with README's command);
- otherwise, with ``CI=true``: the test builds the site into a temporary folder;
- otherwise the tests skip (a build takes a minute or two), saying how to run them.
With ``CI=true`` a missing chromium or docs extra fails the tests instead of skipping them.
"""

import functools
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from project_scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SITE_ENV = "SCRATCHVAE_SITE"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("notebooks/homework/*.ipynb"))

# Inline math that MathJax would have replaced: a $...$ span holding a TeX command.
RAW_INLINE_MATH = re.compile(r"\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")


def _unavailable(reason):
    """Fail in CI (the website is part of what CI checks), skip elsewhere."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _require_browser():
    if importlib.util.find_spec("playwright") is None:
        _unavailable('Playwright is not installed: pip install -e ".[docs]"')
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found: apt-get install chromium (Debian's browser)")


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory):
    """The folder of the built website (see the module docstring for which one)."""
    given = os.environ.get(SITE_ENV)
    if given:
        site = Path(given)
        if not (site / "index.html").exists():
            pytest.fail(f"{SITE_ENV}={given} holds no built site (no index.html)")
        return site
    if not IN_CI:
        pytest.skip(f"browser test of the website: build it with `python -m sphinx docs site` and "
                    f"run with {SITE_ENV}=site (or CI=true to build it here)")
    _require_browser()
    if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_nb") is None:
        _unavailable('Sphinx and MyST-NB are not installed: pip install -e ".[docs]"')
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "sphinx", "-q", str(ROOT / "docs"), str(site)],
                   check=True, cwd=ROOT)
    return site


@pytest.fixture(scope="module")
def base_url(site_dir):
    """The site served over HTTP on localhost (a free port), for the length of this module."""
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(site_dir):
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _page_path(notebook):
    """notebooks/01_x.ipynb -> notebooks/01_x.html (the same layout in the site)."""
    return notebook.relative_to(ROOT).with_suffix(".html").as_posix()


def _stored_image_count(notebook):
    """Images stored in the notebook the page shows: as stored, or as released for homework."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    if notebook.parent.name == "homework":
        from scratchvae.homework.release import release_notebook

        content = release_notebook(content, notebook.name)
    cells = content["cells"]
    return sum("image/png" in output.get("data", {})
               for cell in cells for output in cell.get("outputs", []))


def _has_math(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return any("$" in "".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")


def _offline_page(browser, outside, site_url=None, **options):
    """A new browser page that loads only from localhost (and from ``site_url``, a site opened
    from disk): every other request is recorded in ``outside`` and refused. The site must work
    offline: nothing from a CDN."""
    page = browser.new_page(**options)

    def only_the_site(route):
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or (site_url and url.startswith(site_url)):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_the_site)
    return page


def _local_target_exists(site_dir, url, base_url):
    """The file a same-site URL names, or its folder's index.html, exists in the built site."""
    path = unquote(urlsplit(url).path)[len(urlsplit(base_url).path):]
    target = site_dir / path
    return target.is_file() or (target / "index.html").is_file()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_page_typesets_math_loads_figures_and_links_resolve(notebook, site_dir, base_url,
                                                                     browser):
    page_url = urljoin(base_url, _page_path(notebook))
    assert (site_dir / _page_path(notebook)).is_file(), f"no page for {notebook.name}"
    outside, failed = [], []
    page = _offline_page(browser, outside)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(page_url, wait_until="load")
        assert outside == [], f"requests that left localhost: {outside}"
        loads_mathjax = page.evaluate("() => !!document.querySelector('script[src*=\"mathjax\"]')")
        assert loads_mathjax or not _has_math(notebook), "the page has math but loads no MathJax"
        if loads_mathjax:  # Sphinx adds MathJax only to pages that have math
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=60_000)
            page.evaluate("() => MathJax.startup.promise")
        report = page.evaluate(
            """() => {
                const math = [...document.querySelectorAll('.math')];
                const text = document.body.cloneNode(true);
                text.querySelectorAll('pre, code, script, style, mjx-container')
                    .forEach(e => e.remove());
                return {
                    math: math.length,
                    untypeset: math.filter(e => !e.querySelector('mjx-container'))
                                   .map(e => e.textContent.slice(0, 80)),
                    containers: document.querySelectorAll('mjx-container').length,
                    errors: [...document.querySelectorAll('mjx-merror')]
                                .map(e => e.textContent.slice(0, 80)),
                    text: text.textContent,
                    images: [...document.images].map(i => ({src: i.src, ok: i.complete
                                                            && i.naturalWidth > 0})),
                    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
                    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
                    downloads: [...document.querySelectorAll('p.notebook-download a[download]')]
                                   .map(a => a.href),
                    overflowing: [...document.querySelectorAll('pre')]
                                     .filter(e => e.scrollWidth > e.clientWidth + 1)
                                     .map(e => e.textContent.slice(0, 80)),
                    contents: [...document.querySelectorAll('.page-contents a[href]')]
                                  .map(a => a.href),
                    sections: [...document.querySelectorAll('div.body section > h2')]
                                  .map(h => h.parentElement.id),
                };
            }"""
        )
    finally:
        page.close()

    assert outside == [], f"requests that left localhost: {outside}"
    assert failed == [], f"requests that failed: {failed}"
    # math: every math element typeset, without TeX errors, and no raw $$ / $\cmd$ left
    if _has_math(notebook):
        assert report["math"] > 0 and report["containers"] >= report["math"], report["math"]
    assert report["untypeset"] == [], f"math not typeset: {report['untypeset']}"
    assert report["errors"] == [], f"MathJax errors: {report['errors']}"
    assert "$$" not in report["text"], "raw $$ left in the page text"
    raw_inline = RAW_INLINE_MATH.findall(report["text"])
    assert raw_inline == [], f"raw inline math left in the page text: {raw_inline[:3]}"
    # figures: every image loads, and every stored image output is on the page
    broken = [image["src"] for image in report["images"] if not image["ok"]]
    assert broken == [], f"images that did not load: {broken}"
    figures = [image for image in report["images"] if "/_images/" in image["src"]]
    assert len(figures) >= _stored_image_count(notebook), (len(figures), notebook.name)
    # navigation: every link to this site names a file that exists; same-page anchors exist
    missing = []
    for link in report["links"]:
        if not link.startswith(base_url):
            continue
        if urlsplit(link)._replace(fragment="").geturl() == page_url:
            anchor = unquote(urlsplit(link).fragment)
            if anchor and anchor not in report["ids"]:
                missing.append(link)
        elif not _local_target_exists(site_dir, link, base_url):
            missing.append(link)
    assert missing == [], f"links to pages that do not exist: {missing}"
    # a download link to the notebook (the student version for homework), served by the site
    assert [urlsplit(link).path.rsplit("/", 1)[-1] for link in report["downloads"]] == [
        notebook.name], report["downloads"]
    assert _local_target_exists(site_dir, report["downloads"][0], base_url)
    # code cells and outputs wrap: no horizontal scrollbar
    assert report["overflowing"] == [], f"code that scrolls sideways: {report['overflowing'][:3]}"
    # in-page contents: the sidebar links to each section of the page
    if report["sections"]:
        linked = {unquote(urlsplit(link).fragment) for link in report["contents"]}
        unlisted = [section for section in report["sections"] if section not in linked]
        assert unlisted == [], f"sections missing from the page's contents: {unlisted}"


def test_every_notebook_has_a_page_and_the_index_links_the_course(site_dir):
    assert len(NOTEBOOKS) >= 17 + 4
    index = (site_dir / "index.html").read_text(encoding="utf-8")
    for page in ("lectures.html", "homework.html", "api/index.html", "api/contract-additions.html"):
        assert f'href="{page}' in index, page
    lectures = (site_dir / "lectures.html").read_text(encoding="utf-8")
    for notebook in NOTEBOOKS:
        assert (site_dir / _page_path(notebook)).is_file(), notebook.name
        if notebook.parent.name == "notebooks":
            assert f'href="{_page_path(notebook)}' in lectures, notebook.name


def test_homework_pages_show_the_student_version_without_solutions(site_dir):
    for notebook in ROOT.glob("notebooks/homework/*.ipynb"):
        html = (site_dir / _page_path(notebook)).read_text(encoding="utf-8")
        assert "YOUR CODE HERE" in html, notebook.name
        assert "BEGIN SOLUTION" not in html and "MARK SCHEME" not in html, notebook.name


def test_contract_additions_page_lists_added_names_and_leaves_out_the_design_ones():
    pytest.importorskip("sphinx", reason="the docs extra: pip install -e \".[docs]\"")
    # generated from the code at build time; needs no Sphinx, so it runs everywhere
    contract = load_script("docs/contract.py")
    page = contract.page()
    for added in ("scratchvae.notebook.setup", "scratchvae.models.cvae.CVAE",
                  "scratchvae.registry.build_model", "scratchvae.export.to_pytorch_example",
                  "scratchvae.plotting.latent_traversal", "scratchvae.models.vae.VAE.reconstruct",
                  "`sv.CVAE`", "`scratchvae homework`"):
        assert added in page, added
    for fixed in ("scratchvae.functional.dense_backward", "scratchvae.losses.kl_standard_normal>",
                  "scratchvae.models.vae.VAE.loss_and_grads", "scratchvae.train.fit>"):
        assert fixed not in page, fixed
    listed = set(re.findall(r"<(scratchvae\.[\w.]+)>", page))
    for name in contract.DESIGN_NAMES:  # the contract's names exist where the page says
        assert _resolve(name) is not None, name
    assert all(_resolve(name) is not None for name in listed)


def _resolve(dotted):
    """The object a dotted name names (module, then attributes), or None."""
    import importlib

    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


# ---------------------------------------------------------------------------------------------
# The latent space explorer (docs/explorer.md): the shipped decoders in the browser
# ---------------------------------------------------------------------------------------------

EXPLORER_MODELS = ("vae-mnist-2d", "ae-mnist-2d", "vae-mnist-5d")
SCREENSHOTS_ENV = "SCRATCHVAE_SCREENSHOTS"  # a folder for the explorer's screenshots (else tmp)


def _without_scatter(header):
    header = json.loads(json.dumps(header))
    for entry in header["models"].values():
        entry.pop("scatter", None)
    return header


def test_explorer_export_equals_a_fresh_export_of_the_shipped_checkpoints():
    # needs no browser: runs everywhere. The weights part must be identical, bit for bit; the
    # scatter (encoded held-out MNIST digits) is compared when the MNIST test file is at hand.
    import numpy as np

    export = load_script("scripts/export_explorer.py")
    committed_header, committed_weights, committed_scatter = export.parse(
        export.OUT.read_text(encoding="utf-8"))
    root = export.default_root()
    have_data = (root / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()
    header, weights, scatter = export.export(root, with_scatter=have_data)
    assert committed_weights == weights, "explorer-data.js is stale: run scripts/export_explorer.py"
    assert _without_scatter(committed_header) == _without_scatter(header)
    assert set(committed_header["models"]) == set(EXPLORER_MODELS)
    for name in ("vae-mnist-2d", "ae-mnist-2d"):
        assert "scatter" in committed_header["models"][name], name
    if not have_data:
        return
    assert len(committed_scatter) == len(scatter)
    for name in ("vae-mnist-2d", "ae-mnist-2d"):
        fresh, stored = header["models"][name]["scatter"], committed_header["models"][name]["scatter"]
        assert fresh["extent"] == stored["extent"], name
        for key, dtype in (("z", np.float32), ("labels", np.uint8)):
            assert fresh[key] == stored[key], (name, key)
            start = fresh[key]["offset"] - header["weights_bytes"]
            count = int(np.prod(fresh[key]["shape"]))
            new = np.frombuffer(scatter, dtype=dtype, count=count, offset=start)
            old = np.frombuffer(committed_scatter, dtype=dtype, count=count, offset=start)
            if dtype is np.uint8:
                np.testing.assert_array_equal(old, new)
            else:  # encoding is float32 arithmetic: allow BLAS rounding differences
                np.testing.assert_allclose(old, new, rtol=1e-5, atol=1e-5)


def _explorer_page(browser, site_dir, outside, errors):
    """explorer.html opened from disk (file://), every request outside the site recorded and
    refused, page errors collected."""
    site_url = Path(site_dir).resolve().as_uri() + "/"
    page = _offline_page(browser, outside, site_url, viewport={"width": 1300, "height": 1000})
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site_url + "explorer.html", wait_until="load")
    page.wait_for_function("() => window.scratchvaeExplorer && window.scratchvaeExplorer.ready",
                           timeout=30_000)
    return page


def _image_of(page, index):
    """The pixels of the index-th decoded image (a data: URL of the canvas)."""
    return page.evaluate("(i) => document.querySelectorAll('[data-explorer=\"image\"]')[i]"
                         ".toDataURL()", index)


def test_explorer_decodes_like_the_package_and_follows_the_pointer(site_dir, browser, tmp_path):
    import numpy as np

    import scratchvae as sv

    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    outside, errors = [], []
    page = _explorer_page(browser, site_dir, outside, errors)
    try:
        assert page.evaluate("() => window.scratchvaeExplorer.models") == list(EXPLORER_MODELS)
        # decode(name, z) is the package's model.mean_image(model.decode(z)), 20 random z each
        rng = np.random.default_rng(31)
        for name in EXPLORER_MODELS:
            model = sv.pretrained.load(name)
            z = rng.normal(scale=1.5, size=(20, 5 if name.endswith("-5d") else 2))
            if name == "ae-mnist-2d":  # its codes spread over tens of units
                z *= 8
            expected = model.mean_image(model.decode(z))
            got = np.array(page.evaluate(
                "([name, zs]) => zs.map(z => window.scratchvaeExplorer.decode(name, z))",
                [name, z.tolist()]))
            assert got.shape == (20, 784), (name, got.shape)
            error = np.abs(got - expected).max()
            assert error < 1e-4, f"{name}: max |browser - package| = {error:.2e}"
        # one decode takes under 10 ms (the median of 50, after one warm-up call)
        for name in EXPLORER_MODELS:
            ms = page.evaluate(
                """(name) => {
                    const api = window.scratchvaeExplorer, n = name.endsWith('5d') ? 5 : 2;
                    const z = Array.from({length: n}, (_, i) => 0.3 * i - 0.5);
                    api.decode(name, z);
                    const times = [];
                    for (let k = 0; k < 50; k++) {
                        const start = performance.now();
                        api.decode(name, z.map(v => v + 0.01 * k));
                        times.push(performance.now() - start);
                    }
                    times.sort((a, b) => a - b);
                    return times[25];
                }""", name)
            assert ms < 10, f"{name}: a decode took {ms:.2f} ms (median of 50)"
        # moving the pointer over a plane changes its image (and only that panel's readout)
        planes = page.locator('[data-explorer="plane"]')
        assert planes.count() == 2
        for index in range(2):
            plane = planes.nth(index)
            plane.scroll_into_view_if_needed()
            box = plane.bounding_box()
            page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.45 * box["height"])
            before = _image_of(page, index)
            page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + 0.2 * box["height"], steps=5)
            after = _image_of(page, index)
            assert after != before, f"the image of plane {index} did not change"
            z = json.loads(plane.get_attribute("data-z"))
            assert z[0] > 0 and z[1] > 0, z  # right and up of the middle: positive coordinates
            page.locator(".explorer-panel").nth(index).screenshot(
                path=str(shots / f"explorer-plane-{index}.png"))
        box = planes.nth(1).bounding_box()  # the autoencoder's plane, upper left: a hole
        page.mouse.move(box["x"] + 0.12 * box["width"], box["y"] + 0.12 * box["height"])
        page.locator(".explorer-panel").nth(1).screenshot(path=str(shots / "explorer-ae-hole.png"))
        page.screenshot(path=str(shots / "explorer-planes.png"), full_page=True)
        # every slider changes the 5-D image
        sliders = page.locator('[data-explorer="slider"]')
        assert sliders.count() == 5
        for index in range(5):
            before = _image_of(page, 2)
            sliders.nth(index).focus()
            page.keyboard.press("End")  # the slider to +3
            after = _image_of(page, 2)
            assert after != before, f"slider z{index} did not change the image"
        page.locator(".explorer-panel[data-model='vae-mnist-5d']").screenshot(
            path=str(shots / "explorer-sliders.png"))
    finally:
        page.close()
    assert outside == [], f"requests that left the site: {outside}"
    assert errors == [], f"errors in the page: {errors}"


def test_index_links_the_explorer(site_dir):
    index = (site_dir / "index.html").read_text(encoding="utf-8")
    assert 'href="explorer.html' in index


# ---------------------------------------------------------------------------------------------
# The pages students look for: the API reference, the ten-minutes page
# ---------------------------------------------------------------------------------------------

TEN_MINUTES = ROOT / "docs" / "guide" / "ten-minutes.md"


def test_api_reference_gives_every_module_class_and_function_a_summary():
    pytest.importorskip("sphinx", reason="the docs extra: pip install -e \".[docs]\"")
    # needs no Sphinx build: the generator's own tables, from the docstrings
    apiref = load_script("docs/apiref.py")
    assert apiref.missing_summaries() == [], "public names without a docstring"
    pages = apiref.pages()
    for name in ("VAE", "Autoencoder", "DenoisingAutoencoder", "fit", "save", "load"):
        assert f"sv.{name}.md" in pages, name
        assert f"[`sv.{name}`](generated/sv.{name}.md)" in pages["top-level.md.inc"], name
    assert "`sample`" in pages["sv.VAE.md"] and "`reconstruct`" in pages["sv.VAE.md"]
    import scratchvae.losses

    row = next(line for line in pages["scratchvae.losses.md"].splitlines()
               if "<scratchvae.losses.kl_standard_normal>" in line)
    words = apiref.first_paragraph(scratchvae.losses.kl_standard_normal.__doc__).split()
    assert row.rstrip(" |").endswith(words[-1]) and f"function | {words[0]}" in row, row


def test_contract_additions_give_every_row_a_summary():
    pytest.importorskip("sphinx", reason="the docs extra: pip install -e \".[docs]\"")
    page = load_script("docs/contract.py").page()
    rows = [line for line in page.splitlines() if line.startswith("| {py:obj}")]
    assert rows and all(line.rstrip(" |").rsplit(" | ", 1)[-1].strip() for line in rows)


def test_ten_minutes_page_runs_and_does_the_tasks(tmp_path, monkeypatch):
    # the page's ```python blocks, run in order in one namespace, in an empty folder
    import matplotlib

    matplotlib.use("Agg")
    text = TEN_MINUTES.read_text(encoding="utf-8")
    for task in ("## Train", "## Sample", "## Reconstruct", "## Save and load", "## Plot in a notebook"):
        assert task in text, task
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for number, block in enumerate(blocks):
        exec(compile(block, f"{TEN_MINUTES.name}, block {number + 1}", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "vae.npz").is_file() and (tmp_path / "manifold.png").is_file()
    assert namespace["x_new"].shape == (16, 1024)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_api_pages_have_a_summary_in_every_row(site_dir, base_url, browser):
    pages = sorted((site_dir / "api").rglob("*.html"))
    assert len(pages) > 20, len(pages)
    outside, empty, untitled = [], [], []
    page = _offline_page(browser, outside)
    counts = {}
    try:
        for path in pages:
            relative = path.relative_to(site_dir).as_posix()
            page.goto(urljoin(base_url, relative), wait_until="domcontentloaded")
            report = page.evaluate(
                """() => ({
                    rows: [...document.querySelectorAll('div.body table tbody tr')].map(tr =>
                        [tr.cells[0].textContent.trim(),
                         tr.cells[tr.cells.length - 1].textContent.trim()]),
                    summary: (document.querySelector('div.body h1 ~ p') || {textContent: ''})
                                 .textContent.trim(),
                })""")
            counts[relative] = len(report["rows"])
            empty += [f"{relative}: {name}" for name, summary in report["rows"] if not summary]
            if relative.startswith("api/generated/") and not report["summary"]:
                untitled.append(relative)
    finally:
        page.close()
    assert outside == [], outside
    assert empty == [], f"API rows without a summary: {empty[:10]}"
    assert untitled == [], f"API pages without a summary below the title: {untitled[:10]}"
    assert counts["api/index.html"] >= 13 + 30  # the top-level names and the modules
    assert counts["api/generated/sv.VAE.html"] >= 10  # its methods


def test_guide_api_and_explorer_pages_link_only_to_files_that_exist(site_dir):
    # the notebook pages are checked in the browser above; here every other page, statically
    broken = []
    for page in sorted(site_dir.rglob("*.html")):
        relative = page.relative_to(site_dir)
        if relative.parts[0] in ("notebooks", "_static", "_sources", ".doctrees"):
            continue
        for href in re.findall(r'href="([^"#]+)(?:#[^"]*)?"', page.read_text(encoding="utf-8")):
            if urlsplit(href).scheme or href.startswith("//"):
                continue
            if not (page.parent / unquote(href.split("?")[0])).exists():
                broken.append(f"{relative.as_posix()} -> {href}")
    assert broken == [], f"links to files that do not exist: {broken[:10]}"
