"""The package's layering rule, checked on its import graph (ast over scratchvae/**/*.py).

Levels, lowest first; a module may import its own level and the levels below it, never above:

    base     validation, deprecation, progress, speed (BLAS's thread count, the speed policy)
    math     functional, conv, reparam, losses, mathutils, corruption   (third party: NumPy only)
    kernels  the kernels package (its backend selector), kernels.reference, kernels.jit,
             kernels.conv_reference, kernels.conv_jit
    layers   layer_base, layers, conv_layers, optim
    models   scratchvae.models.*  (never train, evaluate, checkpoint, plotting, cli, commands)
    data     scratchvae.data.*    (imports base only: no math, no model)
    top      train, evaluate, checkpoint, plotting, gradcheck, export, registry, cli, commands,
             homework, the package root

Dynamic imports count too: a string that names one of the package's modules
(``import_module("scratchvae.kernels.jit")``, ``__import__(...)``, or a dotted name handed to a
helper that imports it) is an import of that module, and an f-string given to
``import_module``/``__import__`` is an import of the package its constant prefix names.

Also: no import cycles (imports inside functions count), commands share helpers through
commands.common and never import each other, no module imports another module's private
``_name``, and no module ``def __getattr__`` except the package root's lazy API (old names are
served by explicit ``renamed_attributes`` tables).

Every rule is shown to fail: the ``test_checker_*`` tests add a forbidden import to a copy of
the real sources and assert the checker reports it.
"""

import ast
import functools
import sys
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "scratchvae"

LEVELS = ("base", "math", "kernels", "layers", "models", "data", "top")
ALLOWED = {
    "base": {"base"},
    "math": {"base", "math"},
    "kernels": {"base", "math", "kernels"},
    "layers": {"base", "math", "kernels", "layers"},
    "models": {"base", "math", "kernels", "layers", "models"},
    "data": {"base", "data"},
    "top": set(LEVELS),
}
MEMBERS = {
    "base": ("scratchvae.validation", "scratchvae.deprecation", "scratchvae.progress",
             "scratchvae.speed"),
    "math": ("scratchvae.functional", "scratchvae.conv", "scratchvae.reparam",
             "scratchvae.losses", "scratchvae.mathutils", "scratchvae.corruption"),
    "kernels": ("scratchvae.kernels", "scratchvae.kernels.reference", "scratchvae.kernels.jit",
                "scratchvae.kernels.conv_reference", "scratchvae.kernels.conv_jit"),
    "layers": ("scratchvae.layer_base", "scratchvae.layers", "scratchvae.conv_layers",
               "scratchvae.optim"),
}
# third-party packages a level may import (the standard library is always allowed)
THIRD_PARTY = {"math": {"numpy"}, "kernels": {"numpy", "numba"}, "layers": {"numpy"},
               "models": {"numpy"}, "base": {"numpy"}}
THIRD_PARTY_EXCEPTIONS = {"scratchvae.speed": {"threadpoolctl"},  # BLAS's thread count
                          "scratchvae.progress": {"tqdm"}}    # the progress bar itself
GETATTR_ALLOWED = {"scratchvae"}  # the package root's lazy top-level API


# ---------------------------------------------------------------------------------------------
# the checker
# ---------------------------------------------------------------------------------------------


def read_sources(package_dir=PACKAGE_DIR):
    """{module name: source text} for every .py file of the package."""
    sources = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        sources[name] = path.read_text()
    return sources


@functools.cache
def parse(source):
    """The module's syntax tree (cached: the tests below check many copies of the sources)."""
    return ast.parse(source)


def level_of(module):
    for level, members in MEMBERS.items():
        if module in members:
            return level
    if module == "scratchvae.models" or module.startswith("scratchvae.models."):
        return "models"
    if module == "scratchvae.data" or module.startswith("scratchvae.data."):
        return "data"
    return "top"


def _imported_names(tree):
    """(dotted name, lineno) of every import anywhere in the module, functions included.

    ``from a.b import c`` gives "a.b.c" (resolved below: c may be a submodule or a name).
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # the package uses absolute imports only
                yield f"<relative import in line {node.lineno}>", node.lineno
                continue
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


DYNAMIC_IMPORTERS = {"import_module", "__import__"}


def _called_name(call):
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def _dynamic_names(tree, modules):
    """(dotted name, lineno) of every module the source loads by a string: a string constant
    that is exactly a module's dotted name (not the bare package name), anywhere (a table of
    names, an argument to a helper), and the constant prefix of an f-string given to
    ``import_module``/``__import__``."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and node.value in modules and node.value != "scratchvae"):
            yield node.value, node.lineno
        elif (isinstance(node, ast.Call) and _called_name(node) in DYNAMIC_IMPORTERS
              and node.args and isinstance(node.args[0], ast.JoinedStr)):
            head = node.args[0].values[0] if node.args[0].values else None
            if isinstance(head, ast.Constant) and str(head.value).startswith("scratchvae"):
                yield str(head.value).rstrip("."), node.lineno


