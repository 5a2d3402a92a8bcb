"""Run a student notebook and score its check cells: grading without nbgrader.

A check cell is a code cell with nbgrader's metadata
``{"nbgrader": {"grade": true, "grade_id": "<exercise>", "points": n, ...}}``. The notebook is
executed top to bottom (errors do not stop it) from its own folder; a check cell scores its
points when it runs without an error, "not implemented" when the error is
:class:`~scratchvae.homework.NotImplementedYet` or ``NotImplementedError``, and 0 otherwise, with
the error message (the checker's explanation and HINT). Written answers (graded markdown cells)
are listed as "manual": an instructor reads them against the mark scheme.

Needs nbclient and nbformat (``pip install -e ".[test]"``) and a Jupyter kernel (ipykernel).
"""

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PASSED, FAILED, NOT_IMPLEMENTED, MANUAL, NOT_RUN = (
    "passed", "failed", "not implemented", "manual", "not run")


@dataclass
class CellResult:
    """The outcome of one graded cell."""

    grade_id: str
    points: float
    status: str
    message: str = ""

    @property
    def score(self):
        return self.points if self.status == PASSED else 0.0


@dataclass
class NotebookGrade:
    """All graded cells of one notebook; ``score`` / ``max_score`` count the automatic checks."""

    notebook: str
    results: list = field(default_factory=list)
    error: str = ""

    @property
    def auto(self):
        return [r for r in self.results if r.status != MANUAL]

    @property
    def score(self):
        return sum(r.score for r in self.auto)

    @property
    def max_score(self):
        return sum(r.points for r in self.auto)

    @property
    def all_passed(self):
        return not self.error and bool(self.auto) and all(r.status == PASSED for r in self.auto)

    def table(self):
        """The per-exercise score table, then the messages of the failed checks."""
        width = max([len(r.grade_id) for r in self.results] + [8])
        lines = [f"{self.notebook}", f"  {'exercise':<{width}}  {'points':>7}  result",
                 f"  {'-' * width}  {'-' * 7}  {'-' * 15}"]
        for r in self.results:
            pts = f"-/{_num(r.points)}" if r.status == MANUAL else f"{_num(r.score)}/{_num(r.points)}"
            lines.append(f"  {r.grade_id:<{width}}  {pts:>7}  {r.status}")
        lines.append(f"  {'total':<{width}}  {_num(self.score) + '/' + _num(self.max_score):>7}"
                     + ("  (written answers: graded by hand)"
                        if any(r.status == MANUAL for r in self.results) else ""))
        if self.error:
            lines.append(f"  notebook error: {self.error}")
        for r in self.results:
            if r.status in (FAILED, NOT_RUN) and r.message:
                lines.append(f"\n  {r.grade_id}: {r.status}")
                lines.extend("    " + m for m in r.message.splitlines())
        return "\n".join(lines)

    def to_dict(self):
        return {"notebook": self.notebook, "score": self.score, "max_score": self.max_score,
                "error": self.error,
                "results": [dict(vars(r), score=r.score) for r in self.results]}


def _num(value):
    return f"{value:g}"


def graded_cells(nb):
    """(index, cell, nbgrader metadata) of every graded cell of a notebook (JSON dict)."""
    out = []
    for i, cell in enumerate(nb["cells"]):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            out.append((i, cell, meta))
    return out


def _cell_result(cell, meta, executed):
    grade_id = meta.get("grade_id", "?")
    points = float(meta.get("points", 0))
    if cell["cell_type"] != "code":
        return CellResult(grade_id, points, MANUAL)
    if not executed:
        return CellResult(grade_id, points, NOT_RUN, "the notebook stopped before this cell")
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            ename, evalue = output.get("ename", ""), output.get("evalue", "")
            if ename in ("NotImplementedYet", "NotImplementedError"):
                return CellResult(grade_id, points, NOT_IMPLEMENTED, evalue)
            return CellResult(grade_id, points, FAILED, f"{ename}: {evalue}")
    return CellResult(grade_id, points, PASSED)


def grade_notebook(path, timeout=120, kernel_name="python3"):
    """Execute the notebook at ``path`` (a copy in memory; the file is not changed) from its
    folder and return a :class:`NotebookGrade`. ``timeout``: seconds per cell."""
    try:
        import nbclient
        import nbformat
    except ImportError as err:
        raise ImportError(
            "grading needs nbclient and nbformat (and ipykernel): pip install -e \".[test]\" "
            f"or pip install nbclient nbformat ipykernel ({err})"
        ) from err
    path = Path(path)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except (OSError, json.JSONDecodeError, nbformat.reader.NotJSONError) as err:
        raise ValueError(f"cannot read notebook {path}: {err}") from None
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=True,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    error = ""
    # The kernel's own stderr (e.g. ipykernel's "running over TCP without encryption" warning)
    # is not for the student: keep it in a file, and show its end only if the kernel failed.
    with tempfile.TemporaryFile(mode="w+") as kernel_stderr:
        try:
            client.execute(stderr=kernel_stderr)
        except Exception as err:  # a timeout or a dead kernel: grade what ran
            first_line = (str(err).strip().splitlines() or [""])[0]
            error = f"{type(err).__name__}: {first_line}"
            kernel_stderr.seek(0)
            last = [line for line in kernel_stderr.read().splitlines()
                    if line.strip() and "without encryption" not in line][-5:]
            if last:
                error += "\n  kernel stderr:\n    " + "\n    ".join(last)
    grade = NotebookGrade(notebook=str(path), error=error)
    for _, cell, meta in graded_cells(nb):
        executed = cell["cell_type"] != "code" or cell.get("execution_count") is not None
        grade.results.append(_cell_result(cell, meta, executed))
    return grade
