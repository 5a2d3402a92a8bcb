"""Turn SOLUTION notebooks into STUDENT notebooks, the way nbgrader's ``generate_assignment`` does.

The solution notebooks use nbgrader's markup, so instructors who use nbgrader can take them as
they are, and those who don't can run ``scratchvae homework release SRC DST``:

- in a code cell, the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become
  ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the indentation of the BEGIN line
  (the code before and after the markers, e.g. the ``def`` line and docstring, stays);
- in a markdown cell, the same region becomes ``YOUR ANSWER HERE``;
- a region from ``=== BEGIN MARK SCHEME ===`` to ``=== END MARK SCHEME ===`` (the answer key of
  a written question) and from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` is
  removed, in any cell;
- every output and execution count is cleared;
- cells are locked as nbgrader locks them: solution and graded cells cannot be deleted, and
  locked (read-only) cells, such as the checks, cannot be edited.

``nbgrader generate_assignment`` on the same notebooks gives the same student notebooks (cells,
sources and metadata), apart from the checksums nbgrader adds to its own metadata to detect
edited test cells (tests/test_homework.py compares the two when nbgrader is installed).

Notebooks are read and written as plain JSON (no nbformat needed).
"""

import json
from pathlib import Path

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
MARK_SCHEME = ("=== BEGIN MARK SCHEME ===", "=== END MARK SCHEME ===")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = "YOUR ANSWER HERE"
ALL_MARKERS = SOLUTION + MARK_SCHEME + HIDDEN_TESTS


class ReleaseError(ValueError):
    """A solution notebook with unbalanced or nested markers; the message names file and cell."""


def _replace_regions(lines, markers, replacement, where):
    """Replace each region begin..end (inclusive) with ``replacement(indent)`` lines."""
    begin, end = markers
    out, inside, indent = [], False, ""
    for line in lines:
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ReleaseError(f"{where}: nested {begin!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + r for r in replacement)
        elif stripped == end:
            if not inside:
                raise ReleaseError(f"{where}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: {begin!r} without {end!r}")
    return out


def release_source(source, cell_type="code", where="cell"):
    """The student version of one cell's source (a string)."""
    lines = source.split("\n")
    lines = _replace_regions(lines, MARK_SCHEME, (), where)
    lines = _replace_regions(lines, HIDDEN_TESTS, (), where)
    stub = CODE_STUB if cell_type == "code" else (TEXT_STUB,)
    lines = _replace_regions(lines, SOLUTION, stub, where)
    text = "\n".join(lines)
    for marker in ALL_MARKERS:
        if marker in text:
            raise ReleaseError(f"{where}: marker {marker!r} must stand alone on its own line")
    return text


def release_notebook(nb, name="notebook"):
    """Student version of a notebook given as its JSON dict (a new dict; ``nb`` is untouched)."""
    nb = json.loads(json.dumps(nb))
    for i, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        cell["source"] = release_source(source, cell.get("cell_type", "code"),
                                        where=f"{name}, cell {i}").splitlines(keepends=True)
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        metadata = cell.setdefault("metadata", {})
        metadata.pop("execution", None)
        _lock(metadata)
    return nb


def _lock(metadata):
    """Jupyter's lock flags, as nbgrader's LockCells sets them from the nbgrader metadata."""
    grading = metadata.get("nbgrader", {})
    if grading.get("solution") or grading.get("grade") or grading.get("locked"):
        metadata["deletable"] = False
    if grading.get("locked") and not grading.get("solution"):
        metadata["editable"] = False


def _targets(src, dst):
    """(source file, destination file) pairs for a file or a folder of notebooks."""
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise ReleaseError(f"SRC {src} does not exist")
    if src.is_file():
        if src.suffix != ".ipynb":
            raise ReleaseError(f"SRC {src} is not a notebook (.ipynb)")
        if dst.is_dir() or dst.suffix != ".ipynb":
            dst = dst / src.name
        return [(src, dst)]
    pairs = [(path, dst / path.relative_to(src)) for path in sorted(src.rglob("*.ipynb"))
             if ".ipynb_checkpoints" not in path.parts]
    if not pairs:
        raise ReleaseError(f"SRC folder {src} holds no notebooks (.ipynb)")
    return pairs


def release(src, dst):
    """Write student versions of the notebook(s) ``src`` (a file or a folder) to ``dst``.

    A folder is released recursively into the same layout under ``dst``. Refuses to overwrite
    a source notebook. Returns the list of written paths.
    """
    written = []
    pairs = _targets(src, dst)
    for source, target in pairs:
        if target.exists() and target.resolve() == source.resolve():
            raise ReleaseError(f"refusing to overwrite the solution notebook {source}: choose "
                               "another DST")
    for source, target in pairs:
        try:
            nb = json.loads(source.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ReleaseError(f"{source} is not a valid notebook (JSON error: {err})") from None
        student = release_notebook(nb, name=str(source))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(student, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
        written.append(target)
    return written