def import_graph(sources):
    """{module: {(imported scratchvae module or third-party top-level name, lineno)}}."""
    graph = {}
    for module, source in sources.items():
        edges = set()
        tree = parse(source)
        found = list(_imported_names(tree))
        if module not in GETATTR_ALLOWED:  # the root's lazy API table names every module
            found += list(_dynamic_names(tree, sources))
        for name, lineno in found:
            if name.startswith("scratchvae"):
                # the longest prefix that is a module: "scratchvae.functional.sigmoid" -> functional
                parts = name.split(".")
                while len(parts) > 1 and ".".join(parts) not in sources:
                    parts.pop()
                edges.add((".".join(parts), lineno))
            else:
                edges.add((name.split(".")[0], lineno))
        graph[module] = edges
    return graph


def layering_violations(graph):
    """Messages "a -> b (line n): <level> may not import <level>" for every forbidden edge."""
    stdlib = set(sys.stdlib_module_names)
    problems = []
    for module, edges in sorted(graph.items()):
        level = level_of(module)
        for target, lineno in sorted(edges):
            if target.startswith("<relative"):
                problems.append(f"{module}: {target}")
            elif target.startswith("scratchvae"):
                target_level = level_of(target)
                if target_level not in ALLOWED[level]:
                    problems.append(f"{module} -> {target} (line {lineno}): {level} may not "
                                    f"import {target_level}")
                elif (module.startswith("scratchvae.commands.")
                      and target.startswith("scratchvae.commands.")
                      and target != "scratchvae.commands.common"):
                    problems.append(f"{module} -> {target} (line {lineno}): commands share "
                                    "helpers through scratchvae.commands.common only")
            elif level in THIRD_PARTY and target not in stdlib:
                allowed = THIRD_PARTY[level] | THIRD_PARTY_EXCEPTIONS.get(module, set())
                if target not in allowed:
                    problems.append(f"{module} -> {target} (line {lineno}): {level} may import "
                                    f"only {sorted(allowed)} outside the standard library")
    return problems


def import_cycles(graph):
    """Every cycle among the package's modules, each as [a, b, ..., a] (depth-first search)."""
    edges = {m: sorted({t for t, _ in e if t in graph and t != m}) for m, e in graph.items()}
    cycles, state = [], {}
    stack = []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in edges[module]:
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module)
    return cycles


def module_getattr_violations(sources):
    """Modules that define a module-level ``def __getattr__`` (re-exports invisible to grep)."""
    found = []
    for module, source in sorted(sources.items()):
        for node in parse(source).body:
            if (isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
                    and module not in GETATTR_ALLOWED):
                found.append(f"{module} (line {node.lineno}): module __getattr__")
    return found


def _directory(module, sources):
    """The package (folder) a module lives in: the module itself if it is a package."""
    is_package = any(other.startswith(module + ".") for other in sources)
    return module if is_package else module.rpartition(".")[0]


