"""Grading trusts only the release (issue 28 item 1): a submission cannot award itself points.

Each attack of the adversarial finding is a released hw1 notebook (nothing implemented, 10
points) edited the way a student could edit it, graded with ``scratchvae homework check``.
Every one must score 0 for what it did not implement; the grader's files must stay untouched and
no process may outlive the grading. A failing check in a notebook shows the checker's message
alone (issue 30 item 1)."""

import contextlib
import io
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from scratchvae.cli import main as cli_main
from scratchvae.homework.release import release

HOMEWORK = Path(__file__).resolve().parents[1] / "notebooks" / "homework"
HW1_POINTS = 10
HW1_CHECKS = ["dense_backward", "relu_backward", "sigmoid_backward", "tanh_backward",
              "numerical_gradient", "rel_error"]


@pytest.fixture(scope="module")
def released_hw1(tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    release(HOMEWORK / "hw1_backprop.ipynb", out)
    return json.loads((out / "hw1_backprop.ipynb").read_text())


def _code(source):
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
            "execution_count": None}


def _cell(nb, grade_id):
    return next(c for c in nb["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _set_solution(nb, exercise, source):
    _cell(nb, f"{exercise}_solution")["source"] = source


def _insert_after_setup(nb, source):
    first_code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    nb["cells"].insert(first_code + 1, _code(source))


def _grade(tmp_path, nb, *options):
    """Grade ``nb`` as submission/hw1_backprop.ipynb with the CLI: (exit code, scores dict)."""
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    path = folder / "hw1_backprop.ipynb"
    path.write_text(json.dumps(nb))
    scores = tmp_path / "scores.json"
    code = cli_main(["homework", "check", str(path), "--json", str(scores), *options])
    return code, json.loads(scores.read_text())[0]


def _status(grade):
    return {r["grade_id"]: r["status"] for r in grade["results"]}


def _assert_nothing_scored(grade):
    assert grade["score"] == 0, grade
    assert grade["max_score"] == HW1_POINTS, grade
    assert [r["grade_id"] for r in grade["results"]] == HW1_CHECKS, grade


def test_a_notebook_that_patches_the_checkers_scores_zero(tmp_path, released_hw1):
    nb = json.loads(json.dumps(released_hw1))
    _insert_after_setup(nb, (
        "import scratchvae.homework as hw\n"
        "import scratchvae.homework._core as core\n"
        "for name in dir(hw):\n"
        "    if name.startswith('check_'):\n"
        "        setattr(hw, name, lambda *args, **kwargs: print('[PASS]'))\n"
        "core.Check.run = lambda self, fn, args, *more, **kw: None\n"))
    code, grade = _grade(tmp_path, nb)
    _assert_nothing_scored(grade)
    assert set(_status(grade).values()) == {"not implemented"} and code == 1


def test_a_notebook_that_replaces_its_check_cells_scores_zero(tmp_path, released_hw1):
    nb = json.loads(json.dumps(released_hw1))
    for exercise in HW1_CHECKS:
        _cell(nb, exercise)["source"] = "print('[PASS] all good')"
    code, grade = _grade(tmp_path, nb)
    _assert_nothing_scored(grade)
    assert set(_status(grade).values()) == {"not implemented"}


def test_a_notebook_that_installs_an_exception_handler_scores_zero(tmp_path, released_hw1):
    nb = json.loads(json.dumps(released_hw1))
    _insert_after_setup(nb, "get_ipython().set_custom_exc((BaseException,), "
                            "lambda *args, **kwargs: None)\n")
    code, grade = _grade(tmp_path, nb)
    _assert_nothing_scored(grade)


def test_points_metadata_and_added_graded_cells_of_the_submission_are_ignored(tmp_path,
                                                                              released_hw1):
    nb = json.loads(json.dumps(released_hw1))
    for exercise in HW1_CHECKS:
        _cell(nb, exercise)["metadata"]["nbgrader"]["points"] = 1000
    for i in range(5):
        cell = _code("pass")
        cell["metadata"] = {"nbgrader": {"grade": True, "solution": False, "locked": True,
                                         "grade_id": f"bonus_{i}", "points": 1000}}
        nb["cells"].append(cell)
    code, grade = _grade(tmp_path, nb)
    _assert_nothing_scored(grade)


def test_switching_the_watch_off_or_using_a_thread_does_not_hide_a_reference_call(
        tmp_path, released_hw1):
    nb = json.loads(json.dumps(released_hw1))
    _set_solution(nb, "relu_backward", (
        "def relu_backward(dout, cache):\n"
        "    import sys\n"
        "    sys.setprofile(None)  # the watch off\n"
        "    return F.relu_backward(dout, cache)\n"))
    _set_solution(nb, "sigmoid_backward", (
        "import scratchvae.homework._core as core\n"
        "core.PackageCallWatch.__enter__ = lambda self: self\n"
        "def sigmoid_backward(dout, cache):\n"
        "    return F.sigmoid_backward(dout, cache)\n"))
    _set_solution(nb, "tanh_backward", (
        "def tanh_backward(dout, cache):\n"
        "    import threading\n"
        "    out = []\n"
        "    worker = threading.Thread(target=lambda: out.append(F.tanh_backward(dout, cache)))\n"
        "    worker.start()\n"
        "    worker.join()\n"
        "    return out[0]\n"))
    _set_solution(nb, "dense_backward", (
        "def dense_backward(dout, cache):\n"
        "    import importlib, sys\n"
        "    sys.setprofile(None)\n"
        "    fresh = importlib.reload(sys.modules['scratchvae.functional'])  # unwrapped?\n"
        "    return fresh.dense_backward(dout, cache)\n"))
    code, grade = _grade(tmp_path, nb)
    results = {r["grade_id"]: r for r in grade["results"]}
    assert results["dense_backward"]["status"] == "failed", results["dense_backward"]
    for exercise in ("relu_backward", "sigmoid_backward", "tanh_backward"):
        assert results[exercise]["status"] == "failed", results[exercise]
        assert "called the package's own implementation" in results[exercise]["message"]
        assert f"scratchvae.functional.{exercise}" in results[exercise]["message"]
    _assert_nothing_scored(grade)


def test_a_notebook_cannot_touch_files_outside_its_temporary_folder(tmp_path, released_hw1):
    grader_files = tmp_path / "grader"
    grader_files.mkdir()
    victims = [grader_files / "victim.txt", grader_files / "other.txt"]
    for victim in victims:
        victim.write_text("the grader's")
    nb = json.loads(json.dumps(released_hw1))
    _insert_after_setup(nb, (
        "import os, shutil\n"
        "for attack in (lambda: os.remove('../grader/victim.txt'),\n"
        f"               lambda: os.remove({str(victims[0])!r}),\n"
        f"               lambda: open({str(victims[1])!r}, 'w').write('overwritten'),\n"
        f"               lambda: os.rename({str(victims[1])!r}, 'stolen.txt'),\n"
        f"               lambda: open({str(grader_files / 'new.txt')!r}, 'x'),\n"
        f"               lambda: shutil.rmtree({str(grader_files)!r})):\n"
        "    try:\n"
        "        attack()\n"
        "    except OSError:\n"
        "        pass\n"
        "open('written_here.txt', 'w').write('in the working folder')\n"))
    code, grade = _grade(tmp_path, nb)
    _assert_nothing_scored(grade)
    assert [v.read_text() for v in victims] == ["the grader's"] * 2
    assert sorted(p.name for p in grader_files.iterdir()) == ["other.txt", "victim.txt"]
    # the working folder is a temporary one, not the submission's folder, and it is removed
    assert not (tmp_path / "submission" / "written_here.txt").exists()


def _processes_running(marker):
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(proc.name))
    return found


def test_no_process_started_by_the_notebook_outlives_the_grading(tmp_path, released_hw1):
    marker = f"{os.getpid() % 1000}.{time.time_ns() % 10**6:06d}"
    nb = json.loads(json.dumps(released_hw1))
    _insert_after_setup(nb, (
        "import os, subprocess\n"
        "for start in (lambda: subprocess.Popen(['sleep', '30" + marker + "'],\n"
        "                                       start_new_session=True),\n"
        "              lambda: os.system('setsid sleep 31" + marker + " &')):\n"
        "    try:\n"
        "        start()\n"
        "    except OSError:\n"
        "        pass\n"))
    try:
        code, grade = _grade(tmp_path, nb)
        time.sleep(0.5)
        assert _processes_running(marker) == []
        _assert_nothing_scored(grade)
    finally:
        for pid in _processes_running(marker):
            os.kill(pid, signal.SIGKILL)


def test_a_function_that_never_returns_fails_its_check_within_the_time_limit(tmp_path,
                                                                             released_hw1):
    nb = json.loads(json.dumps(released_hw1))
    _set_solution(nb, "relu_backward", (
        "def relu_backward(dout, cache):\n"
        "    while True:\n"
        "        pass\n"))
    started = time.monotonic()
    code, grade = _grade(tmp_path, nb, "--timeout", "5")
    assert time.monotonic() - started < 60
    results = {r["grade_id"]: r for r in grade["results"]}
    assert results["relu_backward"]["status"] == "failed"
    assert "no answer within 5 s" in results["relu_backward"]["message"]
    assert grade["score"] == 0


@pytest.mark.parametrize("text,problem", [
    ("{", "not valid JSON"),
    ('{"cells": 3}', "no list of cells"),
    ('{"cells": [{"cell_type": "code", "source": 5}]}', "source of cell 0 is not text"),
    ('{"cells": [7]}', "cell 0 has no cell_type"),
])
def test_a_malformed_notebook_ends_in_one_line_naming_the_file(tmp_path, capsys, text,
                                                               problem):
    path = tmp_path / "hw1_backprop.ipynb"
    path.write_text(text)
    assert cli_main(["homework", "check", str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "internal error" not in err, err
    assert str(path) in err and problem in err, err


def test_messages_carry_arrays_as_npy_and_never_unpickle():
    from scratchvae.homework import _wire

    value = {"x": np.arange(6.0).reshape(2, 3), "n": 3, "s": np.float64(2.5), "t": (1.5, None),
             "rng": np.random.default_rng(4), "obj": np.array([object()], dtype=object)}
    node, arrays = _wire.encode(value)
    message, received = _wire.unpack(_wire.pack(node, arrays)[8:])
    back = _wire.decode(message, received)
    np.testing.assert_array_equal(back["x"], value["x"])
    assert back["n"] == 3 and back["s"] == 2.5 and back["t"] == (1.5, None)
    assert back["rng"].random() == np.random.default_rng(4).random()
    assert type(back["obj"]).__name__ == "ndarray" and "object" in repr(back["obj"])
    with pytest.raises(ValueError):  # a pickled array in a frame is refused, not loaded
        import io
        buffer = io.BytesIO()
        np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
        np.lib.format.read_array(io.BytesIO(buffer.getvalue()), allow_pickle=False)


# ---------------------------------------------------------------------------------------------
# issue 30: a failing check in a notebook shows the checker's message alone
# ---------------------------------------------------------------------------------------------


def _source_lines_of_the_checkers():
    folder = Path(__file__).resolve().parents[1] / "scratchvae" / "homework"
    lines = set()
    for path in folder.glob("*.py"):
        lines |= {line.strip() for line in path.read_text().splitlines()
                  if len(line.strip()) >= 12}
    return lines


def test_a_failing_check_in_a_notebook_shows_the_hint_in_at_most_five_lines(tmp_path,
                                                                          released_hw1):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    nb = json.loads(json.dumps(released_hw1))
    _set_solution(nb, "relu_backward", "def relu_backward(dout, cache):\n"
                                       "    return dout * cache.out\n")
    _set_solution(nb, "dense_backward", "def dense_backward(dout, cache):\n"
                                        "    return dout @ cache.W, cache.x @ dout, dout\n")
    path = tmp_path / "hw1_backprop.ipynb"
    path.write_text(json.dumps(nb))
    notebook = nbformat.read(str(path), as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = {cell.metadata.get("nbgrader", {}).get("grade_id"): output
              for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"}
    checker_source = _source_lines_of_the_checkers()
    for exercise, hint in (("relu_backward", "HINT: the gradient is taken from `out`"),
                           ("dense_backward", "HINT:")):
        shown = "\n".join(errors[exercise]["traceback"])
        lines = shown.splitlines()
        assert hint in shown, shown
        assert 1 <= len(lines) <= 5, shown
        leaked = [line for line in lines if line.strip() in checker_source]
        assert not leaked, leaked
        assert "Traceback" not in shown and "File " not in shown
    assert "dW = x.T @ dout" not in "\n".join(
        "\n".join(e["traceback"]) for e in errors.values())


def test_file_work_inside_the_temporary_folder_is_allowed(tmp_path, released_hw1):
    nb = json.loads(json.dumps(released_hw1))
    _set_solution(nb, "relu_backward", (
        "import os, shutil, tempfile\n"
        "import matplotlib.pyplot as plt\n"
        "folder = tempfile.mkdtemp()\n"
        "os.mkdir(os.path.join(folder, 'sub'))\n"
        "with open(os.path.join(folder, 'sub', 'a.txt'), 'w') as f:\n"
        "    f.write('x')\n"
        "os.rename(os.path.join(folder, 'sub', 'a.txt'), os.path.join(folder, 'b.txt'))\n"
        "plt.plot([0, 1])\n"
        "plt.savefig('figure.png')\n"
        "shutil.rmtree(folder)\n"
        "def relu_backward(dout, cache):  # defined only when everything above worked\n"
        "    return dout * (cache.x > 0)\n"))
    code, grade = _grade(tmp_path, nb)
    assert _status(grade)["relu_backward"] == "passed", grade
    assert grade["score"] == 1


def test_every_mutant_fails_the_same_way_through_the_student_process(tmp_path):
    """The grader's path (arguments to the student's process and results back as .npy, the
    reference-call wrappers there) gives each wrong answer of the catalogue the same failure
    message as the checker run in one process: nothing in it is per exercise."""
    import homework_mutants
    from homework_mutants import MUTANTS

    import scratchvae.homework as hw
    from scratchvae.homework.grade import StudentFunction, StudentProcess

    mutants = [(exercise, m) for exercise, ms in MUTANTS.items() for m in ms]
    process = StudentProcess(tmp_path, timeout=300)
    try:
        error = process.run_cell(
            f"import sys\nsys.path.insert(0, {str(Path(homework_mutants.__file__).parent)!r})\n"
            "from homework_mutants import MUTANTS\n"
            "for i, m in enumerate(m for ms in MUTANTS.values() for m in ms):\n"
            "    globals()[f'mutant_{i}'] = m.fn\n")
        assert error is None, error
        differ = []
        for i, (exercise, mutant) in enumerate(mutants):
            messages = []
            for fn in (mutant.fn, StudentFunction(process, f"mutant_{i}")):
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        hw.checker(exercise)(fn, *mutant.extra)
                    messages.append("passed")
                except AssertionError as err:
                    messages.append(f"{type(err).__name__}: {err}")
            if messages[0] != messages[1]:
                differ.append((exercise, mutant.name, *messages))
    finally:
        process.close()
    assert len(mutants) > 100
    assert not differ, "\n\n".join("\n".join(d) for d in differ[:5])


def test_closing_the_student_process_kills_its_whole_process_group(tmp_path):
    """The guard refuses to start processes, but native code goes around it (here: fork
    through ctypes); such a process is in the student's process group, killed after grading."""
    from scratchvae.homework.grade import StudentProcess

    process = StudentProcess(tmp_path, timeout=60)
    error = process.run_cell("import ctypes, os, time\n"
                             "pid = ctypes.CDLL(None).fork()\n"
                             "if pid == 0:\n"
                             "    time.sleep(300)\n"
                             "    os._exit(0)\n"
                             "open('pid.txt', 'w').write(str(pid))\n")
    assert error is None, error
    straggler = int((process.workdir / "pid.txt").read_text())
    try:
        assert os.getpgid(straggler) == process.process.pid
        process.close()
        for _ in range(100):
            try:  # gone, or a zombie waiting for init to reap it
                if Path(f"/proc/{straggler}/stat").read_text().split(")")[-1].split()[0] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"process {straggler} still runs after grading")
    finally:
        process.close()
        try:
            os.kill(straggler, signal.SIGKILL)
        except ProcessLookupError:
            pass
