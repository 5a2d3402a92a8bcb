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
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return sum("image/png" in output.get("data", {})
               for cell in cells for output in cell.get("outputs", []))


def _has_math(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return any("$" in "".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")


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
    page = browser.new_page()
    outside, failed = [], []

    def only_localhost(route):  # the site must work offline: nothing from a CDN
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_localhost)
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


def _contract_module():
    spec = importlib.util.spec_from_file_location("contract", ROOT / "docs" / "contract.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contract_additions_page_lists_added_names_and_leaves_out_the_design_ones():
    # generated from the code at build time; needs no Sphinx, so it runs everywhere
    contract = _contract_module()
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
