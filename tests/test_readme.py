"""README is a short, student-first page whose commands, tables and pointers match the project."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_short():
    assert len(README) <= 10_500, f"README has {len(README)} characters; move detail to docs/"


def test_readme_gives_the_commands_a_newcomer_needs():
    for command in ('pip install -e . && scratchvae train',
                    'pip install -e ".[test]" && python -m pytest',
                    'pip install -e ".[notebooks]"',
                    "jupyter lab notebooks/",
                    'pip install -e ".[docs]" && python -m sphinx docs site',
                    "python -m pytest tests"):
        assert command in README, command


def test_readme_names_no_size_switch():
    assert "SCRATCHVAE_FULL" not in README      # one size (issue 29)


def test_readme_extras_exist_in_pyproject():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra in re.findall(r'pip install -e "\.\[(\w+)\]"', README):
        assert extra in extras, extra


def test_readme_states_measured_times_not_placeholders():
    assert not re.search(r"\b(TRAIN_WARM|TRAIN_COLD|TEST_FRESH|TODO|TBD)\b", README)
    assert "/tmp/" not in README  # no paths from someone's machine


def test_readme_table_lists_every_notebook_and_homework():
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb")):  # 06a_..., 07_...
        assert f"| {notebook.name.split('_')[0]} |" in README, notebook.name
    for homework in sorted((ROOT / "notebooks" / "homework").glob("hw*.ipynb")):
        assert f"| {homework.name.split('_')[0]} |" in README, homework.name


@pytest.mark.parametrize("path, names", [
    (path, names.split(", ")) for path, names in re.findall(
        r"^\| [^|]+ \| `(scratchvae/[\w/]+\.py)`: ([`\w., ]+?)(?: and their|;| below|$| \|)",
        README, flags=re.M)
])
def test_reading_map_points_at_files_that_define_those_names(path, names):
    source = (ROOT / path).read_text(encoding="utf-8")
    for name in names:
        name = name.strip("`").split(".")[-1]
        assert re.search(rf"^\s*(def|class) {name}\b", source, flags=re.M), f"{name} not in {path}"


def test_reading_map_files_exist():
    for path in re.findall(r"`(scratchvae/[\w/]+\.py)`", README):
        assert (ROOT / path).is_file(), path
