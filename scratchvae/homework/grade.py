"""Score a submitted notebook against its release: grading that trusts only the release.

A check cell is a code cell with nbgrader's metadata
``{"nbgrader": {"grade": true, "grade_id": "<exercise>", "points": n, ...}}``. The check cells,
their points and the checker code come from the RELEASE (the instructor's notebook: a solution
or a released notebook), never from the submission. Two processes:

- the grader (this process) runs the release's check cells and keeps the score; it never runs
  student code;
- the student's process (:mod:`scratchvae.homework._student`) runs the submission's code cells
  in a fresh temporary folder, in a process group of its own, under a guard. In the grader,
  each student function a check cell names is a :class:`StudentFunction`: calling it sends the
  arguments to the student's process (JSON and ``.npy`` arrays, never pickle), the function
  runs there, and its result comes back the same way. A call into scratchvae's reference code
  made there, from any thread, is reported to the check (which fails). Each request has a time
  limit; afterwards the whole process group is killed and the folder removed.

A check cell scores its points when it runs without an error, "not implemented" when the error
is :class:`~scratchvae.homework.NotImplementedYet` or ``NotImplementedError``, and 0 otherwise,
with the error message (the checker's explanation and HINT). Written answers (graded markdown
cells) are listed as "manual": an instructor reads them against the mark scheme.

Needs nothing beyond scratchvae itself; with IPython installed (the ``[test]`` extra), the
student's cells run in IPython, so magics such as ``%matplotlib inline`` work.
"""

import ast
import builtins
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scratchvae.homework import _wire

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
    """A number in ``%g`` form."""
    return f"{value:g}"


def graded_cells(nb):
    """(index, cell, nbgrader metadata) of every graded cell of a notebook (JSON dict)."""
    cells = ((i, cell, _grading_meta(cell)) for i, cell in enumerate(nb["cells"]))
    return [(i, cell, meta) for i, cell, meta in cells if meta.get("grade")]


def _cell_result(cell, meta, executed):
    """The CellResult of one graded cell of an executed notebook."""
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



# ---------------------------------------------------------------------------------------------
# reading notebooks
# ---------------------------------------------------------------------------------------------


class NotebookError(ValueError):
    """A file that is not a readable notebook; the one-line message names the file and why."""


def read_notebook(path):
    """The notebook at ``path`` as a JSON dict whose cells each have a type and source text
    (a string). Raises NotebookError naming the file and what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise NotebookError(f"cannot read notebook {path}: {err}") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(f"{path} is not a notebook: not valid JSON (line {err.lineno}, "
                            f"column {err.colno}: {err.msg})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path} is not a notebook: it has no list of cells")
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotebookError(f"{path} is not a valid notebook: cell {i} has no cell_type "
                                "'code', 'markdown' or 'raw'")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"{path} is not a valid notebook: the source of cell {i} is "
                                "not text")
        cell["source"] = source
        if not isinstance(cell.get("metadata", {}), dict):
            cell["metadata"] = {}
    return nb


def _grading_meta(cell):
    """The cell's nbgrader metadata ({} if none or not a dict)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def project_homework_folder():
    """``notebooks/homework`` of the source tree scratchvae is imported from (None if absent)."""
    folder = Path(__file__).resolve().parents[2] / "notebooks" / "homework"
    return folder if folder.is_dir() else None


def find_release(submission, release=None):
    """The release notebook to grade ``submission`` against.

    release: a notebook file, or a folder holding one of the same file name (or, failing
    that, the one notebook whose name starts with the submission's first word, e.g. ``hw1``);
    None looks in the project's ``notebooks/homework``. Raises NotebookError when none fits.
    """
    submission = Path(submission)
    folder = Path(release) if release is not None else project_homework_folder()
    if folder is None:
        raise NotebookError(f"no release to grade {submission} against: give the instructor's "
                            "notebook (or its folder) with --release")
    if folder.is_file():
        return folder
    if not folder.is_dir():
        raise NotebookError(f"release {folder} does not exist")
    same_name = folder / submission.name
    if same_name.is_file():
        return same_name
    prefix = submission.stem.split("_")[0]
    candidates = sorted(p for p in folder.glob("*.ipynb") if p.stem.split("_")[0] == prefix)
    if len(candidates) == 1:
        return candidates[0]
    raise NotebookError(f"no release notebook for {submission.name} in {folder} (expected "
                        f"{submission.name} there): give it with --release")


