"""Execute notebooks top to bottom and store their outputs: the one way stored outputs are made.

    python scripts/execute_notebooks.py                      # every lecture and homework notebook
    python scripts/execute_notebooks.py --jobs 2             # two at a time (2 cores)
    python scripts/execute_notebooks.py notebooks/03_vae_and_elbo.ipynb
    python scripts/execute_notebooks.py --stale              # list the stored notebooks to re-run
    python scripts/execute_notebooks.py --seed 1 NOTEBOOK    # run with $SCRATCHVAE_SEED=1, store nothing

Each notebook runs in a fresh kernel of this Python environment (not whatever "python3" kernel
Jupyter finds), from its own folder, offline: $SCRATCHVAE_DATA is pointed at ../shared/data (next
to the repository) when it is unset and that folder exists. After the run the notebook's metadata
records, under "scratchvae",

    package_sha256   a hash of the package's sources (every file under scratchvae/ but caches)
    source_sha256    a hash of the notebook's cells' types and sources (outputs excluded)
    seconds          the wall time of the run
    cpu_seconds      the kernel's CPU time (user + system): on a busy machine, a better guide
                     than the wall time to what the run takes on an idle one

and tests/test_notebook_outputs.py fails when a stored notebook's hashes differ from the current
package and notebook (whoever changes either re-runs this script), when its execution counts are
not 1..n, when an output holds an error, a warning, a failed download or an absolute path, or
when a lecture notebook's cell that draws stores no image.
The same checks run here after each notebook; a notebook that fails them is still written (so it
can be read) and the script exits with status 1. A notebook whose execution raises is not written.
"""

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "scratchvae"
LECTURES = REPO / "notebooks"
HOMEWORK = LECTURES / "homework"
SHARED_DATA = REPO.parent / "shared" / "data"
METADATA_KEY = "scratchvae"
SEED_ENV = "SCRATCHVAE_SEED"
CELL_TIMEOUT = 1800                       # seconds per cell

# an absolute path of the machine that ran it: /a/b/... not preceded by a word, a dot or a URL
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[\w.-]+/){2,}[\w.-]*")
WARNING = re.compile(r"\b\w*Warning\b")
# calls that draw a figure (pyplot's, and every sv.plotting function but the array helpers)
PYPLOT_DRAWING = {"subplots", "subplot", "subplot_mosaic", "figure", "imshow", "matshow", "plot",
                  "hist", "scatter", "bar", "barh", "errorbar", "fill_between", "semilogx",
                  "semilogy", "loglog", "step", "stem", "contour", "contourf", "pcolormesh",
                  "boxplot", "violinplot", "pie", "axhline", "axvline"}
PLOTTING_NOT_DRAWING = {"tile_images", "norm_ppf", "latent_size"}
FAILED = re.compile(r"Traceback|Error:|[Dd]ownload failed|could not be downloaded")


# ---------------------------------------------------------------------------------------------
# hashes
# ---------------------------------------------------------------------------------------------


def package_files(package=PACKAGE):
    """The package's source files (sorted): everything under scratchvae/ except caches."""
    return sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".pyo"))


