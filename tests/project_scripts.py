"""The project's scripts outside the package (docs/*.py, scripts/*.py), loaded as modules by path."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative_path):
    """Run the file ``ROOT / relative_path`` (e.g. ``"docs/apiref.py"``) as a fresh module named
    after it, and return that module."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
