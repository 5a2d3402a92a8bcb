"""Write the website's API reference pages from the code: every summary is the first paragraph
of a docstring, so nothing here is written by hand and nothing goes stale.

Pages (MyST Markdown, in ``docs/api/generated/``, ignored by git):

- ``top-level.md`` and ``modules.md``: the tables that ``docs/api/index.md`` includes: every name
  ``import scratchvae as sv`` offers (``sv.VAE``, ``sv.fit``, ``sv.save``, ...) and every public
  module, each with its one-line summary;
- ``sv.<name>.md``: one page per top-level class or function (``sv.VAE``, ``sv.fit``): its
  summary, where it is defined, a table of a class's methods, and the full docstrings;
- ``<module>.md``: one page per public module: its summary, a table of its classes, functions
  and documented constants, its submodules, then the full docstrings (autodoc).

Run by docs/conf.py when the build starts; ``python docs/apiref.py`` lists the rows that have no
summary (a public name without a docstring), which the tests also check.
"""

import importlib
import inspect
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "api" / "generated"
MARKDOWN_PUNCTUATION = re.compile(r"([\\*_\[\]<>|$~#!{}])")


# -- summaries ------------------------------------------------------------------------------


def first_paragraph(doc):
    """The first paragraph of a docstring as one line ('' when there is none)."""
    doc = inspect.cleandoc(doc or "").strip()
    return " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())


def summary_of(obj, owner=None, attribute=None):
    """The first paragraph of ``obj``'s docstring; for a method without one, the docstring of
    the same method in the first base class of ``owner`` that documents it (as ``help()``)."""
    doc = obj.__doc__ if isinstance(obj, property) else inspect.getdoc(obj)
    if not doc and owner is not None:
        for base in inspect.getmro(owner)[1:]:
            inherited = vars(base).get(attribute)
            if inherited is not None and (inherited.__doc__ or "").strip():
                doc = inherited.__doc__
                break
    return first_paragraph(doc)


def markdown_cell(text):
    """A summary as the text of a Markdown table cell: `code` kept, everything else literal."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)  # :func:`save` -> `save`
    text = text.replace("``", "`")
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: show it literally
        parts = [text.replace("`", "'")]
    cells = []
    for index, part in enumerate(parts):
        if index % 2:  # inside a code span: only the table's own separator needs escaping
            cells.append("`" + part.replace("|", "\\|") + "`")
        else:
            cells.append(MARKDOWN_PUNCTUATION.sub(r"\\\1", part))
    return "".join(cells)


# -- what is public -------------------------------------------------------------------------


def _is_public_module(name):
    return not any(part.startswith("_") for part in name.split("."))


def public_modules():
    """The package's public modules, in order (``__main__`` and ``_private`` ones left out)."""
    import pkgutil

    import scratchvae

    names = ["scratchvae"] + [info.name for info in
                              pkgutil.walk_packages(scratchvae.__path__, "scratchvae.")]
    return [importlib.import_module(name) for name in sorted(names) if _is_public_module(name)]


def _is_function(value):
    """A Python function or a compiled twin of one (a Numba dispatcher keeps ``py_func``)."""
    return inspect.isfunction(value) or hasattr(value, "py_func")


def module_members(module):
    """[(name, kind, object)] of the classes, functions and documented constants the module
    defines (not those it imports), in source order."""
    from sphinx.pycode import ModuleAnalyzer  # the parser autodoc uses for "#: ..." and """..."""

    members = []
    for name, value in vars(module).items():
        if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value):
            members.append((name, "class", value))
        elif _is_function(value):
            members.append((name, "function", value))
    try:
        attribute_docs = ModuleAnalyzer.for_module(module.__name__).find_attr_docs()
    except Exception:  # noqa: BLE001  (a module without source: no constants to show)
        attribute_docs = {}
    for (scope, name), lines in attribute_docs.items():
        if scope == "" and name.isupper() and hasattr(module, name):
            members.append((name, "constant", "\n".join(lines)))
    return members


