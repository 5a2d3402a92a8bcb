"""Sphinx configuration of the scratchvae course website.

Build (README): ``pip install -e ".[docs]" && python -m sphinx docs site``

- The lecture notebooks are shown with the outputs stored in them: nothing is executed at
  build time (``nb_execution_mode = "off"``).
- The homework pages show the *student* version of each assignment (the same transformation as
  ``scratchvae homework release``): the solutions stay in the repository for instructors.
- Math is typeset by MathJax 3 from ``_static/mathjax/tex-svg-full.js`` (the npm package
  ``mathjax@3.2.2``, ``es5/tex-svg-full.js``, Apache-2.0, licence beside it). The file holds
  every TeX extension and draws with SVG paths, so the site needs no font files and no network.
- The API reference is generated from the docstrings: docs/apiref.py writes its pages (tables of
  one-line summaries, one page per module and per top-level name such as ``sv.VAE``) and autodoc
  fills in the full docstrings.

The notebooks are copied into ``docs/notebooks/`` (generated, ignored by git) when the build
starts, because Sphinx reads pages only from inside its source folder.
"""

import json
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout's scratchvae, not another installed one

project = "scratchvae"
author = "the scratchvae authors"
copyright = "the scratchvae authors, MIT licence"
release = "0.1.0"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "_templates"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["scratchvae.css"]  # wrapped code, the explorer's panels
html_title = "scratchvae: autoencoders and VAEs from scratch"
html_theme = "alabaster"
html_theme_options = {
    "description": "AE, DAE and VAE in NumPy, with hand-written backward passes",
    "fixed_sidebar": True,
    "show_relbars": True,
    "page_width": "1180px",
    "body_max_width": "none",
}
html_sidebars = {"**": ["about.html", "page-contents.html", "navigation.html", "relations.html",
                        "searchbox.html"]}  # page-contents: in-page contents (_templates/)

# MathJax 3 from this repository (offline); SVG output needs no web fonts.
mathjax_path = "mathjax/tex-svg-full.js"
mathjax3_config = {"loader": {"load": []}, "svg": {"fontCache": "global"}}

# MyST / MyST-NB: $...$ and $$...$$ in notebooks and pages; stored outputs only.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"
nb_merge_streams = True
# ipywidgets in stored outputs would load require.js and the widget manager from a CDN: the
# site is offline, so no widget JavaScript (each widget cell also stores a static figure)
nb_ipywidgets_js = {}

autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
# numba is a dependency, so the kernels import; nbclient/nbformat (homework grading) may not be
# installed with only the docs extra.
autodoc_mock_imports = ["nbclient", "nbformat"]
suppress_warnings = ["myst.header"]


def _write_if_changed(path, text):
    """Write ``text`` to ``path`` unless it already holds it (keeps incremental builds fast)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def copy_notebooks(app):
    """notebooks/*.ipynb -> docs/notebooks/ as stored; notebooks/homework/ as released."""
    from scratchvae.homework.release import release_notebook

    target = DOCS / "notebooks"
    for copy in target.rglob("*.ipynb"):  # a notebook renamed or removed leaves no stale page
        if not (ROOT / "notebooks" / copy.relative_to(target)).exists():
            copy.unlink()
    for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
        _write_if_changed(target / source.name, source.read_text(encoding="utf-8"))
    for source in sorted((ROOT / "notebooks" / "homework").glob("*.ipynb")):
        student = release_notebook(json.loads(source.read_text(encoding="utf-8")), source.name)
        _write_if_changed(target / "homework" / source.name,
                          json.dumps(student, indent=1, ensure_ascii=False) + "\n")


def docstring_as_written(app, what, name, obj, options, lines):
    """Show each docstring as the plain text it is (as ``help()`` does), not as reStructuredText.

    The package's docstrings are written for a reader of the source: equations such as
    ``|a - b|`` and free indentation, which reStructuredText would misread.
    """
    if lines:
        lines[:] = [".. code-block:: text", ""] + ["    " + line for line in lines] + [""]


def write_contract_additions(app):
    """docs/api/contract-additions.md, generated from the code (docs/contract.py)."""
    sys.path.insert(0, str(DOCS))
    import contract

    _write_if_changed(DOCS / "api" / "contract-additions.md", contract.page())


def write_api_reference(app):
    """docs/api/generated/: the API reference's pages, generated from the code (docs/apiref.py)."""
    sys.path.insert(0, str(DOCS))
    import apiref

    apiref.write(_write_if_changed)


def keep_notebook_outputs_in_build_folder(app):
    """MyST-NB writes notebook images to ``<parent of the output folder>/jupyter_execute``: with
    ``python -m sphinx docs site`` that is the repository root. Put them in the build's doctree
    folder (``site/.doctrees``) instead; runs after MyST-NB's own handler (priority 900)."""
    config = getattr(app.env, "mystnb_config", None)
    if config is not None:
        folder = Path(app.doctreedir) / "jupyter_execute"
        app.env.mystnb_config = config.copy(output_folder=str(folder))


def add_notebook_download(app, pagename, templatename, context, doctree):
    """A notebook page gets a link to its .ipynb (the student version for homework), which
    :func:`copy_notebook_downloads` puts beside the page."""
    if not pagename.startswith("notebooks/") or doctree is None:
        return
    if not str(app.env.doc2path(pagename)).endswith(".ipynb"):
        return
    name = pagename.rsplit("/", 1)[-1] + ".ipynb"
    context["notebook_download"] = name
    context["notebook_download_name"] = name
    context["notebook_is_homework"] = pagename.startswith("notebooks/homework/")


def copy_notebook_downloads(app, exception):
    """docs/notebooks/**.ipynb (the lectures as stored, homework as released) -> the site,
    next to their pages, so each page's download link works offline and from disk."""
    if exception is not None or app.builder.format != "html":
        return
    import shutil

    for notebook in (DOCS / "notebooks").rglob("*.ipynb"):
        if ".ipynb_checkpoints" in notebook.parts:
            continue
        target = Path(app.outdir) / notebook.relative_to(DOCS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)


def setup(app):
    app.connect("builder-inited", keep_notebook_outputs_in_build_folder, priority=900)
    app.connect("builder-inited", copy_notebooks)
    app.connect("builder-inited", write_contract_additions)
    app.connect("builder-inited", write_api_reference)
    app.connect("autodoc-process-docstring", docstring_as_written)
    app.connect("html-page-context", add_notebook_download)
    app.connect("build-finished", copy_notebook_downloads)