def private_import_violations(sources):
    """``from scratchvae.x import _name`` in a module of another folder: a helper without a
    public home (a ``_name`` may be shared inside its own folder, e.g. among the kernels)."""
    found = []
    for module, source in sorted(sources.items()):
        for node in ast.walk(parse(source)):
            if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scratchvae")
                    and node.module != module
                    and _directory(node.module, sources) != _directory(module, sources)):
                found += [f"{module} (line {node.lineno}): imports {node.module}.{alias.name}"
                          for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def check(sources):
    """All problems of a set of sources: layering, cycles, private names, module __getattr__."""
    graph = import_graph(sources)
    return (layering_violations(graph)
            + [" -> ".join(cycle) + ": import cycle" for cycle in import_cycles(graph)]
            + private_import_violations(sources)
            + module_getattr_violations(sources))


# ---------------------------------------------------------------------------------------------
# the package follows the rule
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources():
    found = read_sources()
    assert len(found) > 40 and "scratchvae.models.vae" in found  # the checker reads the package
    return found


def test_the_package_follows_its_layering_rule(sources):
    assert layering_violations(import_graph(sources)) == []


def test_the_package_has_no_import_cycles(sources):
    assert import_cycles(import_graph(sources)) == []


def test_no_module_getattr_except_the_lazy_top_level_api(sources):
    assert module_getattr_violations(sources) == []


def test_no_module_imports_another_modules_private_names(sources):
    assert private_import_violations(sources) == []


def test_every_module_has_a_level_and_the_math_is_where_the_issue_puts_it(sources):
    levels = {module: level_of(module) for module in sources}
    assert {levels[f"scratchvae.{m}"] for m in ("functional", "conv", "reparam", "losses",
                                                "mathutils")} == {"math"}
    assert levels["scratchvae.models.iwae"] == "models"
    assert levels["scratchvae.data.loaders"] == "data"
    assert {levels[f"scratchvae.{m}"] for m in ("train", "evaluate", "checkpoint", "plotting",
                                                "cli", "commands.train")} == {"top"}


# ---------------------------------------------------------------------------------------------
# ... and the checker fails when a forbidden import is added
# ---------------------------------------------------------------------------------------------


def with_line(sources, module, line):
    """A copy of ``sources`` with ``line`` appended to ``module``."""
    changed = dict(sources)
    changed[module] = sources[module] + "\n" + line + "\n"
    return changed


@pytest.mark.parametrize("module, line, expected", [
    ("scratchvae.models.iwae", "from scratchvae.evaluate import importance_sampled_nll",
     "scratchvae.models.iwae -> scratchvae.evaluate"),
    ("scratchvae.models.vae", "def later():\n    from scratchvae import train",
     "scratchvae.models.vae -> scratchvae.train"),
    ("scratchvae.models.aae", "import scratchvae.checkpoint", "models may not import top"),
    ("scratchvae.models.m2", "from scratchvae.plotting import image_grid", "models may not"),
    ("scratchvae.losses", "from scratchvae.layers import Dense", "math may not import layers"),
    ("scratchvae.functional", "from scratchvae.kernels import jit", "math may not import kernels"),
    ("scratchvae.reparam", "import scipy", "scratchvae.reparam -> scipy"),
    ("scratchvae.data.sprites", "from scratchvae.models.vae import VAE",
     "data may not import models"),
    ("scratchvae.layers", "from scratchvae.models.base import Model",
     "layers may not import models"),
    ("scratchvae.commands.sample", "from scratchvae.commands.train import resolve_run",
     "commands share helpers through scratchvae.commands.common"),
])
def test_checker_reports_a_forbidden_import(sources, module, line, expected):
    problems = layering_violations(import_graph(with_line(sources, module, line)))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("module, line, expected", [
    ("scratchvae.functional", "def later():\n    import importlib\n"
     "    return importlib.import_module('scratchvae.kernels.jit')",
     "scratchvae.functional -> scratchvae.kernels.jit"),
    ("scratchvae.reparam", "def later():\n    return __import__('scratchvae.layers')",
     "scratchvae.reparam -> scratchvae.layers"),
    ("scratchvae.losses", "_TWINS = ('scratchvae.kernels.reference', 'scratchvae.kernels.jit')",
     "scratchvae.losses -> scratchvae.kernels.jit"),
    ("scratchvae.models.vae", "def later(name):\n    from importlib import import_module\n"
     "    return import_module(f'scratchvae.commands.{name}')",
     "scratchvae.models.vae -> scratchvae.commands"),
])
def test_checker_reports_a_module_loaded_by_a_dotted_name_string(sources, module, line,
                                                                  expected):
    assert not any(expected in p for p in layering_violations(import_graph(sources)))
    problems = layering_violations(import_graph(with_line(sources, module, line)))
    assert any(expected in problem for problem in problems), problems


def test_checker_reports_an_import_cycle(sources):
    changed = with_line(sources, "scratchvae.conv_layers", "import scratchvae.layers")
    cycles = import_cycles(import_graph(changed))
    assert ["scratchvae.conv_layers", "scratchvae.layers", "scratchvae.conv_layers"] in cycles \
        or ["scratchvae.layers", "scratchvae.conv_layers", "scratchvae.layers"] in cycles
    assert any("import cycle" in problem for problem in check(changed))


def test_checker_reports_a_private_helper_imported_from_another_folder(sources):
    changed = with_line(sources, "scratchvae.kernels.jit",
                        "from scratchvae.losses import LOG_2PI, _sum_to_shape")
    problems = private_import_violations(changed)
    assert len(problems) == 1 and "imports scratchvae.losses._sum_to_shape" in problems[0]
    changed = with_line(sources, "scratchvae.kernels.conv_jit",
                        "from scratchvae.conv import _check_float")
    assert len(private_import_violations(changed)) == 1
    # inside one folder a private helper may be shared (the kernels share their scalar helpers)
    changed = with_line(sources, "scratchvae.kernels.conv_jit", "from scratchvae.kernels.jit import _x")
    assert private_import_violations(changed) == []


def test_checker_reports_a_module_getattr_re_export(sources):
    changed = with_line(sources, "scratchvae.functional",
                        "def __getattr__(name):\n    from scratchvae import conv\n"
                        "    return getattr(conv, name)")
    assert module_getattr_violations(changed) == [
        f"scratchvae.functional (line {len(sources['scratchvae.functional'].splitlines()) + 2}): "
        "module __getattr__"]


def test_checker_allows_the_explicit_tables_of_renamed_names(sources):
    assert "__getattr__ = renamed_attributes(" in sources["scratchvae.functional"]
    assert module_getattr_violations({"m": "__getattr__ = renamed_attributes('m', {})"}) == []