def class_methods(cls):
    """[(name, kind, summary)] of the public methods and properties a class defines or
    inherits from the package (not from ``object``)."""
    rows, seen = [], set()
    for klass in inspect.getmro(cls):
        if klass is object or not klass.__module__.startswith("scratchvae"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            if isinstance(value, property):
                kind = "property"
            elif isinstance(value, (staticmethod, classmethod)) or inspect.isfunction(value):
                kind = "method"
            else:
                continue
            seen.add(name)
            target = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            rows.append((name, kind, summary_of(target, cls, name)))
    return rows


FIRST_NAMES = ("VAE", "Autoencoder", "DenoisingAutoencoder", "fit", "save", "load")
"""The top-level names of the course's first weeks: listed first, the others alphabetically."""


def top_level_names():
    """[(name, dotted path of its definition, object)] of the classes and functions that
    ``import scratchvae as sv`` offers (``sv.VAE``, ``sv.fit``): :data:`FIRST_NAMES`, then the
    rest of ``sv.__all__``."""
    import scratchvae

    rows = []
    order = [name for name in FIRST_NAMES if name in scratchvae.__all__]
    for name in order + [name for name in scratchvae.__all__ if name not in order]:
        value = getattr(scratchvae, name)
        if inspect.ismodule(value):
            continue
        rows.append((name, f"{value.__module__}.{value.__qualname__}", value))
    return rows


def top_level_modules():
    import scratchvae

    return [name for name in scratchvae.__all__ if inspect.ismodule(getattr(scratchvae, name))]


# -- pages ----------------------------------------------------------------------------------


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def module_page(module):
    name = module.__name__
    lines = [f"# `{name}`", "", markdown_cell(summary_of(module)), ""]
    rows = []
    for member, kind, value in module_members(module):
        summary = first_paragraph(value) if kind == "constant" else summary_of(value)
        rows.append([f"{{py:obj}}`{member} <{name}.{member}>`", kind, markdown_cell(summary)])
    if rows:
        lines += ["## Contents", ""] + _table(["name", "kind", "summary"], rows) + [""]
    children = [child for child in public_modules()
                if child.__name__.rpartition(".")[0] == name]
    if children:
        lines += ["## Submodules", ""]
        lines += _table(["module", "summary"],
                        [[f"[`{child.__name__}`]({child.__name__}.md)",
                          markdown_cell(summary_of(child))] for child in children])
        lines += ["", "```{toctree}", ":hidden:", ""]
        lines += [child.__name__ for child in children] + ["```", ""]
    lines += ["## Reference", "", "```{eval-rst}", f".. automodule:: {name}", "   :members:",
              "```", ""]
    return "\n".join(lines)


def name_page(name, dotted, value):
    module = value.__module__
    kind = "class" if inspect.isclass(value) else "function"
    lines = [f"# `sv.{name}`", "", markdown_cell(summary_of(value)), "",
             f"A {kind} of [`{module}`]({module}.md): `sv.{name}` is `{dotted}`.", ""]
    if inspect.isclass(value):
        rows = [[f"`{method}`", kind_, markdown_cell(summary)]
                for method, kind_, summary in class_methods(value)]
        lines += ["## Methods", ""] + _table(["name", "kind", "summary"], rows) + [""]
    directive = "autoclass" if inspect.isclass(value) else "autofunction"
    lines += ["## Reference", "", "```{eval-rst}", f".. {directive}:: {dotted}", "   :no-index:"]
    if inspect.isclass(value):
        lines += ["   :members:", "   :inherited-members:"]
    lines += ["```", ""]
    return "\n".join(lines)


def top_level_table():
    rows = [[f"[`sv.{name}`](generated/sv.{name}.md)", "class" if inspect.isclass(value) else "function",
             markdown_cell(summary_of(value))] for name, _, value in top_level_names()]
    return "\n".join(_table(["name", "kind", "summary"], rows)) + "\n"


def modules_table():
    rows = [[f"[`{module.__name__}`](generated/{module.__name__}.md)",
             markdown_cell(summary_of(module))]
            for module in public_modules()]
    return "\n".join(_table(["module", "summary"], rows)) + "\n"


def pages():
    """{file name: text} of every generated page."""
    files = {"top-level.md.inc": top_level_table(), "modules.md.inc": modules_table()}
    for name, dotted, value in top_level_names():
        files[f"sv.{name}.md"] = name_page(name, dotted, value)
    for module in public_modules():
        files[f"{module.__name__}.md"] = module_page(module)
    return files


def missing_summaries():
    """The rows of the generated tables that have no summary: ['page: name', ...]."""
    missing = []
    for file, text in pages().items():
        for line in text.splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            if line.startswith("| ") and not line.startswith("| name |") \
                    and not line.startswith("| module |") and cells[-1] == "":
                missing.append(f"{file}: {cells[0]}")
        if file.endswith(".md") and "\n\n\n" in text.split("## ")[0]:
            missing.append(f"{file}: the page's own summary")
    return missing


def write(write_if_changed):
    """Write every page (``write_if_changed(path, text)``); remove pages of names now gone."""
    files = pages()
    if OUT.is_dir():
        for old in OUT.iterdir():
            if old.is_file() and old.name not in files:
                old.unlink()
    for file, text in files.items():
        write_if_changed(OUT / file, text)
    return files


if __name__ == "__main__":
    gaps = missing_summaries()
    print("\n".join(gaps) if gaps else "every row has a summary")
