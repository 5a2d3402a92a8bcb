"""README is a short, student-first page whose commands, tables and pointers match the project."""

import re
from pathlib import Path

from test_reading_map import reading_map

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_short():
    # characters, not bytes (the README has a few non-ASCII letters: σ, ‖)
    assert len(README) < 10_500, f"README has {len(README)} characters; move detail to docs/"


def _section(title):
    """The text of the README section whose heading starts with ``title``, up to the next one."""
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", README, flags=re.M | re.S)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def test_readme_tells_students_how_to_do_and_check_their_homework():
    students = _section("For students")
    for step in ("# YOUR CODE HERE", "check cell", "[PASS]", "hint",
                 "scratchvae homework check", "pip install -e ."):
        assert step in students, step


def test_readme_tells_instructors_about_release_grading_and_nbgrader():
    instructors = _section("For instructors")
    for step in ("scratchvae homework release", "scratchvae homework check", "nbgrader",
                 'pip install -e ".[instructor]"', "(docs/guide/homework-tools.md)"):
        assert step in instructors, step
    assert (ROOT / "docs" / "guide" / "homework-tools.md").is_file()


def test_readme_links_to_files_that_exist():
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README):
        assert (ROOT / target).exists(), target


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


def test_reading_map_points_at_files_that_define_those_names():
    # the table writes paths relative to scratchvae/ and names with brace expansion
    # (dense{,_act}_{forward,backward}); tests/test_reading_map.py parses it the same way
    rows = [(path, names) for _, path, _, names in reading_map() if path and names]
    assert len(rows) >= 6
    for path, names in rows:
        source = (ROOT / path).read_text(encoding="utf-8")
        for name in names:
            name = name.split(".")[-1]
            assert re.search(rf"^\s*(def|class) {name}\b", source, flags=re.M), f"{name} not in {path}"


def test_reading_map_files_exist():
    paths = [p for _, _, row_paths, _ in reading_map() for p in row_paths]
    assert len(paths) >= 9
    for path in paths:
        assert (ROOT / path).exists(), path
