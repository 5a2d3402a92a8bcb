"""The stored notebooks are what runs (issue 29): one top-to-bottom run of the current package and
notebook source, made by scripts/execute_notebooks.py, with no error, warning, failed download or
absolute path in its outputs, a figure under every cell that draws, and no size switch.

When one of these fails after a change to the package or a notebook, re-run
``python scripts/execute_notebooks.py --jobs 2`` (or name the notebooks) and commit the outputs."""

import ast
import json
from pathlib import Path

import pytest
from project_scripts import load_script

REPO = Path(__file__).resolve().parents[1]
LECTURES = sorted((REPO / "notebooks").glob("*.ipynb"))
HOMEWORK = sorted((REPO / "notebooks" / "homework").glob("*.ipynb"))


ex = load_script("scripts/execute_notebooks.py")


def read(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def ids(paths):
    return [p.relative_to(REPO / "notebooks").as_posix() for p in paths]


@pytest.fixture(scope="module")
def current_package_hash():
    return ex.package_hash()


# ---------------------------------------------------------------------------------------------
# the stored notebooks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LECTURES + HOMEWORK, ids=ids(LECTURES + HOMEWORK))
def test_stored_outputs_were_made_from_the_current_package_and_notebook(path,
                                                                        current_package_hash):
    reasons = ex.staleness(read(path), current_package_hash)
    assert not reasons, (f"{path.name}: {'; '.join(reasons)}. Re-run `python "
                         f"scripts/execute_notebooks.py {path.relative_to(REPO)}` and commit it.")


@pytest.mark.parametrize("path", LECTURES + HOMEWORK, ids=ids(LECTURES + HOMEWORK))
def test_stored_outputs_are_one_clean_top_to_bottom_run(path):
    problems = ex.output_problems(read(path))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", LECTURES, ids=ids(LECTURES))
def test_every_cell_that_draws_stores_its_figure(path):
    blank = ex.cells_without_figures(read(path))
    assert not blank, f"{path.name}: cells {blank} draw but store no image output"


@pytest.mark.parametrize("path", LECTURES + HOMEWORK, ids=ids(LECTURES + HOMEWORK))
def test_no_notebook_has_a_size_switch(path):
    for i, cell in enumerate(read(path)["cells"]):
        text = source(cell)
        for switch in ("SCRATCHVAE_FULL", "nb.size(", "nb.full", ".full_run_requested"):
            assert switch not in text, f"{path.name} cell {i} still uses {switch}"


def asserts(cell):
    if cell["cell_type"] != "code":
        return False
    code = "\n".join(l for l in source(cell).splitlines() if not l.lstrip().startswith(("%", "!")))
    return any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(code)))


@pytest.mark.parametrize("path", LECTURES, ids=ids(LECTURES))
def test_a_lecture_notebook_has_at_most_35_cells_and_at_least_3_asserting_checks(path):
    cells = read(path)["cells"]
    checks = sum(asserts(c) for c in cells)
    assert len(cells) <= 35, f"{path.name}: {len(cells)} cells"
    assert checks >= 3, f"{path.name}: {checks} cells with an assert"


# ---------------------------------------------------------------------------------------------
# the checks themselves
# ---------------------------------------------------------------------------------------------


def notebook(*cells):
    return {"cells": [dict({"cell_type": "code", "metadata": {}, "outputs": [],
                            "execution_count": i + 1}, **c) for i, c in enumerate(cells)],
            "metadata": {}}


PNG = {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}


@pytest.mark.parametrize("code, expected", [
    ("sv.plotting.samples(vae, (28, 28))", True),
    ("fig = sv.plotting.reconstructions(x, x_hat, (28, 28))\nplt.show()", True),
    ("from scratchvae import plotting\nplotting.loss_curves(h)", True),
    ("fig, ax = plt.subplots()\nax.plot(x)", True),
    ("for k in range(3):\n    plt.plot(x[k])", True),
    ("%matplotlib inline\nplt.hist(x)", True),
    ("display(sv.plotting.image_grid(x, (28, 28)))", True),
    ("grid = sv.plotting.tile_images(x, (28, 28))", False),
    ("z = sv.plotting.norm_ppf(0.5)", False),
    ("def draw(x):\n    plt.plot(x)", False),            # defines, does not draw
    ("print('plt.plot(x)')", False),
    ("x = 1 +", False),                                 # not Python: not judged here
])
def test_draws_finds_the_cells_that_draw(code, expected):
    assert ex.draws(code) is expected


