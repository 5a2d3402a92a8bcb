"""Shared fixtures."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def pytest_configure(config):
    """Keep the session offline: the data directory is $SCRATCHVAE_DATA when set, else
    ../shared/data beside the project (read-only, never written to). Notebooks executed by this
    session (nbval) inherit it. Tests that need another folder pass ``root=`` or monkeypatch."""
    if not os.environ.get("SCRATCHVAE_DATA") and SHARED_DATA.is_dir():
        os.environ["SCRATCHVAE_DATA"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def shared_data():
    """Path to ../shared/data (the real MNIST test files); beside the project root, never copied.

    CI always has it: there a missing folder fails the test. A student's clone usually does not:
    there the tests that read real MNIST files skip, saying where the files were looked for.
    """
    path = SHARED_DATA
    if not (path / "mnist").is_dir():
        message = f"expected the shared data folder (the real MNIST files) at {path}"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def pytest_terminal_summary(terminalreporter, config):
    """Print the summary lines tests registered in ``config.summary_lines``
    (e.g. "mutants caught: N/N" from test_homework.py)."""
    for line in getattr(config, "summary_lines", []):
        terminalreporter.write_line(line)
