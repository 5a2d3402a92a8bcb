"""No function in scratchvae/ is longer than 60 lines, its docstring excluded (read from the AST).

A function a student can read in one screen: longer ones are split into parts with names. The
count runs from the ``def`` line (decorators excluded) to the function's last line, minus the
lines of its docstring. Nested functions count within their parent and on their own.
"""

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "scratchvae"
MAX_LINES = 60


def function_lengths(source, filename="<source>"):
    """[(qualified name, first line, length without docstring)] for every function in source."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = child.end_lineno - child.lineno + 1
                body = child.body
                if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                        and isinstance(body[0].value.value, str)):
                    length -= body[0].end_lineno - body[0].lineno + 1
                found.append((f"{prefix}{child.name}", child.lineno, length))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source, filename), "")
    return found


def long_functions(package_dir=PACKAGE_DIR, limit=MAX_LINES):
    """"path:line name (n lines)" for every function of the package longer than ``limit``."""
    problems = []
    for path in sorted(package_dir.rglob("*.py")):
        for name, lineno, length in function_lengths(path.read_text(), str(path)):
            if length > limit:
                problems.append(f"{path.relative_to(package_dir.parent)}:{lineno} {name} "
                                f"({length} lines)")
    return problems


def test_no_function_in_the_package_is_longer_than_60_lines_without_its_docstring():
    assert long_functions() == []


def _function(n_body_lines, docstring_lines=0):
    doc = ['    """'] + ["    text"] * max(docstring_lines - 2, 0) + ['    """'] if docstring_lines else []
    return "\n".join(["def f():", *doc, *["    x = 1"] * n_body_lines]) + "\n"


@pytest.mark.parametrize("body, docstring, expected", [
    (59, 0, 60), (60, 0, 61), (59, 30, 60), (3, 5, 4)])
def test_the_count_excludes_the_docstring_and_includes_the_def_line(body, docstring, expected):
    assert function_lengths(_function(body, docstring)) == [("f", 1, expected)]


def test_the_checker_reports_a_long_method_and_a_long_nested_function(tmp_path):
    nested = "class A:\n    def m(self):\n        def inner():\n" + "            x = 1\n" * 61
    (tmp_path / "mod.py").write_text(nested)
    problems = long_functions(tmp_path)
    assert [p.split(" ", 1)[1] for p in problems] == ["A.m (63 lines)", "A.m.inner (62 lines)"]
    assert long_functions(tmp_path, limit=70) == []