def test_a_drawing_cell_without_an_image_is_found():
    nb = notebook({"source": "sv.plotting.samples(vae, (28, 28))\nplt.show()"},
                  {"source": "plt.plot([1, 2])", "outputs": [PNG]},
                  {"source": "x = 1"})
    assert ex.cells_without_figures(nb) == [0]


@pytest.mark.parametrize("output, found", [
    ({"output_type": "stream", "name": "stdout", "text": "data from /home/me/data/mnist\n"},
     "absolute path"),
    ({"output_type": "stream", "name": "stdout", "text": "saved to /tmp/abc/model.npz"},
     "absolute path"),
    ({"output_type": "stream", "name": "stderr", "text": "something\n"}, "stderr"),
    ({"output_type": "stream", "name": "stdout", "text": "TqdmWarning: IProgress not found"},
     "warning"),
    ({"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []}, "an error"),
    ({"output_type": "stream", "name": "stdout", "text": "MNIST could not be downloaded"},
     "failed download"),
    ({"output_type": "execute_result", "execution_count": 1,
      "data": {"text/plain": "PosixPath('/work/wt/x/y.npz')"}}, "absolute path"),
])
def test_output_problems_finds_what_a_student_must_not_read(output, found):
    problems = ex.output_problems(notebook({"source": "x", "outputs": [output]}))
    assert any(found in p for p in problems), problems


def test_clean_outputs_pass_and_counts_must_be_one_to_n():
    clean = notebook({"source": "x", "outputs": [
        {"output_type": "stream", "name": "stdout",
         "text": "data from $SCRATCHVAE_DATA; see https://example.org/a/b/c and 3/4/5\n"}]},
        {"source": "y", "outputs": [PNG]})
    assert ex.output_problems(clean) == []
    clean["cells"][1]["execution_count"] = 5
    assert "not one top-to-bottom run" in ex.output_problems(clean)[0]
    clean["cells"][1]["execution_count"] = None
    assert ex.output_problems(clean)


def test_source_hash_reads_the_cells_only():
    nb = notebook({"source": "x = 1"}, {"source": "y = 2"})
    h = ex.source_hash(nb)
    nb["cells"][0]["outputs"] = [PNG]
    nb["cells"][0]["execution_count"] = 7
    nb["metadata"]["scratchvae"] = {"seconds": 3}
    assert ex.source_hash(nb) == h
    nb["cells"][1]["source"] = ["y ", "= 3"]
    assert ex.source_hash(nb) != h


def test_package_hash_changes_with_any_package_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub" / "b.npz").write_bytes(b"\x00\x01")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.cpython.pyc").write_bytes(b"cache")
    h = ex.package_hash(tmp_path)
    (tmp_path / "__pycache__" / "a.cpython.pyc").write_bytes(b"other cache")
    assert ex.package_hash(tmp_path) == h                 # caches do not count
    (tmp_path / "sub" / "b.npz").write_bytes(b"\x00\x02")
    assert ex.package_hash(tmp_path) != h


def test_staleness_names_what_changed(current_package_hash):
    nb = notebook({"source": "x = 1"})
    nb["metadata"]["scratchvae"] = {"package_sha256": current_package_hash,
                                    "source_sha256": ex.source_hash(nb)}
    assert ex.staleness(nb, current_package_hash) == []
    nb["cells"][0]["source"] = "x = 2"
    assert ex.staleness(nb, current_package_hash) == [
        "the notebook's cells changed since the outputs were made (source_sha256 differs)"]
    assert "package changed" in ex.staleness(nb, "0" * 64)[0]
    del nb["metadata"]["scratchvae"]
    assert len(ex.staleness(nb, current_package_hash)) == 2


@pytest.mark.parametrize("path", LECTURES + HOMEWORK, ids=ids(LECTURES + HOMEWORK))
def test_the_page_title_holds_no_raw_math(path):
    # the first heading is the page title (browser tab, website navigation): no $...$ or \(...\)
    headings = [line for cell in read(path)["cells"] if cell["cell_type"] == "markdown"
                for line in source(cell).splitlines() if line.startswith("# ")]
    assert headings, f"{path.name} has no title"
    assert not any(mark in headings[0] for mark in ("$", "\\(", "\\[")), headings[0]