def package_hash(package=PACKAGE):
    """sha256 over each package file's path (relative, with /) and bytes."""
    digest = hashlib.sha256()
    for path in package_files(package):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def source_hash(nb):
    """sha256 over the cells' types and sources (a dict from nbformat or json): outputs,
    execution counts and metadata do not change it."""
    cells = [[c["cell_type"], c["source"] if isinstance(c["source"], str) else "".join(c["source"])]
             for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# checks of stored outputs (shared with tests/test_notebook_outputs.py)
# ---------------------------------------------------------------------------------------------


def output_text(output):
    """The text an output shows: a stream's text, a result's text/plain, an error's traceback."""
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif output.get("output_type") == "error":
        text = "\n".join(output.get("traceback", [])) or output.get("ename", "")
    else:
        data = output.get("data", {})
        text = [data.get("text/plain", ""), data.get("text/html", "")]
        return "\n".join(t if isinstance(t, str) else "".join(t) for t in text)
    return text if isinstance(text, str) else "".join(text)


def _dotted(func):
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def draws(source):
    """True when the cell's own statements (not the bodies of functions or classes it defines)
    call something that draws: ``plt.<PYPLOT_DRAWING>``, ``sv.plotting.<function>`` or
    ``plotting.<function>`` (all but tile_images, norm_ppf, latent_size)."""
    code = "\n".join(line for line in source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(statement):
            if not isinstance(node, ast.Call):
                continue
            name = _dotted(node.func).split(".")
            if name[:-1] in (["plt"], ["pyplot"], ["matplotlib", "pyplot"]) \
                    and name[-1] in PYPLOT_DRAWING:
                return True
            if name[:-1] in (["sv", "plotting"], ["scratchvae", "plotting"], ["plotting"]) \
                    and name[-1] not in PLOTTING_NOT_DRAWING:
                return True
    return False


def cells_without_figures(nb):
    """Indices (0-based) of code cells that draw (:func:`draws`) but store no image output."""
    return [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
            and draws(c["source"] if isinstance(c["source"], str) else "".join(c["source"]))
            and not any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]


def output_problems(nb):
    """What is wrong with a stored notebook's outputs, as a list of sentences naming the cell
    (0-based): execution counts not 1..n in order, errors, warnings (stderr or a ...Warning),
    failed downloads, absolute paths of the machine."""
    problems = []
    code = [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for _, c in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"execution counts are {counts}, not 1..{len(code)}: not one "
                        "top-to-bottom run")
    for i, cell in code:
        for out in cell.get("outputs", []):
            text = output_text(out)
            if out.get("output_type") == "error":
                problems.append(f"cell {i}: an error ({out.get('ename')})")
            elif FAILED.search(text):
                problems.append(f"cell {i}: an error or a failed download: {FAILED.search(text)[0]!r}")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append(f"cell {i}: stderr output (a warning?): {text.strip()[:120]!r}")
            elif WARNING.search(text):
                problems.append(f"cell {i}: a warning in the output: {WARNING.search(text)[0]!r}")
            if ABSOLUTE_PATH.search(text):
                problems.append(f"cell {i}: an absolute path of the machine: "
                                f"{ABSOLUTE_PATH.search(text)[0]!r}")
    return problems


def staleness(nb, package_sha=None):
    """Why the stored outputs were not made from the current package and notebook source
    (a list of sentences, empty when they were)."""
    stored = nb.get("metadata", {}).get(METADATA_KEY, {})
    reasons = []
    if stored.get("package_sha256") != (package_sha or package_hash()):
        reasons.append("the package changed since the outputs were made (package_sha256 differs)")
    if stored.get("source_sha256") != source_hash(nb):
        reasons.append("the notebook's cells changed since the outputs were made "
                       "(source_sha256 differs)")
    return reasons


# ---------------------------------------------------------------------------------------------
# execution
# ---------------------------------------------------------------------------------------------


def kernel_manager():
    """A kernel manager that starts ipykernel with this very Python (sys.executable)."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnvironment(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    return KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvironment())


def kernel_environment(seed=None):
    """os.environ for the kernel: offline data from ../shared/data unless $SCRATCHVAE_DATA is
    set, the Agg backend, the seed offset when asked for."""
    env = dict(os.environ)
    if not env.get("SCRATCHVAE_DATA") and SHARED_DATA.is_dir():
        env["SCRATCHVAE_DATA"] = str(SHARED_DATA)
    env["MPLBACKEND"] = "Agg"
    env.pop(SEED_ENV, None)
    if seed is not None:
        env[SEED_ENV] = str(seed)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@contextmanager
def kernel_environment_set(seed=None):
    """os.environ is :func:`kernel_environment` inside the block (the kernel inherits it)."""
    saved_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_environment(seed))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)


def notebook_client(nb, path, **options):
    """An nbclient.NotebookClient that runs ``nb`` in a kernel of this Python (:func:`kernel_manager`)
    from the folder of ``path``, CELL_TIMEOUT per cell; ``options`` go to the client."""
    import nbclient

    return nbclient.NotebookClient(nb, km=kernel_manager(), timeout=CELL_TIMEOUT,
                                   record_timing=False,
                                   resources={"metadata": {"path": str(Path(path).parent)}},
                                   **options)


def kernel_cpu_seconds(client):
    """CPU seconds (user + system) the client's running kernel has used so far (psutil, which
    ipykernel depends on), or None when it cannot be read."""
    try:
        import psutil

        times = psutil.Process(client.km.provisioner.pid).cpu_times()
        return times.user + times.system
    except Exception:               # no kernel process (yet), or no psutil: no figure
        return None


def execute(path, seed=None, store=True):
    """Run one notebook; returns (path, seconds, cpu seconds, problems, error message or None)."""
    import nbformat

    path = Path(path).resolve()
    nb = nbformat.read(str(path), as_version=4)
    package_sha = package_hash()                    # the code this run executes
    start, cpu = time.perf_counter(), [None]
    try:
        with kernel_environment_set(seed):          # the kernel inherits this process's env
            client = notebook_client(nb, path)
            # the kernel's CPU time after each cell (the last one read is the run's)
            client.on_cell_executed = lambda **_: cpu.__setitem__(0, kernel_cpu_seconds(client))
            client.execute()
    except Exception as err:                        # CellExecutionError names the cell
        message = f"{type(err).__name__}: {err}"
        if len(message) > 3000:                     # the cell's source and the traceback's end
            message = message[:1500] + "\n...\n" + message[-1500:]
        return str(path), time.perf_counter() - start, None, [], message
    seconds, cpu = time.perf_counter() - start, cpu[0]
    problems = output_problems(nb)
    if path.parent == LECTURES:
        problems += [f"cell {i}: draws but stores no figure" for i in cells_without_figures(nb)]
    if store:
        nb.metadata[METADATA_KEY] = {"package_sha256": package_sha,
                                     "source_sha256": source_hash(nb),
                                     "seconds": round(seconds, 1),
                                     "cpu_seconds": None if cpu is None else round(cpu, 1)}
        nbformat.write(nb, str(path))
    return str(path), seconds, cpu, problems, None


def default_notebooks():
    """Every lecture notebook, then every homework notebook."""
    return sorted(LECTURES.glob("*.ipynb")) + sorted(HOMEWORK.glob("*.ipynb"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every lecture and homework notebook)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at a time (default 1)")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"run with ${SEED_ENV}=SEED and store nothing (claims under other "
                             "seeds: scripts/check_claims.py)")
    parser.add_argument("--stale", action="store_true",
                        help="run nothing: list the stored notebooks whose hashes are out of date")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be a positive int, got {args.jobs}")
    paths = args.notebooks or default_notebooks()
    if args.stale:
        current = package_hash()
        stale = [(p, staleness(json.loads(Path(p).read_text()), current)) for p in paths]
        for p, reasons in stale:
            if reasons:
                print(f"{Path(p).resolve().relative_to(REPO)}: {'; '.join(reasons)}")
        return 1 if any(r for _, r in stale) else 0
    store = args.seed is None
    failed = False
    print(f"executing {len(paths)} notebook(s), {args.jobs} at a time"
          + ("" if store else f", ${SEED_ENV}={args.seed}, outputs not stored"), flush=True)
    # the longest runs first (their last stored wall time), so --jobs 2 ends sooner
    paths = sorted(paths, key=lambda p: -json.loads(Path(p).read_text()).get("metadata", {})
                   .get(METADATA_KEY, {}).get("seconds", 0))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [pool.submit(execute, p, args.seed, store) for p in paths]
        for job in as_completed(jobs):
            path, seconds, cpu, problems, error = job.result()
            name = Path(path).relative_to(REPO) if Path(path).is_relative_to(REPO) else path
            if error:
                failed = True
                print(f"FAILED {name} after {seconds:.0f} s (not written): {error}", flush=True)
                continue
            status = "stored" if store else "ran"
            cpu_text = "" if cpu is None else f" ({cpu:.0f} s of kernel CPU time)"
            print(f"{status} {name}: {seconds:.0f} s{cpu_text}", flush=True)
            for problem in problems:
                failed = True
                print(f"    {problem}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
