"""Homework: every solution passes, every stub says "not implemented", every mutant is caught
(with its hint), release strips solutions and answer keys, and grading scores notebooks."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from homework_mutants import BYPASS, MUTANTS, NO_PACKAGE_REFERENCE

import scratchvae.homework as hw
from scratchvae.cli import main as cli_main
from scratchvae.homework.grade import (
    FAILED,
    MANUAL,
    NOT_IMPLEMENTED,
    PASSED,
    grade_notebook,
    graded_cells,
)
from scratchvae.homework.release import (
    MARK_SCHEME,
    SOLUTION,
    ReleaseError,
    release,
    release_notebook,
    release_source,
)

HOMEWORK = Path(__file__).resolve().parents[1] / "notebooks" / "homework"
NOTEBOOKS = {name: HOMEWORK / f"{name}.ipynb" for name in hw.EXERCISES}
ALL_EXERCISES = [(nb, e) for nb, names in hw.EXERCISES.items() for e in names]
ALL_MUTANTS = [(exercise, m) for exercise, ms in MUTANTS.items() for m in ms]


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell):
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _functions(nb):
    """Exec the setup cell and the solution cells of a notebook (no kernel): the functions."""
    namespace = {}
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    exec(_source(code_cells[0]), namespace)  # imports
    for cell in code_cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            exec(_source(cell), namespace)
    return namespace


@pytest.fixture(scope="module")
def solutions():
    return {name: _functions(_load(path)) for name, path in NOTEBOOKS.items()}


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("released")
    release(HOMEWORK, out)
    return {name: out / f"{name}.ipynb" for name in hw.EXERCISES}


# ---------------------------------------------------------------------------------------------
# checkers: solutions, stubs, mutants
# ---------------------------------------------------------------------------------------------


def test_exercise_registry_matches_the_checkers():
    for _, exercise in ALL_EXERCISES:
        assert hw.checker(exercise) is getattr(hw, f"check_{exercise}")
    with pytest.raises(ValueError, match="exercise must be one of"):
        hw.checker("no_such_exercise")


@pytest.mark.parametrize("notebook,exercise", ALL_EXERCISES, ids=[e for _, e in ALL_EXERCISES])
def test_solution_passes_its_checker(solutions, notebook, exercise, capsys):
    hw.checker(exercise)(solutions[notebook][exercise])
    out = capsys.readouterr().out
    assert out.startswith(f"[PASS] {exercise}:")


@pytest.mark.parametrize("notebook,exercise", ALL_EXERCISES, ids=[e for _, e in ALL_EXERCISES])
def test_released_stub_fails_with_not_implemented(released, notebook, exercise):
    stub = _functions(_load(released[notebook]))[exercise]
    with pytest.raises(hw.NotImplementedYet, match="not implemented yet"):
        hw.checker(exercise)(stub)
    assert issubclass(hw.NotImplementedYet, AssertionError)


def test_every_exercise_has_at_least_three_mutants():
    for _, exercise in ALL_EXERCISES:
        assert len(MUTANTS.get(exercise, [])) >= 3, exercise
    assert set(MUTANTS) <= {e for _, e in ALL_EXERCISES}


def test_every_exercise_with_a_package_reference_has_a_bypass_mutant():
    with_bypass = {e for e, m in ALL_MUTANTS if m.hint == BYPASS}
    assert with_bypass == {e for _, e in ALL_EXERCISES} - set(NO_PACKAGE_REFERENCE)


def _failure(exercise, fn, extra=()):
    try:
        hw.checker(exercise)(fn, *extra)
    except hw.HomeworkCheckError as err:
        return err
    return None


@pytest.mark.parametrize("exercise,mutant", ALL_MUTANTS,
                         ids=[f"{e}-{m.name}" for e, m in ALL_MUTANTS])
def test_mutant_fails_its_checker_with_its_hint(exercise, mutant, capsys):
    err = _failure(exercise, mutant.fn, mutant.extra)
    capsys.readouterr()
    assert err is not None, f"mutant {mutant.name} passed the {exercise} checker"
    assert not isinstance(err, hw.NotImplementedYet)
    message = str(err)
    assert message.startswith(exercise)
    if mutant.hint is not None:
        assert mutant.hint in message, f"expected hint {mutant.hint!r} in:\n{message}"


def test_mutants_caught_is_100_percent(request, capsys):
    caught = sum(_failure(e, m.fn, m.extra) is not None for e, m in ALL_MUTANTS)
    capsys.readouterr()
    line = f"mutants caught: {caught}/{len(ALL_MUTANTS)}"
    lines = getattr(request.config, "summary_lines", None)
    if lines is None:
        lines = request.config.summary_lines = []
    lines.append(line)
    print(line)
    assert caught == len(ALL_MUTANTS) > 100


# ---------------------------------------------------------------------------------------------
# checkers: properties beyond the catalogue
# ---------------------------------------------------------------------------------------------


def test_checker_failure_names_output_case_element_and_values(solutions):
    def off_by_one_entry(dout, cache):
        dx = dout * (cache.x > 0)
        dx.flat[3] += 1.0
        return dx

    err = _failure("relu_backward", off_by_one_entry)
    message = str(err)
    assert "wrong `dx`" in message and "1 of" in message
    assert "case 1: x (4, 5)" in message and "dx[0, 3]" in message
    assert "expected" in message and "got" in message


def test_checker_reports_type_and_shape_before_values():
    err = _failure("kl_standard_normal", lambda mu, logvar: list(mu))
    assert "should be a NumPy array of shape" in str(err) and "got list" in str(err)
    err = _failure("dense_backward", lambda dout, cache: (dout, dout))
    assert "should return 3 values (dx, dW, db)" in str(err)
    err = _failure("dense_backward", lambda dout, cache: (cache.x.astype(np.float32),) * 3)
    assert "float32" in str(err) or "shape" in str(err)


def test_checker_is_not_fooled_by_a_function_returning_remembered_values(solutions):
    seen = []

    def replay(mu, logvar):  # returns the first answer it computed, for every case
        if not seen:
            seen.append(solutions["hw3_vae"]["kl_standard_normal"](mu, logvar))
        return seen[0]

    assert _failure("kl_standard_normal", replay) is not None


def test_checker_rejects_a_function_that_mutates_its_input(solutions):
    def sum_in_place(mu, logvar):
        result = solutions["hw3_vae"]["kl_standard_normal"](mu, logvar)
        logvar += 0.0 * logvar + 1e-3  # the right answer, but logvar is changed
        return result

    err = _failure("kl_standard_normal", sum_in_place)
    assert "changed its input `logvar` in place" in str(err)


def test_checker_crash_message_names_the_exception_and_inputs():
    def crashes(dout, cache):
        raise KeyError("oops")

    err = _failure("relu_backward", crashes)
    assert "raised KeyError" in str(err) and "on inputs dout (4, 5)" in str(err)


def test_checker_accepts_equivalent_correct_forms():
    # a different but exact formulation of each: never reject a right answer
    def bce_logaddexp(logits, x):
        return np.sum(np.logaddexp(0, logits) - x * logits, axis=-1)

    def rel_error_numpy_scalar(a, b):
        scale = np.maximum(np.abs(a).max(), np.abs(b).max())
        return np.float64(0.0) if scale == 0 else np.abs(a - b).max() / scale

    def numgrad_flat_copy(f, x, h=1e-5):
        grad = np.zeros(x.size)
        for i in range(x.size):
            xp, xm = x.copy().reshape(-1), x.copy().reshape(-1)
            xp[i] += h
            xm[i] -= h
            grad[i] = (f(xp.reshape(x.shape)) - f(xm.reshape(x.shape))) / (2 * h)
        return grad.reshape(x.shape)

    def restores_by_subtraction(f, x, h=1e-5):  # x + h - h may differ from x in the last bit
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += h
            f_plus = f(x)
            x[i] -= 2 * h
            f_minus = f(x)
            x[i] += h
            grad[i] = (f_plus - f_minus) / (2 * h)
        return grad

    def masking_binomial(x, level, rng):
        return np.where(rng.binomial(1, level, x.shape) == 1, 0.0, x)

    for exercise, fn in [("bernoulli_nll", bce_logaddexp), ("rel_error", rel_error_numpy_scalar),
                         ("numerical_gradient", numgrad_flat_copy),
                         ("numerical_gradient", restores_by_subtraction),
                         ("masking_noise", masking_binomial)]:
        assert _failure(exercise, fn) is None, exercise


def test_vae_reference_matches_the_package_vae():
    rng = np.random.default_rng(0)
    params = hw.vae_init(7, 5, 3, rng)
    x = (rng.random((4, 7)) < 0.5) * 1.0
    eps = rng.standard_normal((4, 3))
    from scratchvae.homework.vae import _package_vae, vae_reference

    loss, grads = vae_reference(params, x, eps)
    ref_loss, ref_grads = _package_vae(params).loss_and_grads(x, eps=eps)
    assert np.isclose(loss, ref_loss, rtol=1e-12)
    for key in hw.VAE_KEYS:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# release
# ---------------------------------------------------------------------------------------------


def _solution_lines(nb):
    """Lines inside solution / mark-scheme regions that appear nowhere else in the notebook."""
    inside, outside = set(), set()
    for cell in nb["cells"]:
        region = None
        for line in _source(cell).split("\n"):
            s = line.strip()
            if s in (SOLUTION[0], MARK_SCHEME[0]):
                region = s
            elif s in (SOLUTION[1], MARK_SCHEME[1]):
                region = None
            elif region is not None:
                inside.add(s)
            else:
                outside.add(s)
    return {s for s in inside - outside if len(s) >= 12}


@pytest.mark.parametrize("name", list(hw.EXERCISES))
def test_released_notebook_has_no_solution_text_answer_key_or_outputs(released, name):
    solution_nb = _load(NOTEBOOKS[name])
    student = _load(released[name])
    text = "\n".join(_source(c) for c in student["cells"])
    for marker in SOLUTION + MARK_SCHEME:
        assert marker not in text
    secret = _solution_lines(solution_nb)
    assert secret, "the solution notebook should have solution text"
    released_lines = {line.strip() for line in text.split("\n")}
    leaked = sorted(secret & released_lines)
    assert not leaked, f"solution text left in the released {name}: {leaked[:3]}"
    assert "MARK SCHEME" not in text and "mark scheme" not in text.lower()
    for cell in student["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert len(student["cells"]) == len(solution_nb["cells"])
    n_exercises = len(hw.EXERCISES[name])
    code = "\n".join(_source(c) for c in student["cells"] if c["cell_type"] == "code")
    assert code.count("    # YOUR CODE HERE\n    raise NotImplementedError()") == n_exercises


def test_release_keeps_code_around_the_markers_and_the_indentation():
    source = (
        "def f(x):\n"
        '    """Doc."""\n'
        "    y = 2\n"
        "    ### BEGIN SOLUTION\n"
        "    z = x * y\n"
        "    ### END SOLUTION\n"
        "    return z"
    )
    assert release_source(source) == (
        "def f(x):\n"
        '    """Doc."""\n'
        "    y = 2\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n"
        "    return z"
    )
    text = "Q?\n### BEGIN SOLUTION\nsecret answer\n=== BEGIN MARK SCHEME ===\nkey\n" \
           "=== END MARK SCHEME ===\n### END SOLUTION\nafter"
    assert release_source(text, "markdown") == "Q?\nYOUR ANSWER HERE\nafter"
    assert release_source("a\n=== BEGIN MARK SCHEME ===\nkey\n=== END MARK SCHEME ===\nb",
                          "markdown") == "a\nb"


@pytest.mark.parametrize("bad", [
    "### BEGIN SOLUTION\nx = 1",
    "x = 1\n### END SOLUTION",
    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    "x = 1  ### BEGIN SOLUTION\n",
])
def test_release_rejects_unbalanced_or_inline_markers(bad):
    with pytest.raises(ReleaseError, match="cell"):
        release_source(bad)


def test_release_notebook_leaves_its_input_untouched():
    nb = _load(NOTEBOOKS["hw1_backprop"])
    before = json.dumps(nb)
    release_notebook(nb)
    assert json.dumps(nb) == before


def test_release_cli_file_and_folder_and_refuses_to_overwrite(tmp_path, capsys):
    assert cli_main(["homework", "release", str(NOTEBOOKS["hw1_backprop"]), str(tmp_path)]) == 0
    assert (tmp_path / "hw1_backprop.ipynb").is_file()
    out_file = tmp_path / "student.ipynb"
    assert cli_main(["homework", "release", str(NOTEBOOKS["hw2_autoencoders"]),
                     str(out_file)]) == 0
    assert "raise NotImplementedError()" in out_file.read_text()
    assert cli_main(["homework", "release", str(HOMEWORK), str(tmp_path / "all")]) == 0
    assert sorted(p.name for p in (tmp_path / "all").glob("*.ipynb")) == sorted(
        p.name for p in NOTEBOOKS.values())
    assert cli_main(["homework", "release", str(out_file), str(out_file)]) == 2
    assert cli_main(["homework", "release", str(tmp_path / "missing.ipynb"),
                     str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "does not exist" in err


# ---------------------------------------------------------------------------------------------
# check cells and grading
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(hw.EXERCISES))
def test_each_exercise_has_one_tagged_check_cell_calling_its_checker(name):
    nb = _load(NOTEBOOKS[name])
    code_checks = [(c, m) for _, c, m in graded_cells(nb) if c["cell_type"] == "code"]
    assert [m["grade_id"] for _, m in code_checks] == list(hw.EXERCISES[name])
    for cell, meta in code_checks:
        assert meta["points"] > 0 and meta["locked"] and not meta["solution"]
        assert re.search(rf"check_{meta['grade_id']}\({meta['grade_id']}[,)]", _source(cell))
    ids = [m.get("grade_id") for c in nb["cells"] if (m := c["metadata"].get("nbgrader"))]
    assert len(ids) == len(set(ids)), "nbgrader needs unique grade_ids"


@pytest.fixture(scope="module")
def ci_env():
    old = os.environ.get("CI")
    os.environ["CI"] = "true"  # the kernels inherit it: the notebooks' short CI settings
    yield
    if old is None:
        del os.environ["CI"]
    else:
        os.environ["CI"] = old


# Executing notebooks is slow, so each is run at most once here, and only a sample of them:
# CI's nbval run executes every solution notebook (so every check cell in it passes). The
# sample covers what crosses to the student's process: callbacks (numerical_gradient), a
# Generator (masking_noise), params updated in place (sgd_step), a model with allowed calls
# (elbo_terms), NamedTuple caches (reparameterize).
GRADED_SOLUTIONS = ("hw1_backprop", "hw2_autoencoders", "hw3_vae", "hw4_concepts")
GRADED_RELEASED = "hw3_vae"


def test_check_cli_scores_full_marks_on_solution_notebooks(ci_env, capfd, tmp_path):
    scores = tmp_path / "scores.json"
    paths = [str(NOTEBOOKS[n]) for n in GRADED_SOLUTIONS]
    code = cli_main(["homework", "check", *paths, "--json", str(scores)])
    out, err = capfd.readouterr()  # file descriptors: the kernel's own stderr too
    assert code == 0, out
    assert "WARNING" not in out + err and "encryption" not in out + err, err
    grades = json.loads(scores.read_text())
    assert len(grades) == len(GRADED_SOLUTIONS)
    for grade in grades:
        assert grade["score"] == grade["max_score"] > 0, grade
        assert all(r["status"] in (PASSED, MANUAL) for r in grade["results"])
        assert any(r["status"] == PASSED for r in grade["results"])
    assert "total" in out and "not implemented" not in out and "failed" not in out


def test_check_scores_zero_on_released_notebooks_and_reports_a_mutant(ci_env, released,
                                                                      tmp_path, capsys):
    # hw1 as a student handed it in: relu_backward attempted (wrongly), the rest untouched
    nb = _load(released["hw1_backprop"])
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "relu_backward_solution":
            cell["source"] = _source(cell).replace(
                "# YOUR CODE HERE\n    raise NotImplementedError()", "dx = dout * cache.out")
    attempt = tmp_path / "hw1_attempt.ipynb"
    attempt.write_text(json.dumps(nb))
    grade = grade_notebook(attempt, timeout=120)
    status = {r.grade_id: r for r in grade.results}
    assert status["relu_backward"].status == FAILED
    assert "HINT: the gradient is taken from `out`" in status["relu_backward"].message
    assert status["dense_backward"].status == NOT_IMPLEMENTED
    assert grade.score == 0 and not grade.all_passed
    assert "relu_backward" in grade.table() and "HINT" in grade.table()

    code = cli_main(["homework", "check", str(released[GRADED_RELEASED]), "--timeout", "120"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("not implemented") == len(hw.EXERCISES[GRADED_RELEASED])
    assert re.findall(r"total\s+(\S+)/", out) == ["0"]


def test_grade_table_lists_written_answers_as_manual():
    from scratchvae.homework.grade import CellResult, NotebookGrade, _cell_result

    nb = _load(NOTEBOOKS["hw4_concepts"])
    results = [_cell_result(c, m, executed=True) for _, c, m in graded_cells(nb)]
    manual = [r for r in results if r.status == MANUAL]
    assert [r.grade_id for r in manual] == ["q1b_diagonal_covariance", "q2c_mse_covariance",
                                            "q3b_beta_tradeoff"]
    grade = NotebookGrade("hw4", [r for r in results if r.status != MANUAL] + manual)
    assert grade.all_passed and grade.score == grade.max_score  # the stored outputs pass
    assert "graded by hand" in grade.table()
    failed = NotebookGrade("x", [CellResult("a", 2, FAILED, "AssertionError: no")])
    assert failed.score == 0 and not failed.all_passed and "no" in failed.table()


def test_check_cli_rejects_a_missing_notebook(tmp_path, capsys):
    assert cli_main(["homework", "check", str(tmp_path / "nope.ipynb")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_homework_cli_without_an_action_prints_usage(capsys):
    assert cli_main(["homework"]) == 2
    assert "release SRC DST" in capsys.readouterr().err
    assert cli_main(["homework", "--help"]) == 0
    out = capsys.readouterr().out
    assert "release" in out and "check" in out


# ---------------------------------------------------------------------------------------------
# the bypass watch, the chain check, the new exercises' oracles
# ---------------------------------------------------------------------------------------------


def test_bypass_message_names_the_call_and_the_allowed_calls():
    err = _failure("elbo_terms", lambda vae, x, eps: (-vae.elbo(x, eps=eps), 0 * x[:, 0]))
    message = str(err)
    assert "This exercise is to be written with NumPy" in message
    assert "VAE.elbo" in message and "vae.encode, vae.decode" in message


def test_bypass_through_c_code_is_caught_and_a_previous_profiler_is_restored():
    import scratchvae as sv

    def via_map(mu, logvar):
        return next(map(sv.losses.kl_standard_normal, [mu], [logvar]))

    def profiler(frame, event, arg):
        return None

    sys.setprofile(profiler)
    try:
        err = _failure("kl_standard_normal", via_map)
        assert sys.getprofile() is profiler
    finally:
        sys.setprofile(None)
    assert "scratchvae.losses.kl_standard_normal" in str(err)


def test_bypass_from_a_thread_is_caught_and_the_threads_profiler_is_restored():
    import threading

    import scratchvae as sv

    def via_thread(mu, logvar):
        out = []
        worker = threading.Thread(
            target=lambda: out.append(sv.losses.kl_standard_normal(mu, logvar)))
        worker.start()
        worker.join()
        return out[0]

    err = _failure("kl_standard_normal", via_thread)
    assert err is not None and "scratchvae.losses.kl_standard_normal" in str(err)
    assert threading.getprofile() is None


def test_allowed_calls_and_callbacks_do_not_count_as_bypasses(solutions, capsys):
    hw.check_elbo_terms(solutions["hw4_concepts"]["elbo_terms"])  # vae.encode, sv.losses, ...
    hw.check_numerical_gradient(solutions["hw1_backprop"]["numerical_gradient"])  # calls f
    assert capsys.readouterr().out.count("[PASS]") == 2


def test_chain_check_reports_a_forward_stub_as_not_implemented(solutions):
    def stub(mu, logvar, eps):
        raise NotImplementedError()

    with pytest.raises(hw.NotImplementedYet, match="reparameterize is not implemented yet"):
        hw.check_reparameterize_backward(solutions["hw3_vae"]["reparameterize_backward"], stub)


def test_transposed_conv_oracles_agree_with_the_lecture_and_the_package():
    from scratchvae import conv
    from scratchvae.homework.transposed_conv import (
        LAYER_CASES,
        LECTURE_K,
        LECTURE_X,
        LECTURE_Y,
        _layer_case,
        stamps,
    )

    got = conv.conv_transpose2d_forward(LECTURE_X[None, None], LECTURE_K[None, None],
                                        np.zeros(1))[0][0, 0]
    assert np.array_equal(got, LECTURE_Y)
    for k in range(len(LAYER_CASES)):  # the checker's loop over stamps vs the package's col2im
        x, W, b, stride, padding, _ = _layer_case("oracle", k)
        np.testing.assert_allclose(stamps(x, W, stride, padding) + b.reshape(1, -1, 1, 1),
                                   conv.conv_transpose2d_forward(x, W, b, stride, padding)[0],
                                   rtol=1e-12, atol=1e-12)


def test_importance_weight_cases_include_the_stability_cases():
    from scratchvae.homework.importance import _log_w_cases

    centres = [float(np.median(log_w)) for log_w, _ in _log_w_cases("importance_weights")]
    assert min(centres) < -990 and max(centres) > 790


# ---------------------------------------------------------------------------------------------
# nbgrader: the same student notebooks, and autograding (the instructor extra)
# ---------------------------------------------------------------------------------------------

HAS_NBGRADER = importlib.util.find_spec("nbgrader") is not None
# read at import: the ci_env fixture above sets CI=true for the notebook kernels of this module
RUNNING_IN_CI = os.environ.get("CI") == "true"
ASSIGNMENT = "homework"


def _nbgrader(root, *args):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root,
                            capture_output=True, text=True, env={**os.environ, "CI": "true"},
                            timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory, released):
    """A course directory: generate_assignment on the solution notebooks, then autograde two
    submissions: the solutions themselves and the unfilled student notebooks."""
    if not HAS_NBGRADER:
        if RUNNING_IN_CI:
            pytest.fail("nbgrader is not installed, but CI must run the nbgrader round trip: "
                        'install the instructor extra (pip install -e ".[test,instructor]")')
        pytest.skip('nbgrader is not installed (pip install -e ".[instructor]")')
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n"
        "c.Execute.timeout = 600\n")
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for path in NOTEBOOKS.values():
        shutil.copy(path, source)
    _nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    for student, folder in (("solutions", source), ("blank", root / "release" / ASSIGNMENT)):
        shutil.copytree(folder, root / "submitted" / student / ASSIGNMENT)
    _nbgrader(root, "autograde", ASSIGNMENT, "--create", "--force")
    return root


def _without_checksums(cell):
    cell = json.loads(json.dumps(cell))
    cell.pop("id", None)
    cell["source"] = _source(cell)
    for key in ("checksum", "cell_type"):  # nbgrader's bookkeeping to detect edited tests
        cell["metadata"].get("nbgrader", {}).pop(key, None)
    return cell


@pytest.mark.parametrize("name", list(hw.EXERCISES))
def test_nbgrader_generate_assignment_gives_the_released_notebooks(nbgrader_course, released,
                                                                   name):
    theirs = _load(nbgrader_course / "release" / ASSIGNMENT / f"{name}.ipynb")
    ours = _load(released[name])
    assert theirs["metadata"] == ours["metadata"]
    assert [_without_checksums(c) for c in theirs["cells"]] == [
        _without_checksums(c) for c in ours["cells"]]


def test_nbgrader_autograde_full_marks_for_solutions_zero_for_unfilled(nbgrader_course):
    from nbgrader.api import Gradebook

    auto_points = {name: sum(m["points"] for _, c, m in graded_cells(_load(path))
                             if c["cell_type"] == "code") for name, path in NOTEBOOKS.items()}
    with Gradebook(f"sqlite:///{nbgrader_course / 'gradebook.db'}") as gradebook:
        scores = {student: {nb.name: (nb.code_score, nb.max_code_score)
                            for nb in gradebook.find_submission(ASSIGNMENT, student).notebooks}
                  for student in ("solutions", "blank")}
    assert scores["solutions"] == {name: (p, p) for name, p in auto_points.items()}
    assert scores["blank"] == {name: (0, p) for name, p in auto_points.items()}
    assert all(p > 0 for p in auto_points.values())
    # `scratchvae homework check` gives every submitted notebook nbgrader's score
    for student in ("solutions", "blank"):
        for name in NOTEBOOKS:
            submitted = nbgrader_course / "submitted" / student / ASSIGNMENT / f"{name}.ipynb"
            grade = grade_notebook(submitted, release=NOTEBOOKS[name], timeout=600)
            assert (grade.score, grade.max_score) == scores[student][name], (student, name)