# ---------------------------------------------------------------------------------------------
# the student's process
# ---------------------------------------------------------------------------------------------


class StudentProcessError(RuntimeError):
    """The student's process stopped, timed out or broke the protocol."""


class StudentProcess:
    """The process that runs a submission's cells, in the temporary folder ``workdir``, in its
    own process group. ``timeout``: seconds allowed for each cell and each call."""

    def __init__(self, folder, timeout):
        self.timeout = timeout
        self.folder = Path(folder)
        self.workdir = self.folder / "work"
        self.exchange = self.folder / "exchange"
        self.workdir.mkdir()
        self.exchange.mkdir()
        self.log_path = self.folder / "student.log"
        self.dead = ""
        self._models = 0
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH"))
                                          if p),
            "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(self.workdir),
            "MPLCONFIGDIR": str(self.workdir / ".matplotlib"), "MPLBACKEND": "Agg",
            "NUMBA_CACHE_DIR": str(self.workdir / ".numba"),
            "IPYTHONDIR": str(self.workdir / ".ipython"),
        })
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scratchvae.homework._student", str(to_child),
                 str(from_child)],
                cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(to_child, from_child), start_new_session=True)
        os.close(to_child)
        os.close(from_child)
        message, _ = self._receive(time.monotonic() + max(timeout, 60))
        if message.get("op") != "ready":
            self._stop(f"it sent {message.get('op')!r} instead of starting")

    # -- messages --------------------------------------------------------------------------

    def _receive(self, deadline):
        if self.dead:
            raise StudentProcessError(self.dead)
        try:
            return _wire.receive(self._r, deadline)
        except _wire.WireError as err:
            if str(err) == "timed out":
                self._stop(f"no answer within {self.timeout:g} s (stopped)")
            self._stop(f"{err}{self._log_tail()}")

    def _send(self, message, arrays=()):
        if self.dead:
            raise StudentProcessError(self.dead)
        try:
            _wire.send(self._w, message, arrays)
        except OSError as err:
            self._stop(f"the student's process ended ({err}){self._log_tail()}")

    def _stop(self, reason):
        self.kill()
        self.dead = reason
        raise StudentProcessError(reason)

    def _log_tail(self):
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines()
                     if line.strip()][-3:]
        except OSError:
            return ""
        return ("; its last output:\n  " + "\n  ".join(lines)) if lines else ""

    # -- requests --------------------------------------------------------------------------

    def run_cell(self, source):
        """Run one of the submission's cells; its error ("Name: message") or None."""
        self._send({"op": "run", "source": source})
        message, _ = self._receive(time.monotonic() + self.timeout)
        return message.get("error")

    def lookup(self, name):
        """A :class:`StudentFunction` for a function the cells defined, the value of data, or
        raise NameError."""
        self._send({"op": "lookup", "name": name})
        message, arrays = self._receive(time.monotonic() + self.timeout)
        if message.get("op") == "function":
            return StudentFunction(self, name)
        if message.get("op") == "data":
            return _wire.decode(message["value"], arrays)
        raise NameError(f"name {name!r} is not defined in the submission")

    def call(self, name, args, kwargs):
        """``name(*args, **kwargs)`` in the student's process; see :class:`StudentFunction`."""
        from scratchvae.homework._core import PACKAGE_DIR, HomeworkCheckError, _is_package_code
        from scratchvae.homework._student import code_key

        callbacks = []

        def custom(value):
            if isinstance(value, StudentFunction):
                return {"t": "function", "name": value.name}
            if _is_model(value):
                import scratchvae as sv

                self._models += 1
                path = self.exchange / f"model_{self._models}.npz"
                sv.save(value, path)
                return {"t": "model", "path": str(path)}
            if callable(value):
                callbacks.append(value)
                return {"t": "callback", "id": len(callbacks) - 1}
            return None

        arrays = []
        args_node, _ = _wire.encode(list(args), custom, arrays)
        kwargs_node, _ = _wire.encode(dict(kwargs), custom, arrays)
        watch = _active_watch()
        allowed = [] if watch is None else [  # keyed as the student's process keys them
            list(code_key(code, PACKAGE_DIR)) for code in watch.allowed
            if code is not None and _is_package_code(code)]
        self._send({"op": "call", "name": name, "args": args_node, "kwargs": kwargs_node,
                    "allowed": allowed}, arrays)
        deadline = time.monotonic() + self.timeout
        while True:
            message, arrays = self._receive(deadline)
            if message.get("op") != "callback":
                break
            started = time.monotonic()
            self._answer_callback(callbacks, message, arrays)
            deadline += time.monotonic() - started  # the grader's own time does not count
        if message.get("op") != "result":
            self._stop(f"it sent {message.get('op')!r} instead of a result")
        _merge(list(args), message["args_after"], arrays)
        calls = [str(c) for c in message.get("calls", [])]
        if calls:
            if watch is None:
                raise HomeworkCheckError(f"your function called the package's own "
                                         f"implementation ({', '.join(calls[:3])})")
            watch.calls.extend(c for c in calls if c not in watch.calls)
        error = message.get("error")
        if error:
            if error.get("not_implemented"):
                raise NotImplementedError(error.get("message", ""))
            raise _exception_named(error.get("name", "Exception"), error.get("message", ""))
        return _wire.decode(message["value"], arrays)

    def _answer_callback(self, callbacks, message, arrays):
        try:
            fn = callbacks[int(message["id"])]
            args = _wire.decode(message["args"], arrays)
            value = fn(*args)
            out = []
            node, _ = _wire.encode(value, None, out)
            reply = {"op": "return", "value": node}
        except Exception as err:  # the grader's callback refused the student's arguments
            reply, out = {"op": "raise", "name": type(err).__name__, "message": str(err)}, []
        self._send(reply, out)

    def kill(self):
        """Kill the process and everything it started in its group, and reap it."""
        for fd in (self._w, self._r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._w = self._r = -1
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.dead = self.dead or "the student's process was stopped"

    def close(self):
        if not self.dead:
            with contextlib.suppress(StudentProcessError, OSError):
                self._send({"op": "exit"})
        self.kill()


class StudentFunction:
    """A function of the submission, as the grader sees it: calling it runs it in the
    student's process on copies of the arguments and returns a copy of the result.

    Arguments and results are data (arrays, numbers, strings, tuples, lists, dicts,
    NamedTuples, ``np.random.Generator`` states); a callable argument (a checker's callback)
    stays in the grader and is called from there; a scratchvae model is sent as a checkpoint.
    After the call the arguments are brought up to date: arrays the function changed in
    place, dict entries it replaced, the generator's state, a model's params. Calls into
    scratchvae's reference code made there are added to the check's call watch.
    """

    runs_in_student_process = True
    """Marks the proxy for the call watch: its own code is the grader's, not a reference."""

    def __init__(self, process, name):
        self._process = process
        self.name = self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self._process.call(self.name, args, kwargs)

    def __repr__(self):
        return f"<function {self.name} (the submission's)>"


def _is_model(value):
    """Whether ``value`` is an instance of one of scratchvae's models (params dict, backend)."""
    cls = type(value)
    return (cls.__module__.startswith("scratchvae.") and not isinstance(value, type)
            and isinstance(getattr(value, "params", None), dict) and hasattr(value, "backend"))


def _active_watch():
    """The PackageCallWatch that is the current profiler, or None."""
    from scratchvae.homework._core import PackageCallWatch

    watch = getattr(sys.getprofile(), "__self__", None)
    return watch if isinstance(watch, PackageCallWatch) else None


def _exception_named(name, message):
    """An exception named ``name`` (of that builtin class when there is one) whose str() is
    ``message``, the student's exception's text (a KeyError's quotes included)."""
    base = getattr(builtins, str(name), None)
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = Exception
    cls_name = str(name) if str(name).isidentifier() else "Error"
    cls = type(cls_name, (base,), {"__str__": lambda self: message, "__module__": "builtins"})
    return cls(message)


def _merge(target, node, arrays):
    """Bring ``target`` (what the grader sent) up to date with the student's process's
    ``node`` (see ``_student._sync``): same objects are updated in place, new ones put in."""
    kind = node.get("t")
    leaf_kind = node["node"].get("t") if kind == "leaf" else None
    if kind == "a" or leaf_kind == "a":
        _merge_array(target, node["node"] if kind == "leaf" else node, arrays)
    elif leaf_kind == "rng":
        if isinstance(target, np.random.Generator):
            _wire.set_generator_state(target, node["node"])
    elif kind == "model":
        _merge_model(target, node, arrays)
    elif kind == "dict" and isinstance(target, dict):
        _merge_dict(target, node, arrays)
    elif kind in ("list", "tuple") and isinstance(target, (list, tuple)):
        _merge_sequence(target, node, arrays)


def _merge_array(target, array_node, arrays):
    """Copy the array of ``array_node`` into ``target`` if it is a writeable array of the same
    shape whose values differ."""
    value = _wire.decode(array_node, arrays)
    if (isinstance(target, np.ndarray) and isinstance(value, np.ndarray)
            and target.shape == value.shape and target.flags.writeable
            and not np.array_equal(target, value, equal_nan=True)):
        np.copyto(target, value, casting="unsafe")


def _merge_model(target, node, arrays):
    """Copy the parameters of a "model" node into the model ``target``'s arrays in place."""
    params = _wire.decode(node["params"], arrays)
    for key, value in params.items():
        live = target.params.get(key) if _is_model(target) else None
        if isinstance(live, np.ndarray) and isinstance(value, np.ndarray) \
                and live.shape == value.shape:
            np.copyto(live, value, casting="unsafe")


def _merge_dict(target, node, arrays):
    """Merge a "dict" node into the dict ``target``: same values in place, new ones put in,
    keys the student's process removed deleted."""
    keys = set()
    for key, sub in node["items"]:
        keys.add(key)
        if sub["same"] and key in target:
            _merge(target[key], sub, arrays)
        else:
            target[key] = _wire.decode(sub["node"], arrays)
    for key in [k for k in target if k not in keys]:
        del target[key]


def _merge_sequence(target, node, arrays):
    """Merge a "list"/"tuple" node into ``target``: same items in place; a list's items are
    then replaced by the new ones."""
    items = []
    for i, sub in enumerate(node["items"]):
        if sub["same"] and i < len(target):
            _merge(target[i], sub, arrays)
            items.append(target[i])
        else:
            items.append(_wire.decode(sub["node"], arrays))
    if isinstance(target, list):
        target[:] = items


# ---------------------------------------------------------------------------------------------
# grading
# ---------------------------------------------------------------------------------------------


def _imports_of(release):
    """The import statements of the release's code cells (not solutions, not checks): the
    names a check cell uses that are not the student's (``hw``, ``np``, ...)."""
    body = []
    for cell in release["cells"]:
        meta = _grading_meta(cell)
        if cell["cell_type"] != "code" or meta.get("solution") or meta.get("grade"):
            continue
        try:
            tree = ast.parse(cell["source"])
        except SyntaxError:  # a magic: not an import
            continue
        body.extend(node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    return ast.Module(body=body, type_ignores=[])


def _names_used(source):
    """The names the source reads."""
    return {node.id for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _run_check(source, namespace, student):
    """Run one released check cell in the grader; student functions it names are proxies."""
    for name in sorted(_names_used(source)):
        if name in namespace or hasattr(builtins, name):
            continue
        try:
            namespace[name] = student.lookup(name)
        except NameError:
            pass  # the check fails with NameError, as it would in the notebook
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, "<check cell>", "exec"), namespace)


def _result_of_error(grade_id, points, err):
    """The CellResult of a check cell that raised ``err`` (not implemented, or failed)."""
    if isinstance(err, NotImplementedError) or type(err).__name__ == "NotImplementedYet":
        return CellResult(grade_id, points, NOT_IMPLEMENTED, str(err))
    return CellResult(grade_id, points, FAILED, f"{type(err).__name__}: {err}")


def grade_notebook(path, release=None, timeout=120, kernel_name=None):
    """Grade the submission at ``path`` against its release and return a
    :class:`NotebookGrade`; the file is not changed.

    release: the instructor's notebook (a solution or released notebook) or a folder holding
    it (see :func:`find_release`; None: the project's ``notebooks/homework``). Its check cells,
    points and written-answer cells are graded; the submission gives only the code of its
    cells that are not graded cells. timeout: seconds allowed for each of the submission's
    cells and each call of a student function. kernel_name: not used (the submission runs in
    a process of its own, not in a Jupyter kernel); kept for old callers.
    """
    path = Path(path)
    release_path = find_release(path, release)
    release_nb = read_notebook(release_path)
    submission = read_notebook(path)
    checks = _check_cells(release_nb, release_path)
    namespace = {"__name__": "__grader__"}
    exec(compile(_imports_of(release_nb), str(release_path), "exec"), namespace)
    student_cells, position = _submission_code(submission)

    grade = NotebookGrade(notebook=str(path))
    folder = tempfile.mkdtemp(prefix="scratchvae-grade-")
    student = None
    try:
        try:
            student = StudentProcess(folder, timeout)
        except StudentProcessError as err:
            grade.error = f"the student's process did not start: {err}"
        _grade_checks(grade, checks, namespace, student, student_cells, position)
    finally:
        if student is not None:
            student.close()
        shutil.rmtree(folder, ignore_errors=True)
    return grade


def _check_cells(release_nb, release_path):
    """The release's graded cells as (cell, grading metadata); their grade_ids must differ."""
    checks = [(cell, meta) for _, cell, meta in graded_cells(release_nb)]
    ids = [str(meta.get("grade_id", "?")) for _, meta in checks]
    if len(set(ids)) != len(ids):
        raise NotebookError(f"release {release_path} has repeated grade_ids: {ids}")
    return checks


def _submission_code(submission):
    """(the submission's non-empty code cells in order, {grade_id: how many of them come
    before that check cell})."""
    student_cells, position = [], {}
    for cell in submission["cells"]:
        meta = _grading_meta(cell)
        if meta.get("grade"):
            position.setdefault(str(meta.get("grade_id")), len(student_cells))
        elif cell["cell_type"] == "code" and cell["source"].strip():
            student_cells.append(cell["source"])
    return student_cells, position


def _grade_checks(grade, checks, namespace, student, student_cells, position):
    """Append to ``grade`` the result of each check cell, running the submission's code cells
    that come before it in the student's process first."""
    ran = 0
    for cell, meta in checks:
        grade_id, points = str(meta.get("grade_id", "?")), float(meta.get("points", 0))
        if cell["cell_type"] != "code":
            grade.results.append(CellResult(grade_id, points, MANUAL))
            continue
        if student is None or student.dead:
            grade.results.append(CellResult(grade_id, points, NOT_RUN,
                                            "the notebook stopped before this cell"))
            continue
        upto = min(position.get(grade_id, len(student_cells)), len(student_cells))
        try:
            while ran < upto:
                student.run_cell(student_cells[ran])
                ran += 1
        except StudentProcessError as err:
            grade.error = f"cell {ran + 1} of the submission's code: {err}"
            grade.results.append(CellResult(grade_id, points, NOT_RUN,
                                            "the notebook stopped before this cell"))
            continue
        grade.results.append(_check_result(cell["source"], namespace, student, grade_id,
                                           points))


def _check_result(source, namespace, student, grade_id, points):
    """The CellResult of running one check cell (in a copy of ``namespace``)."""
    try:
        _run_check(source, dict(namespace), student)
    except Exception as err:  # the check failed: its message is the feedback
        return _result_of_error(grade_id, points, err)
    return CellResult(grade_id, points, PASSED)
