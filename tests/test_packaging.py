"""Packaging: pyproject and environment.yml agree; import is lazy and fast; CLI entry exists."""

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement):
    return re.split(r"[<>=!~ :\[]", requirement.strip(), maxsplit=1)[0].lower()


def _normalise(requirement):
    """'numpy >= 1.24' -> 'numpy>=1.24' (name lower-case, no spaces)."""
    requirement = requirement.replace(" ", "")
    name = _name(requirement)
    return name + requirement[len(name):]


def _environment_packages():
    names = set()
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and re.match(r"^  - [A-Za-z]", line):  # top-level conda entries only
            names.add(_normalise(line.split("- ", 1)[1]))
    return {n for n in names if _name(n) not in ("python", "pip")}


def test_environment_yml_lists_the_same_packages_and_versions_as_pyproject():
    # the conda environment is the course's kit: the dependencies and the extras students use
    # (test, notebooks, docs); any other extra must be named in environment.yml's comments
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    course_extras = ("test", "notebooks", "docs")
    wanted = {_normalise(r) for r in project["dependencies"]}
    for name in course_extras:
        wanted |= {_normalise(r) for r in extras[name]}
    environment = (ROOT / "environment.yml").read_text()
    for name in set(extras) - set(course_extras):
        assert f'".[{name}]"' in environment, f"extra {name!r}: list it or say why not"
    listed = _environment_packages()
    assert listed == wanted, f"only in pyproject: {wanted - listed}; only in env: {listed - wanted}"


def test_import_is_lazy_and_fast():
    code = (
        "import time, sys; t = time.perf_counter(); import scratchvae; "
        "dt = time.perf_counter() - t; "
        "heavy = [m for m in ('numba', 'matplotlib', 'pooch', 'tqdm', 'scratchvae.models.vae') "
        "if m in sys.modules]; print(dt, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.split(" ", 1)
    assert float(seconds) < 0.5
    assert heavy.strip() == "[]"


def test_package_discovery_is_explicit():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'include = ["scratchvae", "scratchvae.*"]' in text


def test_public_names_resolve():
    import scratchvae as sv

    for name in ("VAE", "functional", "reparam", "losses", "layers", "optim", "gradcheck"):
        assert getattr(sv, name) is not None
    assert callable(sv.VAE)


def test_stored_notebooks_number_every_cell_that_has_outputs():
    # nbval refuses a stored output on a cell whose execution_count is None
    # ("Unrun reference cell has outputs"): keep counts, renumbered 1..n, when cleaning.
    import json

    notebooks = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    assert len(notebooks) >= 9 + 4
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code" and cell.get("outputs"):
                assert cell.get("execution_count") is not None, f"{path.name} cell {i}"


def test_readme_shows_the_two_commands_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e . && scratchvae train' in readme
    assert 'pip install -e ".[test]" && python -m pytest' in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install' in ci and '-e ".[test]"' in ci
    assert "python -m pytest" in ci
